/**
 * An identity: an Ed25519 key pair, the secured peer name it owns, a friendly name, and its
 * self-signed identity certificate (IDC).
 */
import { toHex } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import type { Certificate } from './certificate.ts'
import { issueCertificate } from './certificate.ts'
import { INFINITE_LIFETIME_MS, MAX_FRIENDLY_NAME_LENGTH } from './constants.ts'
import { KeyPair, type PublicKey } from './keys.ts'
import { PeerName } from './peer-name.ts'
import { normalizeName } from './text.ts'

/**
 * Checks a friendly name; null, undefined or '' give the peer name (Windows: setting an empty
 * friendly name resets it to the peer name). PEER_E_INVALID_FRIENDLY_NAME otherwise.
 */
export function normalizeFriendlyName(name: string | null | undefined, peerName: string): string {
  if (name === null || name === undefined || name === '') return peerName
  return normalizeName(name, {
    what: 'a friendly name',
    max: MAX_FRIENDLY_NAME_LENGTH,
    code: 'PEER_E_INVALID_FRIENDLY_NAME',
  })
}

export interface IdentitySummary {
  peerName: string
  friendlyName: string
}

export class Identity {
  readonly peerName: string
  readonly classifier: string
  readonly friendlyName: string
  readonly certificate: Certificate
  readonly createdAt: Date
  readonly #keyPair: KeyPair

  constructor(keyPair: KeyPair, certificate: Certificate, friendlyName: string, createdAt: Date) {
    const name = PeerName.parse(certificate.subjectName)
    if (
      certificate.type !== 'identity' ||
      !certificate.isSelfSigned ||
      !keyPair.publicKey.equals(certificate.subjectKey)
    ) {
      throw new PeerError(
        'PEER_E_INVALID_CREDENTIAL',
        'an identity needs its own self-signed identity certificate',
      )
    }
    if (!certificate.verifySignature(keyPair.publicKey)) {
      throw new PeerError(
        'PEER_E_INVALID_CREDENTIAL',
        "the identity certificate's signature does not verify",
      )
    }
    this.#keyPair = keyPair
    this.certificate = certificate
    this.peerName = name.toString()
    this.classifier = name.classifier
    this.friendlyName = normalizeFriendlyName(friendlyName, this.peerName)
    this.createdAt = createdAt
  }

  /**
   * A new identity (not yet stored): `key`, or a fresh key from `random`; IDC valid from `now`
   * for 1000 years.
   */
  static create(options: {
    classifier?: string
    friendlyName?: string | null
    key?: KeyPair
    random: Random
    now: number
  }): Identity {
    if (options.key !== undefined && !(options.key instanceof KeyPair)) {
      throw new PeerError('E_INVALIDARG', 'an identity key is a KeyPair (identity.keyPair)')
    }
    const keyPair = options.key ?? KeyPair.generate(options.random)
    const peerName = PeerName.fromParts(keyPair.publicKey.authority, options.classifier ?? '')
    const certificate = issueCertificate({
      issuer: keyPair,
      type: 'identity',
      subjectKey: keyPair.publicKey,
      subjectName: peerName.toString(),
      notBefore: options.now,
      notAfter: options.now + INFINITE_LIFETIME_MS,
      random: options.random,
    })
    return new Identity(
      keyPair,
      certificate,
      normalizeFriendlyName(options.friendlyName, peerName.toString()),
      new Date(options.now),
    )
  }

  /** The raw 32-byte Ed25519 public key. */
  get publicKey(): Uint8Array {
    return this.#keyPair.publicKey.bytes
  }

  get key(): PublicKey {
    return this.#keyPair.publicKey
  }

  /** The key pair, for components that sign on this identity's behalf (transport, groups). */
  get keyPair(): KeyPair {
    return this.#keyPair
  }

  sign(domain: string, message: Uint8Array): Uint8Array {
    return this.#keyPair.sign(domain, message)
  }

  withFriendlyName(friendlyName: string | null): Identity {
    return new Identity(
      this.#keyPair,
      this.certificate,
      normalizeFriendlyName(friendlyName, this.peerName),
      this.createdAt,
    )
  }

  summary(): IdentitySummary {
    return { peerName: this.peerName, friendlyName: this.friendlyName }
  }

  toJSON(): Record<string, string> {
    return {
      peerName: this.peerName,
      classifier: this.classifier,
      friendlyName: this.friendlyName,
      publicKey: toHex(this.publicKey),
      hostName: safeHostName(this.peerName),
      createdAt: this.createdAt.toISOString(),
    }
  }
}

function safeHostName(peerName: string): string {
  try {
    return PeerName.toHostName(peerName)
  } catch {
    return ''
  }
}
