/**
 * Group invitations: Windows' PeerGroupCreateInvitation, PeerGroupCreatePasswordInvitation and
 * PeerGroupParseInvitation (windows-api.md section 2, "Invitations and credentials").
 *
 * One signed envelope, CBOR `[body, signature]`. `body` is the deterministic CBOR of the map
 * `{v: 1, scheme, group, groupFriendlyName, cloud, scope, cloudFlags, issuerFriendlyName,
 * subjectFriendlyName, roles, notBefore, notAfter, addresses, chain}` and `signature` is the
 * issuer's Ed25519 signature over `"peerinfra/v1/group-invitation" || 0x00 || body`, checked
 * over the exact bytes received (nothing is re-encoded). `chain` holds encoded certificates,
 * the group root (GRC) first:
 *
 * - scheme 'gmc' (PeerGroupCreateInvitation): the invitee's whole chain, ending at the GMC
 *   issued to the invitee; the signer is that GMC's issuer, and roles and validity are the
 *   GMC's.
 * - scheme 'password' (PeerGroupCreatePasswordInvitation): the issuer's own chain, ending at the
 *   issuer's GMC, whose subject signs; roles is the one role a password joiner receives and
 *   notBefore/notAfter the invitation's validity, within the issuer's certificate. No subject.
 *
 * Two wrappers carry the envelope: Windows' XML, `<PEERINVITATION VERSION="1.0">` with readable
 * CLOUDNAME, SCOPE, CLOUDFLAGS and GROUPPEERNAME (which must repeat the signed values) and the
 * envelope in base64 in INVITATION; and a token for copy and paste, `peerinv1:` followed by the
 * envelope in unpadded base64url.
 *
 * parseInvitation checks structure, consistency and the envelope signature; it does not check
 * times or the chain's signatures against a trusted root: joining does, with verifyMembership.
 */
import net from 'node:net'

import { bytesEqual } from '../core/bytes.ts'
import { PeerError, type PeerErrorCode } from '../core/errors.ts'
import { Certificate } from '../identity/certificate.ts'
import {
  MAX_CERT_ROLES,
  MAX_CERTIFICATE_ENVELOPE_BYTES,
  MAX_CHAIN_LENGTH,
  MAX_PEER_NAME_BYTES,
  MAX_TIME_MS,
  SIGNATURE_BYTES,
  XML_VERSION,
} from '../identity/constants.ts'
import {
  base64Element,
  parseWindowsDocument,
  readBase64Element,
} from '../identity/identity-info.ts'
import { KeyPair, PublicKey } from '../identity/keys.ts'
import { normalizeName } from '../identity/text.ts'
import {
  checkValue,
  decodeCbor,
  encodeCbor,
  s,
  serializeXml,
  textOf,
  type XmlElement,
} from '../wire/index.ts'
import {
  AUTH_SCHEMES,
  MAX_CLOUD_NAME_CHARS,
  MAX_GROUP_FRIENDLY_NAME_CHARS,
  MAX_INVITATION_BYTES,
  ROLE_MEMBER,
  ROLE_NAMES,
  ROLE_UUIDS,
  type AuthScheme,
  type RoleName,
} from './constants.ts'
import { mayIssue, roleName, roleUuid } from './credentials.ts'

/** Signature domain of invitation envelopes. */
const INVITATION_DOMAIN = 'peerinfra/v1/group-invitation'
const INVITATION_VERSION = 1
const TOKEN_PREFIX = 'peerinv1:'
const XML_ROOT = 'PEERINVITATION'

/** The envelope, and so its body, is never larger than the text it was read from. */
const MAX_ENVELOPE_BYTES = MAX_INVITATION_BYTES
/** Certificates decoded from one invitation (one past the chain limit is refused at the join). */
const MAX_INVITATION_CHAIN = MAX_CHAIN_LENGTH + 8
const MAX_CHAIN_ENTRY_BYTES = MAX_CERTIFICATE_ENVELOPE_BYTES
/** Friendly names: 255 characters (PEER_GROUP_PROPERTIES), at most 4 UTF-8 bytes each. */
const MAX_FRIENDLY_NAME_CHARS = MAX_GROUP_FRIENDLY_NAME_CHARS
const MAX_FRIENDLY_NAME_BYTES = 4 * MAX_FRIENDLY_NAME_CHARS
const MAX_CLOUD_BYTES = 4 * MAX_CLOUD_NAME_CHARS
/** Address hints for connecting by address. */
const MAX_ADDRESSES = 4
const MAX_ADDRESS_BYTES = 64
const MAX_PORT = 65_535
const MAX_CLOUD_FLAGS = 0xffff_ffff

