/**
 * Simulated streams: reliable, ordered, TCP-like connections between SimNodes.
 *
 * Each direction of a connection is a Pipe: a FIFO of segments (data, FIN, RST) with their
 * arrival times. A segment arrives after the link's serialisation, latency and jitter, and
 * never before the one ahead of it; only the head of a pipe is in the network's event queue.
 * A partition holds a pipe's head (the stream stalls) until heal, or until the connection's
 * partition timer closes both ends.
 *
 * Flow control: a writer's in-flight bytes are those written and not yet handed to the
 * reader's data handler (buffered before setHandlers or while paused included), so a reader
 * that pauses pushes back on the writer, as a TCP receive window does. write() returns false
 * above the high-water mark; drain follows once the count falls below it.
 */
import { abortError } from '../core/abort.ts'
import type { Timer } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import {
  connectionRefused,
  dialTimedOut,
  dialTimeoutMs,
  handlerThrew,
} from '../transport/failures.ts'
import type {
  Address,
  DialOptions,
  Duplex,
  DuplexHandlers,
  StreamListener,
  StreamTransport,
} from '../transport/types.ts'
import type { DropReason } from './counters.ts'
import { EV_FLUSH, EV_PIPE, EV_SYN, type SimEvent } from './event.ts'
import {
  checkDestination,
  formatSimAddress,
  traceKind,
  type SimNetwork,
  type SimNode,
} from './network.ts'
import { PortHolder } from './ports.ts'

const DATA = 0
const FIN = 1
const RST = 2

type ResetReason = 'aborted' | 'crashed'

class Segment {
  constructor(
    readonly at: number,
    readonly kind: number,
    readonly data: Uint8Array | undefined,
    readonly label: string | undefined,
    readonly reason: ResetReason | undefined,
  ) {}
}

/** One direction of a connection: what `from` wrote, on its way to `to`. */
export class Pipe {
  segments: Segment[] = []
  head = 0
  /** Arrival time of the last segment queued (a later one never arrives before it). */
  lastAt = -Infinity
  /** The queued event for the head segment. */
  event: SimEvent | undefined = undefined
  stalled = false

  constructor(
    readonly from: SimDuplex,
    readonly to: SimDuplex,
  ) {}
}

/** Both ends of a stream, and the partition timer running while they are cut apart. */
export class Connection {
  timer: Timer | undefined = undefined
  finished = false

  constructor(
    readonly a: SimDuplex,
    readonly b: SimDuplex,
  ) {}
}

/** A dial in progress. */
export class PendingDial {
  settled = false
  timer: Timer | undefined = undefined
  syn: SimEvent | undefined = undefined
  onAbort: (() => void) | undefined = undefined

  constructor(
    readonly from: SimNode,
    readonly target: string,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (duplex: Duplex) => void,
    readonly reject: (error: PeerError) => void,
  ) {}
}

/**
 * One end of a simulated stream. Handler calls (data, drain, close) all come from the
 * network's clock timer, never from inside setHandlers, write, resume or close.
 */
export class SimDuplex implements Duplex {
  readonly local: Address
  readonly remote: Address
  /** @internal `name:port` of each end, for traces and messages. */
  readonly tag: string
  /** @internal */ readonly remoteTag: string
  /** @internal */ peer!: SimDuplex
  /** @internal */ conn!: Connection
  /** @internal */ outbound!: Pipe
  /** @internal */ inbound!: Pipe
  /** @internal */ handlers: DuplexHandlers | undefined = undefined
  /** @internal Closed for good: close(), a reset, a crash or a partition timeout. */
  ended = false
  /** @internal The remote's orderly close arrived (delivered after the data ahead of it). */
  finArrived = false
  /** @internal Its node crashed: no more handler calls. */
  crashed = false
  /** @internal */ paused = false
  /** @internal Arrived and not yet handed to the data handler. */
  rx: Segment[] = []
  /** @internal */ rxHead = 0
  /** @internal */ closeError: PeerError | undefined = undefined
  /** @internal The close handler was called (or never will be: crash). */
  closeNotified = false
  /** @internal Bytes written and not yet handed to the remote's data handler. */
  inFlight = 0
  /** @internal */ wantDrain = false
  /** @internal */ flushQueued = false
  /** @internal The node life this end belongs to. */
  readonly incarnation: number

