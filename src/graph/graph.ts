/**
 * PeerGraph: one graph as one local peer holds it (windows-api.md section 1). This part is the
 * local side: properties and status, the record calls with Windows' rules and error codes,
 * the security provider's secure and validate steps, deferred records, expiry and
 * AUTOREFRESH, peer time, search, database export and import, and events. Every change to the
 * store goes through `applyLocal` or `applyRemote` so the network side (neighbours, flooding,
 * sync) plugs in at one place.
 */
import type { Clock, Timer } from '../core/clock.ts'
import { PeerError, toPeerError } from '../core/errors.ts'
import { TypedEmitter, type EventOf, type SubscribeOptions } from '../core/events.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import type { Identity } from '../identity/identity.ts'
import type { PortHubs } from '../transport/port-hub.ts'
import type { StreamTransport } from '../transport/types.ts'
import { normalizeAttributes, type RecordAttributes } from './attributes.ts'
import {
  AUTOREFRESH_LEAD_MS,
  MAX_EXPIRY_SCAN_MS,
  MIN_AUTOREFRESH_LIFETIME_MS,
  MIN_EXPIRY_SCAN_MS,
  GRAPH_INFO_RECORD_TYPE,
  INTERNAL_RECORD_TYPES,
  MAX_MAX_RECORD_SIZE,
  MAX_NODE_ATTRIBUTES_CHARS,
  PRESENCE_RECORD_TYPE,
  SYNC_BATCH,
  RECORD_FLAG_AUTOREFRESH,
  RECORD_FLAG_DELETED,
} from './constants.ts'
import {
  recordTypeFilter,
  type GraphEvents,
  type GraphEventType,
  type RecordChangeType,
} from './events.ts'
import {
  graphInfoRecord,
  graphInfoRecordId,
  isGraphInfo,
  propertiesFromGraphInfo,
} from './graph-info.ts'
import { GraphNetwork, type GraphHost, type ReceiveOutcome } from './network.ts'
import type { KeeperHost } from './keeper-host.ts'
import { PartitionKeeper } from './partition-keeper.ts'
import { PresenceKeeper } from './presence-keeper.ts'
import { toPeerRecord, type PeerRecord } from './peer-record.ts'
import { isPresence, nodeFromPresence, type NodeInfo } from './presence.ts'
import {
  GRAPH_SCOPES,
  mergeProperties,
  parseStoredProperties,
  type GraphScope,
  type GraphProperties,
  type MutableGraphProperties,
} from './properties.ts'
import {
  checkRecordShape,
  compareRecords,
  isDeleted,
  newRecordId,
  parseGuid,
  type GraphRecord,
} from './records.ts'
import { compileSearch, type SearchQuery } from './search.ts'
import type { GraphSecurityProvider, RecordChange } from './security.ts'
import type { GraphStatus } from './status.ts'
import { RecordStore } from './store.ts'

const log = createLogger('graph')

/** Records handled per expiry or refresh pass; the rest follow on the next pass. */
const LIFETIME_BATCH = 500
/** Records of an imported database validated, then stored in one transaction. */
const IMPORT_BATCH_RECORDS = 256

export interface RecordInput {
  /** The application's record type, a GUID. */
  type: string
  attributes?: RecordAttributes | string
  data?: Uint8Array
  /** Must be later than the current peer time. */
  expiresAt: Date
  /** Keep the record alive while this node is online (its lifetime must be >= 4 minutes). */
  autoRefresh?: boolean
}

/** Fields left out keep their values; the expiration may only stay or grow. */
export interface RecordUpdate {
  attributes?: RecordAttributes | string
  data?: Uint8Array
  expiresAt?: Date
}

export interface RecordFilter {
  type?: string
  creator?: string
}

export interface GraphEventOptions<
  K extends GraphEventType = GraphEventType,
> extends SubscribeOptions<GraphEvents, K> {
  /** Only record-changed and synchronized events of these record types (others pass). */
  recordTypes?: readonly string[]
}

/** How a graph was opened: import is allowed only on a graph opened, not created. */
export type GraphOrigin = 'created' | 'opened'

export interface GraphContext {
  clock: Clock
  random: Random
  peerId: string
  store: RecordStore
  origin: GraphOrigin
  /** Known at create and for an existing database; learnt from the first sync otherwise. */
  properties: GraphProperties | undefined
  security: GraphSecurityProvider | undefined
  recordTypeSyncPrecedence: readonly string[]
  /** The identity whose key secures this graph's connections (undefined: no networking). */
  identity: Identity | undefined
  /** The node's stream transport, made on first use. */
  streams: () => StreamTransport
  /** The listening ports the node's graphs share (port-hub.ts); each its own when left out. */
  hubs?: () => PortHubs
  /** Called once the graph has closed (the manager forgets it). */
  onClosed: () => void
  tuning?: GraphTuning
}

/**
 * Protocol settings for benchmarks and experiments; the defaults are the documented ones.
 * `announceThresholdBytes`: records above it are announced and pulled rather than flooded
 * (Infinity floods everything whole, as plain MS-PPGRH does).
 */
export interface GraphTuning {
  announceThresholdBytes?: number
  /** Chance of a probe connection on a timed maintenance pass (constants.ts PROBE_PROBABILITY). */
  probeProbability?: number
}

export interface ListenOptions {
  /** Default 127.0.0.1 (tests, demos); '::' or '0.0.0.0' for every interface. */
  host?: string
  /** 0 or left out: any free port (read it back from the result or localNode). */
  port?: number
  /** Windows' dwScope for this listen; the graph's scope by default. */
  scope?: GraphScope
  /**
   * Windows' dwScopeId: the interface of a link-local or site-local scope. 0 (all interfaces)
   * is refused for those two scopes, as PeerGraphListen refuses it.
   */
  scopeId?: number
}

export interface GraphConnectOptions {
  address: string
  port: number
  /** The peer that must answer at that address (Windows' pwzPeerId); any peer when left out. */
  peerId?: string
  signal?: AbortSignal
}

/** Windows' PEER_CONNECTION_INFO. */
export interface GraphConnectionInfo {
  connectionId: string
  kind: 'neighbor' | 'direct'
  nodeId: string
  peerId: string
  address: { address: string; port: number }
}