export const INVITATION_SCOPES = ['global', 'site-local', 'link-local'] as const
export type InvitationScope = (typeof INVITATION_SCOPES)[number]

const ROLE_UUID_LIST = ROLE_NAMES.map((n) => ROLE_UUIDS[n])

const envelopeSchema = s.tuple([
  s.bytes({ min: 1, max: MAX_ENVELOPE_BYTES }),
  s.bytes({ length: SIGNATURE_BYTES, max: SIGNATURE_BYTES }),
])

const bodySchema = s.struct({
  v: s.literal(INVITATION_VERSION),
  scheme: s.oneOf(AUTH_SCHEMES),
  group: s.text({ minBytes: 1, maxBytes: MAX_PEER_NAME_BYTES }),
  groupFriendlyName: s.text({ maxBytes: MAX_FRIENDLY_NAME_BYTES }),
  cloud: s.text({ minBytes: 1, maxBytes: MAX_CLOUD_BYTES }),
  scope: s.oneOf(INVITATION_SCOPES),
  cloudFlags: s.uint(MAX_CLOUD_FLAGS),
  issuerFriendlyName: s.text({ maxBytes: MAX_FRIENDLY_NAME_BYTES }),
  subjectFriendlyName: s.text({ maxBytes: MAX_FRIENDLY_NAME_BYTES }),
  roles: s.array(s.oneOf(ROLE_UUID_LIST), { min: 1, max: MAX_CERT_ROLES }),
  notBefore: s.uint(MAX_TIME_MS),
  notAfter: s.uint(MAX_TIME_MS),
  addresses: s.array(
    s.tuple([s.text({ minBytes: 1, maxBytes: MAX_ADDRESS_BYTES }), s.uint(MAX_PORT)]),
    { max: MAX_ADDRESSES },
  ),
  chain: s.array(s.bytes({ min: 1, max: MAX_CHAIN_ENTRY_BYTES }), {
    min: 1,
    max: MAX_INVITATION_CHAIN,
  }),
})

export interface InvitationAddress {
  address: string
  port: number
}

export interface InvitationInfo {
  scheme: AuthScheme
  groupPeerName: string
  groupFriendlyName: string
  cloud: string
  scope: InvitationScope
  cloudFlags: number
  /** The roles the invitee receives, by name. */
  roles: RoleName[]
  roleUuids: string[]
  /** 'gmc': the invitee's certificate's; 'password': the invitation's. */
  validity: { start: Date; end: Date }
  issuer: { peerName: string; friendlyName: string }
  /** 'gmc' only: the invitee. */
  subject?: { peerName: string; friendlyName: string; publicKey: Uint8Array }
  addresses: InvitationAddress[]
  /** Root first: the invitee's chain ('gmc') or the issuer's ('password'). */
  chain: Certificate[]
  /** The signed envelope, exactly as received. */
  envelope: Uint8Array
}

export interface CreateInvitationParams {
  scheme: AuthScheme
  /** The signer: the invitee certificate's issuer ('gmc') or the chain leaf's subject. */
  issuer: KeyPair
  /** Root first: the invitee's chain ('gmc') or the issuer's own chain ('password'). */
  chain: readonly Certificate[]
  groupFriendlyName: string
  cloud: string
  scope: InvitationScope
  cloudFlags: number
  issuerFriendlyName: string
  /** 'gmc' only (default ''). */
  subjectFriendlyName?: string
  /** 'password' only: the one role a password joiner gets (default member). Names or UUIDs. */
  roles?: readonly string[]
  /** 'password' only: the invitation's validity, default and clamped to the issuer's GMC. */
  notBefore?: number
  notAfter?: number
  /** Where the issuer can be reached (at most 4 IP literals or host names, and ports). */
  addresses?: readonly InvitationAddress[]
}

export interface CreatedInvitation {
  envelope: Uint8Array
  xml: string
  token: string
  info: InvitationInfo
}

/** A caller's value for a message, whatever its type. */
function shown(value: unknown): string {
  return typeof value === 'string' ? `'${value.slice(0, 40)}'` : typeof value
}

