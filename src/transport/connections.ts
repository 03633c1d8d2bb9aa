/**
 * One secure connection per remote peer and context (DESIGN.md section 8: no duplicate
 * connections for users to dedupe). Dials to an address already being dialled share one
 * attempt; a dial to a peer already connected returns that connection; when both sides dial each
 * other at once, both keep the connection opened by the peer with the smaller identity key and
 * close the other, so the two ends always agree.
 */
import type { Clock } from '../core/clock.ts'
import { abortError } from '../core/abort.ts'
import { PeerError, toPeerError } from '../core/errors.ts'
import { TypedEmitter } from '../core/events.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import {
  MAX_CONNECTIONS,
  MAX_PENDING_HANDSHAKES,
  MAX_PENDING_HANDSHAKES_PER_ADDRESS,
} from './constants.ts'
import { Mux } from './mux.ts'
import { PortHubs } from './port-hub.ts'
import {
  contextSelector,
  SecureSession,
  type RemotePeer,
  type SessionCredentials,
} from './secure-session.ts'
import type { Address, DialOptions, Duplex, StreamListener, StreamTransport } from './types.ts'

const log = createLogger('transport')

export interface PeerConnection {
  readonly remote: RemotePeer
  readonly address: Address
  /** True when this side dialled. */
  readonly initiator: boolean
  readonly mux: Mux
  close(error?: PeerError): void
}

export interface ConnectionEvents extends Record<string, unknown> {
  /** A new connection (dialled or accepted), once per peer. */
  connected: PeerConnection
  /** A connection ended (error undefined for an orderly close). */
  disconnected: { connection: PeerConnection; error: PeerError | undefined }
  /** An inbound connection failed its handshake or was refused. */
  refused: { address: Address; error: PeerError }
}

export interface ConnectionManagerOptions {
  credentials: SessionCredentials
  /** What connections here are for (`graph:chat`); both ends must agree. */
  context: string
  streams: StreamTransport
  clock: Clock
  random: Random
  /** The application payload to send in our handshake (e.g. a membership chain). */
  payload?: () => Uint8Array | undefined
  /** Checks each remote before its connection is accepted; throw a PeerError to refuse. */
  authorize?: (remote: RemotePeer) => void | Promise<void>
  handshakeTimeoutMs?: number
  /** Listening ports shared with other contexts of this node (its own port when left out). */
  hubs?: PortHubs
}

export interface ConnectOptions extends DialOptions {
  /** The peer name that must answer (else PEER_E_CONNECTION_NOT_AUTHENTICATED). */
  peerName?: string
}