/** Windows' PEER_NODE_INFO for this node. */
export interface LocalNodeInfo {
  nodeId: string
  peerId: string
  addresses: { address: string; port: number }[]
  /** Free text from setNodeAttributes. */
  attributes: string | undefined
}

export class PeerGraph extends TypedEmitter<GraphEvents> {
  readonly graphId: string
  readonly peerId: string
  /**
   * Windows' PEER_S_GRAPH_DATA_CREATED from Open: the database holds no graph data yet (new,
   * or never reached by a sync), so the graph is not ready until its first sync.
   */
  readonly dataCreated: boolean
  readonly recordTypeSyncPrecedence: readonly string[]
  /** Windows' ullNodeId: this node's id in the graph, new each time the graph opens. */
  readonly nodeId: string
  private readonly clock: Clock
  private readonly random: Random
  private readonly store: RecordStore
  private readonly security: GraphSecurityProvider | undefined
  private readonly origin: GraphOrigin
  private readonly onClosed: () => void
  private readonly identity: Identity | undefined
  private readonly streams: () => StreamTransport
  private readonly hubs: (() => PortHubs) | undefined
  private network: GraphNetwork | undefined
  private readonly tuning: GraphTuning
  private props: GraphProperties | undefined
  private state: GraphStatus
  /** Peer time = clock + offset (MS-PPGRH 2.4; the offset follows neighbours once connected). */
  private peerTimeOffset = 0
  /** Local writes one at a time, so each builds on the version the previous one stored. */
  private writes: Promise<unknown> = Promise.resolve()
  private lifetimeTimer: Timer | undefined
  /** Signature, contacts and partition repair (partition-keeper.ts). */
  private readonly partitions: PartitionKeeper
  /** This node's presence (presence-keeper.ts). */
  private readonly presence: PresenceKeeper
  private lastLifetimePass = -Infinity
  private closing: Promise<void> | undefined
  private closed = false
  /** Ever connected to another node: DEFER_EXPIRATION holds expiry until then. */
  private everConnected: boolean
  /** DEFER_EXPIRATION as a group sets it (setDeferExpiration); else the Graph Info's. */
  private deferExpiration: boolean | undefined

  constructor(ctx: GraphContext, graphId: string) {
    super()
    this.graphId = graphId
    this.peerId = ctx.peerId
    this.clock = ctx.clock
    this.random = ctx.random
    this.store = ctx.store
    this.security = ctx.security
    this.origin = ctx.origin
    this.onClosed = ctx.onClosed
    this.identity = ctx.identity
    this.streams = ctx.streams
    this.hubs = ctx.hubs
    this.tuning = ctx.tuning ?? {}
    this.props = ctx.properties
    this.recordTypeSyncPrecedence = ctx.recordTypeSyncPrecedence
    this.dataCreated = ctx.origin === 'opened' && ctx.properties === undefined
    this.nodeId = Buffer.from(ctx.random.bytes(8)).toString('hex')
    this.everConnected = ctx.store.getMeta('everConnected') === '1'
    const keeperHost: KeeperHost = {
      clock: this.clock,
      random: this.random,
      peerId: this.peerId,
      nodeId: this.nodeId,
      store: this.store,
      props: () => this.props,
      closing: () => this.closing !== undefined,
      synchronized: () => this.state.synchronized,
      now: () => this.now(),
      applyLocal: (record, change) => this.applyLocal(record, change),
      serial: (fn) => this.serial(fn),
    }
    this.presence = new PresenceKeeper({
      ...keeperHost,
      listening: () => this.state.listening,
      addresses: () => this.localNode.addresses,
    })
    this.partitions = new PartitionKeeper({
      ...keeperHost,
      network: () => this.network,
      neighbourPeerIds: () => this.connections('neighbor').map((c) => c.peerId),
    })
    // windows-api.md: a graph is synchronized at Create, and at Open of a database that has
    // finished its first sync. One cut off in the middle of it (a crash) syncs again in full.
    this.state = {
      listening: false,
      hasConnections: false,
      synchronized:
        this.props !== undefined &&
        (ctx.origin === 'created' || ctx.store.getMeta('synchronized') === '1'),
    }
    if (this.state.synchronized) this.scheduleLifetimes()
  }

  /** @internal A new graph stores its Graph Info record (its properties, for others to sync). */
  async initialize(): Promise<void> {
    this.store.setMeta('synchronized', '1')
    await this.serial(() =>
      this.applyLocal(graphInfoRecord(this.props!, this.peerId, this.now(), undefined), 'added'),
    )
  }

  // ---- status, properties, peer time ----------------------------------------------------

  get status(): GraphStatus {
    return { ...this.state }
  }

  /** PEER_E_GRAPH_NOT_READY until the graph has its properties (created, or first synced). */
  get properties(): GraphProperties {
    this.checkOpen()
    if (!this.props) throw this.notReady()
    return { ...this.props }
  }

  /**
   * Changes the friendly name, comment, presence lifetime and presence maximum; the other
   * fields are ignored, as in Windows. Fires property-changed.
   */
  async setProperties(changes: Partial<MutableGraphProperties>): Promise<void> {
    this.checkReady()
    await this.serial(async () => {
      const next = mergeProperties(this.props!, changes)
      const base = this.store.getEntry(graphInfoRecordId(next.creatorId))?.record
      await this.applyLocal(graphInfoRecord(next, this.peerId, this.now(), base), 'updated')
    })
  }

  /** The graph's shared time (MS-PPGRH peer time). */
  peerTime(): Date {
    return new Date(this.now())
  }

  /** A local time expressed in peer time. */
  toPeerTime(date: Date): Date {
    return new Date(date.getTime() + this.peerTimeOffset)
  }

  /** A peer time expressed in local time. */
  fromPeerTime(date: Date): Date {
    return new Date(date.getTime() - this.peerTimeOffset)
  }

  private now(): number {
    return this.clock.now() + this.peerTimeOffset
  }

  // ---- records --------------------------------------------------------------------------

