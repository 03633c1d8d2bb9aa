/**
 * `<PEERIDENTITYEXPORT>` (PeerIdentityExport / PeerIdentityImport): an identity with its
 * private key, sealed under a password.
 *
 *   <PEERIDENTITYEXPORT VERSION="1.0"><PEERNAME>name</PEERNAME><DATA xmlns:dt="…"
 *   dt:dt="bin.base64">base64(CBOR envelope)</DATA></PEERIDENTITYEXPORT>
 *
 * envelope = {v: 1, kdf: "scrypt", logN, r, p, salt(16), nonce(12), ct}
 * key      = scrypt(NFC(password), salt, N = 2^logN, r, p, 32 bytes)
 * ct       = ChaCha20-Poly1305(key, nonce, plaintext, aad = "peerinfra/v1/identity-export" 0x00 name)
 * plaintext = CBOR {v: 1, seed(32), friendlyName, idc, createdAt}
 *
 * Import is all-or-nothing and byte-exact (Windows: tampering gives E_INVALIDARG): the document
 * must be exactly what export writes, and every check passes before anything is returned.
 */
import { utf8 } from '../core/bytes.ts'
import { decodeMessage, encodeCbor, s, serializeXml, textOf } from '../wire/index.ts'
import { Certificate, verifyChain } from './certificate.ts'
import {
  DOMAIN,
  EXPORT_FORMAT_VERSION,
  MAX_CERTIFICATE_ENVELOPE_BYTES,
  MAX_FRIENDLY_NAME_BYTES,
  MAX_TIME_MS,
  PRIVATE_SEED_BYTES,
  XML_VERSION,
} from './constants.ts'
import { Identity } from './identity.ts'
import { base64Element, parseWindowsDocument, readBase64Element } from './identity-info.ts'
import { domainSeparated, KeyPair } from './keys.ts'
import { checkPassword, openWithPassword, sealWithPassword, type SealOptions } from './sealed.ts'

// The sealed plaintext: its fields at their largest, plus room for the CBOR map's keys and
// headers (under 128 bytes).
const MAX_PLAINTEXT_BYTES =
  PRIVATE_SEED_BYTES + MAX_FRIENDLY_NAME_BYTES + MAX_CERTIFICATE_ENVELOPE_BYTES + 128

const plaintextSchema = s.struct({
  v: s.literal(EXPORT_FORMAT_VERSION),
  seed: s.bytes({ length: PRIVATE_SEED_BYTES, max: PRIVATE_SEED_BYTES }),
  friendlyName: s.text({ maxBytes: MAX_FRIENDLY_NAME_BYTES }),
  idc: s.bytes({ min: 1, max: MAX_CERTIFICATE_ENVELOPE_BYTES }),
  createdAt: s.uint(MAX_TIME_MS),
})

export type ExportOptions = SealOptions

function exportDocument(peerName: string, data: Uint8Array): string {
  return serializeXml({
    name: 'PEERIDENTITYEXPORT',
    attributes: { VERSION: XML_VERSION },
    children: [
      { name: 'PEERNAME', attributes: {}, children: [peerName] },
      base64Element('DATA', data),
    ],
  })
}

export async function exportIdentity(
  identity: Identity,
  password: string,
  options: ExportOptions,
): Promise<string> {
  const plaintext = encodeCbor({
    v: EXPORT_FORMAT_VERSION,
    seed: identity.keyPair.exportSeed(),
    friendlyName: identity.friendlyName,
    idc: identity.certificate.encode(),
    createdAt: identity.createdAt.getTime(),
  })
  const aad = domainSeparated(DOMAIN.exportKey, utf8(identity.peerName))
  const envelope = await sealWithPassword(plaintext, password, aad, options)
  return exportDocument(identity.peerName, envelope)
}

/**
 * Opens an export. Every failure is a PeerError: E_INVALIDARG for a document that is not
 * exactly an export, PEER_E_UNSUPPORTED_VERSION, PEER_E_DECRYPTION_FAILED for a wrong password
 * (or altered ciphertext, which cannot be told apart).
 */
export async function importIdentity(
  xml: string,
  password: string,
  options: { now: number },
): Promise<Identity> {
  checkPassword(password)
  const what = 'identity export (<PEERIDENTITYEXPORT>)'
  const text = typeof xml === 'string' ? xml.replace(/\r?\n$/, '') : xml
  const { children, bad } = parseWindowsDocument(text, 'PEERIDENTITYEXPORT')
  const [nameEl, dataEl, ...rest] = children
  if (nameEl?.name !== 'PEERNAME' || dataEl?.name !== 'DATA' || rest.length > 0) {
    throw bad('expected <PEERNAME> then <DATA>')
  }
  const peerName = textOf(nameEl)
  const data = readBase64Element(dataEl, bad)
  if (exportDocument(peerName, data) !== text)
    throw bad('it has been altered (an export must be byte-exact)')

  const aad = domainSeparated(DOMAIN.exportKey, utf8(peerName))
  const plaintext = await openWithPassword(data, password, aad, what, MAX_PLAINTEXT_BYTES)
  const inner = decodeMessage(plaintext, plaintextSchema, {
    what,
    code: 'E_INVALIDARG',
    versions: [EXPORT_FORMAT_VERSION],
  })
  const keyPair = KeyPair.fromSeed(inner.seed)
  const certificate = Certificate.decode(inner.idc)
  verifyChain([certificate], { now: options.now })
  if (certificate.subjectName !== peerName || !keyPair.publicKey.equals(certificate.subjectKey)) {
    throw bad('its key, certificate and peer name do not belong together')
  }
  return new Identity(keyPair, certificate, inner.friendlyName, new Date(inner.createdAt))
}