function invalidArg(why: string): PeerError {
  return new PeerError('E_INVALIDARG', `invitation is not valid: ${why}`)
}

function notTrusted(why: string): PeerError {
  return new PeerError('PEER_E_INVITATION_NOT_TRUSTED', `invitation is not trusted: ${why}`)
}

/** A name people read (friendly names, cloud): what normalizeName accepts, already in NFC. */
function checkReadable(value: string, what: string, max: number, code: PeerErrorCode): string {
  const nfc = normalizeName(value, { what, max, code })
  if (nfc !== value) throw new PeerError(code, `${what} is not in Unicode NFC`)
  return nfc
}

/** A DNS host name (RFC 1123 labels), for hints that are names (the simulator's nodes, say). */
const HOST_NAME =
  /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

function checkAddresses(list: readonly (readonly [string, number])[], code: PeerErrorCode): void {
  for (const [address, port] of list) {
    if (net.isIP(address) === 0 && !HOST_NAME.test(address)) {
      throw new PeerError(code, `address hint '${address.slice(0, 64)}' is not an IP or host name`)
    }
    if (port < 1) throw new PeerError(code, `address hint ${address} has port 0`)
  }
}

/**
 * Creates a signed invitation (windows-api.md section 2: PeerGroupCreateInvitation for 'gmc',
 * PeerGroupCreatePasswordInvitation for 'password'). The result is parsed back exactly as a
 * receiver would before it is returned, so nothing unreadable is ever handed out.
 */
