/**
 * The simulated network (DESIGN.md section 7): named nodes, each a transport `Network`, joined
 * by links with latency, jitter, loss, duplication and bandwidth, on a VirtualClock and a
 * SeededRandom, with partitions, crashes and restarts. The same seed and the same calls give
 * the same run, to the event.
 *
 * Mechanics: every delivery is an event in one queue (a heap on time, then order of
 * scheduling); a single clock timer is kept armed for the earliest one and each firing handles
 * exactly one event, so every handler call comes from its own clock timer (never from inside
 * write, send or close) and promise continuations run between them under advanceAsync.
 * Randomness is drawn from one stream per sending node (`random.fork('sim/node/<name>')`), so
 * what one node sends does not change another's losses and delays.
 */
import type { Timer, VirtualClock } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import type { SeededRandom } from '../core/random.ts'
import {
  MAX_DATAGRAM_BYTES,
  MAX_QUEUED_WRITE_BYTES,
  STREAM_HIGH_WATER_BYTES,
} from '../transport/constants.ts'
import type { Address, Network } from '../transport/types.ts'
import { FIRST_DYNAMIC_PORT, LAST_PORT, STREAM_PARTITION_TIMEOUT_MS } from './constants.ts'
import { SimCounters, type CounterOutcome, type DropReason, type SimKind } from './counters.ts'
import type { SimDatagramSocket } from './datagrams.ts'
import { SimDatagramTransport } from './datagrams.ts'
import { EV_DATAGRAM, EV_FLUSH, EV_PIPE, EV_SYN, SimEvent } from './event.ts'
import { DEFAULT_LINK, resolveLink, type LinkModel, type ResolvedLink } from './link.ts'
import { PortSpace } from './ports.ts'
import { EventQueue } from './queue.ts'
import type { SimStreamListener } from './streams.ts'
import {
  clearPipe,
  crashEnd,
  failDial,
  onFlushEvent,
  onPipeEvent,
  onSynEvent,
  resumePipe,
  timeoutConnection,
  type Connection,
  type PendingDial,
  type Pipe,
  type SimDuplex,
  SimStreamTransport,
} from './streams.ts'

export interface SimNetworkOptions {
  clock: VirtualClock
  /** The network forks its own streams from it (by label), so draws elsewhere do not matter. */
  random: SeededRandom
  /** The link between every pair of nodes (default DEFAULT_LINK); setLink overrides pairs. */
  link?: LinkModel
  /** Labels each datagram and stream chunk for the per-label counters and the trace. */
  classify?: (data: Uint8Array, kind: SimKind) => string | undefined
  /** Appends (or passes) one line per delivery or drop: `time from->to kind size outcome`. */
  trace?: string[] | ((line: string) => void)
  /** A receive, data, drain, close or connection handler threw (the default only counts). */
  onHandlerError?: (error: unknown) => void
  /** write() reports backpressure above this many bytes in flight (STREAM_HIGH_WATER_BYTES). */
  streamHighWaterBytes?: number
  /** Streams across a partition close after this long (STREAM_PARTITION_TIMEOUT_MS). */
  streamPartitionTimeoutMs?: number
}

/** Hosts a simulated node accepts for listen/bind besides its own name: all mean "this node". */
const LOCAL_HOSTS = new Set(['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'])

const NODE_NAME = /^[^\s]+$/

/** The kind a trace line shows: `datagram` or `stream`, then `:label` when there is one. */
export function traceKind(kind: SimKind, label: string | undefined): string {
  return label === undefined ? kind : `${kind}:${label}`
}

/** `name:port`, as traces and messages print simulated addresses. */
export function formatSimAddress(a: Address): string {
  return `${a.address}:${a.port}`
}

