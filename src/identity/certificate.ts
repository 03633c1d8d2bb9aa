/**
 * Certificates: one format for everything Windows did with X.509 (DESIGN.md section 4).
 *
 * Encoding: CBOR `[tbs, signature]`, where `tbs` is the deterministic CBOR of the map
 * `{v, type, serial, subjectKey, subjectName, issuerKey, issuerName, roles, classifiers,
 * notBefore, notAfter}` and `signature` is the issuer's Ed25519 signature over
 * `"peerinfra/v1/certificate" || 0x00 || tbs`. The signature covers the exact bytes received;
 * nothing is re-encoded before verification. Times are milliseconds since the Unix epoch.
 *
 * Types: `identity` (IDC, self-signed), `group-root` (GRC, self-signed by the group key),
 * `membership` (GMC, signed by its parent in the chain).
 */
import { bytesEqual, toHex } from '../core/bytes.ts'
import { PeerError, type PeerErrorCode } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import {
  CERTIFICATE_VERSION,
  DOMAIN,
  MAX_CERT_CLASSIFIERS,
  MAX_CERT_ROLES,
  MAX_CERTIFICATE_BYTES,
  MAX_CERTIFICATE_ENVELOPE_BYTES,
  MAX_CLOCK_SKEW_MS,
  MAX_TIME_MS,
  MAX_CHAIN_LENGTH,
  MAX_PEER_NAME_BYTES,
  MAX_ROLE_BYTES,
  PUBLIC_KEY_BYTES,
  SERIAL_BYTES,
  SIGNATURE_BYTES,
} from './constants.ts'
import { authorityOf, PublicKey, type KeyPair } from './keys.ts'
import { normalizeClassifier, PeerName } from './peer-name.ts'

export const CERTIFICATE_TYPES = ['identity', 'group-root', 'membership'] as const
export type CertificateType = (typeof CERTIFICATE_TYPES)[number]

const tbsSchema = s.struct({
  v: s.literal(CERTIFICATE_VERSION),
  type: s.oneOf(CERTIFICATE_TYPES),
  serial: s.bytes({ length: SERIAL_BYTES, max: SERIAL_BYTES }),
  subjectKey: s.bytes({ length: PUBLIC_KEY_BYTES, max: PUBLIC_KEY_BYTES }),
  subjectName: s.text({ maxBytes: MAX_PEER_NAME_BYTES }),
  issuerKey: s.bytes({ length: PUBLIC_KEY_BYTES, max: PUBLIC_KEY_BYTES }),
  issuerName: s.text({ maxBytes: MAX_PEER_NAME_BYTES }),
  roles: s.array(s.text({ maxBytes: MAX_ROLE_BYTES, minBytes: 1 }), { max: MAX_CERT_ROLES }),
  classifiers: s.array(s.text({ maxBytes: MAX_PEER_NAME_BYTES }), { max: MAX_CERT_CLASSIFIERS }),
  notBefore: s.uint(MAX_TIME_MS),
  notAfter: s.uint(MAX_TIME_MS),
})

const envelopeSchema = s.tuple([
  s.bytes({ min: 1, max: MAX_CERTIFICATE_BYTES }),
  s.bytes({ length: SIGNATURE_BYTES, max: SIGNATURE_BYTES }),
])

export interface CertificateFields {
  type: CertificateType
  serial: Uint8Array
  subjectKey: Uint8Array
  subjectName: string
  issuerKey: Uint8Array
  issuerName: string
  roles: string[]
  classifiers: string[]
  notBefore: number
  notAfter: number
}

function invalid(why: string): PeerError {
  return new PeerError('PEER_E_INVALID_CREDENTIAL', `certificate is invalid: ${why}`)
}

/** A peer name in a certificate must be canonical and, being secured, belong to `key`. */
function checkNameBinding(name: string, key: Uint8Array, role: string): void {
  let parsed: PeerName
  try {
    parsed = PeerName.parse(name)
  } catch (err) {
    throw invalid(`${role} name: ${(err as Error).message}`)
  }
  if (parsed.toString() !== name) throw invalid(`${role} name is not in canonical form`)
  if (!parsed.isSecured || parsed.authority !== authorityOf(key)) {
    throw invalid(`${role} name ${name} does not belong to the ${role} key`)
  }
}

