/**
 * Certified Peer Addresses (CPA): a PNRP registration signed by its registrant (MS-PNRP 1.4,
 * "Encoded CPA"), checked as MS-PNRP 1.6 asks before a resolve hands it out: syntax, the name
 * bound to the key, lifetime, the resolver's nonce, the recomputed ID, the signature.
 *
 * Encoding: CBOR `[tbs, signature]`, where `tbs` is the deterministic CBOR of the map
 * `{v, name, key, loc, nonce, notAfter, endpoints: [[address, port], ...], payload?, comment?,
 * revoke?}` and `signature` is the registrant's Ed25519 signature over
 * `CPA_SIGNATURE_DOMAIN || 0x00 || tbs`. `payload` is left out when empty, `comment` when '',
 * `revoke` when false, and a present-but-empty one is refused, so each CPA has exactly one
 * encoding. The signature covers the exact bytes received; nothing is re-encoded to verify.
 *
 * Where we differ from MS-PNRP:
 * - Ed25519 instead of RSA-1024 with a SHA-1 PKCS#1 v1.5 signature; a secured name's authority
 *   is SHA-256(key)[0..20] (keys.ts authorityOf) rather than SHA-1 of an RSA key blob.
 * - A deterministic CBOR map instead of little-endian fixed fields and A/C/U/F/X flags: the
 *   peer name travels as canonical text (the receiver recomputes the P2P ID from it), `comment`
 *   takes the friendly name's place and `payload` the EXTENDED_PAYLOAD's, under one signature.
 * - The nonce is always present and signed in (all zeros when the CPA answers no INQUIRE,
 *   revocations included), so a CPA made for one resolver cannot be replayed to another.
 * - `revoke` is a signed boolean field instead of the R flag.
 * - Endpoints are up to MAX_CPA_ENDPOINTS `[address text, port]` pairs instead of 0-4 IPv6
 *   service endpoints plus application endpoints; there is no delegation certificate chain (a
 *   secured name is bound to its owner's key alone).
 */
import { bytesEqual } from '../core/bytes.ts'
import { PeerError, type PeerErrorCode } from '../core/errors.ts'
import {
  MAX_CLOCK_SKEW_MS,
  MAX_PEER_NAME_BYTES,
  MAX_TIME_MS,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
} from '../identity/constants.ts'
import { authorityOf, hasSmallOrder, KeyPair, PublicKey } from '../identity/keys.ts'
import { PeerName } from '../identity/peer-name.ts'
import { checkValue, decodeCbor, decodeMessage, encodeCbor, s } from '../wire/index.ts'
import {
  ENDPOINT_ADDRESS_PATTERN,
  CPA_SIGNATURE_DOMAIN,
  CPA_VERSION,
  MAX_ADDRESS_LENGTH,
  MAX_CPA_COMMENT_BYTES,
  MAX_CPA_COMMENT_LENGTH,
  MAX_CPA_ENDPOINTS,
  MAX_CPA_LIFETIME_MS,
  MAX_CPA_PAYLOAD_BYTES,
  NONCE_BYTES,
  SERVICE_LOCATION_BYTES,
} from './constants.ts'
import { p2pIdOf, pnrpIdOf, type PnrpId } from './ids.ts'
import type { Endpoint } from './types.ts'

/** Highest transport port. */
export const MAX_PORT = 65535
/** Endpoint address text: an IPv4/IPv6 literal (with an optional `%zone`) or a node name. */

/** The nonce of a CPA that answers no INQUIRE. Shared: never modify it. */
export const ZERO_NONCE: Uint8Array = new Uint8Array(NONCE_BYTES)

// ---- size bound ---------------------------------------------------------------------------

/** Bytes of a CBOR item head whose argument is `n` (RFC 8949 section 3). */
function head(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffff_ffff ? 5 : 9
}

/** A byte or text string of `n` bytes. */
function str(n: number): number {
  return head(n) + n
}

/** An endpoint at its largest: `[64-character address, 5-digit port]`. */
const MAX_ENDPOINT_BYTES = head(2) + str(MAX_ADDRESS_LENGTH) + head(MAX_PORT)

