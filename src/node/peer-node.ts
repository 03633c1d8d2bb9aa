/**
 * PeerNode: one process's peer entity. It owns the data directory, the clock and randomness
 * every component receives, and the lifecycle of the components. Many PeerNodes may live in
 * one process, each with its own data directory.
 */
import { join } from 'node:path'
import { systemClock, wholeMilliseconds, type Clock } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { systemRandom, type Random } from '../core/random.ts'
import { IdentityStore } from '../identity/store.ts'
import type { Identity } from '../identity/identity.ts'
import { createLogger } from '../core/log.ts'
import { GraphManager } from '../graph/graphs.ts'
import { GroupManager } from '../group/groups.ts'
import { PnrpService, type PnrpOptions } from '../pnrp/service.ts'
import { createNodeNetwork, type NodeNetwork } from '../transport/node-network.ts'
import { PortHubs } from '../transport/port-hub.ts'
import type { Network } from '../transport/types.ts'
import { resolveDataDir } from './home.ts'

const log = createLogger('node')

export interface PeerNodeOptions {
  /** Data directory; default $PEERINFRA_HOME or ~/.peerinfra. */
  dataDir?: string
  /** The identity this node acts as by default: a peer name or a classifier. */
  identity?: string
  /** Take part in PNRP with these options; without them the node starts no PNRP. */
  pnrp?: PnrpOptions
  /** Injected for tests and the simulator; the real clock, CSPRNG and sockets otherwise. */
  clock?: Clock
  random?: Random
  network?: Network
}

export class PeerNode {
  readonly dataDir: string
  readonly clock: Clock
  readonly random: Random
  readonly identities: IdentityStore
  /** Peer Graphing: create, open and delete graphs (databases under `<dataDir>/graphs`). */
  private readonly graphManager: GraphManager
  /** Peer Grouping: create, join, open and delete groups (state under `<dataDir>/groups`). */
  private readonly groupManager: GroupManager
  private readonly preferredIdentity: string | undefined
  private pnrpService: PnrpService | undefined
  /** The sockets this node opened itself (none when the caller passed a network). */
  private ownNetwork: NodeNetwork | undefined
  /** The network the caller passed, if any. */
  private givenNetwork: Network | undefined
  /** The listening ports its graphs and groups share, made on first use. */
  private portHubs: PortHubs | undefined
  private stopped = false

  private constructor(
    dataDir: string,
    clock: Clock,
    random: Random,
    identities: IdentityStore,
    preferred?: string,
  ) {
    this.dataDir = dataDir
    this.clock = clock
    this.random = random
    this.identities = identities
    this.preferredIdentity = preferred
    this.graphManager = new GraphManager({
      dir: join(dataDir, 'graphs'),
      clock,
      random,
      defaultPeerId: () => this.identity.peerName,
      identityOf: (peerId) =>
        this.identities.list().some((i) => i.peerName === peerId)
          ? this.identities.get(peerId)
          : undefined,
      streams: () => this.transport().streams,
      // One listening socket per port for all of this node's graphs and groups.
      hubs: () => (this.portHubs ??= new PortHubs(this.transport().streams, this.clock)),
    })
    this.groupManager = new GroupManager({
      dir: join(dataDir, 'groups'),
      clock,
      random,
      graphs: this.graphManager,
      identity: (name) => (name === undefined ? this.identity : this.identities.find(name)),
      streams: () => this.transport().streams,
      pnrp: () => this.pnrpService,
    })
    identities.setGroupsProvider((peerName) => this.groupManager.groupsOf(peerName))
  }

  static async start(options: PeerNodeOptions = {}): Promise<PeerNode> {
    const dataDir = resolveDataDir(options.dataDir)
    const clock = options.clock ? wholeMilliseconds(options.clock) : systemClock
    const random = options.random ?? systemRandom
    if (random.deterministic) {
      log.warn(
        'a seeded random source makes guessable keys: use it in tests and simulations only',
        {
          dataDir,
        },
      )
    }
    const identities = await IdentityStore.open(join(dataDir, 'identities'), { clock, random })
    const node = new PeerNode(dataDir, clock, random, identities, options.identity)
    node.givenNetwork = options.network
    try {
      if (options.identity !== undefined) identities.find(options.identity)
      await node.groupManager.load()
      if (options.pnrp) {
        const network = node.transport()
        node.pnrpService = await PnrpService.start(options.pnrp, {
          datagrams: network.datagrams,
          clock,
          random,
          identities,
          stateDir: join(dataDir, 'pnrp'),
        })
      }
    } catch (err) {
      await node.stop()
      throw err
    }
    return node
  }

  /**
   * Peer Name Resolution: register and resolve names in this node's clouds.
   * PEER_E_SERVICE_NOT_AVAILABLE when the node was started without `pnrp` options.
   */
  get pnrp(): PnrpService {
    this.checkRunning()
    if (!this.pnrpService) {
      throw new PeerError(
        'PEER_E_SERVICE_NOT_AVAILABLE',
        'PNRP is not running on this node: start it with PeerNode.start({ pnrp: { ... } })',
      )
    }
    return this.pnrpService
  }

  /** Peer Graphing: `create`, `open` and `delete` graphs; a graph's peer id is this node's identity. */
  get graphs(): GraphManager {
    this.checkRunning()
    return this.graphManager
  }

  /** Peer Grouping: `create`, `join`, `open`, `list` and `delete` groups. */
  get groups(): GroupManager {
    this.checkRunning()
    return this.groupManager
  }

  /** The identity this node acts as: the one named at start, else the store's default. */
  get identity(): Identity {
    this.checkRunning()
    return this.preferredIdentity !== undefined
      ? this.identities.find(this.preferredIdentity)
      : this.identities.getDefault()
  }

  get running(): boolean {
    return !this.stopped
  }

  /** Stops every component: waits for writes in progress, then refuses changes. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.groupManager.closeAll()
    await this.graphManager.closeAll()
    await this.pnrpService?.stop()
    await this.ownNetwork?.close()
    await this.identities.close()
  }

  /** The caller's network, or this node's own sockets, opened on first use. */
  private transport(): Network {
    this.givenNetwork ??= this.ownNetwork = createNodeNetwork({ clock: this.clock })
    return this.givenNetwork
  }

  private checkRunning(): void {
    if (this.stopped)
      throw new PeerError('PEER_E_NOT_INITIALIZED', 'this PeerNode has been stopped')
  }
}
