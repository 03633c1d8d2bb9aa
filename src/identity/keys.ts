/**
 * Ed25519 keys on node:crypto. One KeyObject is built per key and kept (rebuilding it for each
 * verify costs about 40% of verify speed). Every signature covers a domain-separation prefix,
 * `domain || 0x00 || message`, so a signature made for one purpose never verifies for another.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto'
import { bytesEqual, concatBytes, toHex, utf8 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import {
  AUTHORITY_BYTES,
  PRIVATE_SEED_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
} from './constants.ts'

// The fixed DER prefix that wraps a raw 32-byte Ed25519 seed as PKCS#8 (RFC 8410).
export const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

const prefixCache = new Map<string, Uint8Array>()

// Encodings (y coordinate, sign bit ignored) of the points of small order, as libsodium lists
// them (ge25519_has_small_order). node:crypto accepts such keys, and for the identity point the
// signature (R = identity, S = 0) verifies for every message: nobody would own such a key.
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
]

/** True for the encoding of an Ed25519 point of small order (never a valid identity key). */
export function hasSmallOrder(raw: Uint8Array): boolean {
  const y = new Uint8Array(raw)
  y[31] = (y[31] as number) & 0x7f
  return SMALL_ORDER.includes(toHex(y))
}

/** `domain || 0x00 || message`: the exact bytes every peerinfra signature covers. */
export function domainSeparated(domain: string, message: Uint8Array): Uint8Array {
  let prefix = prefixCache.get(domain)
  if (!prefix) {
    // The NUL ends the domain, so a domain holding one could collide with another's prefix.
    if (domain.length === 0 || domain.includes('\u0000')) {
      throw new PeerError('E_INVALIDARG', 'a signature domain is non-empty text without NUL')
    }
    prefix = concatBytes(utf8(domain), new Uint8Array([0]))
    prefixCache.set(domain, prefix)
  }
  const out = new Uint8Array(prefix.length + message.length)
  out.set(prefix, 0)
  out.set(message, prefix.length)
  return out
}

/** Authority of a secured peer name: lowercase hex of SHA-256(raw public key)[0..20]. */
export function authorityOf(publicKey: Uint8Array): string {
  return toHex(createHash('sha256').update(publicKey).digest().subarray(0, AUTHORITY_BYTES))
}

export class PublicKey {
  readonly bytes: Uint8Array
  private readonly keyObject: KeyObject
  private cachedAuthority: string | undefined

  private constructor(bytes: Uint8Array, keyObject: KeyObject) {
    this.bytes = bytes
    this.keyObject = keyObject
  }

  static fromBytes(raw: Uint8Array): PublicKey {
    if (!(raw instanceof Uint8Array) || raw.length !== PUBLIC_KEY_BYTES) {
      throw new PeerError('E_INVALIDARG', `an Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes`)
    }
    if (hasSmallOrder(raw)) {
      throw new PeerError('E_INVALIDARG', 'not a valid Ed25519 public key (a point of small order)')
    }
    const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
    let keyObject: KeyObject
    try {
      // JWK import is about 5x faster than DER (SPKI) in Node 20's OpenSSL 3, and peers'
      // keys are imported on every handshake.
      keyObject = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
    } catch (err) {
      throw new PeerError('E_INVALIDARG', 'not a valid Ed25519 public key', { cause: err })
    }
    return new PublicKey(new Uint8Array(raw), keyObject)
  }

  /** The key's authority (40 hex characters). */
  get authority(): string {
    return (this.cachedAuthority ??= authorityOf(this.bytes))
  }

  /** True when `signature` is this key's signature over `domain || 0 || message`. */
  verify(domain: string, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== SIGNATURE_BYTES) return false
    return verify(null, domainSeparated(domain, message), this.keyObject, signature)
  }

  equals(other: PublicKey | Uint8Array): boolean {
    return bytesEqual(this.bytes, other instanceof PublicKey ? other.bytes : other)
  }

  toString(): string {
    return toHex(this.bytes)
  }
}

/**
 * A private KeyObject from a raw seed. OpenSSL 3.0 decodes PKCS#8 slowly (about 380 us here);
 * a JWK goes straight to the raw key (about 30 us), so JWK comes first and DER is the
 * fallback, should a Node version refuse it. Node builds the key from `d`; `x` is not used.
 */
function importSeed(seed: Uint8Array): KeyObject {
  const d = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString('base64url')
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x: '' }, format: 'jwk' })
  } catch {
    return createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    })
  }
}

export class KeyPair {
  readonly publicKey: PublicKey
  readonly #seed: Uint8Array
  readonly #privateKey: KeyObject

  private constructor(seed: Uint8Array, privateKey: KeyObject) {
    this.#seed = seed
    this.#privateKey = privateKey
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
    this.publicKey = PublicKey.fromBytes(new Uint8Array(Buffer.from(String(jwk.x), 'base64url')))
  }

  /** A new key from `random` (the system CSPRNG in real use; a seeded source in simulations). */
  static generate(random: Random): KeyPair {
    return KeyPair.fromSeed(random.bytes(PRIVATE_SEED_BYTES))
  }

  static fromSeed(seed: Uint8Array): KeyPair {
    if (!(seed instanceof Uint8Array) || seed.length !== PRIVATE_SEED_BYTES) {
      throw new PeerError('E_INVALIDARG', `an Ed25519 private seed is ${PRIVATE_SEED_BYTES} bytes`)
    }
    return new KeyPair(new Uint8Array(seed), importSeed(seed))
  }

  /** Signs `domain || 0x00 || message`. */
  sign(domain: string, message: Uint8Array): Uint8Array {
    const signature = sign(null, domainSeparated(domain, message), this.#privateKey)
    // A plain Uint8Array view of the same memory: no copy on the signing hot path.
    return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength)
  }

  /** The 32-byte private seed, for the identity store and encrypted export only. */
  exportSeed(): Uint8Array {
    return new Uint8Array(this.#seed)
  }
}