/** Refuses a destination that is not a name and a port 1..65535 (PEER_E_INVALID_ADDRESS). */
export function checkDestination(to: Address, what: string): void {
  if (typeof to !== 'object' || to === null) {
    throw new PeerError('PEER_E_INVALID_ADDRESS', `${what}: the address must be { address, port }`)
  }
  if (typeof to.address !== 'string' || to.address.length === 0) {
    throw new PeerError(
      'PEER_E_INVALID_ADDRESS',
      `${what}: '${String(to.address)}' is not a node name`,
      { details: { address: to.address } },
    )
  }
  const port = to.port
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > LAST_PORT) {
    throw new PeerError(
      'PEER_E_INVALID_ADDRESS',
      `${what}: port ${String(port)} is out of range; use an integer from 1 to 65535`,
      { details: { port } },
    )
  }
}

/**
 * A node of the simulated network: its `streams` and `datagrams` are what protocol code gets
 * as its Network. Addresses are `{ address: name, port }`.
 */
export class SimNode implements Network {
  readonly streams: SimStreamTransport
  readonly datagrams: SimDatagramTransport
  /** @internal */ up = true
  /** @internal Bumped by every crash: objects of an earlier life no longer touch the node. */
  incarnation = 0
  /** @internal */ readonly rng: SeededRandom
  /** @internal Links set for this node's pairs (both directions are stored, one per node). */
  readonly links = new Map<SimNode, ResolvedLink>()
  /** @internal When each outgoing link is free again (bandwidth-limited links only). */
  readonly busyUntil = new Map<SimNode, number>()
  /** @internal */ readonly sockets = new Map<number, SimDatagramSocket>()
  /** @internal */ readonly listeners = new Map<number, SimStreamListener>()
  /** @internal */ readonly udpPorts = new PortSpace()
  /** @internal Listening ports and the local ports of dialled streams. */
  readonly tcpPorts = new PortSpace()
  /** @internal Stream ends on this node whose connection is not finished. */
  readonly ends = new Set<SimDuplex>()
  /** @internal */ readonly dials = new Set<PendingDial>()

  constructor(
    readonly network: SimNetwork,
    readonly name: string,
    /** @internal Position in the network's node list (partition sides are kept by index). */
    readonly index: number,
    random: SeededRandom,
  ) {
    this.rng = random.fork(`sim/node/${name}`)
    this.streams = new SimStreamTransport(this)
    this.datagrams = new SimDatagramTransport(this)
  }

  /** False between crash() and restart(). */
  get running(): boolean {
    return this.up
  }

  /** Listeners, datagram sockets and unfinished streams on this node. */
  get openHandles(): { listeners: number; sockets: number; streams: number; dials: number } {
    return {
      listeners: this.listeners.size,
      sockets: this.sockets.size,
      streams: this.ends.size,
      dials: this.dials.size,
    }
  }

  crash(): void {
    this.network.crash(this.name)
  }

  restart(): void {
    this.network.restart(this.name)
  }

  /**
   * Stops the node the orderly way, as NodeNetwork.close() does for real sockets: closes its
   * listeners and datagram sockets, rejects dials in progress with E_ABORT and closes its
   * streams (the peers see an orderly close after the data in flight).
   */
  close(): Promise<void> {
    for (const dial of [...this.dials]) {
      failDial(dial, new PeerError('E_ABORT', 'the dial was aborted: the network was closed'))
    }
    for (const listener of [...this.listeners.values()]) listener.shut()
    for (const socket of [...this.sockets.values()]) socket.shut()
    for (const end of [...this.ends]) end.close()
    return Promise.resolve()
  }

  /** @internal Throws E_UNEXPECTED for a crashed node. */
  checkUp(what: string): void {
    if (!this.up) {
      throw new PeerError(
        'E_UNEXPECTED',
        `${what} on node ${this.name}, which is crashed; restart it first`,
        { details: { node: this.name } },
      )
    }
  }

  /**
   * @internal Checks a listen or bind on this node (it is up; the host is its name, a wildcard
   * or loopback) and takes its port in `space` (0 or undefined: the next free one).
   */
  claimPort(space: PortSpace, options: { host?: string; port?: number }, what: string): number {
    this.checkUp(what)
    this.checkHost(options.host, what)
    return this.takePort(space, options.port, what)
  }

