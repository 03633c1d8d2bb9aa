/**
 * TCP streams on `node:net`: the real-socket StreamTransport (DESIGN.md sections 3 and 6).
 *
 * - Addresses are IP literals only (v4, or v6 without brackets, as Node reports them); names
 *   are refused, so no DNS lookup ever happens behind the caller's back.
 * - Every failure is a PeerError; socket errors keep the Node error as `cause`.
 * - Every buffer is bounded: data that arrives before `setHandlers` (STREAM_HIGH_WATER_BYTES,
 *   then PEER_E_TOO_LARGE) and bytes queued for sending (MAX_QUEUED_WRITE_BYTES, then
 *   PEER_E_TOO_LARGE), so a peer, or a writer that ignores backpressure, cannot make us buffer
 *   without bound.
 * - Timers (dial timeout, close grace) come from the injected Clock.
 */
import net from 'node:net'

import { abortError } from '../core/abort.ts'
import { systemClock, type Clock, type Timer } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { checkAddress, formatAddress, listenAddress, reachableAddresses } from './addresses.ts'
import { CLOSE_GRACE_MS, MAX_QUEUED_WRITE_BYTES, STREAM_HIGH_WATER_BYTES } from './constants.ts'
import {
  causedBy,
  connectionFailed,
  connectionRefused,
  dialTimedOut,
  dialTimeoutMs,
  errnoCode,
  handlerThrew,
  listenFailed,
} from './failures.ts'
import { afterHandlesReleased, whenListening } from './handles.ts'
import type {
  Address,
  DialOptions,
  Duplex,
  DuplexHandlers,
  StreamListener,
  StreamTransport,
} from './types.ts'

export interface TcpTransportOptions {
  /** Timers for dial timeouts and close grace periods (default systemClock). */
  clock?: Clock
  /** Grace period of an orderly close (default CLOSE_GRACE_MS). */
  closeGraceMs?: number
}

/**
 * A Duplex over a connected net.Socket.
 *
 * Incoming data is buffered (at most STREAM_HIGH_WATER_BYTES) until handlers are set, and while
 * paused; it is delivered from a microtask, never from inside setHandlers() or resume(). The
 * close handler fires exactly once, when the socket is gone: with the error given to
 * close(error), with PEER_E_CONNECTION_FAILED (cause kept) when the socket failed, with
 * PEER_E_TOO_LARGE when a bound was passed, with PEER_E_TIMEOUT when an orderly close could not
 * send its queued bytes within the grace period, and undefined for an orderly close by either
 * side. A throwing data or drain handler closes the stream with E_UNEXPECTED (cause kept); the
 * close handler must not throw (nothing is left to report to).
 *
 * close(error) resets the connection, and the peer then normally closes with
 * PEER_E_CONNECTION_FAILED (ECONNRESET). Not always: when the reset reaches a peer together
 * with data it has not read yet (it was paused, or bytes were in flight), libuv reports the
 * hang-up as an orderly end and the peer closes with undefined. Protocols that must tell an
 * abort from an end say so in their own messages.
 *
 * Chunks given to write() are not copied: do not modify them afterwards.
 */
export class TcpDuplex implements Duplex {
  readonly local: Address
  readonly remote: Address
  private handlers: DuplexHandlers | undefined
  private readonly pending: Uint8Array[] = []
  private pendingBytes = 0
  private paused = false
  private flushScheduled = false
  /** close() or close(error) was called: incoming data is discarded from then on. */
  private closing = false
  /** The peer ended its side, or the socket is gone: writing is over. */
  private ended = false
  private socketClosed = false
  private closeNotified = false
  private error: PeerError | undefined
  private graceTimer: Timer | undefined
  private readonly closedPromise: Promise<void>
  private resolveClosed!: () => void