  /** Adds a record; returns its id. The infrastructure sets id, version, creator and times. */
  async addRecord(input: RecordInput): Promise<string> {
    this.checkReady()
    if (input === null || typeof input !== 'object') {
      throw new PeerError('E_INVALIDARG', 'addRecord needs { type, expiresAt, ... }')
    }
    const type = parseGuid(input.type, 'the record type')
    const attributes = normalizeAttributes(input.attributes)
    const data = checkData(input.data)
    const expiresAt = checkDate(input.expiresAt, 'expiresAt')
    return this.serial(async () => {
      const now = this.now()
      checkExpiry(expiresAt, now, input.autoRefresh === true)
      const record: GraphRecord = {
        type,
        id: newRecordId(this.peerId, this.random),
        version: 1,
        flags: input.autoRefresh === true ? RECORD_FLAG_AUTOREFRESH : 0,
        creator: this.peerId,
        modifiedBy: this.peerId,
        createdAt: now,
        modifiedAt: now,
        expiresAt,
        attributes,
        securityData: new Uint8Array(0),
        data,
      }
      await this.applyLocal(record, 'added')
      return record.id
    })
  }

  /** Updates attributes, data or expiration; the version goes up by one. */
  async updateRecord(recordId: string, changes: RecordUpdate): Promise<void> {
    this.checkReady()
    const id = parseGuid(recordId, 'the record id')
    if (changes === null || typeof changes !== 'object') {
      throw new PeerError('E_INVALIDARG', 'updateRecord needs { attributes?, data?, expiresAt? }')
    }
    const attributes =
      changes.attributes === undefined ? undefined : normalizeAttributes(changes.attributes)
    const data = changes.data === undefined ? undefined : checkData(changes.data)
    const expiresAt =
      changes.expiresAt === undefined ? undefined : checkDate(changes.expiresAt, 'expiresAt')
    await this.serial(async () => {
      const current = this.liveRecord(id)
      // windows-api.md: the expiration may only stay equal or increase.
      if (expiresAt !== undefined && expiresAt < current.expiresAt) {
        throw new PeerError(
          'PEER_E_INVALID_RECORD_EXPIRATION',
          `a record's expiration can only stay or grow: it is ${new Date(current.expiresAt).toISOString()}`,
        )
      }
      const now = Math.max(this.now(), current.modifiedAt)
      if (expiresAt !== undefined) checkExpiry(expiresAt, now, false)
      await this.applyLocal(
        {
          ...current,
          version: nextVersion(current),
          modifiedBy: this.peerId,
          modifiedAt: now,
          attributes: attributes ?? current.attributes,
          data: data ?? current.data,
          expiresAt: expiresAt ?? current.expiresAt,
        },
        'updated',
      )
    })
  }

  /**
   * Deletes a record. Graph-wide (the default) it becomes a tombstone that floods and stays
   * until it expires. `local: true` removes it here only; it comes back with the next sync.
   * Either way Get and Enum no longer show it.
   */
  async deleteRecord(recordId: string, options: { local?: boolean } = {}): Promise<void> {
    this.checkReady()
    const id = parseGuid(recordId, 'the record id')
    await this.serial(async () => {
      const current = this.liveRecord(id)
      if (options.local === true) {
        this.store.remove(id)
        this.emitRecord('deleted', current)
        return
      }
      await this.applyLocal(
        {
          ...current,
          version: nextVersion(current),
          flags: current.flags | RECORD_FLAG_DELETED,
          modifiedBy: this.peerId,
          modifiedAt: Math.max(this.now(), current.modifiedAt),
          // A tombstone needs only its identity and times: the payload goes.
          attributes: [],
          data: new Uint8Array(0),
        },
        'deleted',
      )
    })
  }

  getRecord(recordId: string): PeerRecord | undefined {
    this.checkReady()
    const record = this.store.get(parseGuid(recordId, 'the record id'))
    return record && !INTERNAL_RECORD_TYPES.includes(record.type) ? toPeerRecord(record) : undefined
  }

  /** Records of a type and/or creator (ANDed), as Windows' EnumRecords. */
  *records(filter: RecordFilter = {}): IterableIterator<PeerRecord> {
    this.checkReady()
    const type = filter.type === undefined ? undefined : parseGuid(filter.type, 'the record type')
    for (const r of this.store.list({ type, creator: filter.creator })) yield toPeerRecord(r)
  }

  /**
   * Records matching a `<peersearch>` query or its typed form. An invalid query throws
   * PEER_E_INVALID_SEARCH from this call.
   */
  search(query: SearchQuery | string): PeerRecord[] {
    this.checkReady()
    const { sql, params } = compileSearch(query)
    return this.store.search(sql, params).map(toPeerRecord)
  }

  /**
   * @internal For Grouping's own records (fixed ids, reserved types): builds the next version
   * of record `id` from the stored copy (undefined when none) and stores it as a local change.
   */
  async publishRecord(
    id: string,
    build: (current: GraphRecord | undefined, now: number) => GraphRecord,
  ): Promise<void> {
    this.checkReady()
    await this.serial(async () => {
      const current = this.store.getEntry(id)?.record
      await this.applyLocal(build(current, this.now()), current ? 'updated' : 'added')
    })
  }

  /** Live records. */
  get recordCount(): number {
    this.checkReady()
    return this.store.count()
  }

  /**
   * Re-validates deferred records (Windows' PeerGraphValidateDeferredRecords): those of
   * `recordIds`, or every one when left out; ids of records that are not deferred are passed
   * over. Accepted ones appear (record-changed), rejected ones are dropped. Returns how many
   * appeared. E_INVALIDARG for an id that is no GUID.
   */
  async validateDeferredRecords(recordIds?: readonly string[]): Promise<number> {
    this.checkReady()
    const ids: unknown = recordIds
    if (ids !== undefined && !Array.isArray(ids)) {
      throw new PeerError('E_INVALIDARG', 'validateDeferredRecords takes a list of record ids')
    }
    const only = recordIds && new Set(recordIds.map((id) => parseGuid(id, 'a record id')))
    return this.serial(async () => {
      let accepted = 0
      for (const record of this.store.deferred()) {
        if (only && !only.has(record.id)) continue
        const verdict = await this.validate(record, isDeleted(record) ? 'deleted' : 'updated')
        if (this.closed) break
        if (verdict === 'reject') this.store.remove(record.id)
        if (verdict !== 'accept') continue
        this.store.setDeferred(record.id, false)
        accepted++
        this.emitRecord(
          isDeleted(record) ? 'deleted' : record.version > 1 ? 'updated' : 'added',
          record,
        )
      }
      return accepted
    })
  }

