/**
 * `<PEERIDENTITYINFO>` (PeerIdentityGetXML): an identity's public information, handed to an
 * inviter. Same shape as Windows:
 * `<PEERIDENTITYINFO VERSION="1.0"><IDC xmlns:dt="urn:schemas-microsoft-com:datatypes"
 * dt:dt="bin.base64">…</IDC></PEERIDENTITYINFO>`, the IDC being our certificate encoding.
 */
import { fromBase64, toBase64 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import { childElements, parseXml, serializeXml, textOf, type XmlElement } from '../wire/index.ts'
import { Certificate, verifyChain } from './certificate.ts'
import { MAX_IDENTITY_XML_BYTES, XML_DATATYPES_NS, XML_VERSION } from './constants.ts'
import type { PublicKey } from './keys.ts'

export interface IdentityInfo {
  peerName: string
  publicKey: PublicKey
  certificate: Certificate
}

/** `<name xmlns:dt=… dt:dt="bin.base64">base64</name>`, as Windows writes binary elements. */
export function base64Element(name: string, data: Uint8Array): XmlElement {
  return {
    name,
    attributes: { 'xmlns:dt': XML_DATATYPES_NS, 'dt:dt': 'bin.base64' },
    children: [toBase64(data)],
  }
}

export function identityInfoXml(certificate: Certificate): string {
  return serializeXml({
    name: 'PEERIDENTITYINFO',
    attributes: { VERSION: XML_VERSION },
    children: [base64Element('IDC', certificate.encode())],
  })
}

/** Parses and verifies identity info: a self-signed identity certificate, valid at `now`. */
export interface WindowsDocument {
  /** The root's child elements. */
  children: XmlElement[]
  /** Makes the E_INVALIDARG error for this document. */
  bad: (why: string) => PeerError
}

/**
 * Parses one of Windows' versioned identity documents: `<ROOT VERSION="1.0">…</ROOT>`.
 * E_INVALIDARG when it is not that document, PEER_E_UNSUPPORTED_VERSION for another VERSION.
 */
export function parseWindowsDocument(xml: string, rootName: string): WindowsDocument {
  const what = `<${rootName}> document`
  const bad = (why: string): PeerError =>
    new PeerError('E_INVALIDARG', `${what} is not valid: ${why}`)
  if (typeof xml !== 'string') throw bad('expected text')
  const root = parseXml(xml, { what, maxBytes: MAX_IDENTITY_XML_BYTES })
  if (root.name !== rootName) throw bad(`the root element is <${root.name}>`)
  if (root.attributes['VERSION'] !== XML_VERSION) {
    throw new PeerError(
      'PEER_E_UNSUPPORTED_VERSION',
      `${what} has VERSION ${String(root.attributes['VERSION'])}; expected ${XML_VERSION}`,
    )
  }
  return { children: childElements(root, bad), bad }
}

export function parseIdentityInfo(xml: string, options: { now: number }): IdentityInfo {
  const { children, bad } = parseWindowsDocument(xml, 'PEERIDENTITYINFO')
  const idc = children[0]
  if (children.length !== 1 || idc?.name !== 'IDC') throw bad('expected exactly one <IDC> element')
  const bytes = readBase64Element(idc, bad)
  const certificate = Certificate.decode(bytes)
  if (certificate.type !== 'identity') throw bad('the IDC is not an identity certificate')
  verifyChain([certificate], { now: options.now })
  return { peerName: certificate.subjectName, publicKey: certificate.subject, certificate }
}

/** The bytes of a Windows-style base64 element, strictly decoded. */
export function readBase64Element(el: XmlElement, bad: (why: string) => Error): Uint8Array {
  if (el.attributes['dt:dt'] !== 'bin.base64')
    throw bad(`<${el.name}> is not marked dt:dt="bin.base64"`)
  if (el.children.some((c) => typeof c !== 'string'))
    throw bad(`<${el.name}> holds elements, not base64`)
  const bytes = fromBase64(textOf(el).replace(/[\r\n]/g, ''))
  if (!bytes) throw bad(`<${el.name}> is not canonical base64`)
  return bytes
}