  private checkHost(host: unknown, what: string): void {
    if (host === undefined || host === this.name) return
    if (typeof host !== 'string') {
      throw new PeerError('PEER_E_INVALID_ADDRESS', `${what}: the host must be a string`)
    }
    if (LOCAL_HOSTS.has(host)) return
    throw new PeerError(
      'PEER_E_UNABLE_TO_LISTEN',
      `cannot ${what} on ${host}: node ${this.name} has only the address '${this.name}' ` +
        `(or use a wildcard such as 0.0.0.0)`,
      { details: { host, node: this.name } },
    )
  }

  private takePort(space: PortSpace, port: unknown, what: string): number {
    if (port === undefined || port === 0) {
      const free = space.allocate()
      if (free === undefined) {
        throw new PeerError(
          'PEER_E_UNABLE_TO_LISTEN',
          `cannot ${what} on ${this.name}: every port from ${FIRST_DYNAMIC_PORT} up is in use`,
        )
      }
      return free
    }
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > LAST_PORT) {
      throw new PeerError(
        'PEER_E_INVALID_ADDRESS',
        `${what}: port ${JSON.stringify(port) ?? 'undefined'} is out of range; use an integer ` +
          `from 0 to 65535`,
        { details: { port } },
      )
    }
    if (!space.take(port)) {
      throw new PeerError(
        'PEER_E_UNABLE_TO_LISTEN',
        `cannot ${what} on ${this.name}:${port}: the port is in use; pick another or pass port 0`,
        { details: { node: this.name, port } },
      )
    }
    return port
  }
}

interface Partition {
  readonly id: number
  /** Per node index: 0 not in it, 1 group A, 2 group B. */
  readonly sides: Uint8Array
}

export class SimNetwork {
  readonly clock: VirtualClock
  readonly counters = new SimCounters()
  /** Handler calls that threw (caught, as the real transports do). */
  handlerErrors = 0
  lastHandlerError: unknown = undefined

  /** @internal */ readonly classify: SimNetworkOptions['classify']
  /** @internal */ readonly highWater: number
  /** @internal */ readonly maxQueuedWrite: number
  /** @internal */ readonly partitionTimeoutMs: number
  /** @internal Open connections (not finished). */
  readonly connections = new Set<Connection>()
  /** @internal Pipes whose head is held by a partition. */
  readonly stalled = new Set<Pipe>()

  private readonly random: SeededRandom
  private defaultLink: ResolvedLink
  private readonly byName = new Map<string, SimNode>()
  private readonly nodeList: SimNode[] = []
  private partitions: Partition[] = []
  private nextPartitionId = 1
  private readonly traceFn: ((line: string) => void) | undefined
  private readonly onHandlerError: ((error: unknown) => void) | undefined
  private readonly epoch: number

  private readonly queue = new EventQueue<SimEvent>()
  private seq = 0
  private live = 0
  private timer: Timer | undefined
  private armedAt: number | undefined

  constructor(options: SimNetworkOptions) {
    this.clock = options.clock
    this.random = options.random
    this.epoch = this.clock.now()
    this.defaultLink = resolveLink(options.link ?? DEFAULT_LINK)
    this.classify = options.classify
    this.onHandlerError = options.onHandlerError
    const trace = options.trace
    this.traceFn = Array.isArray(trace) ? (line) => void trace.push(line) : trace
    this.highWater = positive(
      'streamHighWaterBytes',
      options.streamHighWaterBytes ?? STREAM_HIGH_WATER_BYTES,
    )
    this.maxQueuedWrite = Math.max(MAX_QUEUED_WRITE_BYTES, 4 * this.highWater)
    this.partitionTimeoutMs = positive(
      'streamPartitionTimeoutMs',
      options.streamPartitionTimeoutMs ?? STREAM_PARTITION_TIMEOUT_MS,
    )
  }

