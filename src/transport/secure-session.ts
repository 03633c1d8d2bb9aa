/**
 * Secure sessions: Noise XX (Noise_XX_25519_ChaChaPoly_SHA256) over a framed stream, with each
 * side's Ed25519 identity bound to its Noise static key (docs/PROTOCOL.md, "Secure channel").
 *
 *   initiator                                   responder
 *   -> e                                         (payload: the context selector, clear)
 *                        <- e, ee, s, es         (payload: responder identity)
 *   -> s, se                                     (payload: initiator identity)
 *
 * The prologue names the protocol and its context (`peerinfra/1 graph:chat`), so a session
 * made for one graph or group can never be confused with another's; the first message names the
 * context too (its selector), so a shared port can route it and a wrong one fails at once. After the handshake each
 * frame carries one Noise transport message; each direction rekeys every
 * REKEY_INTERVAL_MESSAGES messages.
 */
import { createHash } from 'node:crypto'
import { abortError } from '../core/abort.ts'
import { bytesEqual, utf8 } from '../core/bytes.ts'
import type { Clock, Timer } from '../core/clock.ts'
import { PeerError, toPeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import type { Identity } from '../identity/identity.ts'
import { PublicKey } from '../identity/keys.ts'
import { PeerName } from '../identity/peer-name.ts'
import { decodeMessage, encodeCbor } from '../wire/index.ts'
import {
  CONTEXT_SELECTOR_BYTES,
  CONTEXT_SELECTOR_DOMAIN,
  HANDSHAKE_PAYLOAD_VERSION,
  HANDSHAKE_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  KEEPALIVE_MS,
  MAX_EARLY_FRAMES,
  MAX_HANDSHAKE_APP_PAYLOAD_BYTES,
  MAX_SECURE_MESSAGE_BYTES,
  NOISE_BINDING_DOMAIN,
  NOISE_MAX_MESSAGE_BYTES,
  NOISE_TAG_BYTES,
  PROLOGUE_PREFIX,
  REKEY_INTERVAL_MESSAGES,
  VERIFIED_IDENTITY_CACHE,
} from './constants.ts'
import { FramedConnection, joinParts } from './framing.ts'
import { identityPayloadSchema } from './messages.ts'
import type { CipherState } from './noise/cipher-state.ts'
import { x25519KeyPair, type X25519KeyPair } from './noise/crypto.ts'
import { XXHandshake } from './noise/handshake.ts'
import type { Duplex } from './types.ts'

/**
 * A node's standing credentials for secure sessions: its identity, a Noise static key, and the
 * identity's signature over that key (made once, reused by every handshake).
 */
export class SessionCredentials {
  readonly identity: Identity
  readonly noiseKey: X25519KeyPair
  readonly binding: Uint8Array
  /**
   * Identity payloads already verified, by SHA-256 of (payload, remote static key): a peer that
   * reconnects with the same keys is not verified again (the check is deterministic). Bounded.
   */
  readonly verified = new Map<string, RemotePeer>()

  constructor(identity: Identity, random: Random) {
    this.identity = identity
    this.noiseKey = x25519KeyPair(random)
    this.binding = identity.sign(NOISE_BINDING_DOMAIN, this.noiseKey.publicKey)
  }
}

/** The verified other side of a session. */
export interface RemotePeer {
  peerName: string
  /** Raw Ed25519 identity key. */
  publicKey: Uint8Array
  /** The opaque application payload it sent (empty when none). */
  payload: Uint8Array
}

export interface SecureSessionOptions {
  credentials: SessionCredentials
  /** What the session is for, e.g. `graph:chat`; both sides must name the same context. */
  context: string
  clock: Clock
  random: Random
  /** Initiator: the peer name the other side must have (else PEER_E_CONNECTION_NOT_AUTHENTICATED). */
  expectedPeerName?: string
  /** Sent inside our identity message, e.g. a membership chain. */
  payload?: Uint8Array
  /** Checks the remote before the session is accepted; throw a PeerError to refuse it. */
  authorize?: (remote: RemotePeer) => void | Promise<void>
  timeoutMs?: number
  signal?: AbortSignal
  /** Largest frame accepted (default: one Noise message). */
  maxFrameBytes?: number
  /** Send a keepalive after this long with nothing sent (default KEEPALIVE_MS; 0: never). */
  keepAliveMs?: number
  /** Close after this long with nothing received (default IDLE_TIMEOUT_MS; 0: never). */
  idleTimeoutMs?: number
}

export interface SessionHandlers {
  message(message: Uint8Array): void
  /**
   * When set, called instead of `message` with the plaintext in the pieces it was decrypted in
   * (a message that arrived split across reads is not joined), for a reader that can take them.
   */
  messageParts?(parts: readonly Uint8Array[]): void
  drain(): void
  close(error?: PeerError): void
}

function notAuthenticated(why: string, cause?: unknown): PeerError {
  return new PeerError('PEER_E_CONNECTION_NOT_AUTHENTICATED', why, { cause })
}

export class SecureSession {
  readonly remote: RemotePeer
  readonly initiator: boolean
  readonly context: string
  /** Noise handshake hash: a unique, shared name for this session (channel binding). */
  readonly handshakeHash: Uint8Array
  private readonly framed: FramedConnection
  private readonly sendCipher: CipherState
  private readonly receiveCipher: CipherState
  private sent = 0
  private received = 0
  private handlers: SessionHandlers | undefined
  private pending: Uint8Array[][] = []
  private closeError: PeerError | undefined | null = null
  private liveness: Timer | undefined
  private lastSent = 0
  private lastReceived = 0

  private readonly clock: Clock

  private constructor(
    framed: FramedConnection,
    handshake: XXHandshake,
    remote: RemotePeer,
    initiator: boolean,
    options: SecureSessionOptions,
  ) {
    this.clock = options.clock
    this.framed = framed
    this.remote = remote
    this.initiator = initiator
    this.context = options.context
    this.handshakeHash = handshake.handshakeHash
    const { send, receive } = handshake.split()
    this.sendCipher = send
    this.receiveCipher = receive
  }

  /** Runs the handshake as initiator over `duplex`. On failure the duplex is closed. */
  static initiate(duplex: Duplex, options: SecureSessionOptions): Promise<SecureSession> {
    return handshake(duplex, options, true)
  }

  /** Runs the handshake as responder over `duplex`. On failure the duplex is closed. */
  static respond(duplex: Duplex, options: SecureSessionOptions): Promise<SecureSession> {
    return handshake(duplex, options, false)
  }

  get closed(): boolean {
    return this.closeError !== null || this.framed.closed
  }

  /** The largest message send() takes: one Noise message, or less with a smaller frame limit. */
  get maxMessageBytes(): number {
    return Math.min(MAX_SECURE_MESSAGE_BYTES, this.framed.maxFrameBytes - NOISE_TAG_BYTES)
  }

  /** Installs the handlers; messages that arrived before are delivered now. */
  setHandlers(handlers: SessionHandlers): void {
    this.handlers = handlers
    const pending = this.pending
    this.pending = []
    for (const m of pending) {
      // A handler may close the session on one of them: the rest are not delivered.
      if (this.closeError !== null || this.framed.closed) break
      this.deliver(m)
    }
    if (this.closeError !== null) handlers.close(this.closeError)
  }

  /**
   * Encrypts and sends one message (at most MAX_SECURE_MESSAGE_BYTES), given whole or in parts
   * (a header and a body: they are joined by the cipher, not copied first); false: wait for
   * drain.
   */
  send(message: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.closed) throw new PeerError('PEER_E_CONNECTION_NOT_FOUND', 'the session is closed')
    const size =
      message instanceof Uint8Array ? message.length : message.reduce((n, p) => n + p.length, 0)
    if (size === 0) {
      throw new PeerError('E_INVALIDARG', 'an empty message is a keepalive; send at least 1 byte')
    }
    // Checked before encrypting: a refused message must not consume a nonce, or every later
    // message would be unreadable by the peer.
    const limit = this.maxMessageBytes
    if (size > limit) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `a secure message holds at most ${limit} bytes; this one has ${size}`,
      )
    }
    const pieces = this.sendCipher.encryptPieces(
      EMPTY,
      message instanceof Uint8Array ? [message] : message,
    )
    return this.sendEncrypted(pieces)
  }

  close(error?: PeerError): void {
    this.framed.close(error)
  }

  private sendEncrypted(pieces: Uint8Array[]): boolean {
    if (++this.sent % REKEY_INTERVAL_MESSAGES === 0) this.sendCipher.rekey()
    this.lastSent = this.clock.now()
    return this.framed.sendPieces(pieces)
  }

  /**
   * Keepalives and the idle timeout: checked every keepalive interval (or a quarter of the
   * idle timeout when keepalives are off).
   */
  private startLiveness(keepAliveMs: number, idleTimeoutMs: number): void {
    this.lastSent = this.lastReceived = this.clock.now()
    if (keepAliveMs <= 0 && idleTimeoutMs <= 0) return
    const every = keepAliveMs > 0 ? keepAliveMs : idleTimeoutMs / 4
    this.liveness = this.clock.setInterval(() => {
      if (this.closed) return
      const now = this.clock.now()
      if (idleTimeoutMs > 0 && now - this.lastReceived >= idleTimeoutMs) {
        this.framed.close(
          new PeerError('PEER_E_TIMEOUT', `nothing received for ${idleTimeoutMs} ms`, {
            details: { idleTimeoutMs },
          }),
        )
        return
      }
      if (keepAliveMs > 0 && now - this.lastSent >= keepAliveMs) {
        this.sendEncrypted(this.sendCipher.encryptPieces(EMPTY, []))
      }
    }, every)
  }

  /** Called by the handshake once it is done: from now on frames are transport messages. */
  private attach(): void {
    this.framed.setHandlers({
      frame: (frame) => this.onFrame(frame),
      drain: () => this.handlers?.drain(),
      close: (error) => this.onClose(error),
    })
  }

  private onFrame(frame: readonly Uint8Array[]): void {
    let plaintext: Uint8Array[]
    try {
      plaintext = this.receiveCipher.decryptPieces(EMPTY, frame)
    } catch (err) {
      this.framed.close(
        toPeerError(err, 'PEER_E_CONNECTION_NOT_AUTHENTICATED', 'a message failed authentication'),
      )
      return
    }
    if (++this.received % REKEY_INTERVAL_MESSAGES === 0) this.receiveCipher.rekey()
    this.lastReceived = this.clock.now()
    // An empty message is a keepalive: it proves the peer alive and carries nothing.
    if (plaintext.every((p) => p.length === 0)) return
    if (this.handlers) this.deliver(plaintext)
    else this.pending.push(plaintext)
  }

  private deliver(parts: Uint8Array[]): void {
    const handlers = this.handlers as SessionHandlers
    if (handlers.messageParts) handlers.messageParts(parts)
    else handlers.message(joinParts(parts))
  }

  private onClose(error?: PeerError): void {
    if (this.closeError !== null) return
    this.liveness?.cancel()
    this.closeError = error
    this.handlers?.close(error)
  }

  /** @internal used by the handshake runner */
  static create(
    framed: FramedConnection,
    hs: XXHandshake,
    remote: RemotePeer,
    initiator: boolean,
    options: SecureSessionOptions,
    early: (readonly Uint8Array[])[],
  ): SecureSession {
    const session = new SecureSession(framed, hs, remote, initiator, options)
    session.attach()
    session.startLiveness(
      options.keepAliveMs ?? KEEPALIVE_MS,
      options.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    )
    for (const frame of early) session.onFrame(frame)
    return session
  }
}

