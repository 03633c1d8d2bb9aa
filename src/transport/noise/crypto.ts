/**
 * The crypto functions of Noise (rev 34, section 4) on node:crypto: X25519 for DH,
 * ChaCha20-Poly1305 for the cipher, SHA256 or BLAKE2b for the hash, with HMAC and HKDF as
 * section 4.3 defines them. Randomness comes from the caller's Random, never from node:crypto.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  type KeyObject,
} from 'node:crypto'
import { bytesEqual, concatByteArray } from '../../core/bytes.ts'
import { PeerError } from '../../core/errors.ts'
import type { Random } from '../../core/random.ts'

/** DHLEN for Curve25519: public keys and DH outputs are 32 bytes. */
export const DHLEN = 32
/** Cipher keys are 32 bytes. */
export const KEYLEN = 32
/** The AEAD tag (Poly1305) is 16 bytes. */
export const TAGLEN = 16
/** 2^64-1: the nonce Noise reserves (section 5.1); REKEY encrypts with it (section 4.2). */
export const MAX_NONCE = 0xffff_ffff_ffff_ffffn

// Raw 32-byte keys reach OpenSSL two ways. The fixed DER prefixes (RFC 8410: PKCS#8 for a private
// key, SubjectPublicKeyInfo for a public key) are the standard route, but OpenSSL 3.0's decoders
// make it slow: measured here (Node 20.20, OpenSSL 3.0.19) 2.6k private and 12k public imports/s.
// A JWK goes straight to EVP_PKEY_new_raw_*_key: 33k and 100k/s. Ephemeral keys are imported on
// every handshake, so JWK comes first and DER is the fallback should a Node version refuse it.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

function importPrivate(raw: Uint8Array): KeyObject {
  const d = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
  try {
    // Node builds a private OKP key from `d` alone; `x` must be a string but is not used.
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: '' }, format: 'jwk' })
  } catch {
    return createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, raw]),
      format: 'der',
      type: 'pkcs8',
    })
  }
}

function importPublic(raw: Uint8Array): KeyObject {
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' })
  } catch {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
  }
}

// ---------------------------------------------------------------------------------------------
// X25519

export interface X25519KeyPair {
  readonly publicKey: Uint8Array
  readonly privateKey: Uint8Array
}

/**
 * The private KeyObject of every key pair this module made or has checked, so DH does not import
 * the key again on each use. Keyed by the pair object: a pair built elsewhere is checked (its
 * public key must match its private key) on first use, then kept.
 */
const privateKeyObjects = new WeakMap<X25519KeyPair, KeyObject>()

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== DHLEN) {
    throw new PeerError('E_INVALIDARG', `an X25519 private key is ${DHLEN} bytes`)
  }
  return importPrivate(raw)
}

function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' })
  const raw = typeof x === 'string' ? Buffer.from(x, 'base64url') : undefined
  if (raw?.length !== DHLEN) throw new PeerError('E_UNEXPECTED', 'X25519 public key export failed')
  return new Uint8Array(raw)
}

/** The key pair of a raw 32-byte X25519 private key (any 32 bytes; X25519 clamps them). */
export function x25519FromPrivate(raw: Uint8Array): X25519KeyPair {
  const keyObject = privateKeyObject(raw)
  const pair: X25519KeyPair = Object.freeze({
    publicKey: rawPublicKey(keyObject),
    privateKey: new Uint8Array(raw),
  })
  privateKeyObjects.set(pair, keyObject)
  return pair
}

/** A new key pair from `random` (the system CSPRNG in real use; a seeded source in simulations). */
export function x25519KeyPair(random: Random): X25519KeyPair {
  return x25519FromPrivate(random.bytes(DHLEN))
}

/**
 * The private KeyObject of `pair`, built and checked on first use: E_INVALIDARG when the pair is
 * not 32 + 32 bytes or its public key is not the one its private key gives.
 */
export function keyPairObject(pair: X25519KeyPair): KeyObject {
  const cached = privateKeyObjects.get(pair)
  if (cached) return cached
  if (!(pair.publicKey instanceof Uint8Array) || pair.publicKey.length !== DHLEN) {
    throw new PeerError('E_INVALIDARG', `an X25519 public key is ${DHLEN} bytes`)
  }
  const keyObject = privateKeyObject(pair.privateKey)
  if (!bytesEqual(rawPublicKey(keyObject), pair.publicKey)) {
    throw new PeerError('E_INVALIDARG', 'the X25519 public key does not match the private key')
  }
  privateKeyObjects.set(pair, keyObject)
  return keyObject
}