/** A key from certificate bytes; small-order and malformed keys are refused here. */
function keyOf(bytes: Uint8Array, role: string): PublicKey {
  try {
    return PublicKey.fromBytes(bytes)
  } catch (err) {
    throw invalid(`${role} key: ${(err as Error).message}`)
  }
}

/** Checks a certificate's fields; returns the subject key, built once. */
function checkFields(f: CertificateFields): PublicKey {
  const subject = keyOf(f.subjectKey, 'subject')
  if (!bytesEqual(f.subjectKey, f.issuerKey)) keyOf(f.issuerKey, 'issuer')
  checkNameBinding(f.subjectName, f.subjectKey, 'subject')
  checkNameBinding(f.issuerName, f.issuerKey, 'issuer')
  if (f.notBefore > f.notAfter) throw invalid('notBefore is after notAfter')
  for (const c of f.classifiers) {
    let canonical: string
    try {
      canonical = normalizeClassifier(c)
    } catch (err) {
      throw invalid(`classifier: ${(err as Error).message}`)
    }
    if (canonical !== c) throw invalid('a classifier is not in Unicode NFC')
  }
  return subject
}

export class Certificate implements CertificateFields {
  readonly type: CertificateType
  readonly serial: Uint8Array
  readonly subjectKey: Uint8Array
  readonly subjectName: string
  readonly issuerKey: Uint8Array
  readonly issuerName: string
  readonly roles: string[]
  readonly classifiers: string[]
  readonly notBefore: number
  readonly notAfter: number
  /** The exact signed bytes. */
  readonly tbs: Uint8Array
  readonly signature: Uint8Array
  /** The subject key as a PublicKey (one KeyObject, kept). */
  readonly subject: PublicKey

  private constructor(
    fields: CertificateFields,
    tbs: Uint8Array,
    signature: Uint8Array,
    subject: PublicKey,
  ) {
    this.subject = subject
    this.type = fields.type
    this.serial = fields.serial
    this.subjectKey = fields.subjectKey
    this.subjectName = fields.subjectName
    this.issuerKey = fields.issuerKey
    this.issuerName = fields.issuerName
    this.roles = fields.roles
    this.classifiers = fields.classifiers
    this.notBefore = fields.notBefore
    this.notAfter = fields.notAfter
    this.tbs = tbs
    this.signature = signature
  }

  /** Signs `fields` with `issuer` as they are; issueCertificate() adds the issuing rules. */
  static sign(fields: CertificateFields, issuer: KeyPair): Certificate {
    if (!issuer.publicKey.equals(fields.issuerKey)) {
      throw new PeerError('E_INVALIDARG', 'the signing key is not the certificate issuer key')
    }
    const subject = checkFields(fields)
    const tbs = encodeCbor({
      v: CERTIFICATE_VERSION,
      type: fields.type,
      serial: fields.serial,
      subjectKey: fields.subjectKey,
      subjectName: fields.subjectName,
      issuerKey: fields.issuerKey,
      issuerName: fields.issuerName,
      roles: fields.roles,
      classifiers: fields.classifiers,
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
    })
    // Validate what we produced exactly as a receiver would.
    decodeMessage(tbs, tbsSchema, {
      what: 'certificate',
      code: 'PEER_E_INVALID_CREDENTIAL',
      versions: [CERTIFICATE_VERSION],
    })
    return new Certificate(fields, tbs, issuer.sign(DOMAIN.certificate, tbs), subject)
  }