  // ---- nodes and links

  /** Adds a node named `name` (no whitespace; unique). */
  addNode(name: string): SimNode {
    if (typeof name !== 'string' || !NODE_NAME.test(name)) {
      throw new PeerError(
        'E_INVALIDARG',
        `a node name must be a non-empty string without spaces, got '${String(name)}'`,
      )
    }
    if (this.byName.has(name)) {
      throw new PeerError('E_INVALIDARG', `there is already a node named '${name}'`)
    }
    const node = new SimNode(this, name, this.nodeList.length, this.random)
    this.byName.set(name, node)
    this.nodeList.push(node)
    return node
  }

  /** The node named `name`; E_INVALIDARG when there is none. */
  node(name: string): SimNode {
    const node = this.byName.get(name)
    if (!node) throw new PeerError('E_INVALIDARG', `there is no node named '${name}'`)
    return node
  }

  get nodes(): readonly SimNode[] {
    return this.nodeList
  }

  /** Sets the link of every pair that has none of its own. */
  setDefaultLink(model: LinkModel): void {
    this.defaultLink = resolveLink(model)
  }

  /** Sets the link between `a` and `b`, both directions (a === b: the node's loopback). */
  setLink(a: string, b: string, model: LinkModel | undefined): void {
    const na = this.node(a)
    const nb = this.node(b)
    if (model === undefined) {
      na.links.delete(nb)
      nb.links.delete(na)
      return
    }
    const link = resolveLink(model)
    na.links.set(nb, link)
    nb.links.set(na, link)
  }

  /** The link in use between `a` and `b`. */
  link(a: string, b: string): LinkModel {
    const l = this.node(a).links.get(this.node(b)) ?? this.defaultLink
    return {
      latencyMs: l.latencyMs,
      jitterMs: l.jitterMs,
      loss: l.loss,
      duplicate: l.duplicate,
      bandwidthBytesPerSec: l.bytesPerMs > 0 ? l.bytesPerMs * 1000 : undefined,
    }
  }

  // ---- faults

  /**
   * Cuts every node of `groupA` off from every node of `groupB` (both ways); other pairs are
   * untouched. Datagrams across the cut are dropped; streams across it stall and, unless
   * healed within streamPartitionTimeoutMs, close with PEER_E_CONNECTION_FAILED; dials across
   * it time out. Returns an id for heal(id).
   */
  partition(groupA: readonly string[], groupB: readonly string[]): number {
    const sides = new Uint8Array(this.nodeList.length)
    const mark = (names: readonly string[], side: number): void => {
      if (!Array.isArray(names)) {
        throw new PeerError('E_INVALIDARG', 'partition takes two arrays of node names')
      }
      for (const entry of names as readonly unknown[]) {
        const name = String(entry)
        const node = this.node(name)
        if (sides[node.index] !== 0 && sides[node.index] !== side) {
          throw new PeerError('E_INVALIDARG', `node '${name}' is in both groups of the partition`)
        }
        sides[node.index] = side
      }
    }
    mark(groupA, 1)
    mark(groupB, 2)
    const id = this.nextPartitionId++
    this.partitions.push({ id, sides })
    this.partitionsChanged()
    return id
  }

  /** Removes partition `id`, or every partition; false when there was nothing to heal. */
  heal(id?: number): boolean {
    const before = this.partitions.length
    this.partitions = id === undefined ? [] : this.partitions.filter((p) => p.id !== id)
    if (this.partitions.length === before) return false
    this.partitionsChanged()
    return true
  }

  /** Whether `a` and `b` are cut off from each other now. */
  partitioned(a: string, b: string): boolean {
    return this.isCut(this.node(a), this.node(b))
  }