  constructor(
    /** @internal */ readonly node: SimNode,
    local: Address,
    remote: Address,
    /** @internal This end took its local port (dialled streams), to release when finished. */
    readonly ownsPort: boolean,
  ) {
    this.local = Object.freeze({ address: local.address, port: local.port })
    this.remote = Object.freeze({ address: remote.address, port: remote.port })
    this.tag = formatSimAddress(local)
    this.remoteTag = formatSimAddress(remote)
    this.incarnation = node.incarnation
  }

  /** True once this end closed, the remote closed, or the connection failed. */
  get closed(): boolean {
    return this.ended || this.finArrived
  }

  setHandlers(handlers: DuplexHandlers): void {
    if (this.handlers) {
      throw new PeerError('E_UNEXPECTED', 'setHandlers was already called on this stream')
    }
    if (
      typeof handlers !== 'object' ||
      handlers === null ||
      typeof handlers.data !== 'function' ||
      typeof handlers.drain !== 'function' ||
      typeof handlers.close !== 'function'
    ) {
      throw new PeerError('E_INVALIDARG', 'stream handlers need data, drain and close functions')
    }
    this.handlers = handlers
    if (this.ended || this.finArrived || this.wantDrain || this.rx.length > 0) queueFlush(this)
  }

  write(chunk: Uint8Array): boolean {
    if (!(chunk instanceof Uint8Array)) {
      throw new PeerError('E_INVALIDARG', 'a stream chunk must be a Uint8Array')
    }
    const net = this.node.network
    const bytes = chunk.byteLength
    if (this.closed) {
      if (bytes > 0) {
        const label = net.classify?.(chunk, 'stream')
        net.counters.record(net.counters.stream, 'sent', bytes, label)
        dropData(net, this.tag, this.remoteTag, bytes, label, 'closed')
      }
      return false
    }
    if (bytes === 0) return this.inFlight <= net.highWater
    if (this.inFlight > 0 && this.inFlight + bytes > net.maxQueuedWrite) {
      this.close(
        new PeerError(
          'PEER_E_TOO_LARGE',
          `the stream to ${this.remoteTag} has ${this.inFlight} bytes in flight and may hold at ` +
            `most ${net.maxQueuedWrite}: the writer ignored backpressure; stop writing when ` +
            `write() returns false and resume on drain`,
          { details: { inFlight: this.inFlight, chunk: bytes, limit: net.maxQueuedWrite } },
        ),
      )
      return false
    }
    const data = new Uint8Array(chunk)
    const label = net.classify?.(data, 'stream')
    net.counters.record(net.counters.stream, 'sent', bytes, label)
    this.inFlight += bytes
    const pipe = this.outbound
    const at = net.arrivalTime(this.node, this.peer.node, bytes)
    pushSegment(
      net,
      pipe,
      new Segment(at > pipe.lastAt ? at : pipe.lastAt, DATA, data, label, undefined),
    )
    if (this.inFlight > net.highWater) {
      this.wantDrain = true
      return false
    }
    return true
  }

  pause(): void {
    if (this.ended) return
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    if (this.finArrived || this.rxHead < this.rx.length) queueFlush(this)
  }

  /**
   * Orderly (no error): the remote's close comes after the data in flight; data arriving here
   * from now on is dropped. With an error: abrupt, like a TCP reset; data in flight both ways
   * is dropped and the remote's close handler gets PEER_E_CONNECTION_FAILED after one link
   * delay. Either way this end's close handler is called (from a timer) with `error`.
   */
  close(error?: PeerError): void {
    if (this.ended || this.crashed) return
    const net = this.node.network
    this.ended = true
    this.closeError = error
    this.paused = false
    dropRx(net, this, 'closed')
    const pipe = this.outbound
    if (error === undefined) {
      const at = net.arrivalTime(this.node, this.peer.node, 0)
      pushSegment(
        net,
        pipe,
        new Segment(at > pipe.lastAt ? at : pipe.lastAt, FIN, undefined, undefined, undefined),
      )
    } else {
      clearPipe(net, pipe, 'reset')
      pushSegment(
        net,
        pipe,
        new Segment(
          net.arrivalTime(this.node, this.peer.node, 0),
          RST,
          undefined,
          undefined,
          'aborted',
        ),
      )
    }
    queueFlush(this)
    maybeFinish(net, this.conn)
  }
}