  constructor(
    private readonly socket: net.Socket,
    private readonly clock: Clock,
    private readonly graceMs: number,
  ) {
    this.local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 }
    this.remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.onDrain())
    socket.on('end', () => {
      this.ended = true
    })
    socket.on('error', (err) => {
      this.error ??=
        err instanceof PeerError
          ? err
          : connectionFailed(`the connection with ${formatAddress(this.remote)}`, err)
    })
    socket.on('close', () => this.onSocketClose())
  }

  get closed(): boolean {
    return this.closing || this.ended || this.socketClosed || this.socket.destroyed
  }

  /** Resolves when the socket is closed and its handle released (never rejects). */
  get whenClosed(): Promise<void> {
    return this.closedPromise
  }

  setHandlers(handlers: DuplexHandlers): void {
    if (this.handlers) {
      throw new PeerError('E_UNEXPECTED', 'setHandlers was already called on this stream')
    }
    this.handlers = handlers
    this.scheduleFlush()
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed) return false
    const queued = this.socket.writableLength
    if (queued > 0 && queued + chunk.byteLength > MAX_QUEUED_WRITE_BYTES) {
      this.close(
        new PeerError(
          'PEER_E_TOO_LARGE',
          `the stream to ${formatAddress(this.remote)} has ${queued} bytes queued and may hold ` +
            `at most ${MAX_QUEUED_WRITE_BYTES} (MAX_QUEUED_WRITE_BYTES): the writer ignored ` +
            `backpressure; stop writing when write() returns false and resume on drain`,
          { details: { queued, chunk: chunk.byteLength, limit: MAX_QUEUED_WRITE_BYTES } },
        ),
      )
      return false
    }
    return this.socket.write(chunk)
  }

  writev(chunks: readonly Uint8Array[]): boolean {
    // Corked, Node hands the chunks to the kernel together (writev) when uncorked.
    this.socket.cork()
    let ok = true
    for (const chunk of chunks) ok = this.write(chunk) && ok
    this.socket.uncork()
    return ok && !this.closed
  }

  pause(): void {
    if (this.closing || this.paused) return
    this.paused = true
    this.socket.pause()
  }

  resume(): void {
    if (this.closing || !this.paused) return
    this.paused = false
    this.scheduleFlush()
  }

  close(error?: PeerError): void {
    if (this.closing) return
    this.closing = true
    this.pending.length = 0
    this.pendingBytes = 0
    if (this.socketClosed) {
      // Gone already, its close held back only for buffered data, now dropped.
      if (error) this.error ??= error
      this.scheduleFlush()
      return
    }
    if (error) {
      this.error ??= error
      this.destroyNow(true)
      return
    }
    if (this.socket.destroyed) return // failed already; its 'close' is on the way
    this.socket.end()
    // Keep reading (and discarding) so the peer's FIN is seen.
    this.socket.resume()
    this.graceTimer = this.clock.setTimeout(() => this.onGraceExpired(), this.graceMs)
  }

  private onGraceExpired(): void {
    this.graceTimer = undefined
    if (this.socketClosed) return
    if (this.socket.writableFinished) {
      this.destroyNow(false)
      return
    }
    this.error ??= new PeerError(
      'PEER_E_TIMEOUT',
      `the stream to ${formatAddress(this.remote)} could not send its queued bytes within ` +
        `${this.graceMs} ms of close(); the peer is not reading`,
      { details: { queued: this.socket.writableLength, graceMs: this.graceMs } },
    )
    this.destroyNow(true)
  }

  /**
   * Destroys the socket now; with `reset`, by a TCP reset (RST) rather than a FIN, so the peer
   * learns that the stream failed rather than ended. Node 20's resetAndDestroy() must not be
   * used once a shutdown was requested (end() called and Node's write queue empty): libuv then
   * refuses the reset (EINVAL) and Node leaks the handle and never emits 'close'. A reset is
   * therefore sent only while no shutdown can have started; otherwise the socket is destroyed.
   */
  private destroyNow(reset: boolean): void {
    const socket = this.socket
    if (socket.destroyed) return
    if (reset && (!socket.writableEnded || socket.writableLength > 0)) {
      socket.resetAndDestroy()
    } else {
      socket.destroy()
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return
    if (this.handlers && !this.paused && this.pending.length === 0) {
      this.deliver(chunk)
      return
    }
    if (this.pendingBytes + chunk.byteLength > STREAM_HIGH_WATER_BYTES) {
      this.close(
        new PeerError(
          'PEER_E_TOO_LARGE',
          `more than ${STREAM_HIGH_WATER_BYTES} bytes (STREAM_HIGH_WATER_BYTES) arrived from ` +
            `${formatAddress(this.remote)} before the stream's handlers were set; call ` +
            `setHandlers as soon as the stream is obtained`,
          { details: { buffered: this.pendingBytes + chunk.byteLength } },
        ),
      )
      return
    }
    this.pending.push(chunk)
    this.pendingBytes += chunk.byteLength
  }

  private onDrain(): void {
    if (this.closing || !this.handlers) return
    try {
      this.handlers.drain()
    } catch (err) {
      this.handlerFailed('drain', err)
    }
  }

  private deliver(chunk: Uint8Array): void {
    try {
      this.handlers?.data(chunk)
    } catch (err) {
      this.handlerFailed('data', err)
    }
  }

  private handlerFailed(which: string, err: unknown): void {
    this.close(handlerThrew(`stream's ${which}`, err))
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  /** Delivers buffered data while handlers are set and not paused; then the close, if due. */
  private flush(): void {
    while (this.handlers && !this.paused && !this.closing) {
      const chunk = this.pending.shift()
      if (!chunk) break
      this.pendingBytes -= chunk.byteLength
      this.deliver(chunk)
    }
    if (this.handlers && !this.paused && !this.closing && !this.socketClosed) {
      this.socket.resume()
    }
    this.maybeNotifyClose()
  }

  private onSocketClose(): void {
    this.socketClosed = true
    this.ended = true
    this.graceTimer?.cancel()
    this.graceTimer = undefined
    // A failed stream's unread data is dropped; an orderly one delivers it first.
    if (this.error) {
      this.pending.length = 0
      this.pendingBytes = 0
    }
    this.maybeNotifyClose()
    this.resolveClosed()
  }

  private maybeNotifyClose(): void {
    if (!this.socketClosed || this.closeNotified || !this.handlers) return
    if (this.pending.length > 0) return // delivered by flush, on setHandlers or resume
    this.closeNotified = true
    this.handlers.close(this.error)
  }
}

/**
 * A listening TCP server. close() stops accepting and resolves when the listening socket is
 * released; connections already accepted stay open and are closed by their owners (or by
 * TcpTransport.close()).
 */
export class TcpListener implements StreamListener {
  readonly address: Address
  readonly reachable: readonly Address[]
  /** Errors accepting a connection (e.g. EMFILE): counted, never thrown. */
  acceptErrors = 0
  private closing: Promise<void> | undefined

  constructor(
    private readonly server: net.Server,
    private readonly onClosed: (listener: TcpListener) => void,
  ) {
    const bound = server.address() as net.AddressInfo
    this.address = { address: bound.address, port: bound.port }
    this.reachable = reachableAddresses(this.address)
    server.on('error', () => {
      this.acceptErrors++
    })
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Closes the descriptor at once; the 'close' event would wait for accepted connections.
      this.server.close()
      await afterHandlesReleased()
      this.onClosed(this)
    })()
    return this.closing
  }
}