  /**
   * The node vanishes: its listeners and sockets stop existing (their objects report closed),
   * its streams' peers see PEER_E_CONNECTION_FAILED after one link delay, its dials in progress
   * reject with PEER_E_CONNECTION_FAILED, and whatever is in flight to it is dropped. Its own
   * stream and socket objects get no further handler calls. No-op for a crashed node.
   */
  crash(name: string): void {
    const node = this.node(name)
    if (!node.up) return
    for (const dial of [...node.dials]) {
      failDial(
        dial,
        new PeerError('PEER_E_CONNECTION_FAILED', `node ${name} crashed while dialling`, {
          details: { node: name },
        }),
      )
    }
    for (const listener of [...node.listeners.values()]) listener.shut()
    for (const socket of [...node.sockets.values()]) socket.shut()
    node.up = false
    node.incarnation++
    node.listeners.clear()
    node.sockets.clear()
    node.udpPorts.reset()
    node.tcpPorts.reset()
    node.busyUntil.clear()
    for (const end of [...node.ends]) crashEnd(this, end)
    // Whatever is still in flight to the node is lost.
    const doomed = this.queue.items.filter((ev) => !ev.cancelled && ev.node === node)
    for (const ev of doomed) {
      if (ev.cancelled) continue
      if (ev.type === EV_DATAGRAM) {
        this.dropDatagram(
          ev.from?.tag ?? '?',
          name,
          ev.port,
          ev.data?.length ?? 0,
          ev.label,
          'node-down',
        )
      } else if (ev.type === EV_PIPE && ev.pipe) {
        clearPipe(this, ev.pipe, 'node-down')
        continue
      } else if (ev.type === EV_SYN && ev.dial) {
        ev.dial.syn = undefined
      }
      this.cancel(ev)
    }
  }

  /** Brings a crashed node back with no sockets, listeners or streams. */
  restart(name: string): void {
    const node = this.node(name)
    if (node.up) {
      throw new PeerError('E_INVALIDARG', `node '${name}' is running; crash it before restarting`)
    }
    node.up = true
  }

  // ---- counters and state

  /** Counts a message of the caller's own classification (see SimCounters.count). */
  count(label: string, bytes: number, outcome: CounterOutcome = 'sent'): void {
    this.counters.count(label, bytes, outcome)
  }

  /** Deliveries and handler calls queued and not yet due. */
  get pendingEvents(): number {
    return this.live
  }

  /** Stream connections not yet finished (both ends closed). */
  get openConnections(): number {
    return this.connections.size
  }

  // ---- internals used by streams.ts and datagrams.ts

  /** @internal */
  findNode(name: string): SimNode | undefined {
    return this.byName.get(name)
  }

  /** @internal */
  isCut(a: SimNode, b: SimNode): boolean {
    for (const p of this.partitions) {
      const sa = p.sides[a.index]
      const sb = p.sides[b.index]
      if (sa && sb && sa !== sb) return true
    }
    return false
  }

  /** @internal */
  get hasPartitions(): boolean {
    return this.partitions.length > 0
  }

  /**
   * @internal When `bytes` sent now from `src` arrive at `dst`: after the link's queue and
   * serialisation (bandwidth-limited links), its latency and a uniform jitter.
   */
  arrivalTime(src: SimNode, dst: SimNode, bytes: number): number {
    const link = src.links.get(dst) ?? this.defaultLink
    return this.overLink(link, this.departure(src, dst, link, bytes), src.rng)
  }

  /** @internal Queues an event of `type` due at `at` (or now, if that has passed). */
  schedule(type: number, at: number, node: SimNode): SimEvent {
    const now = this.clock.now()
    const ev = new SimEvent(at > now ? at : now, this.seq++, type, node)
    this.queue.push(ev)
    this.live++
    if (this.armedAt === undefined || ev.at < this.armedAt) this.arm(ev.at)
    return ev
  }

  /** @internal */
  cancel(ev: SimEvent): void {
    if (ev.cancelled) return
    ev.cancelled = true
    this.live--
    if (this.live === 0) {
      // Nothing left: drop the dead entries and the timer, so the clock is left idle.
      this.queue.clear()
      this.timer?.cancel()
      this.timer = undefined
      this.armedAt = undefined
    }
  }

