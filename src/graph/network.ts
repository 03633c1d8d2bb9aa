/**
 * The graph on the network (MS-PPGRH 2.4): listening, connecting, the CONNECT/WELCOME/REFUSE/
 * DISCONNECT exchange, peer time, flooding with duplicate suppression, ACKs and link utility,
 * large records announced and pulled, and synchronisation (full, time-based and range-based
 * reconciliation). It knows the graph only through GraphHost, so the record rules stay in
 * graph.ts and this file is about messages.
 *
 *   initiator                                   responder
 *   TCP + Noise XX (prologue graph:<id>) ------>
 *   open channel graph/neighbor, CONNECT ------>
 *                       <------ WELCOME (node id, peer time, referrals) | REFUSE
 *   SOLICIT_NEW | SOLICIT_TIME | RECONCILE --->   (see docs/GRAPH.md for each)
 */
import { abortError } from '../core/abort.ts'
import type { Clock, Timer } from '../core/clock.ts'
import { concatByteArray, toHex } from '../core/bytes.ts'
import { PeerError, toPeerError } from '../core/errors.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import type { Identity } from '../identity/identity.ts'
import { ConnectionManager, type PeerConnection } from '../transport/connections.ts'
import { SessionCredentials, type RemotePeer } from '../transport/secure-session.ts'
import type { Channel } from '../transport/mux.ts'
import type { PortHubs } from '../transport/port-hub.ts'
import type { Address, StreamTransport } from '../transport/types.ts'
import {
  ANNOUNCE_THRESHOLD_BYTES,
  CONNECT_TIMEOUT_MS,
  IDEAL_NEIGHBORS,
  MAINTENANCE_ALONE_MS,
  MAINTENANCE_KICK_MS,
  MAINTENANCE_MS,
  MIN_NEIGHBORS,
  PROBE_PROBABILITY,
  MAX_DIRECT_CONNECTIONS,
  MAX_NEIGHBORS,
  MAX_NODE_ADDRESSES,
  MAX_PEER_TIME_SKEW_MS,
  MAX_REFERRAL_ATTEMPTS,
  MAX_REFERRAL_LIST,
  MAX_REFERRALS,
  NODE_ID_BYTES,
  PEER_TIME_WEIGHT,
  MAX_RECONCILE_ROUNDS,
  PULL_TIMEOUT_MS,
  RESTRICTED_CONNECTION_MS,
  MAX_CHUNKED_RECORDS_PER_LINK,
  MAX_MAX_RECORD_SIZE,
  MAX_PENDING_PULLS,
  RECORD_CHUNK_BYTES,
  SYNC_BATCH,
  TIME_SYNC_MARGIN_MS,
} from './constants.ts'
import type { ConnectionEvent, GraphEvents } from './events.ts'
import { CHANNEL_NAMES, Link, type LinkKind } from './link.ts'
import {
  fromReferral,
  toReferral,
  type GraphMessage,
  type GraphMessageOf,
  type Referral,
  type RefuseReason,
} from './messages.ts'
import {
  decodeRecord,
  digestHex,
  digestOf,
  encodeRecord,
  RECORD_OVERHEAD_BYTES,
} from './record-codec.ts'
import type { GraphRecord } from './records.ts'
import {
  ArraySource,
  decodeReconcile,
  encodeReconcile,
  Reconciler,
  type Item,
  type ReconcileResult,
} from './reconcile.ts'
import type { ConnectionVerdict, GraphSecurityProvider } from './security.ts'
import type { GraphStatus } from './status.ts'
import { guidFromBytes } from './records.ts'
import { fromHex } from '../core/bytes.ts'

const log = createLogger('graph')

/** What a direct connection carries: its own setup, application data and its end. */
const DIRECT_MESSAGES = new Set<GraphMessage['type']>([
  'connect',
  'welcome',
  'refuse',
  'data',
  'disconnect',
])

/** What a received record became (graph.ts receiveRecord). */
export type ReceiveOutcome =
  | { outcome: 'added' | 'updated' | 'unchanged' | 'deferred' | 'invalid' }
  /** Our stored copy wins: the sender gets it back. */
  | { outcome: 'older'; stored: GraphRecord }

/** The graph as the network side sees it. */
export interface GraphHost {
  readonly graphId: string
  readonly peerId: string
  readonly nodeId: string
  readonly recordTypeSyncPrecedence: readonly string[]
  /** The graph is synchronized (created, opened with data, or synced once). */
  readonly ready: boolean
  /** The graph has its properties (the Graph Info record arrived). */
  readonly hasProperties: boolean
  readonly maxRecordSize: number
  /** When the graph last had a neighbour (a returning node syncs from about then). */
  readonly lastOnline: number | undefined
  receiveRecord(record: GraphRecord): Promise<ReceiveOutcome>
  recordByDigest(digest: Uint8Array): GraphRecord | undefined
  /** Nodes that publish presence, with their addresses (maintenance may connect to them). */
  presenceNodes(): Referral[]
  /** Every stored copy as a sync item (time, digest), sorted (reconcile.ts). */
  syncItems(): Item[]
  /** Every record to send in a full sync, tombstones included, in sync order. */
  recordsForSync(since: number | undefined, typeOrder: readonly string[]): Iterable<GraphRecord>
  peerTimeOffset: number
  now(): number
  setStatus(change: Partial<GraphStatus>): void
  emit<K extends keyof GraphEvents>(type: K, data: GraphEvents[K]): void
  /** The first full sync has finished: the graph is synchronized. */
  fullSyncDone(): void
  markOnline(): void
}