/**
 * StreamTransport over real TCP sockets. The transport keeps track of what it opened, so
 * close() can stop a node: it closes every listener, rejects dials in progress with E_ABORT and
 * closes every open stream (orderly, within the grace period). It stays usable afterwards.
 */
export class TcpTransport implements StreamTransport {
  private readonly clock: Clock
  private readonly graceMs: number
  private readonly listeners = new Set<TcpListener>()
  private readonly duplexes = new Set<TcpDuplex>()
  private readonly dials = new Set<(err: PeerError) => void>()

  constructor(options: TcpTransportOptions = {}) {
    this.clock = options.clock ?? systemClock
    this.graceMs = options.closeGraceMs ?? CLOSE_GRACE_MS
    if (!Number.isFinite(this.graceMs) || this.graceMs < 0) {
      throw new PeerError('E_INVALIDARG', `closeGraceMs must be >= 0, got ${this.graceMs}`)
    }
  }

  /** Streams open now (accepted or dialled, not yet closed). */
  get openStreams(): number {
    return this.duplexes.size
  }

  /** Listens on `host` (default DEFAULT_LISTEN_HOST; '0.0.0.0' or '::' for all interfaces). */
  async listen(
    options: { host?: string; port?: number },
    onConnection: (duplex: Duplex) => void,
  ): Promise<StreamListener> {
    const { address: host, port } = listenAddress(options, 'listen')
    const server = net.createServer({ highWaterMark: STREAM_HIGH_WATER_BYTES })
    server.on('connection', (socket) => this.accept(socket, onConnection))
    await whenListening(
      server,
      () => server.listen({ host, port, exclusive: true }),
      (err) => listenFailed(err, 'listen on', host, port),
    )
    const listener = new TcpListener(server, (l) => this.listeners.delete(l))
    this.listeners.add(listener)
    return listener
  }