/** The largest `tbs`: every field present at its limit (10 map entries). */
export const MAX_CPA_TBS_BYTES =
  head(10) +
  str('v'.length) +
  head(CPA_VERSION) +
  str('name'.length) +
  str(MAX_PEER_NAME_BYTES) +
  str('key'.length) +
  str(PUBLIC_KEY_BYTES) +
  str('loc'.length) +
  str(SERVICE_LOCATION_BYTES) +
  str('nonce'.length) +
  str(NONCE_BYTES) +
  str('notAfter'.length) +
  head(MAX_TIME_MS) +
  str('endpoints'.length) +
  head(MAX_CPA_ENDPOINTS) +
  MAX_CPA_ENDPOINTS * MAX_ENDPOINT_BYTES +
  str('payload'.length) +
  str(MAX_CPA_PAYLOAD_BYTES) +
  str('comment'.length) +
  str(MAX_CPA_COMMENT_BYTES) +
  str('revoke'.length) +
  1

/** The largest encoded CPA, `[tbs, signature]`; a legal CPA at every limit is exactly this. */
export const MAX_CPA_BYTES = head(2) + str(MAX_CPA_TBS_BYTES) + str(SIGNATURE_BYTES)

// CBOR shape bounds: envelope = one array of 2; tbs = map > endpoints > [address, port].
const ENVELOPE_LIMITS = { maxBytes: MAX_CPA_BYTES, maxDepth: 1, maxItems: 3 }
const TBS_LIMITS = { maxBytes: MAX_CPA_TBS_BYTES, maxDepth: 3, maxItems: 1 + 2 * 10 + 3 * 10 }

// ---- schemas ------------------------------------------------------------------------------

/** An endpoint on the wire, `[address, port]` (PNRP messages use the same shape). */
export const endpointSchema = s.tuple([
  s.text({ minBytes: 1, maxBytes: MAX_ADDRESS_LENGTH, pattern: ENDPOINT_ADDRESS_PATTERN }),
  s.int({ min: 1, max: MAX_PORT }),
])

const tbsSchema = s.struct({
  v: s.literal(CPA_VERSION),
  name: s.text({ minBytes: 1, maxBytes: MAX_PEER_NAME_BYTES }),
  key: s.bytes({ length: PUBLIC_KEY_BYTES, max: PUBLIC_KEY_BYTES }),
  loc: s.bytes({ length: SERVICE_LOCATION_BYTES, max: SERVICE_LOCATION_BYTES }),
  nonce: s.bytes({ length: NONCE_BYTES, max: NONCE_BYTES }),
  notAfter: s.uint(MAX_TIME_MS),
  endpoints: s.array(endpointSchema, { max: MAX_CPA_ENDPOINTS }),
  payload: s.optional(s.bytes({ min: 1, max: MAX_CPA_PAYLOAD_BYTES })),
  comment: s.optional(s.text({ minBytes: 1, maxBytes: MAX_CPA_COMMENT_BYTES })),
  revoke: s.optional(s.literal(true)),
})

const envelopeSchema = s.tuple([
  s.bytes({ min: 1, max: MAX_CPA_TBS_BYTES }),
  s.bytes({ length: SIGNATURE_BYTES, max: SIGNATURE_BYTES }),
])

// ---- field rules --------------------------------------------------------------------------

export interface CpaFields {
  /** Canonical peer name text (`PeerName.parse(x).toString() === x`). */
  peerName: string
  /** SERVICE_LOCATION_BYTES: the registrant's suffix of the PNRP ID. */
  serviceLocation: Uint8Array
  /** 0..MAX_CPA_ENDPOINTS; address: 1..MAX_ADDRESS_LENGTH of [0-9A-Za-z.:%_-], port 1..65535. */
  endpoints: Endpoint[]
  /** 0..MAX_CPA_PAYLOAD_BYTES (empty = none). */
  payload: Uint8Array
  /** 0..MAX_CPA_COMMENT_LENGTH characters (code points), no NUL or control characters. */
  comment: string
  /** Milliseconds since the epoch. */
  notAfter: number
  /** NONCE_BYTES; ZERO_NONCE when the CPA answers no INQUIRE. */
  nonce: Uint8Array
  /** A revocation (unregistration) CPA. */
  revoke: boolean
}