  /**
   * @internal For a security provider: every stored copy whose last change `peerId` made,
   * tombstones and Graphing's own records included, deferred ones not.
   */
  storedRecordsModifiedBy(peerId: string): GraphRecord[] {
    this.checkOpen()
    return [...this.store.list({ modifiedBy: peerId, includeDeleted: true, includeInternal: true })]
  }

  /**
   * @internal For a security provider whose verdicts changed (a revocation): validates again
   * every stored copy whose last change `peerId` made and removes here those it now rejects
   * (record-changed deleted for the ones shown). Returns how many went.
   */
  async revalidateModifiedBy(peerId: string): Promise<number> {
    this.checkOpen()
    return this.serial(async () => {
      let removed = 0
      const records = this.store.list({
        modifiedBy: peerId,
        includeDeleted: true,
        includeDeferred: true,
        includeInternal: true,
      })
      for (const record of records) {
        const verdict = await this.validate(record, isDeleted(record) ? 'deleted' : 'updated')
        if (this.closed) break
        if (verdict !== 'reject') continue
        const shown = this.store.get(record.id) !== undefined
        this.store.remove(record.id)
        removed++
        if (shown) this.emitRecord('deleted', record)
      }
      return removed
    })
  }

  /**
   * Stores a record made here: the provider secures it, then validates it like any other
   * (windows-api.md: validation runs locally and on every receiver).
   */
  private async applyLocal(record: GraphRecord, change: RecordChange): Promise<void> {
    if (this.security) record.securityData = await this.security.secureRecord(record, change)
    this.checkOpen()
    checkRecordShape(record, this.props!.maxRecordSize)
    const verdict = await this.validate(record, change)
    this.checkOpen()
    if (verdict === 'reject') {
      throw new PeerError(
        'PEER_E_INVALID_RECORD',
        `the security provider refused this ${change} record`,
      )
    }
    const { previous } = this.store.put(record, {
      deferred: verdict === 'defer',
      receivedAt: this.clock.now(),
    })
    if (verdict === 'accept') {
      this.afterStore(record, change, previous)
      this.network?.flood(record)
    }
  }

  /**
   * A record from a neighbour (flood or sync): the structural checks, the conflict order
   * against the stored copy, then the provider's validation; stored if it wins. Never throws:
   * the outcome says what happened, so the network side can ACK, forward or answer.
   */
  private receiveRecord(record: GraphRecord): Promise<ReceiveOutcome> {
    return this.serial(async (): Promise<ReceiveOutcome> => {
      try {
        checkRecordShape(record, this.props?.maxRecordSize ?? MAX_MAX_RECORD_SIZE)
      } catch {
        return { outcome: 'invalid' }
      }
      // Already expired here: nothing to keep (the sender's clock or ours is behind).
      if (record.expiresAt <= this.now()) return { outcome: 'unchanged' }
      const entry = this.store.getEntry(record.id)
      if (entry) {
        const order = compareRecords(record, entry.record)
        if (order === 0) return { outcome: 'unchanged' }
        if (order < 0) return { outcome: 'older', stored: entry.record }
        // MS-PPGRH 2.3: an expiry can never be shortened, not even by a newer version.
        if (record.expiresAt < entry.record.expiresAt) return { outcome: 'invalid' }
      }
      if (isGraphInfo(record)) {
        try {
          propertiesFromGraphInfo(record, this.graphId, this.props)
        } catch {
          return { outcome: 'invalid' }
        }
      }
      const live = entry && !entry.deferred && !isDeleted(entry.record) ? entry.record : undefined
      const change: RecordChange = isDeleted(record) ? 'deleted' : entry ? 'updated' : 'added'
      const verdict = await this.validate(record, change)
      if (this.closing) return { outcome: 'unchanged' }
      if (verdict === 'reject') return { outcome: 'invalid' }
      // A copy that cannot be validated yet never hides one that was, live or deleted (a
      // tombstone it replaced could not stop the record coming back): it is dropped, and comes
      // back with a later sync once its signer is known.
      if (verdict === 'defer' && entry && !entry.deferred) return { outcome: 'deferred' }
      const { outcome } = this.store.put(record, {
        deferred: verdict === 'defer',
        receivedAt: this.clock.now(),
      })
      if (verdict === 'defer') return { outcome: 'deferred' }
      if (outcome === 'older' || outcome === 'unchanged') return { outcome: 'unchanged' }
      // A tombstone of a record never seen live here changes nothing the application saw.
      if (!isDeleted(record) || live)
        this.afterStore(record, isDeleted(record) ? 'deleted' : live ? 'updated' : 'added', live)
      return { outcome }
    })
  }

  /** What follows a stored change: properties or a record event, and the expiry plan. */
  private afterStore(record: GraphRecord, change: RecordChange, previous?: GraphRecord): void {
    if (isGraphInfo(record)) {
      const props = propertiesFromGraphInfo(record, this.graphId, this.props)
      this.store.setMeta('properties', JSON.stringify(props))
      const first = this.props === undefined
      this.props = props
      if (!first) {
        this.emit('property-changed', {})
        this.propertiesChanged()
      }
    } else {
      this.emitRecord(change, record, previous)
    }
    this.scheduleLifetimes()
  }

  private async validate(record: GraphRecord, change: RecordChange) {
    if (!this.security) return 'accept'
    try {
      return await this.security.validateRecord(record, change)
    } catch (err) {
      log.warn('the security provider failed to validate a record: treated as invalid', {
        recordId: record.id,
        error: (err as Error).message,
      })
      return 'reject'
    }
  }

  private liveRecord(id: string): GraphRecord {
    const record = this.store.get(id)
    if (!record) throw new PeerError('PEER_E_RECORD_NOT_FOUND', `no record ${id} in this graph`)
    return record
  }