  /** Parses an encoded certificate (structure and bindings only; see verifyChain for trust). */
  static decode(bytes: Uint8Array): Certificate {
    const opts = { what: 'certificate', code: 'PEER_E_INVALID_CREDENTIAL' as PeerErrorCode }
    const [tbs, signature] = decodeMessage(bytes, envelopeSchema, {
      ...opts,
      maxBytes: MAX_CERTIFICATE_ENVELOPE_BYTES,
    })
    const f = decodeMessage(tbs, tbsSchema, { ...opts, versions: [CERTIFICATE_VERSION] })
    const fields: CertificateFields = { ...f, roles: [...f.roles], classifiers: [...f.classifiers] }
    return new Certificate(fields, tbs, signature, checkFields(fields))
  }

  /** CBOR `[tbs, signature]`. */
  encode(): Uint8Array {
    return encodeCbor([this.tbs, this.signature])
  }

  get isSelfSigned(): boolean {
    return bytesEqual(this.subjectKey, this.issuerKey) && this.subjectName === this.issuerName
  }

  get serialHex(): string {
    return toHex(this.serial)
  }

  /** True when `issuer` signed exactly these bytes. */
  verifySignature(issuer: PublicKey): boolean {
    return issuer.verify(DOMAIN.certificate, this.tbs, this.signature)
  }

  /** Valid at `time`, allowing the issuer's clock to run up to `clockSkewMs` ahead of ours. */
  isValidAt(time: number, clockSkewMs = 0): boolean {
    return time + clockSkewMs >= this.notBefore && time <= this.notAfter
  }
}

export interface IssueParams {
  /** The issuer's key pair. */
  issuer: KeyPair
  /** The issuer's own certificate; left out for a self-signed certificate. */
  issuerCertificate?: Certificate
  type: CertificateType
  subjectKey: PublicKey | Uint8Array
  subjectName: string
  roles?: string[]
  classifiers?: string[]
  notBefore: number
  notAfter: number
  random: Random
}

/**
 * Issues a certificate under the issuing rules: a self-signed certificate is signed by its own
 * subject; any other lies within its issuer's lifetime (Windows: an issued lifetime cannot
 * exceed the issuer's remaining lifetime).
 */
export function issueCertificate(p: IssueParams): Certificate {
  const subjectKey = p.subjectKey instanceof PublicKey ? p.subjectKey.bytes : p.subjectKey
  const parent = p.issuerCertificate
  if (parent) {
    if (!p.issuer.publicKey.equals(parent.subjectKey)) {
      throw new PeerError('E_INVALIDARG', "the issuer key does not match the issuer's certificate")
    }
    if (p.notAfter > parent.notAfter || p.notBefore < parent.notBefore) {
      throw new PeerError(
        'PEER_E_LIFETIME_EXCEEDS_ISSUER',
        `a certificate may not outlive its issuer (issuer valid until ${new Date(parent.notAfter).toISOString()})`,
      )
    }
  } else if (!p.issuer.publicKey.equals(subjectKey)) {
    throw new PeerError(
      'E_INVALIDARG',
      'a self-signed certificate must be signed by its subject key',
    )
  }
  return Certificate.sign(
    {
      type: p.type,
      serial: p.random.bytes(SERIAL_BYTES),
      subjectKey,
      subjectName: p.subjectName,
      issuerKey: p.issuer.publicKey.bytes,
      issuerName: parent ? parent.subjectName : p.subjectName,
      roles: p.roles ?? [],
      classifiers: p.classifiers ?? [],
      notBefore: p.notBefore,
      notAfter: p.notAfter,
    },
    p.issuer,
  )
}

export interface ChainOptions {
  /** The time to check validity at (ms since the epoch), from the caller's clock. */
  now: number
  /** When given, the chain's root must be this key. */
  trustedRoot?: PublicKey | Uint8Array
  /** How far ahead of ours an issuer's clock may run (default MAX_CLOCK_SKEW_MS, 5 minutes). */
  clockSkewMs?: number
  /** Longest chain accepted (default and maximum 24). */
  maxLength?: number
  /** A further rule for each issued link (Grouping's role rules); throw a PeerError to refuse. */
  checkIssue?: (issuer: Certificate, subject: Certificate) => void
}

function chainError(code: PeerErrorCode, message: string, index: number): PeerError {
  return new PeerError(code, message, { details: { index } })
}

