/**
 * The Noise XX handshake (Noise rev 34, sections 5.3 and 7.5), and nothing else:
 *
 *   -> e
 *   <- e, ee, s, es
 *   -> s, se
 *
 * Each side learns the other's static key; the payloads carry whatever the caller binds to it
 * (peerinfra signs the Noise static key with its Ed25519 identity). Any failure to read a
 * message leaves the handshake unusable: the peer must start a new one.
 */
import type { KeyObject } from 'node:crypto'
import { concatBytes } from '../../core/bytes.ts'
import { PeerError } from '../../core/errors.ts'
import type { Random } from '../../core/random.ts'
import { NOISE_MAX_MESSAGE_BYTES } from '../constants.ts'
import type { CipherState } from './cipher-state.ts'
import {
  DHLEN,
  TAGLEN,
  dhKeyObjects,
  keyPairObject,
  publicKeyObject,
  x25519KeyPair,
  type NoiseHashName,
  type X25519KeyPair,
} from './crypto.ts'
import { SymmetricState } from './symmetric-state.ts'

export type { NoiseHashName } from './crypto.ts'

export interface XXHandshakeOptions {
  /** True on the side that sends the first message. */
  initiator: boolean
  /** This side's long-term X25519 key pair (`s`). */
  staticKeyPair: X25519KeyPair
  /** Bytes both sides must agree on, mixed into the handshake hash (may be empty). */
  prologue: Uint8Array
  /** Default 'SHA256' (peerinfra's suite); 'BLAKE2b' exists for interop tests. */
  hash?: NoiseHashName
  /** Source of the ephemeral key. */
  random: Random
  /** Fixed ephemeral key pair (`e`): for test vectors only, never in real use. */
  ephemeralKeyPair?: X25519KeyPair
}

/** Who writes each of the three messages of XX. */
const WRITER_IS_INITIATOR = [true, false, true] as const
/**
 * Bytes a message has besides its payload: message 1 is `e` and a clear payload; message 2 is
 * `e`, encrypted `s` and an encrypted payload; message 3 is encrypted `s` and payload.
 */
const OVERHEAD = [DHLEN, DHLEN + DHLEN + TAGLEN + TAGLEN, DHLEN + TAGLEN + TAGLEN] as const

type Step = 0 | 1 | 2

export class XXHandshake {
  readonly protocolName: string
  readonly initiator: boolean
  readonly #symmetric: SymmetricState
  readonly #random: Random
  readonly #s: X25519KeyPair
  #e: X25519KeyPair | undefined
  /** True when `e` came from this handshake (so its private bytes are ours to wipe). */
  #ownEphemeral = false
  #re: Uint8Array | undefined
  #rs: Uint8Array | undefined
  #reObject: KeyObject | undefined
  #rsObject: KeyObject | undefined
  /** The next message, 0..2; 3 once complete. */
  #step = 0
  #failed = false
  #split: [CipherState, CipherState] | undefined
  #splitTaken = false
  #handshakeHash: Uint8Array | undefined

  constructor(options: XXHandshakeOptions) {
    const { initiator, staticKeyPair, prologue, random, ephemeralKeyPair } = options
    const hash = options.hash ?? 'SHA256'
    if (typeof initiator !== 'boolean') {
      throw new PeerError('E_INVALIDARG', 'initiator must be true or false')
    }
    if (!(prologue instanceof Uint8Array)) {
      throw new PeerError('E_INVALIDARG', 'the prologue is a Uint8Array (empty for none)')
    }
    // Checks the pairs (sizes, public key matching private key) and caches their KeyObjects.
    keyPairObject(staticKeyPair)
    if (ephemeralKeyPair !== undefined) keyPairObject(ephemeralKeyPair)
    this.initiator = initiator
    this.protocolName = `Noise_XX_25519_ChaChaPoly_${hash}`
    this.#symmetric = new SymmetricState(this.protocolName, hash)
    this.#random = random
    this.#s = staticKeyPair
    this.#e = ephemeralKeyPair
    this.#symmetric.mixHash(prologue)
  }

  /** True once the third message is written or read: `split()` may be called. */
  get complete(): boolean {
    return this.#step === 3
  }