export interface GraphNetworkOptions {
  host: GraphHost
  identity: Identity
  streams: StreamTransport
  clock: Clock
  random: Random
  /** Records above this many bytes are announced and pulled (ANNOUNCE_THRESHOLD_BYTES). */
  announceThresholdBytes?: number
  /** Chance of a probe on a timed maintenance pass (PROBE_PROBABILITY). */
  probeProbability?: number
  /** The graph's security provider: its handshake payload and connection check. */
  security?: GraphSecurityProvider
  /** Listening ports the node's graphs share (their own port each when left out). */
  hubs?: PortHubs
}

export interface ConnectOptions {
  address: string
  port: number
  /** The peer that must answer there (else PEER_E_CONNECTION_NOT_AUTHENTICATED). */
  peerId?: string
  signal?: AbortSignal
}

interface PendingConnect {
  resolve(link: Link): void
  reject(err: PeerError): void
  /** Ends the wait: its timer and its abort listener. */
  stopWaiting(): void
}

/** A large record being pulled: who announced it and which one we asked. */
interface Pull {
  announcers: Link[]
  asked: Link | undefined
  timer: Timer | undefined
}

export class GraphNetwork {
  private readonly host: GraphHost
  private readonly announceThreshold: number
  private readonly probeProbability: number
  private readonly clock: Clock
  private readonly random: Random
  private readonly connections: ConnectionManager
  private readonly security: GraphSecurityProvider | undefined
  /** Peers the provider admitted to its own channels only. */
  private readonly restricted = new WeakSet<RemotePeer>()
  /** When each restricted connection is closed (RESTRICTED_CONNECTION_MS after it came). */
  private readonly restrictedTimers = new Map<PeerConnection, Timer>()
  /** Established neighbour and direct links by connection id. */
  private readonly links = new Map<string, Link>()
  private readonly pending = new Map<string, PendingConnect>()
  /** MS-PPGRH 2.4 referral list, newest last. */
  private readonly referrals: Referral[] = []
  private readonly pulls = new Map<string, Pull>()
  /** Links in a full or time-based sync we asked for, waiting for their final SYNC_END. */
  private readonly syncing = new Set<Link>()
  /** Reconciliations in progress, per link. */
  private readonly reconciling = new Map<Link, { reconciler: Reconciler; rounds: number }>()
  /** The first sync after a restart is time-based (MS-PPGRH 2.4); later ones reconcile. */
  private resumed = false
  private listenAddress: Address | undefined
  private maintenanceTimer: Timer | undefined
  private kickTimer: Timer | undefined
  private maintaining = false
  private stopped = false
  /** Datagrams, er, messages dropped because they broke a rule (counted for tests and stats). */
  readonly counters = {
    malformed: 0,
    invalidRecords: 0,
    floodsIn: 0,
    floodsOut: 0,
    useful: 0,
    /** Connections tried to a contact of another part (partition repair). */
    partitionRepairs: 0,
  }

  constructor(options: GraphNetworkOptions) {
    this.host = options.host
    this.announceThreshold = options.announceThresholdBytes ?? ANNOUNCE_THRESHOLD_BYTES
    this.probeProbability = options.probeProbability ?? PROBE_PROBABILITY
    this.clock = options.clock
    this.random = options.random
    this.security = options.security
    this.connections = new ConnectionManager({
      credentials: new SessionCredentials(options.identity, options.random),
      context: graphContext(options.host.graphId),
      streams: options.streams,
      clock: options.clock,
      random: options.random,
      ...(options.hubs ? { hubs: options.hubs } : {}),
      ...connectionSecurity(options.security, (remote) => this.restricted.add(remote)),
    })
    this.connections.on('connected', (c) => this.onConnection(c))
    this.connections.on('disconnected', ({ connection }) => {
      this.restrictedTimers.get(connection)?.cancel()
      this.restrictedTimers.delete(connection)
    })
  }

  get address(): Address | undefined {
    return this.listenAddress
  }

  /** Where other nodes reach our listener (at most MAX_NODE_ADDRESSES); [] before listen(). */
  get reachable(): Address[] {
    return this.connections.reachable.slice(0, MAX_NODE_ADDRESSES).map((a) => ({ ...a }))
  }

  /** Established links of a kind. */
  linksOf(kind: LinkKind): Link[] {
    return [...this.links.values()].filter((l) => l.kind === kind && l.established)
  }

  async listen(options: { host?: string; port?: number }): Promise<Address> {
    this.listenAddress = await this.connections.listen(options)
    this.host.setStatus({ listening: true })
    // MS-PPGRH 2.4: a node that starts listening tells its neighbours (CONNECT with U).
    for (const link of this.linksOf('neighbor')) {
      if (link.opener) link.post({ ...this.connectMessage('neighbor'), u: true })
    }
    this.scheduleMaintenance()
    return this.listenAddress
  }