/** A listening port. close() stops accepting; accepted streams stay open. */
export class SimStreamListener extends PortHolder implements StreamListener {
  readonly address: Address
  readonly reachable: readonly Address[]

  constructor(
    node: SimNode,
    port: number,
    /** @internal */ readonly onConnection: (duplex: Duplex) => void,
  ) {
    super(node.listeners, node.tcpPorts, port)
    this.address = Object.freeze({ address: node.name, port })
    this.reachable = [this.address]
  }
}

/** The StreamTransport of one SimNode. */
export class SimStreamTransport implements StreamTransport {
  constructor(private readonly node: SimNode) {}

  /**
   * Listens on `port` (0 or undefined: the next free port from 49152). `host` may be left out,
   * or be the node's name, a wildcard or loopback address. A port in use fails with
   * PEER_E_UNABLE_TO_LISTEN, as on real sockets.
   */
  listen(
    options: { host?: string; port?: number },
    onConnection: (duplex: Duplex) => void,
  ): Promise<SimStreamListener> {
    return new Promise((resolve) => {
      const node = this.node
      if (typeof onConnection !== 'function') {
        throw new PeerError('E_INVALIDARG', 'listen needs an onConnection function')
      }
      const port = node.claimPort(node.tcpPorts, options, 'listen')
      const listener = new SimStreamListener(node, port, onConnection)
      node.listeners.set(port, listener)
      resolve(listener)
    })
  }

  /**
   * Connects to `to` after one link delay (latency + jitter): PEER_E_CONNECTION_REFUSED when
   * the node is up and nothing listens on that port, PEER_E_TIMEOUT after `timeoutMs` when the
   * request is lost (unknown or crashed node, partition), E_ABORT when `signal` fires.
   */
  dial(to: Address, options: DialOptions = {}): Promise<Duplex> {
    return new Promise((resolve, reject) => startDial(this.node, to, options, resolve, reject))
  }

  /** Streams of this node not yet finished. */
  get openStreams(): number {
    return this.node.ends.size
  }
}

// ---- dialling

function startDial(
  node: SimNode,
  to: Address,
  options: DialOptions,
  resolve: (duplex: Duplex) => void,
  reject: (error: PeerError) => void,
): void {
  checkDestination(to, 'dial')
  const timeoutMs = dialTimeoutMs(options)
  const { signal } = options
  const target = formatSimAddress(to)
  if (signal?.aborted) throw abortError(signal, `dial to ${target}`)
  node.checkUp('dial')
  const net = node.network
  const dial = new PendingDial(node, target, signal, resolve, reject)
  node.dials.add(dial)
  dial.timer = net.clock.setTimeout(
    () => failDial(dial, dialTimedOut(target, timeoutMs)),
    timeoutMs,
  )
  if (signal) {
    const onAbort = (): void => failDial(dial, abortError(signal, `dial to ${target}`))
    dial.onAbort = onAbort
    signal.addEventListener('abort', onAbort, { once: true })
  }
  const dst = net.findNode(to.address)
  const lost: DropReason | undefined =
    dst === undefined
      ? 'no-route'
      : !dst.up
        ? 'node-down'
        : net.isCut(node, dst)
          ? 'partitioned'
          : undefined
  if (dst === undefined || lost !== undefined) {
    net.trace(node.name, target, 'syn', 0, `dropped:${lost ?? 'no-route'}`)
    return
  }
  const ev = net.schedule(EV_SYN, net.arrivalTime(node, dst, 0), dst)
  ev.dial = dial
  ev.port = to.port
  dial.syn = ev
}