  /**
   * RECORD_CHANGED for the application's records; NODE_CHANGED for presence records, whose
   * `updated` means new addresses or attributes (an AUTOREFRESH alone changes nothing to tell).
   */
  private emitRecord(change: RecordChangeType, r: GraphRecord, previous?: GraphRecord): void {
    if (isPresence(r)) {
      const node = nodeFromPresence(r)
      if (!node) return
      if (change === 'updated' && previous) {
        const before = nodeFromPresence(previous)
        if (JSON.stringify(before) === JSON.stringify(node)) return
      }
      const nodeChange =
        change === 'added' ? 'connected' : change === 'updated' ? 'updated' : 'disconnected'
      this.emit('node-changed', { change: nodeChange, nodeId: node.nodeId, peerId: node.peerId })
      return
    }
    if (INTERNAL_RECORD_TYPES.includes(r.type)) return
    this.emit('record-changed', { change, recordId: r.id, recordType: r.type })
  }

  // ---- presence and nodes ---------------------------------------------------------------

  /**
   * Forces this node's presence on (Windows' SetPresence(TRUE)), whatever presenceMax says;
   * false returns to the graph's policy without withdrawing a presence already published.
   */
  async setPresence(on: boolean): Promise<void> {
    this.checkReady()
    if (typeof on !== 'boolean') throw new PeerError('E_INVALIDARG', 'setPresence takes a boolean')
    this.presence.forced = on
    await this.serial(() => this.presence.applyPolicy())
  }

  /** Sets this node's free-text attributes (undefined or null clears them); republishes presence. */
  async setNodeAttributes(text: string | null | undefined): Promise<void> {
    this.checkReady()
    if (text !== null && text !== undefined) {
      if (typeof text !== 'string' || text.length > MAX_NODE_ATTRIBUTES_CHARS) {
        throw new PeerError(
          'E_INVALIDARG',
          `node attributes are text of at most ${MAX_NODE_ATTRIBUTES_CHARS} characters`,
        )
      }
    }
    this.presence.attributes = text ?? undefined
    await this.serial(() => this.presence.refresh())
  }

  /**
   * Windows' GetNodeInfo(nodeId): a node that publishes presence, by its node id (16 hex
   * digits); PEER_E_NOT_FOUND when none does. This node's own info is `localNode`.
   */
  getNodeInfo(nodeId: string): NodeInfo {
    if (typeof nodeId !== 'string' || !/^[0-9a-f]{16}$/i.test(nodeId)) {
      throw new PeerError('E_INVALIDARG', 'a node id is 16 hexadecimal digits')
    }
    const wanted = nodeId.toLowerCase()
    const node = this.nodes().find((n) => n.nodeId === wanted)
    if (!node) throw new PeerError('PEER_E_NOT_FOUND', `no node ${nodeId} publishes presence`)
    return node
  }

  /**
   * Nodes that publish presence (Windows' EnumNodes), optionally of one peer. Nodes without
   * presence are not listed. PEER_E_PRESENCE_DISABLED when the graph publishes none
   * (presenceMax 0 and no node forced its presence).
   */
  nodes(filter: { peerId?: string } = {}): NodeInfo[] {
    this.checkReady()
    const all = this.presence.nodes()
    const nodes = all.filter((n) => filter.peerId === undefined || n.peerId === filter.peerId)
    if (this.props!.presenceMax === 0 && all.length === 0) {
      throw new PeerError(
        'PEER_E_PRESENCE_DISABLED',
        'this graph publishes no presence (presenceMax 0): set presenceMax, or setPresence(true)',
      )
    }
    return nodes
  }

  // ---- expiry and AUTOREFRESH -----------------------------------------------------------

  /** Plans the next expiry/refresh pass: at the next due time, 15 s to 24 h apart (MS-PPGRH 2.5). */
  private scheduleLifetimes(): void {
    if (this.closing || !this.state.synchronized) return
    const dueTimes = [this.store.nextAutoRefresh(this.peerId)]
      .map((t) => (t === undefined ? undefined : t - AUTOREFRESH_LEAD_MS))
      .concat(this.expiryHeld() ? [] : [this.store.nextExpiry()])
      .filter((t): t is number => t !== undefined)
    this.lifetimeTimer?.cancel()
    this.lifetimeTimer = undefined
    if (dueTimes.length === 0) return
    const now = this.now()
    const due = Math.max(Math.min(...dueTimes), this.lastLifetimePass + MIN_EXPIRY_SCAN_MS)
    const delay = Math.min(Math.max(due - now, 0), MAX_EXPIRY_SCAN_MS)
    this.lifetimeTimer = this.clock.setTimeout(() => {
      this.lifetimeTimer = undefined
      this.serial(() => this.lifetimePass()).catch((err: unknown) => {
        if (!this.closing) log.warn('expiry pass failed', { error: (err as Error).message })
      })
    }, delay)
  }

  /**
   * @internal A group's DEFER_EXPIRATION, which its owner may change (PeerGroupSetProperties
   * changes dwFlags); a plain graph's is fixed at creation (PeerGraphSetProperties ignores it).
   */
  setDeferExpiration(on: boolean): void {
    if (this.deferExpiration === on) return
    this.deferExpiration = on
    this.scheduleLifetimes()
  }

  /** DEFER_EXPIRATION: nothing expires until the graph has connected to another node. */
  private expiryHeld(): boolean {
    return (this.deferExpiration ?? this.props?.deferExpiration) === true && !this.everConnected
  }

  private async lifetimePass(): Promise<void> {
    if (this.closing) return
    const now = this.now()
    this.lastLifetimePass = now
    // MS-PPGRH 2.4: refresh about 20 s before expiry, for the same lifetime again.
    for (const r of this.store.autoRefreshDue(
      this.peerId,
      now + AUTOREFRESH_LEAD_MS,
      LIFETIME_BATCH,
    )) {
      const lifetime = r.expiresAt - r.modifiedAt
      const modifiedAt = Math.max(now, r.modifiedAt)
      await this.applyLocal(
        {
          ...r,
          version: nextVersion(r),
          modifiedBy: this.peerId,
          modifiedAt,
          expiresAt: Math.max(modifiedAt + lifetime, r.expiresAt),
        },
        'updated',
      ).catch((err: unknown) =>
        log.warn('auto-refresh failed', { recordId: r.id, error: (err as Error).message }),
      )
      if (this.closing) return
    }
    if (!this.expiryHeld()) {
      for (const r of this.store.expired(now, LIFETIME_BATCH)) {
        this.store.remove(r.id)
        if (!isDeleted(r)) this.emitRecord('expired', r)
      }
    }
    this.scheduleLifetimes()
  }

