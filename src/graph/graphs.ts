/**
 * GraphManager (`node.graphs`): creates, opens and deletes a node's graphs. Each graph has one
 * database per local peer (DESIGN.md section 3) under `<dataDir>/graphs/`, named from the
 * graph id and peer id so that neither needs to be a valid file name.
 */
import { createHash } from 'node:crypto'
import { access, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import type { Identity } from '../identity/identity.ts'
import type { PortHubs } from '../transport/port-hub.ts'
import type { StreamTransport } from '../transport/types.ts'
import { PeerGraph, type GraphOrigin, type GraphTuning } from './graph.ts'
import {
  checkGraphId,
  createProperties,
  parseStoredProperties,
  type GraphCreateProperties,
  type GraphProperties,
} from './properties.ts'
import { parseGuid } from './records.ts'
import type { GraphSecurityProvider } from './security.ts'
import { RecordStore } from './store.ts'

export interface GraphManagerContext {
  /** Folder holding the graph databases. */
  dir: string
  clock: Clock
  random: Random
  /** The peer id a graph uses when the call names none: the node's identity. */
  defaultPeerId: () => string
  /** The node's identity of that peer name, whose key secures the graph's connections. */
  identityOf: (peerId: string) => Identity | undefined
  /** The node's stream transport (TCP, or the simulator's), made on first use. */
  streams: () => StreamTransport
  /** The listening ports its graphs share, so graphs and groups can listen on one port. */
  hubs?: () => PortHubs
}

export interface GraphCreateOptions extends GraphCreateProperties {
  /** The local peer id in this graph; the node's identity by default. */
  peerId?: string
  security?: GraphSecurityProvider
  tuning?: GraphTuning
}

export interface GraphOpenOptions {
  peerId?: string
  /** Record types to synchronise first, in this order (others follow in the default order). */
  recordTypeSyncPrecedence?: readonly string[]
  /** Must be the provider the graph was created with. */
  security?: GraphSecurityProvider
  tuning?: GraphTuning
}

/** Longest record-type precedence list (ours). */
export const MAX_SYNC_PRECEDENCE = 64

const NO_PROVIDER = ''

export class GraphManager {
  private readonly ctx: GraphManagerContext
  /** Open graphs by database file. */
  private readonly open_ = new Map<string, PeerGraph>()

  constructor(ctx: GraphManagerContext) {
    this.ctx = ctx
  }

  /**
   * Creates a graph, offline and synchronized at once (windows-api.md section 1).
   * PEER_E_DATABASE_ALREADY_PRESENT when this peer already has a database for the graph.
   */
  async create(options: GraphCreateOptions): Promise<PeerGraph> {
    const peerId = this.peerIdOf(options.peerId)
    const props = createProperties(options, peerId)
    const file = await this.fileOf(props.graphId, peerId)
    // From here to track() nothing awaits, so two creates cannot both succeed.
    this.checkNotOpen(file, props.graphId)
    const { store, created } = RecordStore.open(file, {
      graphId: props.graphId,
      peerId,
      create: true,
    })
    if (!created) {
      store.close()
      throw new PeerError(
        'PEER_E_DATABASE_ALREADY_PRESENT',
        `graph "${props.graphId}" already has a database for ${peerId}: open it, or delete it first`,
      )
    }
    store.setMeta('properties', JSON.stringify(props))
    store.setMeta('security', options.security?.name ?? NO_PROVIDER)
    const graph = this.track(file, store, 'created', props, options.security, [], options.tuning)
    try {
      await graph.initialize()
    } catch (err) {
      await graph.close()
      await this.removeFiles(file)
      throw err
    }
    return graph
  }

  /**
   * Opens a graph. An existing database is synchronized at once; a new one is created empty
   * (`graph.dataCreated`, Windows' PEER_S_GRAPH_DATA_CREATED) and is not ready until its first
   * sync with a node of the graph.
   */
  async open(graphId: string, options: GraphOpenOptions = {}): Promise<PeerGraph> {
    checkGraphId(graphId)
    const peerId = this.peerIdOf(options.peerId)
    const precedence = (options.recordTypeSyncPrecedence ?? []).map((t) =>
      parseGuid(t, 'a record type in recordTypeSyncPrecedence'),
    )
    if (precedence.length > MAX_SYNC_PRECEDENCE) {
      throw new PeerError(
        'E_INVALIDARG',
        `recordTypeSyncPrecedence lists at most ${MAX_SYNC_PRECEDENCE} types`,
      )
    }
    const file = await this.fileOf(graphId, peerId)
    this.checkNotOpen(file, graphId)
    const { store, created } = RecordStore.open(file, { graphId, peerId, create: true })
    const stored = store.getMeta('security')
    const provider = options.security?.name ?? NO_PROVIDER
    if (stored !== undefined && stored !== provider) {
      store.close()
      throw new PeerError(
        'E_INVALIDARG',
        `graph "${graphId}" was created with security provider "${stored || 'none'}", ` +
          `not "${provider || 'none'}"`,
      )
    }
    if (created || stored === undefined) store.setMeta('security', provider)
    const props = parseStoredProperties(store.getMeta('properties'))
    return this.track(file, store, 'opened', props, options.security, precedence, options.tuning)
  }

  /** Deletes a graph's database for a peer; the graph must be closed (PEER_E_GRAPH_IN_USE). */
  async delete(graphId: string, options: { peerId?: string } = {}): Promise<void> {
    checkGraphId(graphId)
    const file = await this.fileOf(graphId, this.peerIdOf(options.peerId))
    if (this.open_.has(file)) {
      throw new PeerError('PEER_E_GRAPH_IN_USE', `graph "${graphId}" is open: close it first`)
    }
    if (!(await exists(file))) {
      throw new PeerError('PEER_E_DATABASE_NOT_PRESENT', `graph "${graphId}" has no database here`)
    }
    await this.removeFiles(file)
  }

  private async removeFiles(file: string): Promise<void> {
    for (const suffix of ['', '-wal', '-shm']) await rm(file + suffix, { force: true })
  }

  /** Whether this node holds a database of `graphId` for the peer (open or not). */
  async exists(graphId: string, options: { peerId?: string } = {}): Promise<boolean> {
    checkGraphId(graphId)
    return exists(await this.fileOf(graphId, this.peerIdOf(options.peerId)))
  }

  /** The graphs open now. */
  list(): PeerGraph[] {
    return [...this.open_.values()]
  }

  /** Closes every open graph (the node is stopping). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open_.values()].map((g) => g.close()))
  }

  private track(
    file: string,
    store: RecordStore,
    origin: GraphOrigin,
    properties: GraphProperties | undefined,
    security: GraphSecurityProvider | undefined,
    precedence: readonly string[],
    tuning: GraphTuning | undefined,
  ): PeerGraph {
    const graph = new PeerGraph(
      {
        clock: this.ctx.clock,
        random: this.ctx.random,
        peerId: store.getMeta('peerId')!,
        store,
        origin,
        properties,
        security,
        recordTypeSyncPrecedence: precedence,
        identity: this.ctx.identityOf(store.getMeta('peerId')!),
        streams: this.ctx.streams,
        ...(this.ctx.hubs ? { hubs: this.ctx.hubs } : {}),
        ...(tuning ? { tuning } : {}),
        onClosed: () => this.open_.delete(file),
      },
      store.getMeta('graphId')!,
    )
    this.open_.set(file, graph)
    return graph
  }

  private peerIdOf(given: string | undefined): string {
    if (given === undefined) return this.ctx.defaultPeerId()
    if (typeof given !== 'string' || given.length === 0 || given.length > 255) {
      throw new PeerError('E_INVALIDARG', 'peerId must be 1 to 255 characters')
    }
    return given
  }

  private checkNotOpen(file: string, graphId: string): void {
    if (this.open_.has(file)) {
      throw new PeerError(
        'PEER_E_DUPLICATE_GRAPH',
        `graph "${graphId}" is already open on this node for this peer`,
      )
    }
  }

  private async fileOf(graphId: string, peerId: string): Promise<string> {
    const peerDir = createHash('sha256').update(peerId, 'utf8').digest('hex').slice(0, 20)
    const name = createHash('sha256').update(graphId, 'utf8').digest('hex').slice(0, 32)
    const dir = join(this.ctx.dir, peerDir)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    return join(dir, `${name}.sqlite3`)
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}