const EMPTY = new Uint8Array(0)

export function prologueFor(context: string): Uint8Array {
  return utf8(PROLOGUE_PREFIX + context)
}

/** The first handshake message's payload: which context the initiator asks for. */
export function contextSelector(context: string): Uint8Array {
  const digest = createHash('sha256')
    .update(CONTEXT_SELECTOR_DOMAIN)
    .update(ZERO_BYTE)
    .update(context, 'utf8')
    .digest()
  return new Uint8Array(digest.subarray(0, CONTEXT_SELECTOR_BYTES))
}
const ZERO_BYTE = new Uint8Array(1)

function identityPayload(options: SecureSessionOptions): Uint8Array {
  const { credentials } = options
  return encodeCbor({
    v: HANDSHAKE_PAYLOAD_VERSION,
    name: credentials.identity.peerName,
    key: credentials.identity.publicKey,
    sig: credentials.binding,
    ...(options.payload && options.payload.length > 0 ? { app: options.payload } : {}),
  })
}

/**
 * Checks the remote identity message against the remote Noise static key. `remember` puts it in
 * the cache of verified identities; call it once the peer is accepted, so that refused peers
 * cannot fill the cache (and push accepted ones out of it).
 */
function verifyIdentity(
  payload: Uint8Array,
  remoteStatic: Uint8Array,
  options: SecureSessionOptions,
): { peer: RemotePeer; remember: () => void } {
  const cache = options.credentials.verified
  const digest = createHash('sha256').update(payload).update(remoteStatic).digest('base64')
  const cached = cache.get(digest)
  const remote = cached ?? verifyIdentityPayload(payload, remoteStatic)
  if (options.expectedPeerName !== undefined && options.expectedPeerName !== remote.peerName) {
    throw notAuthenticated(
      `expected to reach ${options.expectedPeerName}, but reached ${remote.peerName}`,
    )
  }
  const remember = (): void => {
    if (cached) return
    if (cache.size >= VERIFIED_IDENTITY_CACHE) cache.delete(cache.keys().next().value as string)
    cache.set(digest, remote)
  }
  // Each session gets its own copy: what one application does to it cannot reach the cache.
  const peer = {
    peerName: remote.peerName,
    publicKey: remote.publicKey.slice(),
    payload: remote.payload.slice(),
  }
  return { peer, remember }
}

