/**
 * CipherState (Noise rev 34, section 5.1): a key `k` and a 64-bit nonce `n`. After a handshake,
 * one CipherState encrypts each direction of the transport.
 */
import { concatByteArray } from '../../core/bytes.ts'
import { PeerError } from '../../core/errors.ts'
import { NOISE_MAX_MESSAGE_BYTES } from '../constants.ts'
import type { KeyObject } from 'node:crypto'
import {
  KEYLEN,
  MAX_NONCE,
  TAGLEN,
  aeadDecryptPieces,
  aeadEncrypt,
  aeadEncryptPieces,
  cipherKeyObject,
} from './crypto.ts'

const ZEROLEN = new Uint8Array(0)
const REKEY_ZEROS = new Uint8Array(KEYLEN)

export class CipherState {
  #k: Uint8Array | undefined
  /** `#k` imported once into OpenSSL, so a message costs no key import. */
  #key: KeyObject | undefined
  // A bigint: a 64-bit counter loses no precision and 2^64-1 is exact.
  #n = 0n

  /** A CipherState with key `key` (copied), or without a key. */
  constructor(key?: Uint8Array) {
    this.initializeKey(key)
  }

  /** InitializeKey(key): sets k (undefined: empty) and n = 0. */
  initializeKey(key: Uint8Array | undefined): void {
    if (key !== undefined && (!(key instanceof Uint8Array) || key.length !== KEYLEN)) {
      throw new PeerError('E_INVALIDARG', `a cipher key is ${KEYLEN} bytes`)
    }
    this.#k?.fill(0)
    this.#k = key === undefined ? undefined : new Uint8Array(key)
    this.#key = key === undefined ? undefined : cipherKeyObject(key)
    this.#n = 0n
  }

  hasKey(): boolean {
    return this.#k !== undefined
  }

  /** The next message's nonce. */
  get nonce(): bigint {
    return this.#n
  }

  /** SetNonce(nonce): any value 0 .. 2^64-1 (at 2^64-1 the state can no longer be used). */
  setNonce(nonce: bigint): void {
    if (typeof nonce !== 'bigint' || nonce < 0n || nonce > MAX_NONCE) {
      throw new PeerError('E_INVALIDARG', 'a Noise nonce is an integer 0 .. 2^64-1 (a bigint)')
    }
    this.#n = nonce
  }

  /**
   * EncryptWithAd(ad, plaintext): ENCRYPT(k, n++, ad, plaintext), or the plaintext itself when
   * there is no key. The result is at most NOISE_MAX_MESSAGE_BYTES (PEER_E_TOO_LARGE otherwise).
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const k = this.#key
    const overhead = k === undefined ? 0 : TAGLEN
    if (plaintext.length + overhead > NOISE_MAX_MESSAGE_BYTES) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `a Noise message is at most ${NOISE_MAX_MESSAGE_BYTES} bytes: send at most ${NOISE_MAX_MESSAGE_BYTES - overhead} bytes of plaintext at a time`,
        { details: { limit: NOISE_MAX_MESSAGE_BYTES - overhead, size: plaintext.length } },
      )
    }
    if (k === undefined) return plaintext
    this.#checkNonce()
    const ciphertext = aeadEncrypt(k, this.#n, ad, plaintext)
    this.#n++
    return ciphertext
  }

  /**
   * EncryptWithAd as pieces (the ciphertext of each part, then the tag), for a transport that
   * writes them together; needs a key.
   */
  encryptPieces(ad: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
    const k = this.#key
    if (k === undefined) throw new PeerError('E_UNEXPECTED', 'encryptPieces needs a cipher key')
    const size = parts.reduce((n, p) => n + p.length, 0)
    if (size + TAGLEN > NOISE_MAX_MESSAGE_BYTES) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `a Noise message is at most ${NOISE_MAX_MESSAGE_BYTES} bytes`,
        {
          details: { limit: NOISE_MAX_MESSAGE_BYTES - TAGLEN, size },
        },
      )
    }
    this.#checkNonce()
    const pieces = aeadEncryptPieces(k, this.#n, ad, parts)
    this.#n++
    return pieces
  }

  /**
   * DecryptWithAd(ad, ciphertext): DECRYPT(k, n++, ad, ciphertext), or the ciphertext itself when
   * there is no key. On an authentication failure (PEER_E_CONNECTION_NOT_AUTHENTICATED) the
   * nonce does not advance, so the genuine message can still be read.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array | readonly Uint8Array[]): Uint8Array {
    const pieces = this.decryptPieces(ad, ciphertext)
    return pieces.length === 1 ? (pieces[0] as Uint8Array) : concatByteArray(pieces)
  }

  /**
   * DecryptWithAd, the plaintext in the pieces the ciphertext came in (views of the cipher's
   * output: nothing is joined), for a reader that can take pieces.
   */
  decryptPieces(ad: Uint8Array, ciphertext: Uint8Array | readonly Uint8Array[]): Uint8Array[] {
    const size =
      ciphertext instanceof Uint8Array
        ? ciphertext.length
        : ciphertext.reduce((n, p) => n + p.length, 0)
    if (size > NOISE_MAX_MESSAGE_BYTES) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `a Noise message is at most ${NOISE_MAX_MESSAGE_BYTES} bytes`,
        { details: { limit: NOISE_MAX_MESSAGE_BYTES, size } },
      )
    }
    const k = this.#key
    if (k === undefined) return ciphertext instanceof Uint8Array ? [ciphertext] : [...ciphertext]
    this.#checkNonce()
    const plaintext = aeadDecryptPieces(k, this.#n, ad, ciphertext)
    this.#n++
    return plaintext
  }

  /** Rekey(): k = REKEY(k), the first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros). */
  rekey(): void {
    const k = this.#k
    const key = this.#key
    if (k === undefined || key === undefined) {
      throw new PeerError('E_UNEXPECTED', 'rekey needs a cipher key')
    }
    const next = aeadEncrypt(key, MAX_NONCE, ZEROLEN, REKEY_ZEROS).subarray(0, KEYLEN)
    k.set(next)
    next.fill(0)
    this.#key = cipherKeyObject(k)
  }

  #checkNonce(): void {
    if (this.#n >= MAX_NONCE) {
      throw new PeerError(
        'E_UNEXPECTED',
        'the cipher nonce is exhausted (2^64-1 is reserved): run a new handshake',
      )
    }
  }
}