// C0 controls (NUL included), DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
// Lone surrogates have no UTF-8 form: encoding would replace them with U+FFFD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

type Fail = (why: string, details?: Record<string, unknown>) => never

function failWith(code: PeerErrorCode): Fail {
  return (why, details) => {
    throw new PeerError(code, `CPA ${why}`, details ? { details } : {})
  }
}

function isBytes(value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length)
}

/** The rules every CPA obeys, for sign (E_INVALIDARG) and decode (PEER_E_MALFORMED_MESSAGE). */
function checkFields(f: CpaFields, fail: Fail): PeerName {
  if (typeof f.peerName !== 'string') fail('peerName must be a string')
  let name: PeerName
  try {
    name = PeerName.parse(f.peerName)
  } catch (err) {
    return fail(`peerName: ${(err as Error).message}`)
  }
  if (name.toString() !== f.peerName) {
    fail(`peerName "${f.peerName.slice(0, 60)}" is not in canonical form ("${name.toString()}")`)
  }
  if (!isBytes(f.serviceLocation, SERVICE_LOCATION_BYTES)) {
    fail(`serviceLocation must be SERVICE_LOCATION_BYTES (${SERVICE_LOCATION_BYTES}) bytes`)
  }
  if (!isBytes(f.nonce, NONCE_BYTES)) fail(`nonce must be NONCE_BYTES (${NONCE_BYTES}) bytes`)
  if (!Array.isArray(f.endpoints)) fail('endpoints must be an array')
  if (f.endpoints.length > MAX_CPA_ENDPOINTS) {
    fail(
      `holds at most MAX_CPA_ENDPOINTS (${MAX_CPA_ENDPOINTS}) endpoints; this one has ${f.endpoints.length}`,
      { limit: MAX_CPA_ENDPOINTS, size: f.endpoints.length },
    )
  }
  f.endpoints.forEach((e, i) => checkEndpoint(e, i, fail))
  if (!isBytes(f.payload)) fail('payload must be bytes')
  if (f.payload.length > MAX_CPA_PAYLOAD_BYTES) {
    fail(
      `payload holds at most MAX_CPA_PAYLOAD_BYTES (${MAX_CPA_PAYLOAD_BYTES}) bytes; this one has ${f.payload.length}`,
      { limit: MAX_CPA_PAYLOAD_BYTES, size: f.payload.length },
    )
  }
  checkComment(f.comment, fail)
  if (!Number.isSafeInteger(f.notAfter) || f.notAfter < 0 || f.notAfter > MAX_TIME_MS) {
    fail(`notAfter must be an integer time 0..MAX_TIME_MS (${MAX_TIME_MS}) in ms since the epoch`)
  }
  if (typeof f.revoke !== 'boolean') fail('revoke must be a boolean')
  return name
}

function checkEndpoint(e: Endpoint, i: number, fail: Fail): void {
  if (typeof e !== 'object' || e === null) return fail(`endpoint ${i} must be {address, port}`)
  const { address, port } = e
  if (typeof address !== 'string' || address.length === 0) {
    fail(`endpoint ${i}: the address must be non-empty text`)
  }
  if (address.length > MAX_ADDRESS_LENGTH) {
    fail(
      `endpoint ${i}: an address holds at most MAX_ADDRESS_LENGTH (${MAX_ADDRESS_LENGTH}) characters; this one has ${address.length}`,
      { limit: MAX_ADDRESS_LENGTH, size: address.length },
    )
  }
  if (!ENDPOINT_ADDRESS_PATTERN.test(address)) {
    fail(
      `endpoint ${i}: the address "${address}" has characters outside ${String(ENDPOINT_ADDRESS_PATTERN)}`,
    )
  }
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    fail(`endpoint ${i}: port ${String(port)} is outside 1..MAX_PORT (${MAX_PORT})`)
  }
}