function settleDial(dial: PendingDial): void {
  dial.settled = true
  dial.timer?.cancel()
  dial.timer = undefined
  if (dial.onAbort) dial.signal?.removeEventListener('abort', dial.onAbort)
  dial.from.dials.delete(dial)
  if (dial.syn) {
    dial.from.network.cancel(dial.syn)
    dial.syn = undefined
  }
}

/** @internal Rejects a dial in progress (no-op once it settled). */
export function failDial(dial: PendingDial, error: PeerError): void {
  if (dial.settled) return
  settleDial(dial)
  dial.reject(error)
}

/** @internal The connection request arrives. */
export function onSynEvent(net: SimNetwork, ev: SimEvent): void {
  const dial = ev.dial as PendingDial
  dial.syn = undefined
  if (dial.settled) return
  const dst = ev.node
  const from = dial.from
  if (!dst.up || net.isCut(from, dst)) {
    net.trace(
      from.name,
      dial.target,
      'syn',
      0,
      dst.up ? 'dropped:partitioned' : 'dropped:node-down',
    )
    return
  }
  const listener = dst.listeners.get(ev.port)
  if (!listener) {
    net.trace(from.name, dial.target, 'syn', 0, 'refused')
    failDial(
      dial,
      connectionRefused(dial.target, { details: { address: dst.name, port: ev.port } }),
    )
    return
  }
  const port = from.tcpPorts.allocate()
  if (port === undefined) {
    failDial(
      dial,
      new PeerError(
        'PEER_E_CONNECTION_FAILED',
        `connecting to ${dial.target} failed: every local port of ${from.name} is in use`,
      ),
    )
    return
  }
  const client = new SimDuplex(from, { address: from.name, port }, listener.address, true)
  const server = new SimDuplex(dst, listener.address, client.local, false)
  connect(net, client, server)
  net.trace(client.tag, server.tag, 'syn', 0, 'delivered')
  settleDial(dial)
  dial.resolve(client)
  try {
    listener.onConnection(server)
  } catch (err) {
    net.handlerThrew(err)
    server.close(handlerThrew('connection', err))
  }
}

function connect(net: SimNetwork, a: SimDuplex, b: SimDuplex): void {
  a.peer = b
  b.peer = a
  a.outbound = b.inbound = new Pipe(a, b)
  b.outbound = a.inbound = new Pipe(b, a)
  const conn = new Connection(a, b)
  a.conn = b.conn = conn
  net.connections.add(conn)
  a.node.ends.add(a)
  b.node.ends.add(b)
}

// ---- pipes

function pushSegment(net: SimNetwork, pipe: Pipe, seg: Segment): void {
  pipe.segments.push(seg)
  pipe.lastAt = seg.at
  if (pipe.event === undefined && !pipe.stalled) schedulePipe(net, pipe, seg.at)
}

function schedulePipe(net: SimNetwork, pipe: Pipe, at: number): void {
  const ev = net.schedule(EV_PIPE, at, pipe.to.node)
  ev.pipe = pipe
  pipe.event = ev
}

/** @internal The head segment of a pipe arrives (or stalls at a partition). */
export function onPipeEvent(net: SimNetwork, ev: SimEvent): void {
  const pipe = ev.pipe as Pipe
  pipe.event = undefined
  const seg = pipe.segments[pipe.head]
  if (seg === undefined) return
  const to = pipe.to
  if (net.hasPartitions && net.isCut(pipe.from.node, to.node)) {
    pipe.stalled = true
    net.stalled.add(pipe)
    return
  }
  pipe.head++
  if (pipe.head >= pipe.segments.length) {
    pipe.segments = []
    pipe.head = 0
  } else if (pipe.head >= 64 && pipe.head * 2 >= pipe.segments.length) {
    pipe.segments.splice(0, pipe.head)
    pipe.head = 0
  }
  const next = pipe.segments[pipe.head]
  if (next !== undefined) schedulePipe(net, pipe, next.at)
  switch (seg.kind) {
    case DATA:
      if (to.closed) {
        dropSegment(net, pipe, seg, to.crashed ? 'node-down' : 'closed')
      } else {
        to.rx.push(seg)
        deliver(net, to)
      }
      break
    case FIN:
      if (!to.closed) {
        to.finArrived = true
        net.trace(pipe.from.tag, to.tag, 'fin', 0, 'delivered')
        deliver(net, to)
      }
      break
    case RST:
      if (!to.ended) reset(net, to, seg.reason ?? 'aborted')
      break
  }
}