  // ---- the network ----------------------------------------------------------------------

  /** Windows' GetNodeInfo(0): this node's id, peer id and listening addresses. */
  get localNode(): LocalNodeInfo {
    return {
      nodeId: this.nodeId,
      peerId: this.peerId,
      addresses: this.network?.reachable ?? [],
      attributes: this.presence.attributes,
    }
  }

  /**
   * Listens for neighbours and direct connections (Windows' PeerGraphListen). Not before the
   * first sync (PEER_E_GRAPH_NOT_READY); once only (PEER_E_ALREADY_LISTENING).
   */
  async listen(options: ListenOptions = {}): Promise<{ address: string; port: number }> {
    this.checkReady()
    const scope = options.scope ?? this.props!.scope
    if (!GRAPH_SCOPES.includes(scope)) {
      throw new PeerError('E_INVALIDARG', `scope must be one of ${GRAPH_SCOPES.join(', ')}`)
    }
    const scopeId = options.scopeId ?? 0
    if (!Number.isInteger(scopeId) || scopeId < 0) {
      throw new PeerError('E_INVALIDARG', 'scopeId must be an interface index >= 0')
    }
    // windows-api.md: scopeId 0 means all interfaces, but is refused for site- and link-local.
    if ((scope === 'link-local' || scope === 'site-local') && scopeId === 0) {
      throw new PeerError(
        'E_INVALIDARG',
        `a ${scope} listen needs the interface's scopeId; 0 (all interfaces) is not allowed`,
      )
    }
    if (
      options.port !== undefined &&
      (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535)
    ) {
      throw new PeerError('E_INVALIDARG', `port must be 0 to 65535, got ${String(options.port)}`)
    }
    const address = await this.net().listen({ host: options.host, port: options.port ?? 0 })
    await this.serial(async () => {
      // A presence published before listening (forced) gets the addresses now.
      await this.presence.refresh()
      await this.presence.applyPolicy()
    })
    this.partitions.start()
    return { ...address }
  }

  /**
   * Connects to a node of the graph as a neighbour and synchronises with it. Resolves with the
   * connection id once a node has WELCOMEd this one; neighbor-connection reports it too
   * (connected, or failed with the reason). A node that is full REFUSEs with referrals, which
   * are tried next (each refusal is a failed event naming the next attempt). PEER_E_ALREADY_EXISTS when already a neighbour,
   * PEER_E_CONNECTION_REFUSED (busy: try one of its referrals), PEER_E_CONNECTION_FAILED,
   * PEER_E_CONNECTION_NOT_AUTHENTICATED (another peer answered), PEER_E_TIMEOUT, E_ABORT.
   */
  async connect(options: GraphConnectOptions): Promise<string> {
    this.checkOpen()
    const { address, port } = checkAddress(options)
    if (options.peerId === this.peerId) {
      throw new PeerError('PEER_E_CONNECT_SELF', 'a graph node cannot connect to itself')
    }
    try {
      const link = await this.net().connectFollowingReferrals({ ...options, address, port })
      return link.connectionId
    } catch (err) {
      const error = toPeerError(
        err,
        'PEER_E_CONNECTION_FAILED',
        `cannot connect to ${address}:${port}`,
      )
      this.emit('neighbor-connection', {
        status: 'failed',
        connectionId: '',
        nodeId: '',
        peerId: options.peerId ?? '',
        failure: error.code,
      })
      throw error
    }
  }

  /** Windows' EnumConnections: neighbour or direct connections now open. */
  connections(kind: 'neighbor' | 'direct' = 'neighbor'): GraphConnectionInfo[] {
    this.checkOpen()
    return (this.network?.linksOf(kind) ?? []).map((l) => ({
      connectionId: l.connectionId,
      kind: l.kind,
      nodeId: l.nodeId,
      peerId: l.peerId,
      address: { ...l.connection.address },
    }))
  }

  /**
   * Sends application data on a neighbour or direct connection (Windows' SendData): resolves
   * when the network has it, with no acknowledgement. PEER_E_CONNECTION_NOT_FOUND for an
   * unknown id.
   */
  async sendData(connectionId: string, dataType: string, data: Uint8Array): Promise<void> {
    this.checkOpen()
    const type = parseGuid(dataType, 'the data type')
    if (!(data instanceof Uint8Array))
      throw new PeerError('E_INVALIDARG', 'data must be a Uint8Array')
    if (!this.network)
      throw new PeerError('PEER_E_CONNECTION_NOT_FOUND', `no connection ${connectionId}`)
    await this.network.sendData(connectionId, type, data)
  }

  /**
   * Opens a direct connection to a node of the graph (Windows' OpenDirectConnection), for
   * sendData beside the neighbour links; both sides see direct-connection (connected).
   * PEER_E_CONNECT_SELF for this node's own peer id; the connect errors otherwise.
   */
  async openDirectConnection(
    peerId: string,
    to: { address: string; port: number; signal?: AbortSignal },
  ): Promise<string> {
    this.checkReady()
    if (typeof peerId !== 'string' || peerId.length === 0) {
      throw new PeerError('E_INVALIDARG', 'openDirectConnection needs the peer id to reach')
    }
    if (peerId === this.peerId) {
      throw new PeerError('PEER_E_CONNECT_SELF', 'a node cannot open a direct connection to itself')
    }
    const { address, port } = checkAddress(to ?? ({} as GraphConnectOptions))
    try {
      const link = await this.net().connect({ address, port, peerId, signal: to.signal }, 'direct')
      return link.connectionId
    } catch (err) {
      const error = toPeerError(err, 'PEER_E_CONNECTION_FAILED', `cannot reach ${peerId}`)
      this.emit('direct-connection', {
        status: 'failed',
        connectionId: '',
        nodeId: '',
        peerId,
        failure: error.code,
      })
      throw error
    }
  }