/** The checks of an identity payload that depend on nothing but its bytes and the static key. */
function verifyIdentityPayload(payload: Uint8Array, remoteStatic: Uint8Array): RemotePeer {
  const p = decodeMessage(payload, identityPayloadSchema, {
    what: 'handshake identity',
    code: 'PEER_E_CONNECTION_NOT_AUTHENTICATED',
    versions: [HANDSHAKE_PAYLOAD_VERSION],
  })
  let name: PeerName
  let key: PublicKey
  try {
    name = PeerName.parse(p.name)
    key = PublicKey.fromBytes(p.key)
  } catch (err) {
    throw notAuthenticated(`the remote identity is invalid: ${(err as Error).message}`, err)
  }
  if (!name.isSecured || name.authority !== key.authority || name.toString() !== p.name) {
    throw notAuthenticated(`the remote peer name ${p.name} does not belong to its key`)
  }
  if (!key.verify(NOISE_BINDING_DOMAIN, remoteStatic, p.sig)) {
    throw notAuthenticated('the remote identity did not sign its channel key')
  }
  return { peerName: p.name, publicKey: p.key, payload: p.app ?? EMPTY }
}

/** Runs one side of the XX handshake over a framed duplex. */
function handshake(
  duplex: Duplex,
  options: SecureSessionOptions,
  initiator: boolean,
): Promise<SecureSession> {
  if (options.payload && options.payload.length > MAX_HANDSHAKE_APP_PAYLOAD_BYTES) {
    const error = new PeerError(
      'E_INVALIDARG',
      `a handshake payload holds at most ${MAX_HANDSHAKE_APP_PAYLOAD_BYTES} bytes; this one has ${options.payload.length}`,
    )
    duplex.close(error)
    return Promise.reject(error)
  }
  const framed = new FramedConnection(duplex, options.maxFrameBytes ?? NOISE_MAX_MESSAGE_BYTES)
  const hs = new XXHandshake({
    initiator,
    staticKeyPair: options.credentials.noiseKey,
    prologue: prologueFor(options.context),
    random: options.random,
  })
  return new Promise<SecureSession>((resolve, reject) => {
    let done = false
    let remote: RemotePeer | undefined
    const finish = (error: PeerError | undefined): void => {
      if (done) return
      done = true
      timer.cancel()
      options.signal?.removeEventListener('abort', onAbort)
      if (error) {
        framed.close(error)
        reject(error)
        return
      }
      duplex.resume()
      resolve(SecureSession.create(framed, hs, remote as RemotePeer, initiator, options, early))
    }
    const fail = (err: unknown, what: string): void =>
      finish(toPeerError(err, 'PEER_E_CONNECTION_NOT_AUTHENTICATED', what))
    const onAbort = (): void =>
      finish(abortError(options.signal as AbortSignal, 'secure handshake'))
    const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS
    const timer = options.clock.setTimeout(
      () =>
        finish(
          new PeerError('PEER_E_TIMEOUT', `the secure handshake took longer than ${timeoutMs} ms`),
        ),
      timeoutMs,
    )
    if (options.signal?.aborted) return onAbort()
    options.signal?.addEventListener('abort', onAbort, { once: true })

    // Message 1 (initiator, `-> e`) carries the context selector; 2 and 3 the identities.
    let step = 0
    // Responder: once the last handshake message is read, the initiator may already be sending
    // transport messages while `authorize` runs; they wait here for the session.
    const early: (readonly Uint8Array[])[] = []
    const accept = async (verified: { peer: RemotePeer; remember: () => void }): Promise<void> => {
      remote = verified.peer
      await options.authorize?.(verified.peer)
      verified.remember()
    }
    framed.setHandlers({
      frame: (parts) => {
        if (done) return
        if (!initiator && step >= 2) {
          // Bounded: reading is paused while `authorize` runs (below), so only what was already
          // read can arrive; a peer that still sends more is refused.
          if (early.length >= MAX_EARLY_FRAMES) {
            fail(
              new PeerError('PEER_E_TOO_MUCH_LOAD', 'too many messages before the handshake ended'),
              'flood',
            )
          } else early.push(parts)
          return
        }
        const frame = joinParts(parts)
        try {
          step++
          if (initiator) {
            if (step !== 1) throw notAuthenticated('unexpected handshake message')
            const payload = hs.readMessage(frame)
            const verified = verifyIdentity(payload, hs.remoteStaticKey as Uint8Array, options)
            accept(verified)
              .then(() => {
                if (done) return
                framed.send(hs.writeMessage(identityPayload(options)))
                finish(undefined)
              })
              .catch((err: unknown) => fail(err, 'the remote peer was refused'))
          } else if (step === 1) {
            const selector = hs.readMessage(frame)
            if (!bytesEqual(selector, contextSelector(options.context))) {
              throw notAuthenticated(
                `the initiator asks for another context than ${options.context}`,
              )
            }
            framed.send(hs.writeMessage(identityPayload(options)))
          } else if (step === 2) {
            const payload = hs.readMessage(frame)
            duplex.pause()
            const verified = verifyIdentity(payload, hs.remoteStaticKey as Uint8Array, options)
            accept(verified).then(
              () => finish(undefined),
              (err: unknown) => fail(err, 'the remote peer was refused'),
            )
          } else throw notAuthenticated('unexpected handshake message')
        } catch (err) {
          fail(err, 'the secure handshake failed')
        }
      },
      drain: () => {},
      close: (error) =>
        finish(
          error ??
            (initiator && step === 0
              ? // A listener closes at once a stream for a context it does not serve (port-hub.ts).
                new PeerError(
                  'PEER_E_CONNECTION_REFUSED',
                  `the peer closed the connection unanswered: it serves no ${options.context} there, or is busy`,
                )
              : new PeerError(
                  'PEER_E_CONNECTION_FAILED',
                  'the connection closed during the secure handshake',
                )),
        ),
    })
    if (initiator) {
      try {
        framed.send(hs.writeMessage(contextSelector(options.context)))
      } catch (err) {
        fail(err, 'the secure handshake failed')
      }
    }
  })
}