  /** @internal */
  get tracing(): boolean {
    return this.traceFn !== undefined
  }

  /** @internal One trace line, when tracing: `time from->to kind size outcome`. */
  trace(from: string, to: string, kind: string, size: number, outcome: string): void {
    if (this.traceFn === undefined) return
    this.traceFn(
      `${(this.clock.now() - this.epoch).toFixed(3)} ${from}->${to} ${kind} ${size} ${outcome}`,
    )
  }

  /** @internal A handler threw: counted, reported, never allowed to break the network. */
  handlerThrew(error: unknown): void {
    this.handlerErrors++
    this.lastHandlerError = error
    this.onHandlerError?.(error)
  }

  /** @internal The datagram hot path. */
  sendDatagram(socket: SimDatagramSocket, to: Address, data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      throw new PeerError('E_INVALIDARG', 'a datagram must be a Uint8Array')
    }
    const bytes = data.byteLength
    if (bytes > MAX_DATAGRAM_BYTES) {
      throw new PeerError(
        'E_INVALIDARG',
        `a datagram of ${bytes} bytes is over the ${MAX_DATAGRAM_BYTES}-byte limit ` +
          `(MAX_DATAGRAM_BYTES); split the message`,
        { details: { size: bytes, limit: MAX_DATAGRAM_BYTES } },
      )
    }
    checkDestination(to, 'send')
    const label = this.classify === undefined ? undefined : this.classify(data, 'datagram')
    const counters = this.counters
    counters.record(counters.datagram, 'sent', bytes, label)
    const port = to.port
    if (socket.closed) {
      this.dropDatagram(socket.tag, to.address, port, bytes, label, 'closed')
      return
    }
    const src = socket.node
    const dst = this.byName.get(to.address)
    if (dst === undefined) {
      this.dropDatagram(socket.tag, to.address, port, bytes, label, 'no-route')
      return
    }
    if (!dst.up) {
      this.dropDatagram(socket.tag, to.address, port, bytes, label, 'node-down')
      return
    }
    if (this.partitions.length > 0 && this.isCut(src, dst)) {
      this.dropDatagram(socket.tag, to.address, port, bytes, label, 'partitioned')
      return
    }
    const link = src.links.get(dst) ?? this.defaultLink
    const rng = src.rng
    const sent = this.departure(src, dst, link, bytes)
    if (link.loss > 0 && rng.float() < link.loss) {
      this.dropDatagram(socket.tag, to.address, port, bytes, label, 'lost')
      return
    }
    this.queueDatagram(this.overLink(link, sent, rng), socket, dst, port, data, label)
    if (link.duplicate > 0 && rng.float() < link.duplicate) {
      counters.record(counters.datagram, 'duplicated', bytes, label)
      this.queueDatagram(this.overLink(link, sent, rng), socket, dst, port, data, label)
    }
  }

  /** @internal */
  dropDatagram(
    from: string,
    toName: string,
    toPort: number,
    bytes: number,
    label: string | undefined,
    reason: DropReason,
  ): void {
    const counters = this.counters
    counters.record(counters.datagram, 'dropped', bytes, label, reason)
    if (this.traceFn !== undefined) {
      this.trace(
        from,
        `${toName}:${toPort}`,
        traceKind('datagram', label),
        bytes,
        `dropped:${reason}`,
      )
    }
  }

  // ---- private

  /** A copy of `data` from `socket` arrives at `dst`:`port` at `at`. */
  private queueDatagram(
    at: number,
    socket: SimDatagramSocket,
    dst: SimNode,
    port: number,
    data: Uint8Array,
    label: string | undefined,
  ): void {
    const ev = this.schedule(EV_DATAGRAM, at, dst)
    ev.from = socket
    ev.port = port
    ev.data = new Uint8Array(data)
    ev.label = label
  }

  /** When `bytes` sent now have left `src` for `dst`: now, unless the link's bandwidth is limited. */
  private departure(src: SimNode, dst: SimNode, link: ResolvedLink, bytes: number): number {
    const now = this.clock.now()
    if (!(link.bytesPerMs > 0)) return now
    const free = src.busyUntil.get(dst) ?? now
    const done = (free > now ? free : now) + bytes / link.bytesPerMs
    src.busyUntil.set(dst, done)
    return done
  }

  /** Arrival of what left at `sent`: after the link's latency and a uniform jitter (from `rng`). */
  private overLink(link: ResolvedLink, sent: number, rng: SeededRandom): number {
    return sent + link.latencyMs + (link.jitterMs > 0 ? link.jitterMs * rng.float() : 0)
  }

  private arm(at: number): void {
    this.timer?.cancel()
    this.armedAt = at
    const delay = at - this.clock.now()
    this.timer = this.clock.setTimeout(this.pump, delay > 0 ? delay : 0)
  }

  /** The one clock timer: handles the earliest event, after arming the timer for the next. */
  private readonly pump = (): void => {
    const armedAt = this.armedAt
    this.timer = undefined
    this.armedAt = undefined
    const ev = this.peekLive()
    if (ev === undefined) return
    if (armedAt === undefined || ev.at > armedAt) {
      // The event this timer was for was cancelled; wait for the next one.
      this.arm(ev.at)
      return
    }
    this.queue.pop()
    this.live--
    const next = this.peekLive()
    if (next !== undefined) this.arm(next.at)
    switch (ev.type) {
      case EV_DATAGRAM:
        this.deliverDatagram(ev)
        break
      case EV_PIPE:
        onPipeEvent(this, ev)
        break
      case EV_SYN:
        onSynEvent(this, ev)
        break
      case EV_FLUSH:
        onFlushEvent(this, ev)
        break
    }
  }

  /** The earliest event not cancelled; cancelled ones ahead of it leave the queue. */
  private peekLive(): SimEvent | undefined {
    const queue = this.queue
    let ev = queue.peek()
    while (ev !== undefined && ev.cancelled) {
      queue.pop()
      ev = queue.peek()
    }
    return ev
  }

  private deliverDatagram(ev: SimEvent): void {
    const dst = ev.node
    const from = ev.from as SimDatagramSocket
    const data = ev.data as Uint8Array
    let reason: DropReason | undefined
    let socket: SimDatagramSocket | undefined
    if (!dst.up) reason = 'node-down'
    else if (this.partitions.length > 0 && this.isCut(from.node, dst)) reason = 'partitioned'
    else if ((socket = dst.sockets.get(ev.port)) === undefined) reason = 'no-port'
    else if (socket.handler === undefined) reason = 'no-handler'
    if (reason !== undefined || socket === undefined || socket.handler === undefined) {
      this.dropDatagram(from.tag, dst.name, ev.port, data.length, ev.label, reason ?? 'closed')
      return
    }
    const counters = this.counters
    counters.record(counters.datagram, 'delivered', data.length, ev.label)
    if (this.traceFn !== undefined) {
      this.trace(from.tag, socket.tag, traceKind('datagram', ev.label), data.length, 'delivered')
    }
    try {
      socket.handler(data, from.local)
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  private partitionsChanged(): void {
    for (const conn of this.connections) {
      const cut = this.isCut(conn.a.node, conn.b.node)
      if (cut && conn.timer === undefined) {
        conn.timer = this.clock.setTimeout(
          () => timeoutConnection(this, conn),
          this.partitionTimeoutMs,
        )
      } else if (!cut && conn.timer !== undefined) {
        conn.timer.cancel()
        conn.timer = undefined
      }
    }
    for (const pipe of [...this.stalled]) {
      if (!this.isCut(pipe.from.node, pipe.to.node)) resumePipe(this, pipe)
    }
  }
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new PeerError('E_INVALIDARG', `${name} must be a finite number > 0, got ${value}`)
  }
  return value
}