function keyOrder(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

export class ConnectionManager extends TypedEmitter<ConnectionEvents> {
  private readonly options: ConnectionManagerOptions
  private readonly byPeer = new Map<string, PeerConnection>()
  private readonly dialling = new Map<string, SharedDial>()
  /** Inbound handshakes in progress, by remote address (MAX_PENDING_HANDSHAKES_PER_ADDRESS). */
  private readonly pendingByAddress = new Map<string, number>()
  private readonly duplexes = new Set<Duplex>()
  private listener: StreamListener | undefined
  private pendingInbound = 0
  private stopped = false

  constructor(options: ConnectionManagerOptions) {
    super()
    this.options = options
  }

  /** The listening address, once listen() has run. */
  get address(): Address | undefined {
    return this.listener?.address
  }

  /** Where peers reach the listener (its interface addresses for a wildcard); [] before listen(). */
  get reachable(): readonly Address[] {
    return this.listener?.reachable ?? []
  }

  get ownPeerName(): string {
    return this.options.credentials.identity.peerName
  }

  connections(): PeerConnection[] {
    return [...this.byPeer.values()]
  }

  get(peerName: string): PeerConnection | undefined {
    return this.byPeer.get(peerName)
  }

  async listen(options: { host?: string; port?: number } = {}): Promise<Address> {
    this.checkRunning()
    if (this.listener) throw new PeerError('PEER_E_ALREADY_LISTENING', 'already listening')
    // Through a hub: the port may be shared with other contexts (port-hub.ts).
    const hubs = this.options.hubs ?? new PortHubs(this.options.streams, this.options.clock)
    const listener = await hubs.listen(options, contextSelector(this.options.context), (duplex) =>
      this.accept(duplex),
    )
    if (this.stopped) {
      // Stopped while the listener was being made: a shared port must not keep this context.
      await listener.close()
      this.checkRunning()
    }
    this.listener = listener
    return listener.address
  }

  /** A connection to the peer at `to`: an existing one when there is one, else a new one. */
  connect(to: Address, options: ConnectOptions = {}): Promise<PeerConnection> {
    if (this.stopped) {
      return Promise.reject(
        new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'the connection manager has stopped'),
      )
    }
    if (options.peerName === this.ownPeerName) {
      return Promise.reject(new PeerError('PEER_E_CONNECT_SELF', 'a node cannot connect to itself'))
    }
    // A connection we already have to that peer, or (no name given) that we opened to that address.
    const existing = options.peerName
      ? this.byPeer.get(options.peerName)
      : this.connections().find(
          (c) => c.initiator && c.address.address === to.address && c.address.port === to.port,
        )
    if (existing) return Promise.resolve(existing)
    const key = `${to.address}|${to.port}|${options.peerName ?? ''}`
    let shared = this.dialling.get(key)
    if (!shared) {
      // One dial serves every caller; it is abandoned only when all of them have given up.
      const controller = new AbortController()
      shared = {
        controller,
        waiting: 0,
        promise: this.dial(to, { ...options, signal: controller.signal }).finally(() =>
          this.dialling.delete(key),
        ),
      }
      this.dialling.set(key, shared)
    }
    return joinDial(shared, options.signal)
  }

  private async dial(to: Address, options: ConnectOptions): Promise<PeerConnection> {
    const duplex = await this.options.streams.dial(to, options)
    this.track(duplex)
    try {
      const session = await SecureSession.initiate(duplex, this.sessionOptions(options))
      if (session.remote.peerName === this.ownPeerName) {
        const err = new PeerError('PEER_E_CONNECT_SELF', `${to.address}:${to.port} is this node`)
        session.close(err)
        throw err
      }
      return this.register(session, duplex)
    } catch (err) {
      this.duplexes.delete(duplex)
      throw err
    }
  }

  private accept(duplex: Duplex): void {
    const from = duplex.remote.address
    const fromThere = this.pendingByAddress.get(from) ?? 0
    if (
      this.stopped ||
      this.pendingInbound >= MAX_PENDING_HANDSHAKES ||
      // One host cannot hold every handshake slot (and so keep everyone else out).
      fromThere >= MAX_PENDING_HANDSHAKES_PER_ADDRESS ||
      this.byPeer.size >= MAX_CONNECTIONS
    ) {
      duplex.close(new PeerError('PEER_E_TOO_MUCH_LOAD', 'too many connections; try another peer'))
      return
    }
    this.track(duplex)
    this.pendingInbound++
    this.pendingByAddress.set(from, fromThere + 1)
    SecureSession.respond(duplex, this.sessionOptions({}))
      .then((session) => {
        if (session.remote.peerName === this.ownPeerName) {
          throw new PeerError('PEER_E_CONNECT_SELF', 'a node connected to itself')
        }
        this.register(session, duplex)
      })
      .catch((err: unknown) => {
        const error = toPeerError(err, 'PEER_E_CONNECTION_FAILED', 'inbound connection failed')
        this.duplexes.delete(duplex)
        duplex.close(error)
        log.debug('inbound connection refused', {
          address: duplex.remote.address,
          error: error.message,
        })
        this.emit('refused', { address: duplex.remote, error })
      })
      .finally(() => {
        this.pendingInbound--
        const left = (this.pendingByAddress.get(from) ?? 1) - 1
        if (left > 0) this.pendingByAddress.set(from, left)
        else this.pendingByAddress.delete(from)
      })
  }

  private sessionOptions(options: ConnectOptions) {
    const o = this.options
    return {
      credentials: o.credentials,
      context: o.context,
      clock: o.clock,
      random: o.random,
      ...(options.peerName !== undefined ? { expectedPeerName: options.peerName } : {}),
      ...(o.payload ? { payload: o.payload() ?? new Uint8Array(0) } : {}),
      ...(o.authorize ? { authorize: o.authorize } : {}),
      ...(o.handshakeTimeoutMs !== undefined ? { timeoutMs: o.handshakeTimeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }
  }

  private track(duplex: Duplex): void {
    this.duplexes.add(duplex)
    if (this.stopped) duplex.close(new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'stopping'))
  }

  /** Adds an established session, applying the one-connection-per-peer rule. */
  private register(session: SecureSession, duplex: Duplex): PeerConnection {
    const address = duplex.remote
    if (this.stopped) {
      const err = new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'the connection manager has stopped')
      session.close(err)
      throw err
    }
    const peerName = session.remote.peerName
    const existing = this.byPeer.get(peerName)
    if (existing) {
      // Both ends keep the connection opened by the smaller identity key.
      const ownKey = this.options.credentials.identity.publicKey
      const opener = (initiator: boolean): Uint8Array =>
        initiator ? ownKey : session.remote.publicKey
      // The same opener for both (a peer that dialled twice): the handshake hashes, which both
      // ends share, decide instead.
      const order =
        keyOrder(opener(existing.initiator), opener(session.initiator)) ||
        keyOrder(existing.mux.session.handshakeHash, session.handshakeHash)
      if (order <= 0) {
        this.duplexes.delete(duplex)
        session.close()
        return existing
      }
      this.byPeer.delete(peerName)
      existing.close()
    }
    const mux = new Mux(session)
    const connection: PeerConnection = {
      remote: session.remote,
      address,
      initiator: session.initiator,
      mux,
      close: (error) => mux.close(error),
    }
    this.byPeer.set(peerName, connection)
    mux.on('close', (error) => {
      this.duplexes.delete(duplex)
      if (this.byPeer.get(peerName) === connection) this.byPeer.delete(peerName)
      this.emit('disconnected', { connection, error })
    })
    this.emit('connected', connection)
    return connection
  }

  /** Closes the listener and every connection; resolves when all are closed. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.listener?.close()
    const shutdown = new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'the node is stopping')
    // Dials in progress end now, not when their timeout would have.
    for (const dial of this.dialling.values()) dial.controller.abort(shutdown)
    for (const c of this.byPeer.values()) c.close()
    for (const d of this.duplexes) if (!d.closed) d.close(shutdown)
    this.byPeer.clear()
    this.duplexes.clear()
    this.endSubscriptions()
  }

  private checkRunning(): void {
    if (this.stopped)
      throw new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'the connection manager has stopped')
  }
}

/** A dial in progress and how many callers still wait for it. */
interface SharedDial {
  promise: Promise<PeerConnection>
  controller: AbortController
  waiting: number
}

/**
 * Waits for `dial` on behalf of one caller: `signal` ends only this caller's wait (E_ABORT);
 * the dial itself is aborted once every caller has aborted.
 */
function joinDial(dial: SharedDial, signal: AbortSignal | undefined): Promise<PeerConnection> {
  if (signal?.aborted) return Promise.reject(abortError(signal, 'connect'))
  dial.waiting++
  // A caller without a signal waits to the end, so the dial is never abandoned under it.
  if (!signal) return dial.promise
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortError(signal, 'connect'))
      if (--dial.waiting === 0) dial.controller.abort(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    dial.promise.then(
      (connection) => {
        signal.removeEventListener('abort', onAbort)
        resolve(connection)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