/** @internal A partition healed: the stalled head goes out again, one link delay from now. */
export function resumePipe(net: SimNetwork, pipe: Pipe): void {
  pipe.stalled = false
  net.stalled.delete(pipe)
  if (pipe.event === undefined && pipe.head < pipe.segments.length) {
    schedulePipe(net, pipe, net.arrivalTime(pipe.from.node, pipe.to.node, 0))
  }
}

/** @internal Empties a pipe, counting its data as dropped for `reason`. */
export function clearPipe(net: SimNetwork, pipe: Pipe, reason: DropReason): void {
  if (pipe.event !== undefined) {
    net.cancel(pipe.event)
    pipe.event = undefined
  }
  const segments = pipe.segments
  const head = pipe.head
  pipe.segments = []
  pipe.head = 0
  pipe.lastAt = -Infinity
  if (pipe.stalled) {
    pipe.stalled = false
    net.stalled.delete(pipe)
  }
  for (let i = head; i < segments.length; i++) {
    const seg = segments[i] as Segment
    if (seg.kind === DATA) dropSegment(net, pipe, seg, reason)
  }
}

function dropSegment(net: SimNetwork, pipe: Pipe, seg: Segment, reason: DropReason): void {
  const bytes = (seg.data as Uint8Array).byteLength
  dropData(net, pipe.from.tag, pipe.to.tag, bytes, seg.label, reason)
  unflight(pipe.from, bytes)
}

function dropData(
  net: SimNetwork,
  from: string,
  to: string,
  bytes: number,
  label: string | undefined,
  reason: DropReason,
): void {
  net.counters.record(net.counters.stream, 'dropped', bytes, label, reason)
  if (net.tracing) net.trace(from, to, traceKind('stream', label), bytes, `dropped:${reason}`)
}

/** The writer's bytes left the network: drain, if it waits for one and is below the mark. */
function unflight(writer: SimDuplex, bytes: number): void {
  writer.inFlight -= bytes
  if (writer.wantDrain && !writer.closed && writer.inFlight < writer.node.network.highWater) {
    queueFlush(writer)
  }
}

function dropRx(net: SimNetwork, end: SimDuplex, reason: DropReason): void {
  const rx = end.rx
  const head = end.rxHead
  end.rx = []
  end.rxHead = 0
  for (let i = head; i < rx.length; i++) dropSegment(net, end.inbound, rx[i] as Segment, reason)
}

// ---- handler calls

function queueFlush(end: SimDuplex): void {
  if (end.flushQueued || end.closeNotified || end.crashed) return
  end.flushQueued = true
  const ev = end.node.network.schedule(EV_FLUSH, end.node.network.clock.now(), end.node)
  ev.end = end
}

/** @internal */
export function onFlushEvent(net: SimNetwork, ev: SimEvent): void {
  const end = ev.end as SimDuplex
  end.flushQueued = false
  deliver(net, end)
}

/**
 * Makes the handler calls `end` has due: its close if it ended; else buffered data (unless
 * paused), the remote's orderly close after that data, and drain.
 */
function deliver(net: SimNetwork, end: SimDuplex): void {
  const h = end.handlers
  if (h === undefined || end.closeNotified) return
  if (end.ended) {
    notifyClose(net, end, h)
    return
  }
  while (!end.paused && end.rxHead < end.rx.length) {
    const seg = end.rx[end.rxHead++] as Segment
    const data = seg.data as Uint8Array
    net.counters.record(net.counters.stream, 'delivered', data.byteLength, seg.label)
    if (net.tracing) {
      net.trace(
        end.remoteTag,
        end.tag,
        traceKind('stream', seg.label),
        data.byteLength,
        'delivered',
      )
    }
    unflight(end.peer, data.byteLength)
    try {
      h.data(data)
    } catch (err) {
      handlerFailed(net, end, 'data', err)
      return
    }
    if (end.ended) return // closed by the handler: its close call is queued
  }
  if (end.rxHead > 0 && end.rxHead >= end.rx.length) {
    end.rx = []
    end.rxHead = 0
  }
  if (end.finArrived && end.rx.length === 0) {
    end.ended = true
    notifyClose(net, end, h)
    return
  }
  if (end.wantDrain && end.inFlight < net.highWater) {
    end.wantDrain = false
    try {
      h.drain()
    } catch (err) {
      handlerFailed(net, end, 'drain', err)
    }
  }
}