  /** Ends a direct connection (both sides see direct-connection: disconnected). */
  async closeDirectConnection(connectionId: string): Promise<void> {
    this.checkOpen()
    const link = this.network?.link(connectionId)
    if (!link || link.kind !== 'direct' || !link.established) {
      throw new PeerError('PEER_E_CONNECTION_NOT_FOUND', `no direct connection ${connectionId}`)
    }
    await this.network!.closeLink(link)
  }

  /**
   * @internal Closes every connection (neighbour and direct) with `peerId` and the secure
   * channel under them; Grouping cuts off a revoked member this way. Returns how many closed.
   */
  async disconnectPeer(peerId: string, reason: string): Promise<number> {
    this.checkOpen()
    const error = new PeerError('PEER_E_CONNECTION_NOT_AUTHENTICATED', reason)
    return (await this.network?.dropPeer(peerId, error)) ?? 0
  }

  /** Messages dropped as malformed or invalid, and flooding counts (for tests and stats). */
  get counters(): Readonly<GraphNetwork['counters']> | undefined {
    return this.network?.counters
  }

  private net(): GraphNetwork {
    if (this.network) return this.network
    if (!this.identity) {
      throw new PeerError(
        'PEER_E_IDENTITY_NOT_FOUND',
        `graph "${this.graphId}" has peer id ${this.peerId}, which is no identity of this node: ` +
          "its connections need that identity's key",
      )
    }
    this.network = new GraphNetwork({
      host: this.host(),
      identity: this.identity,
      streams: this.streams(),
      ...(this.hubs ? { hubs: this.hubs() } : {}),
      clock: this.clock,
      random: this.random,
      ...this.tuning,
      ...(this.security ? { security: this.security } : {}),
    })
    return this.network
  }