export function createInvitation(p: CreateInvitationParams): CreatedInvitation {
  if (typeof p !== 'object' || p === null) throw invalidArg('expected parameters')
  if (!(AUTH_SCHEMES as readonly unknown[]).includes(p.scheme)) {
    throw invalidArg(`unknown scheme ${shown(p.scheme)}: use gmc or password`)
  }
  if (!(INVITATION_SCOPES as readonly unknown[]).includes(p.scope)) {
    throw invalidArg(`unknown scope ${shown(p.scope)}: use ${INVITATION_SCOPES.join(', ')}`)
  }
  if (!(p.issuer instanceof KeyPair)) throw invalidArg('the issuer is not a key pair')
  if (
    !Array.isArray(p.chain) ||
    p.chain.length < 2 ||
    p.chain.length > MAX_CHAIN_LENGTH ||
    !p.chain.every((c) => c instanceof Certificate)
  ) {
    throw invalidArg(`the chain holds 2..${MAX_CHAIN_LENGTH} certificates, the group root first`)
  }
  const chain = p.chain as readonly Certificate[]
  const root = chain[0] as Certificate
  const leaf = chain[chain.length - 1] as Certificate
  if (root.type !== 'group-root') throw invalidArg('the chain does not start at a group root')
  if (leaf.type !== 'membership') throw invalidArg('the chain does not end at a membership')
  if (!Number.isSafeInteger(p.cloudFlags) || p.cloudFlags < 0 || p.cloudFlags > MAX_CLOUD_FLAGS) {
    throw invalidArg('cloudFlags is a 32-bit unsigned integer')
  }
  const friendly = (value: unknown, what: string): string =>
    checkReadable(value as string, what, MAX_FRIENDLY_NAME_CHARS, 'PEER_E_INVALID_FRIENDLY_NAME')
  const groupFriendlyName = friendly(p.groupFriendlyName, 'the group friendly name')
  const issuerFriendlyName = friendly(p.issuerFriendlyName, "the issuer's friendly name")
  const subjectFriendlyName = friendly(p.subjectFriendlyName ?? '', "the invitee's friendly name")
  const cloud = checkReadable(p.cloud, 'the cloud name', MAX_CLOUD_NAME_CHARS, 'E_INVALIDARG')
  if (cloud === '') throw invalidArg('the cloud name is empty')

  const addressList = p.addresses ?? []
  if (!Array.isArray(addressList) || addressList.length > MAX_ADDRESSES) {
    throw invalidArg(`at most ${MAX_ADDRESSES} address hints`)
  }
  const addresses = addressList.map((a: unknown): [string, number] => {
    const { address, port } = (a ?? {}) as Partial<InvitationAddress>
    if (
      typeof address !== 'string' ||
      Buffer.byteLength(address, 'utf8') > MAX_ADDRESS_BYTES ||
      typeof port !== 'number' ||
      !Number.isInteger(port) ||
      port > MAX_PORT
    ) {
      throw invalidArg('an address hint is { address: IP literal or host name, port: 1..65535 }')
    }
    return [address, port]
  })
  checkAddresses(addresses, 'E_INVALIDARG')

  let roles: string[]
  let notBefore: number
  let notAfter: number
  if (p.scheme === 'gmc') {
    if (p.roles !== undefined || p.notBefore !== undefined || p.notAfter !== undefined) {
      throw invalidArg("a 'gmc' invitation takes its roles and validity from the certificate")
    }
    if (!p.issuer.publicKey.equals(leaf.issuerKey)) {
      throw notTrusted("the signing key is not the issuer of the invitee's certificate")
    }
    roles = [...leaf.roles]
    notBefore = leaf.notBefore
    notAfter = leaf.notAfter
  } else {
    if (subjectFriendlyName !== '') throw invalidArg("a 'password' invitation names no invitee")
    if (!p.issuer.publicKey.equals(leaf.subjectKey)) {
      throw notTrusted("the signing key is not the subject of the chain's last certificate")
    }
    const asked = p.roles ?? [ROLE_MEMBER]
    if (!Array.isArray(asked) || asked.length !== 1) {
      throw invalidArg("a 'password' invitation grants exactly one role")
    }
    roles = asked.map((r: string) => roleUuid(r))
    if (!mayIssue(leaf, roles)) {
      throw new PeerError(
        'PEER_E_NOT_AUTHORIZED',
        `${leaf.subjectName} may not issue the role ${roleName(roles[0] as string) ?? ''}`,
      )
    }
    for (const t of [p.notBefore, p.notAfter]) {
      if (t !== undefined && (!Number.isSafeInteger(t) || t < 0 || t > MAX_TIME_MS)) {
        throw invalidArg('notBefore and notAfter are times in milliseconds since the epoch')
      }
    }
    notBefore = Math.max(p.notBefore ?? leaf.notBefore, leaf.notBefore)
    notAfter = Math.min(p.notAfter ?? leaf.notAfter, leaf.notAfter)
    if (notBefore > notAfter) {
      throw invalidArg("the validity does not overlap the issuer's certificate")
    }
  }

  const body = encodeCbor({
    v: INVITATION_VERSION,
    scheme: p.scheme,
    group: root.subjectName,
    groupFriendlyName,
    cloud,
    scope: p.scope,
    cloudFlags: p.cloudFlags,
    issuerFriendlyName,
    subjectFriendlyName,
    roles,
    notBefore,
    notAfter,
    addresses,
    chain: chain.map((c) => c.encode()),
  })
  const envelope = encodeCbor([body, p.issuer.sign(INVITATION_DOMAIN, body)])
  const xml = serializeXml({
    name: XML_ROOT,
    attributes: { VERSION: XML_VERSION },
    children: [
      textElement('CLOUDNAME', cloud),
      textElement('SCOPE', p.scope),
      textElement('CLOUDFLAGS', String(p.cloudFlags)),
      textElement('GROUPPEERNAME', root.subjectName),
      base64Element('INVITATION', envelope),
    ],
  })
  const token = TOKEN_PREFIX + Buffer.from(envelope).toString('base64url')
  // Read back what we produced, both ways, exactly as a receiver would.
  const info = parseInvitation(xml)
  parseInvitation(token)
  return { envelope, xml, token, info }
}

function textElement(name: string, text: string): XmlElement {
  return { name, attributes: {}, children: [text] }
}

/** The readable elements of the XML wrapper, to compare with the signed body. */
interface Readable {
  cloud: string
  scope: string
  cloudFlags: string
  group: string
}

const READABLE_ELEMENTS: Record<string, keyof Readable> = {
  CLOUDNAME: 'cloud',
  SCOPE: 'scope',
  CLOUDFLAGS: 'cloudFlags',
  GROUPPEERNAME: 'group',
}