function checkComment(comment: string, fail: Fail): void {
  if (typeof comment !== 'string') fail('comment must be a string')
  const tooLong = (length: string): never =>
    fail(
      `comment holds at most MAX_CPA_COMMENT_LENGTH (${MAX_CPA_COMMENT_LENGTH}) characters; this one has ${length}`,
      { limit: MAX_CPA_COMMENT_LENGTH },
    )
  // A code point takes at most 2 UTF-16 units: anything longer is refused before any work.
  if (comment.length > 2 * MAX_CPA_COMMENT_LENGTH) tooLong(`over ${MAX_CPA_COMMENT_LENGTH}`)
  if (LONE_SURROGATE.test(comment)) fail('comment must be valid Unicode (it has a lone surrogate)')
  if (CONTROL.test(comment)) fail('comment may not contain NUL or control characters')
  const length = [...comment].length
  if (length > MAX_CPA_COMMENT_LENGTH) tooLong(String(length))
}

// ---- the CPA ------------------------------------------------------------------------------

export interface CpaVerifyOptions {
  /** The time to check the lifetime at (ms since the epoch), from the caller's clock. */
  now: number
  /** The nonce of our INQUIRE: the CPA must echo it (else it is a replay). */
  nonce?: Uint8Array
  /** The PNRP ID we asked for: the CPA must be for it. */
  id?: PnrpId
  /** How far the registrant's clock may differ from ours (default MAX_CLOCK_SKEW_MS, 5 min). */
  clockSkewMs?: number
}

export class Cpa {
  readonly peerName: string
  readonly serviceLocation: Uint8Array
  readonly endpoints: readonly Endpoint[]
  readonly payload: Uint8Array
  readonly comment: string
  readonly notAfter: number
  readonly nonce: Uint8Array
  readonly revoke: boolean
  /** The raw Ed25519 key of the signer. */
  readonly publicKey: Uint8Array
  /** The encoded envelope `[tbs, signature]`, exactly as signed or received. */
  readonly bytes: Uint8Array
  /** The exact signed bytes. */
  readonly tbs: Uint8Array
  readonly signature: Uint8Array
  readonly #name: PeerName
  #id: PnrpId | undefined
  #signer: PublicKey | undefined
  /** The signature check, made once: the object is immutable. */
  #signatureValid: boolean | undefined

  private constructor(
    f: CpaFields,
    name: PeerName,
    publicKey: Uint8Array,
    envelope: { bytes: Uint8Array; tbs: Uint8Array; signature: Uint8Array },
    signer?: PublicKey,
  ) {
    this.peerName = f.peerName
    this.serviceLocation = f.serviceLocation
    this.endpoints = Object.freeze(
      f.endpoints.map((e) => Object.freeze({ address: e.address, port: e.port })),
    )
    this.payload = f.payload
    this.comment = f.comment
    this.notAfter = f.notAfter
    this.nonce = f.nonce
    this.revoke = f.revoke
    this.publicKey = publicKey
    this.bytes = envelope.bytes
    this.tbs = envelope.tbs
    this.signature = envelope.signature
    this.#name = name
    this.#signer = signer
    // A CPA we signed ourselves carries a good signature.
    this.#signatureValid = signer ? true : undefined
  }