/**
 * A remote raw public key as a KeyObject, for `dhKeyObjects`. Any 32 bytes are a u-coordinate
 * X25519 accepts; keys of small order are caught when the DH output comes out all zeros.
 */
export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== DHLEN) {
    throw new PeerError('PEER_E_MALFORMED_MESSAGE', `an X25519 public key is ${DHLEN} bytes`)
  }
  try {
    return importPublic(raw)
  } catch (err) {
    throw new PeerError('PEER_E_MALFORMED_MESSAGE', 'not an X25519 public key', { cause: err })
  }
}

/** DH on KeyObjects: the 32-byte shared secret, refusing an all-zero one (small-order key). */
export function dhKeyObjects(privateKey: KeyObject, remotePublic: KeyObject): Uint8Array {
  let shared: Buffer
  try {
    shared = diffieHellman({ privateKey, publicKey: remotePublic })
  } catch (err) {
    // OpenSSL itself refuses an all-zero output ("failed during derivation").
    throw new PeerError(
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      'X25519 failed: the remote public key is of small order',
      { cause: err },
    )
  }
  let acc = 0
  for (const b of shared) acc |= b
  if (acc === 0 || shared.length !== DHLEN) {
    throw new PeerError(
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      'X25519 gave an all-zero secret: the remote public key is of small order',
    )
  }
  return new Uint8Array(shared)
}

/** DH(key_pair, public_key) of section 4.1. */
export function dh(keyPair: X25519KeyPair, remotePublic: Uint8Array): Uint8Array {
  return dhKeyObjects(keyPairObject(keyPair), publicKeyObject(remotePublic))
}

// ---------------------------------------------------------------------------------------------
// ChaCha20-Poly1305

/** The 96-bit ChaChaPoly nonce of Noise: 32 bits of zeros, then the counter little-endian. */
function nonceBytes(n: bigint): Buffer {
  const nonce = Buffer.alloc(12)
  nonce.writeBigUInt64LE(n, 4)
  return nonce
}

/**
 * A cipher key as OpenSSL holds it: a CipherState imports its key once (and again on rekey)
 * rather than on every message. Raw keys are accepted wherever a CipherKey is.
 */
export type CipherKey = Uint8Array | KeyObject

export function cipherKeyObject(key: Uint8Array): KeyObject {
  return createSecretKey(key)
}

/** ENCRYPT(k, n, ad, plaintext): ciphertext || 16-byte tag. */
export function aeadEncrypt(
  key: CipherKey,
  n: bigint,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const pieces = aeadEncryptPieces(key, n, ad, [plaintext])
  const out = new Uint8Array(plaintext.length + TAGLEN)
  let offset = 0
  for (const piece of pieces) {
    out.set(piece, offset)
    offset += piece.length
  }
  return out
}

/**
 * ENCRYPT(k, n, ad, plaintext) as pieces: the cipher's output for each plaintext part, then the
 * tag. Nothing is copied; a caller that writes the pieces with writev sends each byte once.
 */
export function aeadEncryptPieces(
  key: CipherKey,
  n: bigint,
  ad: Uint8Array,
  parts: readonly Uint8Array[],
): Uint8Array[] {
  let length = 0
  for (const part of parts) length += part.length
  const cipher = createCipheriv('chacha20-poly1305', key, nonceBytes(n), {
    authTagLength: TAGLEN,
  })
  cipher.setAAD(ad, { plaintextLength: length })
  const pieces: Uint8Array[] = []
  for (const part of parts) if (part.length > 0) pieces.push(cipher.update(part))
  cipher.final()
  pieces.push(cipher.getAuthTag())
  return pieces
}

/**
 * DECRYPT(k, n, ad, ciphertext): the plaintext, or PEER_E_CONNECTION_NOT_AUTHENTICATED when the
 * tag does not verify (or the ciphertext is shorter than one).
 */
export function aeadDecrypt(
  key: CipherKey,
  n: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array | readonly Uint8Array[],
): Uint8Array {
  const pieces = aeadDecryptPieces(key, n, ad, ciphertext)
  return pieces.length === 1 ? (pieces[0] as Uint8Array) : concatByteArray(pieces)
}