function readXml(xml: string): { envelope: Uint8Array; readable: Readable } {
  const { children, bad } = parseWindowsDocument(xml, XML_ROOT)
  const found: Partial<Readable> = {}
  let envelope: Uint8Array | undefined
  for (const el of children) {
    if (el.name === 'INVITATION') {
      if (envelope) throw bad('more than one <INVITATION> element')
      envelope = readBase64Element(el, bad)
      continue
    }
    const key = READABLE_ELEMENTS[el.name]
    if (!Object.hasOwn(READABLE_ELEMENTS, el.name) || key === undefined) {
      throw bad(`unexpected element <${el.name}>`)
    }
    if (found[key] !== undefined) throw bad(`more than one <${el.name}> element`)
    if (el.children.some((c) => typeof c !== 'string')) throw bad(`<${el.name}> holds elements`)
    found[key] = textOf(el)
  }
  if (!envelope) throw bad('no <INVITATION> element')
  for (const [name, key] of Object.entries(READABLE_ELEMENTS)) {
    if (found[key] === undefined) throw bad(`no <${name}> element`)
  }
  return { envelope, readable: found as Readable }
}

/** Strict unpadded base64url: only the canonical text of some byte string. */
function readToken(token: string): Uint8Array {
  const text = token.slice(TOKEN_PREFIX.length)
  if (text.length === 0 || text.length % 4 === 1 || !/^[A-Za-z0-9_-]*$/.test(text)) {
    throw invalidArg('the token is not base64url')
  }
  const bytes = Buffer.from(text, 'base64url')
  if (bytes.toString('base64url') !== text) throw invalidArg('the token is not canonical base64url')
  return new Uint8Array(bytes)
}

/** A decode with its errors reported as E_INVALIDARG (the input is the caller's argument). */
function decodeArg(bytes: Uint8Array, what: string, maxBytes: number): unknown {
  try {
    return decodeCbor(bytes, { what, code: 'E_INVALIDARG', maxBytes })
  } catch (err) {
    if (err instanceof PeerError && err.code !== 'E_INVALIDARG') {
      throw new PeerError('E_INVALIDARG', err.message, { cause: err })
    }
    throw err
  }
}

function decodeBody(body: Uint8Array): ReturnType<typeof bodySchema.check> {
  const value = decodeArg(body, 'invitation body', MAX_ENVELOPE_BYTES)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArg('the body is not a map')
  }
  const v = (value as Record<string, unknown>)['v']
  if (typeof v !== 'number') throw invalidArg('the body has no version')
  if (v !== INVITATION_VERSION) {
    throw new PeerError(
      'PEER_E_UNSUPPORTED_VERSION',
      `invitation has version ${v}; this peerinfra understands ${INVITATION_VERSION}`,
      { details: { version: v } },
    )
  }
  return checkValue(value, bodySchema, { what: 'invitation', code: 'E_INVALIDARG' })
}

/**
 * Parses an invitation, XML or token (windows-api.md section 2: PeerGroupParseInvitation).
 * E_INVALIDARG for input that is not an invitation, PEER_E_TOO_LARGE past
 * MAX_INVITATION_BYTES, PEER_E_UNSUPPORTED_VERSION for another version,
 * PEER_E_INVALID_CREDENTIAL for a malformed certificate, PEER_E_INVITATION_NOT_TRUSTED for
 * fields that disagree or a signature that does not verify. Times and the chain's own
 * signatures are left to the join (verifyMembership).
 */