  /**
   * Connects as a neighbour (MS-PPGRH 2.4 Connect). Resolves with the connection id once
   * WELCOMEd; rejects with PEER_E_CONNECTION_REFUSED, _FAILED, _NOT_AUTHENTICATED,
   * PEER_E_ALREADY_EXISTS (already a neighbour) or PEER_E_TIMEOUT.
   */
  async connect(
    options: ConnectOptions,
    kind: LinkKind = 'neighbor',
    connectionId = this.newConnectionId(),
  ): Promise<Link> {
    const to = { address: options.address, port: options.port }
    const connection = await this.connections.connect(to, {
      ...(options.peerId !== undefined ? { peerName: options.peerId } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })
    // A peer the provider admits to its own channels only (a password joiner) never becomes a
    // neighbour or direct link, whichever side dialled.
    if (this.restricted.has(connection.remote)) {
      const error = new PeerError(
        'PEER_E_CONNECTION_NOT_AUTHENTICATED',
        `${connection.remote.peerName} is not a member of this graph`,
      )
      connection.close(error)
      throw error
    }
    const peerId = connection.remote.peerName
    if (kind === 'neighbor') this.learnReferrals([{ peerId, ...to }])
    if (kind === 'neighbor' && this.linksOf('neighbor').some((l) => l.peerId === peerId)) {
      throw new PeerError('PEER_E_ALREADY_EXISTS', `${peerId} is already a neighbour`)
    }
    const link = new Link(
      kind,
      connectionId,
      connection,
      connection.mux.open(CHANNEL_NAMES[kind]),
      true,
    )
    const { signal } = options
    const welcomed = new Promise<Link>((resolve, reject) => {
      const giveUp = (error: PeerError): void => {
        if (this.pending.get(link.connectionId) !== entry) return
        this.pending.delete(link.connectionId)
        entry.stopWaiting()
        reject(error)
        link.close()
      }
      const onAbort = (): void => giveUp(abortError(signal as AbortSignal, `connect to ${peerId}`))
      const timer = this.clock.setTimeout(
        () => giveUp(new PeerError('PEER_E_TIMEOUT', `no WELCOME from ${peerId} within 60 s`)),
        CONNECT_TIMEOUT_MS,
      )
      const entry: PendingConnect = {
        resolve,
        reject,
        stopWaiting: () => {
          timer.cancel()
          signal?.removeEventListener('abort', onAbort)
        },
      }
      this.pending.set(link.connectionId, entry)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (signal?.aborted) onAbort()
    })
    this.startLink(link)
    link.post(this.connectMessage(kind))
    return welcomed
  }

  private connectMessage(kind: LinkKind): GraphMessageOf<'connect'> {
    return {
      type: 'connect',
      n: nodeIdBytes(this.host.nodeId),
      a: this.reachable.map((a) => [a.address, a.port] as [string, number]),
      ...(kind === 'direct' ? { d: true as const } : {}),
    }
  }

  /**
   * Connects as a neighbour, following referrals (MS-PPGRH 2.4): after a REFUSE, a random
   * untried node from the referrals the refusal carried (or from the referral list) is tried
   * next, up to MAX_REFERRAL_ATTEMPTS times. Each refusal is reported as a failed
   * neighbor-connection naming the next attempt's connection id.
   */
  async connectFollowingReferrals(options: ConnectOptions): Promise<Link> {
    const tried = new Set<string>()
    let attempt = options
    let id = this.newConnectionId()
    for (let i = 0; ; i++) {
      try {
        return await this.connect(attempt, 'neighbor', id)
      } catch (err) {
        const error = err as PeerError
        if (error.code !== 'PEER_E_CONNECTION_REFUSED' || i >= MAX_REFERRAL_ATTEMPTS) throw err
        tried.add(`${attempt.address}|${attempt.port}`)
        const offered = (error.details?.['referrals'] as Referral[] | undefined) ?? []
        this.learnReferrals(offered)
        const neighbours = new Set(this.linksOf('neighbor').map((l) => l.peerId))
        const untried = [...offered, ...this.referrals].filter(
          (r) => !tried.has(`${r.address}|${r.port}`) && !neighbours.has(r.peerId),
        )
        if (untried.length === 0) throw err
        const next = untried[this.random.int(untried.length)]!
        const nextId = this.newConnectionId()
        this.host.emit('neighbor-connection', {
          status: 'failed',
          connectionId: id,
          nodeId: '',
          peerId: attempt.peerId ?? '',
          failure: error.code,
          nextConnectionId: nextId,
        })
        id = nextId
        attempt = {
          address: next.address,
          port: next.port,
          peerId: next.peerId,
          signal: options.signal,
        }
      }
    }
  }

  // ---- inbound -------------------------------------------------------------------------

  private onConnection(connection: PeerConnection): void {
    connection.mux.on('channel', (channel) => this.onChannel(connection, channel))
    if (this.restricted.has(connection.remote)) {
      // A peer admitted to the provider's channels only (a password joiner) has its time to
      // use them, and no more: it cannot hold a connection slot open.
      const timer = this.clock.setTimeout(() => {
        this.restrictedTimers.delete(connection)
        connection.close(
          new PeerError(
            'PEER_E_TIMEOUT',
            `${connection.remote.peerName} is admitted to the provider's channels for ` +
              `${RESTRICTED_CONNECTION_MS} ms (RESTRICTED_CONNECTION_MS)`,
          ),
        )
      }, RESTRICTED_CONNECTION_MS)
      this.restrictedTimers.set(connection, timer)
    }
  }

  private onChannel(connection: PeerConnection, channel: Channel): void {
    const serve = this.security?.providerChannels?.[channel.name]
    if (serve && !this.stopped) {
      const { remote } = connection
      serve(
        channel,
        { peerId: remote.peerName, publicKey: remote.publicKey, payload: remote.payload },
        connection.mux.session.handshakeHash,
      )
      return
    }
    const kind = (Object.keys(CHANNEL_NAMES) as LinkKind[]).find(
      (k) => CHANNEL_NAMES[k] === channel.name,
    )
    if (!kind || this.stopped || this.restricted.has(connection.remote)) {
      channel.close('unknown channel')
      return
    }
    this.startLink(new Link(kind, this.newConnectionId(), connection, channel, false))
  }

  private startLink(link: Link): void {
    this.links.set(link.connectionId, link)
    link.start({
      message: (l, m) => this.onMessage(l, m),
      malformed: () => void this.counters.malformed++,
      closed: (l, error) => this.onLinkClosed(l, error),
    })
  }

  private async onMessage(link: Link, m: GraphMessage): Promise<void> {
    if (!link.established && m.type !== 'connect' && m.type !== 'welcome' && m.type !== 'refuse') {
      this.counters.malformed++
      return
    }
    // A direct connection carries application data between two nodes, not the graph's records.
    if (link.kind === 'direct' && !DIRECT_MESSAGES.has(m.type)) {
      this.counters.malformed++
      return
    }
    switch (m.type) {
      case 'connect':
        return this.onConnect(link, m)
      case 'welcome':
        return this.onWelcome(link, m)
      case 'refuse':
        return this.onRefuse(link, m)
      case 'disconnect':
        this.learnReferrals(m.r.map(toReferral))
        link.close()
        return
      case 'flood':
        return this.onFlood(link, m)
      case 'chunk':
        return this.onChunk(link, m)
      case 'ack':
        for (const [digest, useful] of m.d) link.acked(digestHex(digest), useful)
        return
      case 'announce':
        return this.onAnnounce(link, m)
      case 'request':
        return this.onRequest(link, m)
      case 'solicit-new':
      case 'solicit-time':
        // The opener syncs once, after WELCOME: a second request would only repeat the answer.
        if (link.opener || link.peerSolicited) {
          this.counters.malformed++
          return
        }
        link.peerSolicited = true
        return this.sendSync(
          link,
          m.type === 'solicit-time' ? m.since : undefined,
          m.ty.map(guidFromBytes),
        )
      case 'sync-end':
        return this.onSyncEnd(link, m)
      case 'reconcile':
        return this.onReconcile(link, m)
      case 'data':
        this.host.emit('incoming-data', {
          connectionId: link.connectionId,
          dataType: guidFromBytes(m.ty),
          data: m.b,
        })
        return
    }
  }

  /** MS-PPGRH 2.4: the responder WELCOMEs, or REFUSEs with referrals when it is full. */
  private async onConnect(link: Link, m: GraphMessageOf<'connect'>): Promise<void> {
    if (link.opener) {
      this.counters.malformed++
      return
    }
    if (link.established) {
      // MS-PPGRH 2.2 CONNECT with U: the neighbour listens now, at these addresses.
      if (m.u) {
        link.addresses = m.a.map(([address, port]) => ({ address, port }))
        if (link.addresses[0]) this.learnReferrals([{ peerId: link.peerId, ...link.addresses[0] }])
      }
      return
    }
    const kind: LinkKind = m.d ? 'direct' : 'neighbor'
    if (kind !== link.kind) {
      this.counters.malformed++
      link.close()
      return
    }
    link.nodeId = toHex(m.n)
    link.addresses = m.a.map(([address, port]) => ({ address, port }))
    // A node that listens is one more that others (and we, later) may connect to.
    if (kind === 'neighbor' && link.addresses[0]) {
      this.learnReferrals([{ peerId: link.peerId, ...link.addresses[0] }])
    }
    const refusal = this.refusalFor(link)
    if (refusal) {
      await link.send({ type: 'refuse', why: refusal, r: this.referralsFor(link) }).catch(() => {})
      link.close()
      return
    }
    await link.send({
      type: 'welcome',
      n: nodeIdBytes(this.host.nodeId),
      pt: Math.max(0, Math.round(this.host.now())),
      r: this.referralsFor(link),
    })
    this.established(link)
  }

  private refusalFor(link: Link): RefuseReason | undefined {
    if (!this.host.ready) return 'busy'
    if (link.kind === 'direct') {
      return this.linksOf('direct').length >= MAX_DIRECT_CONNECTIONS ? 'busy' : undefined
    }
    const neighbours = this.linksOf('neighbor')
    if (neighbours.some((l) => l.peerId === link.peerId)) return 'already-connected'
    return neighbours.length >= MAX_NEIGHBORS ? 'busy' : undefined
  }

  private onWelcome(link: Link, m: GraphMessageOf<'welcome'>): void {
    const pending = this.pending.get(link.connectionId)
    if (!pending || link.established) return
    this.pending.delete(link.connectionId)
    pending.stopWaiting()
    link.nodeId = toHex(m.n)
    this.learnReferrals(m.r.map(toReferral))
    if (link.kind === 'neighbor') this.adjustPeerTime(m.pt)
    this.established(link)
    pending.resolve(link)
    if (link.kind === 'neighbor') this.startSync(link)
  }

  private onRefuse(link: Link, m: GraphMessageOf<'refuse'>): void {
    const pending = this.pending.get(link.connectionId)
    if (!pending) return
    this.pending.delete(link.connectionId)
    pending.stopWaiting()
    this.learnReferrals(m.r.map(toReferral))
    pending.reject(
      new PeerError(
        'PEER_E_CONNECTION_REFUSED',
        `${link.peerId} refused the connection: ${m.why}`,
        {
          details: { reason: m.why },
        },
      ),
    )
    link.close()
  }

  private established(link: Link): void {
    link.established = true
    const event = this.connectionEvent(link, 'connected')
    if (link.kind === 'neighbor') {
      this.host.markOnline()
      this.host.setStatus({ hasConnections: true })
      this.host.emit('neighbor-connection', event)
      if (!this.maintenanceTimer) this.scheduleMaintenance()
      this.kickMaintenance()
    } else {
      this.host.emit('direct-connection', event)
    }
  }

  private onLinkClosed(link: Link, error: PeerError | undefined): void {
    this.links.delete(link.connectionId)
    this.syncing.delete(link)
    this.reconciling.delete(link)
    const pending = this.pending.get(link.connectionId)
    if (pending) {
      this.pending.delete(link.connectionId)
      pending.stopWaiting()
      pending.reject(
        toPeerError(
          error ?? new PeerError('PEER_E_CONNECTION_FAILED', 'closed'),
          'PEER_E_CONNECTION_FAILED',
          'the connection closed before WELCOME',
        ),
      )
    }
    for (const [key, pull] of this.pulls) {
      pull.announcers = pull.announcers.filter((l) => l !== link)
      if (pull.asked === link) this.askNext(key, pull)
    }
    if (!link.established || this.stopped) return
    const event = this.connectionEvent(link, 'disconnected')
    if (link.kind === 'neighbor') {
      this.host.emit('neighbor-connection', event)
      if (this.linksOf('neighbor').length === 0) {
        this.host.setStatus({ hasConnections: false })
        this.host.emit('connection-required', {})
      }
      this.kickMaintenance()
    } else {
      this.host.emit('direct-connection', event)
    }
  }

  private connectionEvent(link: Link, status: ConnectionEvent['status']): ConnectionEvent {
    return { status, connectionId: link.connectionId, nodeId: link.nodeId, peerId: link.peerId }
  }

  /**
   * MS-PPGRH 2.4 peer time: estimate the remote's time now, ignore it beyond 20 min of ours;
   * the first neighbour's offset is adopted, later ones move ours by a fifth of the difference.
   * (The estimate takes WELCOME's peer time as current: the round trip is not measured here.)
   */
  private adjustPeerTime(remote: number): void {
    // Measured against our own clock, not our peer time: neighbours cannot walk our peer time
    // away from it 20 minutes at a time, however often they reconnect.
    if (Math.abs(remote - this.clock.now()) > MAX_PEER_TIME_SKEW_MS) return
    const diff = remote - this.host.now()
    const first = this.linksOf('neighbor').length === 0
    // Whole milliseconds: record times are integers.
    this.host.peerTimeOffset += Math.round(first ? diff : PEER_TIME_WEIGHT * diff)
  }

  // ---- flooding -------------------------------------------------------------------------

  /** Floods a record changed here or newly received to every neighbour but `except`. */
  flood(record: GraphRecord, except?: Link): void {
    const bytes = encodeRecord(record)
    const digest = digestOf(bytes)
    const key = digestHex(digest)
    for (const link of this.linksOf('neighbor')) {
      if (link === except) continue
      this.counters.floodsOut++
      link.flooded(key)
      // Large records are announced: each neighbour pulls the payload from one announcer.
      if (bytes.length > this.announceThreshold) {
        link.post({ type: 'announce', d: digest, i: guidBytes(record.id), sz: bytes.length })
      } else {
        this.post(link, record, false)
      }
    }
  }

  private onFlood(link: Link, m: GraphMessageOf<'flood'>): Promise<void> {
    return this.onRecordBytes(link, m.r, m.s === true)
  }

  /** CHUNK: pieces of one large record, in order; the whole is handled as a FLOOD. */
  private async onChunk(link: Link, m: GraphMessageOf<'chunk'>): Promise<void> {
    const key = digestHex(m.d)
    let entry = link.chunks.get(key)
    const bad = (why: string): void => {
      this.counters.malformed++
      link.chunks.delete(key)
      log.debug('dropped a chunked record', { peer: link.peerId, error: why })
    }
    if (!entry) {
      if (m.x !== 0) return bad(`piece ${m.x} before piece 0`)
      if (link.chunks.size >= MAX_CHUNKED_RECORDS_PER_LINK) return bad('too many at once')
      entry = { parts: [], bytes: 0, count: m.n }
      link.chunks.set(key, entry)
    }
    if (m.x !== entry.parts.length || m.n !== entry.count) return bad('pieces out of order')
    entry.parts.push(m.b)
    entry.bytes += m.b.length
    if (entry.bytes > this.host.maxRecordSize + RECORD_OVERHEAD_BYTES) return bad('too large')
    if (entry.parts.length < entry.count) return
    link.chunks.delete(key)
    const bytes = concatByteArray(entry.parts)
    if (Buffer.compare(digestOf(bytes), m.d) !== 0) return bad('the pieces do not match the digest')
    await this.onRecordBytes(link, bytes, m.s === true)
  }

  /** A record received whole (FLOOD, or CHUNKs put together): store, ACK, forward, answer. */
  private async onRecordBytes(link: Link, bytes: Uint8Array, sync: boolean): Promise<void> {
    this.counters.floodsIn++
    let record: GraphRecord
    try {
      record = decodeRecord(bytes, this.host.ready ? this.host.maxRecordSize : MAX_MAX_RECORD_SIZE)
    } catch (err) {
      this.counters.malformed++
      log.debug('dropped a malformed record', { peer: link.peerId, error: (err as Error).message })
      return
    }
    const digest = digestOf(bytes)
    const result = await this.host.receiveRecord(record)
    const key = digestHex(digest)
    const pull = this.pulls.get(key)
    if (pull) {
      pull.timer?.cancel()
      this.pulls.delete(key)
    }
    const useful = result.outcome === 'added' || result.outcome === 'updated'
    if (result.outcome === 'invalid') this.counters.invalidRecords++
    if (useful) this.counters.useful++
    // MS-PPGRH 2.4: always ACK a flood; U only for a new record. Sync answers are not ACKed.
    if (!sync) link.post({ type: 'ack', d: [[digest, useful]] })
    if (useful) this.flood(record, link)
    // MS-PPGRH 2.4: an old copy is answered with my newer one.
    if (result.outcome === 'older') this.post(link, result.stored, false)
  }

  /** Sends a record whole (FLOOD) or, above RECORD_CHUNK_BYTES, in CHUNKs. */
  private async sendRecord(link: Link, record: GraphRecord, sync: boolean): Promise<void> {
    const bytes = encodeRecord(record)
    const s = sync ? { s: true as const } : {}
    if (bytes.length <= RECORD_CHUNK_BYTES) return link.send({ type: 'flood', r: bytes, ...s })
    const d = digestOf(bytes)
    const key = digestHex(d)
    // The same copy asked for twice (a pull and a reconciliation) goes once: two interleaved
    // runs of its pieces would be out of order for the receiver.
    if (link.chunksOut.has(key)) return
    link.chunksOut.add(key)
    try {
      // One chunked record at a time per link: the receiver assembles only a few at once.
      await link.inTurn(async () => {
        const n = Math.ceil(bytes.length / RECORD_CHUNK_BYTES)
        for (let x = 0; x < n; x++) {
          if (link.closed) return
          const b = bytes.subarray(x * RECORD_CHUNK_BYTES, (x + 1) * RECORD_CHUNK_BYTES)
          await link.send({ type: 'chunk', d, x, n, b, ...s })
        }
      })
    } finally {
      link.chunksOut.delete(key)
    }
  }

  /** sendRecord without waiting; a failure (the link closing) is logged. */
  private post(link: Link, record: GraphRecord, sync: boolean): void {
    this.sendRecord(link, record, sync).catch((err: unknown) => {
      if (!link.closed) {
        log.debug('graph send failed', { peer: link.peerId, error: (err as Error).message })
      }
    })
  }

  private onAnnounce(link: Link, m: GraphMessageOf<'announce'>): void {
    if (this.host.recordByDigest(m.d)) {
      link.post({ type: 'ack', d: [[m.d, false]] })
      return
    }
    const limit =
      (this.host.ready ? this.host.maxRecordSize : MAX_MAX_RECORD_SIZE) + RECORD_OVERHEAD_BYTES
    if (m.sz > limit) {
      this.counters.malformed++
      return
    }
    const key = digestHex(m.d)
    const pull = this.pulls.get(key)
    if (pull) {
      // Each neighbour is an announcer once: repeats would only add waits.
      if (pull.asked !== link && !pull.announcers.includes(link)) pull.announcers.push(link)
      return
    }
    // Beyond MAX_PENDING_PULLS the record is not lost: it comes with the next sync.
    if (this.pulls.size >= MAX_PENDING_PULLS) return
    const fresh: Pull = { announcers: [link], asked: undefined, timer: undefined }
    this.pulls.set(key, fresh)
    this.askNext(key, fresh)
  }

  /** Asks the next announcer of a pulled record, or gives up when none is left. */
  private askNext(key: string, pull: Pull): void {
    pull.timer?.cancel()
    const next = pull.announcers.shift()
    pull.asked = next
    if (!next) {
      this.pulls.delete(key)
      return
    }
    next.post({ type: 'request', d: [fromHex(key)!] })
    pull.timer = this.clock.setTimeout(() => this.askNext(key, pull), PULL_TIMEOUT_MS)
  }

  private async onRequest(link: Link, m: GraphMessageOf<'request'>): Promise<void> {
    for (const d of m.d) {
      const record = this.host.recordByDigest(d)
      if (record) await this.sendRecord(link, record, true).catch(() => {})
    }
  }

  // ---- synchronisation ------------------------------------------------------------------

  /**
   * After WELCOME, the initiator syncs (MS-PPGRH 2.4 Sync): a node that never synced asks for
   * everything, a returning one for what changed since it left; both then reconcile.
   */
  private startSync(link: Link): void {
    const types = this.host.recordTypeSyncPrecedence.map(guidBytes)
    const lastOnline = this.host.lastOnline
    if (!this.host.ready) {
      // A node that syncs in full now is no returning one for its next connections.
      this.resumed = true
      this.syncing.add(link)
      link.post({ type: 'solicit-new', ty: types })
    } else if (!this.resumed && lastOnline !== undefined) {
      // A returning node asks for what changed since it left, then reconciles what that missed.
      this.resumed = true
      this.syncing.add(link)
      const since = Math.max(0, Math.round(lastOnline - TIME_SYNC_MARGIN_MS))
      link.post({ type: 'solicit-time', since, ty: types })
    } else {
      this.resumed = true
      this.startReconcile(link)
    }
  }

  /**
   * Answers SOLICIT_NEW (since undefined) or SOLICIT_TIME with the records, in MS-PPGRH's Sync
   * All order; a SYNC_END names each precedence type once its part is sent (also one with no
   * records), and a final SYNC_END closes the answer.
   */
  private async sendSync(link: Link, since: number | undefined, order: string[]): Promise<void> {
    if (!this.host.ready) {
      await link.send({ type: 'sync-end' }).catch(() => {})
      return
    }
    const ended = new Set<string>()
    const endType = (type: string): void => {
      if (!order.includes(type) || ended.has(type)) return
      ended.add(type)
      link.post({ type: 'sync-end', ty: guidBytes(type) })
    }
    // Sends in flight; awaited in batches (the channel's pace) and before every SYNC_END, so
    // that the pieces of a chunked record cannot trail the SYNC_END that follows it.
    const inflight: Promise<void>[] = []
    const flush = async (): Promise<void> => {
      await Promise.allSettled(inflight.splice(0))
    }
    let currentType: string | undefined
    for (const r of this.host.recordsForSync(since, order)) {
      if (link.closed) return
      if (currentType !== undefined && r.type !== currentType) {
        await flush()
        endType(currentType)
      }
      currentType = r.type
      inflight.push(this.sendRecord(link, r, true))
      if (inflight.length >= SYNC_BATCH) await flush()
    }
    await flush()
    for (const type of order) endType(type)
    await link.send({ type: 'sync-end' }).catch(() => {})
  }

  private onSyncEnd(link: Link, m: GraphMessageOf<'sync-end'>): void {
    if (m.ty) {
      this.host.emit('synchronized', { recordType: guidFromBytes(m.ty) })
      return
    }
    if (!this.syncing.delete(link)) return
    if (!this.host.hasProperties) {
      // The node answered before it had data itself: try another.
      link.close()
      return
    }
    this.host.fullSyncDone()
    this.startReconcile(link)
  }

  /** Range-based reconciliation (reconcile.ts) over a snapshot of this node's items. */
  private startReconcile(link: Link): void {
    const session = {
      reconciler: new Reconciler(new ArraySource(this.host.syncItems())),
      rounds: 0,
    }
    this.reconciling.set(link, session)
    link.post({ type: 'reconcile', b: encodeReconcile(session.reconciler.initiate()) })
  }

  private async onReconcile(link: Link, m: GraphMessageOf<'reconcile'>): Promise<void> {
    let session = this.reconciling.get(link)
    if (!session) {
      // The closing empty message of a reconciliation that already ended here: nothing to do.
      if (isEmptyReconcile(m.b)) return
      // The peer started (it may, once per link, after its sync): answer from a snapshot of ours.
      if (link.peerReconciled) {
        this.counters.malformed++
        return
      }
      link.peerReconciled = true
      session = { reconciler: new Reconciler(new ArraySource(this.host.syncItems())), rounds: 0 }
      this.reconciling.set(link, session)
    }
    let result: ReconcileResult
    try {
      result = session.reconciler.receive(decodeReconcile(m.b))
    } catch (err) {
      this.counters.malformed++
      this.reconciling.delete(link)
      log.debug('dropped a bad reconcile message', {
        peer: link.peerId,
        error: (err as Error).message,
      })
      return
    }
    // A lying peer could prolong the exchange without end: it gets a bounded number of rounds.
    if (++session.rounds > MAX_RECONCILE_ROUNDS) {
      this.reconciling.delete(link)
      return
    }
    if (result.reply) {
      link.post({ type: 'reconcile', b: encodeReconcile(result.reply) })
    } else {
      // Nothing more to say: an empty message (all skip) lets the peer drop its state too.
      this.reconciling.delete(link)
      if (!isEmptyReconcile(m.b)) {
        link.post({ type: 'reconcile', b: EMPTY_RECONCILE })
      }
    }
    // What this side needs, the other side learns as its `have` and pushes: nothing is
    // REQUESTed here, so each differing record crosses once.
    let sent = 0
    for (const item of result.have) {
      const record = this.host.recordByDigest(item.digest)
      if (!record || link.closed) continue
      const sending = this.sendRecord(link, record, true)
      if (++sent % SYNC_BATCH === 0) await sending.catch(() => {})
      else sending.catch(() => {})
    }
  }

  // ---- maintenance (MS-PPGRH 2.4 step 4) ------------------------------------------------

  /** Plans the next timed pass: 300 s, or 30 s while the node has no neighbour. */
  private scheduleMaintenance(): void {
    if (this.stopped) return
    this.maintenanceTimer?.cancel()
    const alone = this.linksOf('neighbor').length === 0
    this.maintenanceTimer = this.clock.setTimeout(
      () => void this.maintain(true),
      alone ? MAINTENANCE_ALONE_MS : MAINTENANCE_MS,
    )
  }

  /** A pass soon after a neighbour came or went (only the urgent rules apply). */
  private kickMaintenance(): void {
    if (this.stopped || this.kickTimer) return
    this.kickTimer = this.clock.setTimeout(() => {
      this.kickTimer = undefined
      void this.maintain(false)
    }, MAINTENANCE_KICK_MS)
  }

  /**
   * MS-PPGRH 2.4 step 4: above the ideal count on the timer, drop the least useful link; with
   * none, below the minimum, or below the ideal on the timer, connect to a random known node.
   * (And the probe: see PROBE_PROBABILITY.)
   */
  private async maintain(onTimer: boolean): Promise<void> {
    if (this.stopped || this.maintaining) return
    this.maintaining = true
    try {
      const neighbours = this.linksOf('neighbor')
      const n = neighbours.length
      if (onTimer && n > IDEAL_NEIGHBORS) {
        const least = neighbours.reduce((a, b) => (b.utility < a.utility ? b : a))
        await least
          .send({ type: 'disconnect', why: 'least-useful', r: this.referralsFor(least) })
          .catch(() => {})
        least.close()
      } else if (
        n < MIN_NEIGHBORS ||
        (onTimer && n < IDEAL_NEIGHBORS) ||
        (onTimer && n < MAX_NEIGHBORS && this.random.float() < this.probeProbability)
      ) {
        const connected = await this.connectToKnownNode()
        if (onTimer && !connected && this.linksOf('neighbor').length === 0 && this.host.ready) {
          this.host.emit('connection-required', {})
        }
      }
    } finally {
      this.maintaining = false
      if (onTimer) this.scheduleMaintenance()
    }
  }

  /**
   * Connects to a random referral that is not a neighbour. A failed one stays known but moves
   * to the oldest end of the list (a node cut off by a partition is wanted again once it heals).
   */
  private async connectToKnownNode(): Promise<boolean> {
    // MS-PPGRH 2.4 step 4: a random node from the presence, contact or referral lists.
    const neighbours = new Set(this.linksOf('neighbor').map((l) => l.peerId))
    const known = [...this.referrals, ...this.host.presenceNodes()]
    const candidates = known.filter(
      (r) => !neighbours.has(r.peerId) && r.peerId !== this.host.peerId,
    )
    if (candidates.length === 0 || !this.host.ready) return false
    const pick = candidates[this.random.int(candidates.length)]!
    try {
      await this.connect({ address: pick.address, port: pick.port, peerId: pick.peerId })
      return true
    } catch (err) {
      const i = this.referrals.indexOf(pick)
      if (i >= 0) this.referrals.unshift(...this.referrals.splice(i, 1))
      log.debug('maintenance connect failed', {
        peer: pick.peerId,
        error: (err as Error).message,
      })
      return false
    }
  }

  /** MS-PPGRH 2.4 partition repair: connects to a contact that saw another signature. */
  repairPartition(contact: { peerId: string; address: string; port: number }): void {
    this.counters.partitionRepairs++
    this.connect(contact).catch((err: unknown) =>
      log.debug('partition repair connect failed', {
        peer: contact.peerId,
        error: (err as Error).message,
      }),
    )
  }

  // ---- referrals ------------------------------------------------------------------------

  private learnReferrals(list: Referral[]): void {
    for (const r of list) {
      if (r.peerId === this.host.peerId) continue
      const i = this.referrals.findIndex((x) => x.peerId === r.peerId)
      if (i >= 0) this.referrals.splice(i, 1)
      this.referrals.push(r)
    }
    if (this.referrals.length > MAX_REFERRAL_LIST) {
      this.referrals.splice(0, this.referrals.length - MAX_REFERRAL_LIST)
    }
  }

  /** Up to 10 neighbours' listen addresses, for WELCOME, REFUSE and DISCONNECT. */
  private referralsFor(except: Link): [string, string, number][] {
    const out: Referral[] = []
    for (const l of this.linksOf('neighbor')) {
      if (l === except || l.peerId === except.peerId) continue
      for (const a of l.addresses.slice(0, 1)) out.push({ peerId: l.peerId, ...a })
    }
    return out.slice(0, MAX_REFERRALS).map(fromReferral)
  }

  /** Known referrals (MS-PPGRH 2.4 referral list), newest last. */
  referralList(): readonly Referral[] {
    return this.referrals
  }

  // ---- data and lifecycle ---------------------------------------------------------------

  /** Sends application data on a neighbour or direct connection (PT2PT). */
  async sendData(connectionId: string, dataType: string, data: Uint8Array): Promise<void> {
    const link = this.links.get(connectionId)
    if (!link || !link.established) {
      throw new PeerError('PEER_E_CONNECTION_NOT_FOUND', `no connection ${connectionId}`)
    }
    await link.send({ type: 'data', ty: guidBytes(dataType), b: data })
  }

  link(connectionId: string): Link | undefined {
    return this.links.get(connectionId)
  }

  /** Closes a link in order: DISCONNECT (application), then the channel. */
  async closeLink(link: Link): Promise<void> {
    await link
      .send({
        type: 'disconnect',
        why: 'application',
        r: link.kind === 'neighbor' ? this.referralsFor(link) : [],
      })
      .catch(() => {})
    link.close()
  }

  /**
   * Ends everything with `peerId`: its links in order, then the secure connection under them,
   * so that a new link needs a new handshake (and so a new authentication). Returns how many
   * links closed.
   */
  async dropPeer(peerId: string, reason: PeerError): Promise<number> {
    const links = [...this.links.values()].filter((l) => l.peerId === peerId)
    await Promise.all(links.map((l) => this.closeLink(l)))
    this.connections.get(peerId)?.close(reason)
    return links.length
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.maintenanceTimer?.cancel()
    this.kickTimer?.cancel()
    for (const pull of this.pulls.values()) pull.timer?.cancel()
    this.pulls.clear()
    for (const timer of this.restrictedTimers.values()) timer.cancel()
    this.restrictedTimers.clear()
    for (const [id, p] of this.pending) {
      p.stopWaiting()
      p.reject(new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'the graph is closing'))
      this.pending.delete(id)
    }
    for (const link of this.linksOf('neighbor')) {
      await link
        .send({ type: 'disconnect', why: 'leaving', r: this.referralsFor(link) })
        .catch(() => {})
    }
    await this.connections.stop()
  }