  /** pnrpIdOf(p2pIdOf(peerName), serviceLocation), computed once. */
  get id(): PnrpId {
    return (this.#id ??= pnrpIdOf(p2pIdOf(this.#name), this.serviceLocation))
  }

  /** The signer's key as a PublicKey, built on first use and kept. */
  get signer(): PublicKey {
    if (!this.#signer) {
      try {
        this.#signer = PublicKey.fromBytes(this.publicKey)
      } catch (err) {
        throw new PeerError('PEER_E_MALFORMED_MESSAGE', 'CPA key is not an Ed25519 key', {
          cause: err,
        })
      }
    }
    return this.#signer
  }

  /**
   * Signs `fields` with `key`. Field errors are E_INVALIDARG naming the limit; a secured name
   * that does not belong to `key` is PEER_E_INVALID_IDENTITY (an unsecured `0.` name may be
   * registered under any key).
   */
  static sign(fields: CpaFields, key: KeyPair): Cpa {
    if (!(key instanceof KeyPair))
      throw new PeerError('E_INVALIDARG', 'a CPA is signed by a KeyPair')
    if (typeof fields !== 'object' || fields === null) {
      throw new PeerError('E_INVALIDARG', 'CPA fields must be an object')
    }
    const f: CpaFields = {
      peerName: fields.peerName,
      serviceLocation: isBytes(fields.serviceLocation)
        ? new Uint8Array(fields.serviceLocation)
        : fields.serviceLocation,
      endpoints: Array.isArray(fields.endpoints) ? [...fields.endpoints] : fields.endpoints,
      payload: isBytes(fields.payload) ? new Uint8Array(fields.payload) : fields.payload,
      comment: fields.comment,
      notAfter: fields.notAfter,
      nonce: isBytes(fields.nonce) ? new Uint8Array(fields.nonce) : fields.nonce,
      revoke: fields.revoke,
    }
    const name = checkFields(f, failWith('E_INVALIDARG'))
    const publicKey = key.publicKey
    if (name.isSecured && name.authority !== publicKey.authority) {
      throw new PeerError(
        'PEER_E_INVALID_IDENTITY',
        `${f.peerName} belongs to the key with authority ${name.authority}, not to the signing key (${publicKey.authority})`,
      )
    }
    const tbs = plain(
      encodeCbor({
        v: CPA_VERSION,
        name: f.peerName,
        key: publicKey.bytes,
        loc: f.serviceLocation,
        nonce: f.nonce,
        notAfter: f.notAfter,
        endpoints: f.endpoints.map((e) => [e.address, e.port]),
        ...(f.payload.length > 0 ? { payload: f.payload } : {}),
        ...(f.comment !== '' ? { comment: f.comment } : {}),
        ...(f.revoke ? { revoke: true } : {}),
      }),
    )
    const signature = key.sign(CPA_SIGNATURE_DOMAIN, tbs)
    const bytes = plain(encodeCbor([tbs, signature]))
    if (bytes.length > MAX_CPA_BYTES) {
      throw new PeerError('E_UNEXPECTED', `CPA of ${bytes.length} bytes exceeds MAX_CPA_BYTES`)
    }
    return new Cpa(f, name, publicKey.bytes, { bytes, tbs, signature }, publicKey)
  }

  /**
   * Parses an encoded CPA: structure and field rules only (see verify for trust). Anything
   * malformed is PEER_E_MALFORMED_MESSAGE; a CPA version we do not know is
   * PEER_E_UNSUPPORTED_VERSION.
   */
  static decode(bytes: Uint8Array): Cpa {
    if (!(bytes instanceof Uint8Array)) {
      throw new PeerError('PEER_E_MALFORMED_MESSAGE', 'a CPA is bytes')
    }
    if (bytes.length > MAX_CPA_BYTES) {
      throw new PeerError(
        'PEER_E_MALFORMED_MESSAGE',
        `a CPA is at most MAX_CPA_BYTES (${MAX_CPA_BYTES}) bytes; this one has ${bytes.length}`,
        { details: { size: bytes.length, limit: MAX_CPA_BYTES } },
      )
    }
    // Our own copy: the caller may reuse its buffer, and a verified CPA must not change.
    const own = new Uint8Array(bytes)
    const [tbs, signature] = decodeMessage(own, envelopeSchema, {
      what: 'CPA',
      ...ENVELOPE_LIMITS,
    })
    const value = decodeCbor(tbs, { what: 'CPA', ...TBS_LIMITS })
    const v = isRecord(value) ? value['v'] : undefined
    if (typeof v === 'number' && v !== CPA_VERSION) {
      throw new PeerError(
        'PEER_E_UNSUPPORTED_VERSION',
        `CPA has version ${v}; this peerinfra understands ${CPA_VERSION}`,
        { details: { version: v } },
      )
    }
    const t = checkValue(value, tbsSchema, { what: 'CPA' })
    const fields: CpaFields = {
      peerName: t.name,
      serviceLocation: t.loc,
      endpoints: t.endpoints.map(([address, port]) => ({ address, port })),
      payload: t.payload ?? new Uint8Array(0),
      comment: t.comment ?? '',
      notAfter: t.notAfter,
      nonce: t.nonce,
      revoke: t.revoke ?? false,
    }
    const name = checkFields(fields, failWith('PEER_E_MALFORMED_MESSAGE'))
    if (hasSmallOrder(t.key)) {
      throw new PeerError(
        'PEER_E_MALFORMED_MESSAGE',
        'CPA key is not a valid Ed25519 public key (a point of small order)',
      )
    }
    return new Cpa(fields, name, t.key, { bytes: own, tbs, signature })
  }

  /**
   * Checks, in this order and each with its own code: a secured name belongs to the signing
   * key (PEER_E_CERTIFICATE_NOT_TRUSTED); `now` lies within the lifetime, give or take the
   * clock skew, and notAfter is at most MAX_CPA_LIFETIME_MS ahead (PEER_E_INVALID_TIME_PERIOD);
   * the nonce and the ID are the ones asked for (PEER_E_CONNECTION_NOT_AUTHENTICATED); the
   * signature (PEER_E_CERTIFICATE_NOT_TRUSTED, checked once per object and remembered).
   */
  verify(options: CpaVerifyOptions): void {
    const { now, nonce, id } = options
    const skew = options.clockSkewMs ?? MAX_CLOCK_SKEW_MS
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new PeerError('E_INVALIDARG', 'verify needs the current time `now` (ms since epoch)')
    }
    if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0) {
      throw new PeerError('E_INVALIDARG', 'clockSkewMs must be a finite number >= 0')
    }
    if (nonce !== undefined && !isBytes(nonce, NONCE_BYTES)) {
      throw new PeerError('E_INVALIDARG', `a nonce is NONCE_BYTES (${NONCE_BYTES}) bytes`)
    }
    if (this.#name.isSecured && this.#name.authority !== authorityOf(this.publicKey)) {
      throw new PeerError(
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
        `the CPA for ${this.peerName} is signed by a key that does not own the name`,
      )
    }
    if (this.notAfter <= now - skew) {
      throw new PeerError(
        'PEER_E_INVALID_TIME_PERIOD',
        `the CPA for ${this.peerName} expired at ${new Date(this.notAfter).toISOString()}`,
        { details: { notAfter: this.notAfter, now } },
      )
    }
    if (this.notAfter > now + MAX_CPA_LIFETIME_MS + skew) {
      throw new PeerError(
        'PEER_E_INVALID_TIME_PERIOD',
        `the CPA for ${this.peerName} claims a lifetime until ${new Date(this.notAfter).toISOString()}, beyond MAX_CPA_LIFETIME_MS (${MAX_CPA_LIFETIME_MS} ms) from now`,
        { details: { notAfter: this.notAfter, now } },
      )
    }
    if (nonce !== undefined && !bytesEqual(nonce, this.nonce)) {
      throw new PeerError(
        'PEER_E_CONNECTION_NOT_AUTHENTICATED',
        `the CPA for ${this.peerName} does not echo our nonce (a replay)`,
      )
    }
    if (id !== undefined && id !== this.id) {
      throw new PeerError(
        'PEER_E_CONNECTION_NOT_AUTHENTICATED',
        `the CPA for ${this.peerName} is not for the PNRP ID asked for`,
      )
    }
    if (!this.#checkSignature()) {
      throw new PeerError(
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
        `the CPA for ${this.peerName} has a signature that does not verify`,
      )
    }
  }

  /** The fields, copied (to re-sign with a new nonce or lifetime). */
  toFields(): CpaFields {
    return {
      peerName: this.peerName,
      serviceLocation: new Uint8Array(this.serviceLocation),
      endpoints: this.endpoints.map((e) => ({ address: e.address, port: e.port })),
      payload: new Uint8Array(this.payload),
      comment: this.comment,
      notAfter: this.notAfter,
      nonce: new Uint8Array(this.nonce),
      revoke: this.revoke,
    }
  }

  #checkSignature(): boolean {
    if (this.#signatureValid === undefined) {
      let signer: PublicKey
      try {
        signer = this.signer
      } catch {
        return (this.#signatureValid = false)
      }
      this.#signatureValid = signer.verify(CPA_SIGNATURE_DOMAIN, this.tbs, this.signature)
    }
    return this.#signatureValid
  }
}

/** A plain Uint8Array over the same memory (the encoder may hand back a Buffer). */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  )
}