  /**
   * True after a readMessage that refused its bytes (or a writeMessage that failed midway):
   * every later call throws. Calls out of turn fail without changing anything.
   */
  get failed(): boolean {
    return this.#failed
  }

  /**
   * The remote static key, once received: after message 2 on the initiator, after message 3 on
   * the responder. Authenticate it (through the payload) before trusting the channel.
   */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.#rs === undefined ? undefined : new Uint8Array(this.#rs)
  }

  /** The handshake hash `h`, for channel binding; E_UNEXPECTED before completion. */
  get handshakeHash(): Uint8Array {
    if (this.#handshakeHash === undefined) {
      throw new PeerError(
        'E_UNEXPECTED',
        'the handshake hash is known once the handshake is complete',
      )
    }
    return new Uint8Array(this.#handshakeHash)
  }

  /**
   * The transport ciphers for this side: `send` encrypts what this side writes, `receive`
   * decrypts what the other side writes. Given out once (two holders of one CipherState would
   * reuse nonces).
   */
  split(): { send: CipherState; receive: CipherState } {
    if (!this.#split) {
      throw new PeerError('E_UNEXPECTED', 'split() needs a complete handshake')
    }
    if (this.#splitTaken) {
      throw new PeerError('E_UNEXPECTED', 'split() gives the transport ciphers out only once')
    }
    this.#splitTaken = true
    const [c1, c2] = this.#split
    return this.initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 }
  }

  /** WriteMessage(payload): the next handshake message, when it is this side's turn. */
  writeMessage(payload: Uint8Array): Uint8Array {
    const step = this.#expect(true)
    if (!(payload instanceof Uint8Array)) {
      throw new PeerError('E_INVALIDARG', 'the payload is a Uint8Array')
    }
    const limit = NOISE_MAX_MESSAGE_BYTES - OVERHEAD[step]
    if (payload.length > limit) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `handshake message ${step + 1} carries at most ${limit} bytes of payload`,
        { details: { limit, size: payload.length } },
      )
    }
    try {
      const parts = this.#writeTokens(step)
      parts.push(this.#symmetric.encryptAndHash(payload))
      const message = concatBytes(...parts)
      this.#advance()
      return message
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** ReadMessage(message): the payload of the next handshake message from the other side. */
  readMessage(message: Uint8Array): Uint8Array {
    // Misuse (out of turn, after completion) changes nothing; anything wrong with the bytes
    // ends the handshake.
    const step = this.#expect(false)
    try {
      if (!(message instanceof Uint8Array)) {
        throw new PeerError('E_INVALIDARG', 'a handshake message is a Uint8Array')
      }
      if (message.length > NOISE_MAX_MESSAGE_BYTES) {
        throw new PeerError(
          'PEER_E_TOO_LARGE',
          `a Noise message is at most ${NOISE_MAX_MESSAGE_BYTES} bytes`,
          { details: { limit: NOISE_MAX_MESSAGE_BYTES, size: message.length } },
        )
      }
      if (message.length < OVERHEAD[step]) {
        throw new PeerError(
          'PEER_E_MALFORMED_MESSAGE',
          `handshake message ${step + 1} is too short: ${message.length} bytes, at least ${OVERHEAD[step]} expected`,
        )
      }
      const rest = this.#readTokens(step, message)
      // Message 1's payload is in the clear (a view of `message`, maybe a Buffer): copy it.
      const payload = new Uint8Array(this.#symmetric.decryptAndHash(rest))
      this.#advance()
      return payload
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** The current step, when this call (write or read) is the right one now; E_UNEXPECTED else. */
  #expect(writing: boolean): Step {
    if (this.#failed) {
      throw new PeerError('E_UNEXPECTED', 'this handshake failed earlier: start a new one')
    }
    const step = this.#step
    if (step === 3) {
      throw new PeerError(
        'E_UNEXPECTED',
        'the handshake is complete: use the ciphers from split() for further messages',
      )
    }
    const s = step as Step
    const myTurn = WRITER_IS_INITIATOR[s] === this.initiator
    if (myTurn !== writing) {
      throw new PeerError(
        'E_UNEXPECTED',
        `out of turn: the ${this.initiator ? 'initiator' : 'responder'} must ${myTurn ? 'write' : 'read'} handshake message ${s + 1} next`,
      )
    }
    return s
  }

  #writeTokens(step: Step): Uint8Array[] {
    const sym = this.#symmetric
    switch (step) {
      case 0: {
        // -> e
        const e = this.#ephemeral()
        sym.mixHash(e.publicKey)
        return [e.publicKey]
      }
      case 1: {
        // <- e, ee, s, es
        const e = this.#ephemeral()
        sym.mixHash(e.publicKey)
        this.#mixDh(e, this.#remoteEphemeral())
        const s = sym.encryptAndHash(this.#s.publicKey)
        this.#mixDh(this.#s, this.#remoteEphemeral())
        return [e.publicKey, s]
      }
      case 2: {
        // -> s, se
        const s = sym.encryptAndHash(this.#s.publicKey)
        this.#mixDh(this.#s, this.#remoteEphemeral())
        return [s]
      }
    }
  }

  /** Processes the tokens of message `step`; returns the bytes left (the encrypted payload). */
  #readTokens(step: Step, message: Uint8Array): Uint8Array {
    const sym = this.#symmetric
    switch (step) {
      case 0: {
        // -> e
        this.#setRemoteEphemeral(message.subarray(0, DHLEN))
        return message.subarray(DHLEN)
      }
      case 1: {
        // <- e, ee, s, es
        this.#setRemoteEphemeral(message.subarray(0, DHLEN))
        const e = this.#requireEphemeral()
        this.#mixDh(e, this.#remoteEphemeral())
        this.#setRemoteStatic(sym.decryptAndHash(message.subarray(DHLEN, DHLEN + DHLEN + TAGLEN)))
        this.#mixDh(e, this.#remoteStatic())
        return message.subarray(DHLEN + DHLEN + TAGLEN)
      }
      case 2: {
        // -> s, se
        this.#setRemoteStatic(sym.decryptAndHash(message.subarray(0, DHLEN + TAGLEN)))
        this.#mixDh(this.#requireEphemeral(), this.#remoteStatic())
        return message.subarray(DHLEN + TAGLEN)
      }
    }
  }

  #mixDh(local: X25519KeyPair, remote: KeyObject): void {
    const shared = dhKeyObjects(keyPairObject(local), remote)
    this.#symmetric.mixKey(shared)
    shared.fill(0)
  }

  #ephemeral(): X25519KeyPair {
    if (!this.#e) {
      this.#e = x25519KeyPair(this.#random)
      this.#ownEphemeral = true
    }
    return this.#e
  }

  #requireEphemeral(): X25519KeyPair {
    if (!this.#e) throw new PeerError('E_UNEXPECTED', 'no local ephemeral key')
    return this.#e
  }

  #setRemoteEphemeral(raw: Uint8Array): void {
    this.#re = new Uint8Array(raw)
    this.#reObject = publicKeyObject(this.#re)
    this.#symmetric.mixHash(this.#re)
  }

  #remoteEphemeral(): KeyObject {
    if (!this.#reObject) throw new PeerError('E_UNEXPECTED', 'no remote ephemeral key')
    return this.#reObject
  }

  #setRemoteStatic(raw: Uint8Array): void {
    const rs = new Uint8Array(raw)
    this.#rsObject = publicKeyObject(rs)
    this.#rs = rs
  }

  #remoteStatic(): KeyObject {
    if (!this.#rsObject) throw new PeerError('E_UNEXPECTED', 'no remote static key')
    return this.#rsObject
  }

  #advance(): void {
    this.#step++
    if (this.#step === 3) {
      this.#split = this.#symmetric.split()
      this.#handshakeHash = this.#symmetric.handshakeHash()
      this.#forgetSecrets()
    }
  }

  /** Marks the handshake failed and returns the error to throw (always a PeerError). */
  #fail(err: unknown): PeerError {
    this.#failed = true
    this.#forgetSecrets()
    if (err instanceof PeerError) return err
    return new PeerError(
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      `handshake failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    )
  }

  #forgetSecrets(): void {
    this.#symmetric.clear()
    if (this.#e && this.#ownEphemeral) this.#e.privateKey.fill(0)
    this.#e = undefined
    this.#re = undefined
    this.#reObject = undefined
    this.#rsObject = undefined
  }
}