  private newConnectionId(): string {
    return toHex(this.random.bytes(8))
  }
}

/** The provider's part in every handshake: its payload, and its check of the other side. */
/** The Noise prologue context of a graph's connections. */
export function graphContext(graphId: string): string {
  return `graph:${graphId}`
}

function connectionSecurity(
  provider: GraphSecurityProvider | undefined,
  restrict: (remote: RemotePeer) => void,
): {
  payload?: () => Uint8Array | undefined
  authorize?: (remote: RemotePeer) => Promise<void>
} {
  if (!provider) return {}
  const out: ReturnType<typeof connectionSecurity> = {}
  if (provider.connectionPayload) out.payload = () => provider.connectionPayload!()
  if (provider.authenticateConnection) {
    out.authorize = async (remote) => {
      const credentials = {
        peerId: remote.peerName,
        publicKey: remote.publicKey,
        payload: remote.payload,
      }
      let reason = 'the security provider refused it'
      let verdict: ConnectionVerdict = false
      try {
        verdict = await provider.authenticateConnection!(credentials)
      } catch (err) {
        reason = (err as Error).message
      }
      if (verdict === 'restricted') restrict(remote)
      if (verdict === true || verdict === 'restricted') return
      try {
        provider.authenticationFailed?.(credentials, reason)
      } catch (err) {
        log.warn('authenticationFailed threw', { error: (err as Error).message })
      }
      throw new PeerError(
        'PEER_E_CONNECTION_NOT_AUTHENTICATED',
        `${remote.peerName} is not authenticated for this graph: ${reason}`,
      )
    }
  }
  return out
}

/** A reconcile message with no ranges: "all skip, I am done". */
const EMPTY_RECONCILE = encodeReconcile({ ranges: [] })

function isEmptyReconcile(b: Uint8Array): boolean {
  return Buffer.compare(b, EMPTY_RECONCILE) === 0
}

function nodeIdBytes(hex: string): Uint8Array {
  const b = fromHex(hex)
  if (!b || b.length !== NODE_ID_BYTES) throw new PeerError('E_UNEXPECTED', 'bad node id')
  return b
}

function guidBytes(g: string): Uint8Array {
  return fromHex(g.replace(/-/g, ''))!
}
