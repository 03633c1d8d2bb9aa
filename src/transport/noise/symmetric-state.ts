/**
 * SymmetricState (Noise rev 34, section 5.2): the chaining key `ck`, the handshake hash `h` and
 * a CipherState, which every handshake token updates.
 */
import { utf8 } from '../../core/bytes.ts'
import { CipherState } from './cipher-state.ts'
import { KEYLEN, noiseHash, type NoiseHash, type NoiseHashName } from './crypto.ts'

const ZEROLEN = new Uint8Array(0)

export class SymmetricState {
  readonly hashFunction: NoiseHash
  readonly #cipher = new CipherState()
  #ck: Uint8Array
  #h: Uint8Array

  /** InitializeSymmetric(protocol_name). */
  constructor(protocolName: string, hash: NoiseHashName) {
    this.hashFunction = noiseHash(hash)
    const name = utf8(protocolName)
    const { hashLen } = this.hashFunction
    if (name.length <= hashLen) {
      // The name, padded with zeros to HASHLEN bytes.
      this.#h = new Uint8Array(hashLen)
      this.#h.set(name)
    } else {
      this.#h = this.hashFunction.hash(name)
    }
    this.#ck = new Uint8Array(this.#h)
  }

  /** MixKey(input_key_material). */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = this.hashFunction.hkdf(this.#ck, inputKeyMaterial, 2) as [
      Uint8Array,
      Uint8Array,
    ]
    this.#ck.fill(0)
    this.#ck = ck
    // With HASHLEN 64, temp_k is truncated to 32 bytes.
    this.#cipher.initializeKey(tempK.subarray(0, KEYLEN))
    tempK.fill(0)
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.#h = this.hashFunction.hash(this.#h, data)
  }

  hasKey(): boolean {
    return this.#cipher.hasKey()
  }

  /** GetHandshakeHash(): a copy of h. */
  handshakeHash(): Uint8Array {
    return new Uint8Array(this.#h)
  }

  /** EncryptAndHash(plaintext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.#cipher.encryptWithAd(this.#h, plaintext)
    this.mixHash(ciphertext)
    return ciphertext
  }

  /** DecryptAndHash(ciphertext); h is unchanged when it fails. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.#cipher.decryptWithAd(this.#h, ciphertext)
    this.mixHash(ciphertext)
    return plaintext
  }

  /** Split(): the two transport CipherStates (c1 for initiator→responder, c2 back). */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.hashFunction.hkdf(this.#ck, ZEROLEN, 2) as [Uint8Array, Uint8Array]
    const c1 = new CipherState(k1.subarray(0, KEYLEN))
    const c2 = new CipherState(k2.subarray(0, KEYLEN))
    k1.fill(0)
    k2.fill(0)
    return [c1, c2]
  }

  /** Forgets the chaining key and the handshake cipher (after Split; h stays readable). */
  clear(): void {
    this.#ck.fill(0)
    this.#cipher.initializeKey(undefined)
  }
}