  /** The graph as the network side sees it (network.ts GraphHost). */
  private host(): GraphHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const graph = this
    return {
      graphId: this.graphId,
      peerId: this.peerId,
      nodeId: this.nodeId,
      recordTypeSyncPrecedence: this.recordTypeSyncPrecedence,
      get ready() {
        return graph.state.synchronized
      },
      get hasProperties() {
        return graph.props !== undefined
      },
      get maxRecordSize() {
        return graph.props?.maxRecordSize ?? MAX_MAX_RECORD_SIZE
      },
      get lastOnline() {
        const t = Number(graph.store.getMeta('lastOnline'))
        return Number.isFinite(t) && t > 0 ? t : undefined
      },
      get peerTimeOffset() {
        return graph.peerTimeOffset
      },
      set peerTimeOffset(v: number) {
        graph.peerTimeOffset = v
      },
      receiveRecord: (r) => this.receiveRecord(r),
      recordByDigest: (d) => this.store.getByDigest(d),
      syncItems: () => this.store.syncItems(),
      presenceNodes: () =>
        this.presence
          .nodes()
          .flatMap((n) => n.addresses.slice(0, 1).map((a) => ({ peerId: n.peerId, ...a }))),
      recordsForSync: (since, order) => this.recordsForSync(since, order),
      now: () => this.now(),
      setStatus: (change) => this.setStatus(change),
      emit: (type, data) => this.emit(type, data),
      fullSyncDone: () => this.fullSyncDone(),
      markOnline: () => {
        this.partitions.start()
        this.everConnected = true
        this.store.setMeta('everConnected', '1')
        this.store.setMeta('lastOnline', String(this.now()))
        this.scheduleLifetimes()
      },
    }
  }

  /** MS-PPGRH 2.4 Sync All order: Graph Info, presence, the precedence types, then the rest. */
  private *recordsForSync(
    since: number | undefined,
    order: readonly string[],
  ): Iterable<GraphRecord> {
    const first = [
      GRAPH_INFO_RECORD_TYPE,
      PRESENCE_RECORD_TYPE,
      ...order.filter((t) => !INTERNAL_RECORD_TYPES.includes(t)),
    ]
    for (const type of first) yield* this.syncPages({ type, since })
    yield* this.syncPages({ exceptTypes: first, since })
  }

  /** The store's sync pages one after the other (the database is free between pages). */
  private *syncPages(filter: {
    type?: string
    exceptTypes?: readonly string[]
    since: number | undefined
  }): Iterable<GraphRecord> {
    let after = 0
    for (;;) {
      if (this.closed) return
      const rows = this.store.syncPage(after, SYNC_BATCH, filter)
      for (const row of rows) yield row.record
      if (rows.length < SYNC_BATCH) return
      after = rows[rows.length - 1]!.seq
    }
  }

  private fullSyncDone(): void {
    if (this.state.synchronized) return
    if (!this.props) return
    this.store.setMeta('synchronized', '1')
    this.setStatus({ synchronized: true })
    this.scheduleLifetimes()
  }

  /** @internal After properties change (locally or by flood), presence follows the policy. */
  private propertiesChanged(): void {
    this.serial(() => this.presence.applyPolicy()).catch(() => undefined)
  }

  // ---- database export and import -------------------------------------------------------

  /** Writes a consistent copy of the database to `file`, overwriting it. */
  async exportDatabase(file: string): Promise<void> {
    this.checkReady()
    await this.store.backup(file)
  }

  /**
   * Merges an exported database into this graph (records win by the conflict order). Allowed
   * only on a graph that was opened, not created, and before it listens or connects
   * (PEER_E_GRAPH_IN_USE); the file must be of this graph and peer (PEER_E_INVALID_DATABASE).
   */
  async importDatabase(file: string): Promise<void> {
    this.checkOpen()
    if (this.origin !== 'opened' || this.state.listening || this.state.hasConnections) {
      throw new PeerError(
        'PEER_E_GRAPH_IN_USE',
        'import a database only into a graph opened with graphs.open, before listen or connect',
      )
    }
    if (typeof file !== 'string' || file.length === 0) {
      throw new PeerError('E_INVALIDARG', 'importDatabase needs the path of an exported database')
    }
    await this.serial(async () => {
      const { store: source } = RecordStore.open(file, {
        graphId: this.graphId,
        peerId: this.peerId,
        create: false,
      })
      let props: GraphProperties | undefined
      try {
        props = parseStoredProperties(source.getMeta('properties'))
        if (!props) {
          throw new PeerError('PEER_E_INVALID_DATABASE', `${file} holds no graph properties`)
        }
        // A malformed file changes nothing: every record's shape is checked first.
        for (const record of source.list({ includeDeleted: true, includeInternal: true })) {
          checkRecordShape(record, props.maxRecordSize)
        }
        // A file is no more trusted than a neighbour: the security provider validates every
        // record; what it rejects stays out, what it defers waits (validateDeferredRecords).
        // Validation may be asynchronous, so records are stored a batch at a time.
        let batch: { record: GraphRecord; verdict: 'accept' | 'defer' }[] = []
        const flush = (): void => {
          this.store.transaction(() => {
            for (const { record, verdict } of batch) {
              const stored = this.store.getEntry(record.id)
              // As in receiveRecord: a deferred copy never replaces an accepted one.
              if (verdict === 'defer' && stored && !stored.deferred) continue
              this.store.put(record, {
                receivedAt: this.clock.now(),
                deferred: verdict === 'defer',
              })
            }
          })
          batch = []
        }
        for (const record of source.list({ includeDeleted: true, includeInternal: true })) {
          // The change as receiveRecord names it for the same record from a neighbour.
          const change = isDeleted(record)
            ? 'deleted'
            : this.store.getEntry(record.id)
              ? 'updated'
              : 'added'
          const verdict = await this.validate(record, change)
          if (verdict !== 'reject') batch.push({ record, verdict })
          if (batch.length >= IMPORT_BATCH_RECORDS) flush()
        }
        flush()
        this.store.setMeta('properties', JSON.stringify(props))
        this.store.setMeta('synchronized', '1')
      } finally {
        source.close()
      }
      this.props = props
      if (!this.state.synchronized) this.setStatus({ synchronized: true })
      this.scheduleLifetimes()
    })
  }

  // ---- events and lifecycle -------------------------------------------------------------

  /**
   * Events as an async iterator (API.md `graph.events`), optionally of some types and, for
   * record-changed and synchronized, of some record types (Windows' pType filter).
   */
  override events<K extends GraphEventType = GraphEventType>(
    options: GraphEventOptions<K> = {},
  ): AsyncIterableIterator<EventOf<GraphEvents, K>> {
    const { recordTypes, filter, ...rest } = options
    const byType = recordTypeFilter(recordTypes?.map((t) => parseGuid(t, 'a record type filter')))
    return super.events({ ...rest, filter: (ev) => byType(ev) && (!filter || filter(ev)) })
  }

  private setStatus(change: Partial<GraphStatus>): void {
    const next = { ...this.state, ...change }
    if (
      next.listening === this.state.listening &&
      next.hasConnections === this.state.hasConnections &&
      next.synchronized === this.state.synchronized
    ) {
      return
    }
    this.state = next
    this.emit('status-changed', { status: { ...next } })
  }

  /** Closes the graph: timers stop, the database closes, subscriptions end. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.lifetimeTimer?.cancel()
      this.lifetimeTimer = undefined
      this.presence.stop()
      this.partitions.stop()
      await this.network
        ?.stop()
        .catch((err: unknown) =>
          log.warn('graph network stop failed', { error: (err as Error).message }),
        )
      await this.writes.catch(() => undefined)
      this.closed = true
      this.store.close()
      this.endSubscriptions()
      this.onClosed()
    })()
    return this.closing
  }

  get isClosed(): boolean {
    return this.closed
  }

  private serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.writes.then(() => {
      this.checkOpen()
      return fn()
    })
    this.writes = run.catch(() => undefined)
    return run
  }

  private checkOpen(): void {
    if (this.closed)
      throw new PeerError('PEER_E_INVALID_GRAPH', `graph "${this.graphId}" is closed`)
    if (this.closing) {
      throw new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', `graph "${this.graphId}" is closing`)
    }
  }

  private checkReady(): void {
    this.checkOpen()
    if (!this.state.synchronized) throw this.notReady()
  }

  private notReady(): PeerError {
    return new PeerError(
      'PEER_E_GRAPH_NOT_READY',
      `graph "${this.graphId}" has not synchronized yet: connect to a node of the graph first`,
    )
  }
}

function nextVersion(r: GraphRecord): number {
  return r.version + 1
}

function checkAddress(o: GraphConnectOptions): { address: string; port: number } {
  if (o === null || typeof o !== 'object' || typeof o.address !== 'string' || o.address === '') {
    throw new PeerError('E_INVALIDARG', 'connect needs { address, port }')
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65_535) {
    throw new PeerError('E_INVALIDARG', `port must be 1 to 65535, got ${String(o.port)}`)
  }
  return { address: o.address, port: o.port }
}

function checkData(data: unknown): Uint8Array {
  if (data === undefined) return new Uint8Array(0)
  if (!(data instanceof Uint8Array))
    throw new PeerError('E_INVALIDARG', 'record data must be a Uint8Array')
  return new Uint8Array(data)
}

function checkDate(d: unknown, what: string): number {
  if (!(d instanceof Date) || !Number.isFinite(d.getTime())) {
    throw new PeerError('E_INVALIDARG', `${what} must be a valid Date`)
  }
  return d.getTime()
}

/** windows-api.md: the expiration must be later than the current peer time. */
function checkExpiry(expiresAt: number, now: number, autoRefresh: boolean): void {
  if (expiresAt <= now) {
    throw new PeerError(
      'PEER_E_INVALID_RECORD_EXPIRATION',
      `the expiration ${new Date(expiresAt).toISOString()} is not later than the peer time ${new Date(now).toISOString()}`,
    )
  }
  // windows-api.md: keep an AUTOREFRESH record's expiration at least 4 minutes away.
  if (autoRefresh && expiresAt - now < MIN_AUTOREFRESH_LIFETIME_MS) {
    throw new PeerError(
      'PEER_E_INVALID_RECORD_EXPIRATION',
      'an autoRefresh record must expire at least 4 minutes from now (MIN_AUTOREFRESH_LIFETIME_MS)',
    )
  }
}