  /**
   * Connects to `to` (an IP literal). Rejects with PEER_E_CONNECTION_REFUSED when nothing
   * listens there, PEER_E_CONNECTION_FAILED for other socket errors (cause kept),
   * PEER_E_TIMEOUT after `timeoutMs` (default DIAL_TIMEOUT_MS), E_ABORT when `signal` fires;
   * the half-open socket is destroyed in every failure.
   */
  async dial(to: Address, options: DialOptions = {}): Promise<Duplex> {
    checkAddress(to.address, to.port, 'dial', false)
    const timeoutMs = dialTimeoutMs(options)
    const { signal } = options
    if (signal?.aborted) throw abortError(signal, 'dial')
    const target = formatAddress(to)

    return new Promise<Duplex>((resolve, reject) => {
      const socket = net.connect({
        host: to.address,
        port: to.port,
        highWaterMark: STREAM_HIGH_WATER_BYTES,
      } as net.TcpNetConnectOpts)
      let settled = false
      const cleanup = (): void => {
        settled = true
        timer.cancel()
        signal?.removeEventListener('abort', onAbort)
        this.dials.delete(fail)
        socket.off('connect', onConnect)
        socket.off('error', onError)
      }
      const fail = (err: PeerError): void => {
        if (settled) return
        cleanup()
        // A late error from the dying socket must not go unhandled.
        socket.on('error', () => {})
        socket.destroy()
        reject(err)
      }
      const onError = (err: Error): void => {
        fail(
          errnoCode(err) === 'ECONNREFUSED'
            ? connectionRefused(target, causedBy(err))
            : connectionFailed(`connecting to ${target}`, err),
        )
      }
      const onConnect = (): void => {
        if (settled) return
        const duplex = this.track(socket)
        cleanup()
        resolve(duplex)
      }
      const onAbort = (): void => fail(abortError(signal as AbortSignal, `dial to ${target}`))
      const timer = this.clock.setTimeout(() => fail(dialTimedOut(target, timeoutMs)), timeoutMs)
      socket.once('connect', onConnect)
      socket.once('error', onError)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.dials.add(fail)
    })
  }

  /**
   * Closes every listener, rejects dials in progress with E_ABORT and closes every open stream,
   * then resolves when all their sockets are released. Like Duplex.close: without `error` the
   * streams close in order (each destroyed after the grace period at the latest, on the
   * clock); with `error` they are reset at once and their close handlers get `error`.
   */
  async close(error?: PeerError): Promise<void> {
    for (const fail of [...this.dials]) {
      fail(new PeerError('E_ABORT', 'the dial was aborted: the transport was closed'))
    }
    const waits: Promise<void>[] = [...this.listeners].map((l) => l.close())
    for (const duplex of [...this.duplexes]) {
      duplex.close(error)
      waits.push(duplex.whenClosed)
    }
    await Promise.all(waits)
    await afterHandlesReleased()
  }

  private accept(socket: net.Socket, onConnection: (duplex: Duplex) => void): void {
    if (socket.remoteAddress === undefined) {
      // The peer is already gone (reset before we saw it).
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    const duplex = this.track(socket)
    try {
      onConnection(duplex)
    } catch (err) {
      duplex.close(handlerThrew('connection', err))
    }
  }

  private track(socket: net.Socket): TcpDuplex {
    const duplex = new TcpDuplex(socket, this.clock, this.graceMs)
    this.duplexes.add(duplex)
    void duplex.whenClosed.then(() => this.duplexes.delete(duplex))
    return duplex
  }
}