/**
 * Verifies a chain given root first: root → ... → leaf. Checks, in this order and each with
 * its own code: length (PEER_E_CHAIN_TOO_LONG), a key appearing twice
 * (PEER_E_CIRCULAR_CHAIN_DETECTED), a self-signed root that is trusted, links and signatures
 * (PEER_E_CERTIFICATE_NOT_TRUSTED), validity at `now`, give or take the clock skew allowed for
 * notBefore (PEER_E_INVALID_TIME_PERIOD), lifetimes
 * within the issuer's (PEER_E_LIFETIME_EXCEEDS_ISSUER), then `checkIssue`. Returns the leaf.
 */
export function verifyChain(chain: readonly Certificate[], options: ChainOptions): Certificate {
  const maxLength = Math.min(options.maxLength ?? MAX_CHAIN_LENGTH, MAX_CHAIN_LENGTH)
  if (chain.length === 0)
    throw new PeerError('E_INVALIDARG', 'a certificate chain needs at least one certificate')
  if (chain.length > maxLength) {
    throw new PeerError(
      'PEER_E_CHAIN_TOO_LONG',
      `a certificate chain holds at most ${maxLength} certificates; this one has ${chain.length}`,
      {
        details: { length: chain.length, limit: maxLength },
      },
    )
  }
  const seen = new Set<string>()
  chain.forEach((cert, i) => {
    const key = toHex(cert.subjectKey)
    if (seen.has(key)) {
      throw chainError(
        'PEER_E_CIRCULAR_CHAIN_DETECTED',
        `certificate ${i} names a key that already appears earlier in the chain`,
        i,
      )
    }
    seen.add(key)
  })
  const root = chain[0] as Certificate
  if (!root.isSelfSigned || root.type === 'membership') {
    throw chainError(
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      'the chain does not start at a self-signed identity or group root',
      0,
    )
  }
  if (options.trustedRoot && !root.subject.equals(options.trustedRoot)) {
    throw chainError(
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      'the chain starts at a root that is not trusted here',
      0,
    )
  }
  chain.forEach((cert, i) => {
    const issuer = i === 0 ? cert : (chain[i - 1] as Certificate)
    if (i > 0) {
      if (cert.type !== 'membership') {
        throw chainError(
          'PEER_E_CERTIFICATE_NOT_TRUSTED',
          `certificate ${i} is a ${cert.type} certificate inside a chain`,
          i,
        )
      }
      if (
        !bytesEqual(cert.issuerKey, issuer.subjectKey) ||
        cert.issuerName !== issuer.subjectName
      ) {
        throw chainError(
          'PEER_E_CERTIFICATE_NOT_TRUSTED',
          `certificate ${i} was not issued by certificate ${i - 1}`,
          i,
        )
      }
    }
    if (!cert.verifySignature(issuer.subject)) {
      throw chainError(
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
        `certificate ${i} has a signature that does not verify`,
        i,
      )
    }
  })
  const skew = options.clockSkewMs ?? MAX_CLOCK_SKEW_MS
  chain.forEach((cert, i) => {
    if (!cert.isValidAt(options.now, skew)) {
      const early = options.now + skew < cert.notBefore
      const when = early ? 'is not valid before' : 'expired at'
      const at = early ? cert.notBefore : cert.notAfter
      throw chainError(
        'PEER_E_INVALID_TIME_PERIOD',
        `certificate ${i} (${cert.subjectName}) ${when} ${new Date(at).toISOString()}`,
        i,
      )
    }
  })
  for (let i = 1; i < chain.length; i++) {
    const cert = chain[i] as Certificate
    const issuer = chain[i - 1] as Certificate
    if (cert.notAfter > issuer.notAfter || cert.notBefore < issuer.notBefore) {
      throw chainError(
        'PEER_E_LIFETIME_EXCEEDS_ISSUER',
        `certificate ${i} claims a lifetime beyond its issuer's`,
        i,
      )
    }
    options.checkIssue?.(issuer, cert)
  }
  return chain[chain.length - 1] as Certificate
}
