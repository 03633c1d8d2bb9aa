/**
 * Several contexts on one listening port (Windows: every group on TCP 3587). The first
 * handshake frame names its context by selector, in clear (secure-session.ts); a hub reads that
 * frame, hands the stream (the frame still unread) to the context's listener, and refuses a
 * selector no one serves. Listening twice on one host and port shares one socket; the socket
 * closes with its last context.
 */
import { toHex } from '../core/bytes.ts'
import type { Clock, Timer } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { createLogger } from '../core/log.ts'
import {
  CONTEXT_SELECTOR_BYTES,
  DEFAULT_LISTEN_HOST,
  FIRST_HANDSHAKE_FRAME_BYTES,
  FIRST_FRAME_TIMEOUT_MS,
  MAX_PENDING_HANDSHAKES,
  MAX_UNROUTED_PER_ADDRESS,
} from './constants.ts'
import type { Address, Duplex, DuplexHandlers, StreamListener, StreamTransport } from './types.ts'

const log = createLogger('transport')

/** A context's share of a hub: what StreamTransport.listen would give, for one context. */
export type HubListener = StreamListener

interface Routes {
  /** The contexts served, by hex selector. */
  routes: Map<string, (duplex: Duplex) => void>
  /** Streams accepted but not routed yet, and how many of them each remote address holds. */
  unrouted: Set<PeekedDuplex>
  perAddress: Map<string, number>
  /** Set when its last context left: the socket is closing. */
  closed: boolean
}

interface Hub {
  key: string
  listener: StreamListener
  state: Routes
}

export class PortHubs {
  /** By host (as asked, DEFAULT_LISTEN_HOST when left out) and port. */
  private readonly hubs = new Map<string, Hub>()
  /** Listeners being opened, by the same key: a second listen there waits for the first. */
  private readonly opening = new Map<string, Promise<Hub>>()

  constructor(
    private readonly streams: StreamTransport,
    private readonly clock: Clock,
  ) {}

  /**
   * Listens for `selector`'s connections on `host:port` (port 0: a new free port), sharing the
   * socket with other contexts there. PEER_E_ALREADY_LISTENING when that context is already
   * served there; the transport's errors (PEER_E_UNABLE_TO_LISTEN) otherwise.
   */
  async listen(
    options: { host?: string; port?: number },
    selector: Uint8Array,
    onConnection: (duplex: Duplex) => void,
  ): Promise<HubListener> {
    if (selector.length !== CONTEXT_SELECTOR_BYTES) {
      throw new PeerError('E_INVALIDARG', `a context selector is ${CONTEXT_SELECTOR_BYTES} bytes`)
    }
    const host = options.host ?? DEFAULT_LISTEN_HOST
    let hub = await this.hubFor(host, options.port ?? 0)
    // Its last context may have left while we waited: the socket is closing, open it again.
    while (hub.state.closed) hub = await this.hubFor(host, options.port ?? 0)
    const route = toHex(selector)
    if (hub.state.routes.has(route)) {
      throw new PeerError('PEER_E_ALREADY_LISTENING', 'this context already listens on that port')
    }
    hub.state.routes.set(route, onConnection)
    let closed: Promise<void> | undefined
    const { address, reachable } = hub.listener
    return {
      address,
      reachable,
      close: () => {
        closed ??= this.leave(hub, route)
        return closed
      },
    }
  }

  private hubFor(host: string, port: number): Promise<Hub> {
    const key = `${host}|${port}`
    const existing = port === 0 ? undefined : this.hubs.get(key)
    if (existing) return Promise.resolve(existing)
    const pending = port === 0 ? undefined : this.opening.get(key)
    if (pending) return pending
    const opening = this.open(host, port)
    if (port !== 0) {
      this.opening.set(key, opening)
      void opening.finally(() => this.opening.delete(key)).catch(() => {})
    }
    return opening
  }

  private async open(host: string, port: number): Promise<Hub> {
    const state: Routes = {
      routes: new Map(),
      unrouted: new Set(),
      perAddress: new Map(),
      closed: false,
    }
    const listener = await this.streams.listen({ host, port }, (duplex) =>
      this.accept(state, duplex),
    )
    const hub: Hub = { key: `${host}|${listener.address.port}`, listener, state }
    this.hubs.set(hub.key, hub)
    return hub
  }