/**
 * DECRYPT as pieces: the plaintext of each ciphertext piece (one empty piece for an empty
 * plaintext), so a
 * message that arrived split across reads is not joined here and again by its reader.
 */
export function aeadDecryptPieces(
  key: CipherKey,
  n: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array | readonly Uint8Array[],
): Uint8Array[] {
  // The ciphertext may come in the pieces it arrived in; only the 16-byte tag is copied out.
  const parts = ciphertext instanceof Uint8Array ? [ciphertext] : ciphertext
  let total = 0
  for (const part of parts) total += part.length
  if (total < TAGLEN) {
    throw new PeerError(
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      'message failed authentication: shorter than its tag',
    )
  }
  const length = total - TAGLEN
  const tag = new Uint8Array(TAGLEN)
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, nonceBytes(n), {
      authTagLength: TAGLEN,
    })
    decipher.setAAD(ad, { plaintextLength: length })
    const outputs: Uint8Array[] = []
    let offset = 0
    for (const part of parts) {
      const body = Math.max(0, Math.min(part.length, length - offset))
      if (body > 0) {
        // The cipher's own fresh output, as a plain Uint8Array view.
        const out = decipher.update(part.subarray(0, body))
        outputs.push(new Uint8Array(out.buffer, out.byteOffset, out.length))
      }
      if (body < part.length) tag.set(part.subarray(body), Math.max(0, offset - length))
      offset += part.length
    }
    decipher.setAuthTag(tag)
    decipher.final()
    return outputs.length > 0 ? outputs : [new Uint8Array(0)]
  } catch (err) {
    throw new PeerError('PEER_E_CONNECTION_NOT_AUTHENTICATED', 'message failed authentication', {
      cause: err,
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Hash, HMAC, HKDF

export type NoiseHashName = 'SHA256' | 'BLAKE2b'

export interface NoiseHash {
  readonly name: NoiseHashName
  /** HASHLEN: bytes of a digest. */
  readonly hashLen: number
  /** BLOCKLEN: the hash's block size, which HMAC pads its key to. */
  readonly blockLen: number
  /** HASH(parts[0] || parts[1] || ...). */
  hash(...parts: Uint8Array[]): Uint8Array
  /** HMAC-HASH(key, parts[0] || parts[1] || ...), RFC 2104 with BLOCKLEN. */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array
  /**
   * HKDF(chaining_key, input_key_material, num_outputs) of section 4.3: two or three outputs of
   * HASHLEN bytes each.
   */
  hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Uint8Array[]
}

const ONE = new Uint8Array([1])
const TWO = new Uint8Array([2])
const THREE = new Uint8Array([3])

function makeHash(name: NoiseHashName, nodeName: string, hashLen: number, blockLen: number) {
  const hash = (...parts: Uint8Array[]): Uint8Array => {
    const h = createHash(nodeName)
    for (const p of parts) h.update(p)
    return new Uint8Array(h.digest())
  }
  // node's HMAC is RFC 2104 over the digest's own block size, which is BLOCKLEN for both
  // (64 for SHA-256, 128 for BLAKE2b-512): the tests check it against a by-hand HMAC.
  const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const h = createHmac(nodeName, key)
    for (const p of parts) h.update(p)
    return new Uint8Array(h.digest())
  }
  const hkdf = (chainingKey: Uint8Array, ikm: Uint8Array, numOutputs: 2 | 3): Uint8Array[] => {
    const tempKey = hmac(chainingKey, ikm)
    const output1 = hmac(tempKey, ONE)
    const output2 = hmac(tempKey, output1, TWO)
    if (numOutputs === 2) return [output1, output2]
    return [output1, output2, hmac(tempKey, output2, THREE)]
  }
  return Object.freeze({ name, hashLen, blockLen, hash, hmac, hkdf })
}

const HASHES: Record<NoiseHashName, NoiseHash> = {
  SHA256: makeHash('SHA256', 'sha256', 32, 64),
  BLAKE2b: makeHash('BLAKE2b', 'blake2b512', 64, 128),
}

/** The hash functions by their Noise names; E_INVALIDARG for any other name. */
export function noiseHash(name: NoiseHashName): NoiseHash {
  const hash = Object.hasOwn(HASHES, name) ? HASHES[name] : undefined
  if (!hash) {
    throw new PeerError('E_INVALIDARG', `unsupported Noise hash ${String(name)}`, {
      details: { supported: Object.keys(HASHES) },
    })
  }
  return hash
}