function notifyClose(net: SimNetwork, end: SimDuplex, h: DuplexHandlers): void {
  end.closeNotified = true
  maybeFinish(net, end.conn)
  try {
    h.close(end.closeError)
  } catch (err) {
    net.handlerThrew(err)
  }
}

function handlerFailed(net: SimNetwork, end: SimDuplex, which: string, err: unknown): void {
  net.handlerThrew(err)
  end.close(handlerThrew(`stream's ${which}`, err))
}

// ---- endings

/** The remote reset the stream (close(error) or its node crashed). */
function reset(net: SimNetwork, end: SimDuplex, reason: ResetReason): void {
  end.ended = true
  end.closeError = new PeerError(
    'PEER_E_CONNECTION_FAILED',
    `the connection with ${end.remoteTag} was reset by the remote end (it closed the stream ` +
      `abruptly or stopped)`,
    { details: { local: end.tag, remote: end.remoteTag, reason } },
  )
  net.trace(end.remoteTag, end.tag, 'rst', 0, 'delivered')
  dropRx(net, end, 'reset')
  clearPipe(net, end.outbound, 'reset')
  deliver(net, end)
  maybeFinish(net, end.conn)
}

/** @internal The end's node crashed: it ends silently; its peer gets a reset. */
export function crashEnd(net: SimNetwork, end: SimDuplex): void {
  if (end.crashed) return
  const wasOpen = !end.ended
  end.crashed = true
  end.ended = true
  end.closeNotified = true
  dropRx(net, end, 'node-down')
  clearPipe(net, end.inbound, 'node-down')
  if (wasOpen) {
    clearPipe(net, end.outbound, 'node-down')
    if (!end.peer.ended) {
      pushSegment(
        net,
        end.outbound,
        new Segment(
          net.arrivalTime(end.node, end.peer.node, 0),
          RST,
          undefined,
          undefined,
          'crashed',
        ),
      )
    }
  }
  maybeFinish(net, end.conn)
}

/** @internal The connection stayed cut by a partition too long: both ends fail. */
export function timeoutConnection(net: SimNetwork, conn: Connection): void {
  conn.timer = undefined
  for (const end of [conn.a, conn.b]) {
    if (end.ended) continue
    end.ended = true
    end.closeError = new PeerError(
      'PEER_E_CONNECTION_FAILED',
      `the connection with ${end.remoteTag} made no progress for ${net.partitionTimeoutMs} ms ` +
        `(the network between the two is partitioned) and was closed`,
      { details: { local: end.tag, remote: end.remoteTag, timeoutMs: net.partitionTimeoutMs } },
    )
    dropRx(net, end, 'partitioned')
    queueFlush(end)
  }
  finish(net, conn, 'partitioned')
}

/** Finishes the connection once both ends are done with it. */
function maybeFinish(net: SimNetwork, conn: Connection): void {
  if (conn.a.ended && conn.b.ended) finish(net, conn, 'closed')
}

function finish(net: SimNetwork, conn: Connection, reason: DropReason): void {
  if (conn.finished) return
  conn.finished = true
  conn.timer?.cancel()
  conn.timer = undefined
  clearPipe(net, conn.a.outbound, reason)
  clearPipe(net, conn.b.outbound, reason)
  net.connections.delete(conn)
  for (const end of [conn.a, conn.b]) {
    const node = end.node
    node.ends.delete(end)
    if (end.ownsPort && node.incarnation === end.incarnation) node.tcpPorts.release(end.local.port)
  }
}