  /** A context leaves; with the last one the socket closes, and streams not routed yet too. */
  private leave(hub: Hub, route: string): Promise<void> {
    hub.state.routes.delete(route)
    if (hub.state.routes.size > 0) return Promise.resolve()
    hub.state.closed = true
    if (this.hubs.get(hub.key) === hub) this.hubs.delete(hub.key)
    const stopping = new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'no longer listening')
    for (const stream of [...hub.state.unrouted]) stream.close(stopping)
    return hub.listener.close()
  }

  /** Reads the first frame's selector, then hands the stream to its context. */
  private accept(hub: Routes, duplex: Duplex): void {
    const from = duplex.remote.address
    const fromHere = hub.perAddress.get(from) ?? 0
    if (
      hub.closed ||
      hub.unrouted.size >= MAX_PENDING_HANDSHAKES ||
      fromHere >= MAX_UNROUTED_PER_ADDRESS
    ) {
      duplex.close(new PeerError('PEER_E_TOO_MUCH_LOAD', 'too many connections; try another peer'))
      return
    }
    const peeked = new PeekedDuplex(duplex)
    hub.unrouted.add(peeked)
    hub.perAddress.set(from, fromHere + 1)
    /** Ends the wait for the first frame, once: true the first time. */
    const settle = (): boolean => {
      if (!hub.unrouted.delete(peeked)) return false
      timer.cancel()
      const left = (hub.perAddress.get(from) ?? 1) - 1
      if (left > 0) hub.perAddress.set(from, left)
      else hub.perAddress.delete(from)
      return true
    }
    const timer: Timer = this.clock.setTimeout(() => {
      if (settle()) peeked.close(new PeerError('PEER_E_TIMEOUT', 'no handshake began in time'))
    }, FIRST_FRAME_TIMEOUT_MS)
    peeked.peek((head) => {
      if (!settle() || head === undefined) return
      // length (4) | ephemeral key (32) | selector: the first message of an XX handshake.
      const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0)
      const route =
        length === FIRST_HANDSHAKE_FRAME_BYTES - 4
          ? hub.routes.get(toHex(head.subarray(4 + 32, FIRST_HANDSHAKE_FRAME_BYTES)))
          : undefined
      if (!route) {
        log.debug('a connection for no context here was refused', { address: from })
        // An orderly close before any answer: the initiator reports PEER_E_CONNECTION_REFUSED.
        peeked.close()
        return
      }
      route(peeked)
    })
  }
}

/**
 * A duplex whose first FIRST_HANDSHAKE_FRAME_BYTES can be read before its handlers are set:
 * the bytes stay queued and reach the handlers when they are.
 */
class PeekedDuplex implements Duplex {
  private handlers: DuplexHandlers | undefined
  private readonly queued: Uint8Array[] = []
  private queuedBytes = 0
  private ended: { error: PeerError | undefined } | undefined
  private paused = false
  /** Closed by its user: nothing more is delivered but the close. */
  private closing = false
  private flushScheduled = false
  private onHead: ((head: Uint8Array | undefined) => void) | undefined

  constructor(private readonly inner: Duplex) {
    inner.setHandlers({
      data: (chunk) => {
        if (this.closing) return
        if (this.handlers && this.queued.length === 0) return this.handlers.data(chunk)
        this.queued.push(chunk)
        this.queuedBytes += chunk.length
        this.checkHead()
        this.scheduleFlush()
      },
      drain: () => this.handlers?.drain(),
      close: (error) => {
        this.ended = { error }
        // As TCP does: a failed stream's unread data is dropped, the close reported at once.
        if (error) this.dropQueue()
        if (this.onHead) {
          const onHead = this.onHead
          this.onHead = undefined
          onHead(undefined)
        }
        this.flush()
      },
    })
  }

  get local(): Address {
    return this.inner.local
  }

  get remote(): Address {
    return this.inner.remote
  }

  get closed(): boolean {
    return this.inner.closed
  }

  /** Calls `onHead` with the first frame's bytes once they are in, or undefined at a close. */
  peek(onHead: (head: Uint8Array | undefined) => void): void {
    this.onHead = onHead
    if (this.ended) {
      this.onHead = undefined
      onHead(undefined)
      return
    }
    this.checkHead()
  }

  setHandlers(handlers: DuplexHandlers): void {
    if (this.handlers) throw new PeerError('E_UNEXPECTED', 'duplex handlers are set once')
    this.handlers = handlers
    this.scheduleFlush()
  }

  write(chunk: Uint8Array): boolean {
    return this.inner.write(chunk)
  }

  writev(chunks: readonly Uint8Array[]): boolean {
    return this.inner.writev ? this.inner.writev(chunks) : this.inner.write(concat(chunks))
  }

  pause(): void {
    this.paused = true
    this.inner.pause()
  }

  resume(): void {
    this.paused = false
    this.inner.resume()
    this.scheduleFlush()
  }

  close(error?: PeerError): void {
    this.closing = true
    this.dropQueue()
    this.inner.close(error)
  }

  private dropQueue(): void {
    this.queued.length = 0
    this.queuedBytes = 0
  }

  /** Delivers from a microtask, as TcpDuplex does: never inside setHandlers() or resume(). */
  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  private checkHead(): void {
    if (!this.onHead || this.queuedBytes < FIRST_HANDSHAKE_FRAME_BYTES) return
    const onHead = this.onHead
    this.onHead = undefined
    onHead(concat(this.queued).subarray(0, FIRST_HANDSHAKE_FRAME_BYTES))
  }

  /** Hands queued bytes, then a close that came after them, to the handlers. */
  private flush(): void {
    const handlers = this.handlers
    if (!handlers) return
    while (this.queued.length > 0 && !this.paused && !this.closing) {
      const chunk = this.queued.shift() as Uint8Array
      this.queuedBytes -= chunk.length
      handlers.data(chunk)
    }
    if (this.queued.length === 0 && this.ended) {
      const { error } = this.ended
      this.ended = undefined
      handlers.close(error)
    }
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks)
}