export function parseInvitation(text: string): InvitationInfo {
  if (typeof text !== 'string') throw invalidArg('expected text')
  if (
    text.length > MAX_INVITATION_BYTES ||
    Buffer.byteLength(text, 'utf8') > MAX_INVITATION_BYTES
  ) {
    throw new PeerError(
      'PEER_E_TOO_LARGE',
      `an invitation is at most ${MAX_INVITATION_BYTES} bytes`,
      { details: { limit: MAX_INVITATION_BYTES } },
    )
  }
  const trimmed = text.trim()
  let envelopeBytes: Uint8Array
  let readable: Readable | undefined
  if (trimmed.startsWith('<')) {
    ;({ envelope: envelopeBytes, readable } = readXml(trimmed))
  } else if (trimmed.startsWith(TOKEN_PREFIX)) {
    envelopeBytes = readToken(trimmed)
  } else {
    throw invalidArg(`expected <${XML_ROOT}> XML or a ${TOKEN_PREFIX} token`)
  }

  const envelopeValue = decodeArg(envelopeBytes, 'invitation', MAX_ENVELOPE_BYTES)
  const [body, signature] = checkValue(envelopeValue, envelopeSchema, {
    what: 'invitation',
    code: 'E_INVALIDARG',
  })
  const b = decodeBody(body)
  if (new Set(b.roles).size !== b.roles.length) throw invalidArg('a role is listed twice')
  for (const [what, value, max] of [
    ['the group friendly name', b.groupFriendlyName, MAX_FRIENDLY_NAME_CHARS],
    ["the issuer's friendly name", b.issuerFriendlyName, MAX_FRIENDLY_NAME_CHARS],
    ["the invitee's friendly name", b.subjectFriendlyName, MAX_FRIENDLY_NAME_CHARS],
    ['the cloud name', b.cloud, MAX_CLOUD_NAME_CHARS],
  ] as const) {
    checkReadable(value, what, max, 'E_INVALIDARG')
  }
  checkAddresses(b.addresses, 'E_INVALIDARG')

  const chain = b.chain.map((c) => Certificate.decode(c))

  const root = chain[0] as Certificate
  const leaf = chain[chain.length - 1] as Certificate
  if (root.type !== 'group-root' || !root.isSelfSigned) {
    throw notTrusted('the chain does not start at a group root certificate')
  }
  if (root.subjectName !== b.group) {
    throw notTrusted(`the chain's root is not the root certificate of ${b.group}`)
  }
  if (chain.length < 2 || leaf.type !== 'membership') {
    throw notTrusted('the chain does not end at a membership certificate')
  }
  let signer: Uint8Array
  let issuerName: string
  let subject: InvitationInfo['subject']
  if (b.scheme === 'gmc') {
    const parent = chain[chain.length - 2] as Certificate
    if (!bytesEqual(leaf.issuerKey, parent.subjectKey) || leaf.issuerName !== parent.subjectName) {
      throw notTrusted("the invitee's certificate was not issued by the certificate before it")
    }
    const sameRoles =
      b.roles.length === leaf.roles.length && b.roles.every((r, i) => r === leaf.roles[i])
    if (!sameRoles || b.notBefore !== leaf.notBefore || b.notAfter !== leaf.notAfter) {
      throw notTrusted("the roles or validity differ from the invitee's certificate")
    }
    signer = leaf.issuerKey
    issuerName = leaf.issuerName
    subject = {
      peerName: leaf.subjectName,
      friendlyName: b.subjectFriendlyName,
      publicKey: leaf.subjectKey,
    }
  } else {
    if (b.subjectFriendlyName !== '') throw notTrusted("a 'password' invitation names an invitee")
    if (b.roles.length !== 1 || !mayIssue(leaf, b.roles)) {
      throw notTrusted("the role offered is not one the issuer's certificate may grant")
    }
    if (b.notBefore > b.notAfter || b.notBefore < leaf.notBefore || b.notAfter > leaf.notAfter) {
      throw notTrusted("the validity lies outside the issuer's certificate")
    }
    signer = leaf.subjectKey
    issuerName = leaf.subjectName
  }
  let signerKey: PublicKey
  try {
    signerKey = PublicKey.fromBytes(signer)
  } catch {
    throw notTrusted('the signing key is not a valid key')
  }
  if (!signerKey.verify(INVITATION_DOMAIN, body, signature)) {
    throw notTrusted('the signature does not verify')
  }
  if (readable) {
    const signed: Readable = {
      cloud: b.cloud,
      scope: b.scope,
      cloudFlags: String(b.cloudFlags),
      group: b.group,
    }
    for (const [name, key] of Object.entries(READABLE_ELEMENTS)) {
      if (readable[key] !== signed[key]) {
        throw notTrusted(`<${name}> differs from the signed invitation`)
      }
    }
  }
  return {
    scheme: b.scheme,
    groupPeerName: b.group,
    groupFriendlyName: b.groupFriendlyName,
    cloud: b.cloud,
    scope: b.scope,
    cloudFlags: b.cloudFlags,
    roles: b.roles.map((r) => roleName(r) as RoleName),
    roleUuids: [...b.roles],
    validity: { start: new Date(b.notBefore), end: new Date(b.notAfter) },
    issuer: { peerName: issuerName, friendlyName: b.issuerFriendlyName },
    ...(subject ? { subject } : {}),
    addresses: b.addresses.map(([address, port]) => ({ address, port })),
    chain,
    envelope: envelopeBytes,
  }
}
