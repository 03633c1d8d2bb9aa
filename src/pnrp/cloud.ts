/**
 * One PNRP cloud as Windows shows it (windows-api.md section 4, "Clouds"): a name, a scope and
 * scope id, a state and flags, around the protocol node that takes part in it. `Global_` binds
 * the configured UDP port and bootstraps from seeds and from the nodes it saw last time;
 * `LinkLocal_<interface>` binds that interface's address and bootstraps from the nodes its
 * link discovery (mDNS) finds. A cloud whose bootstrap finds no one is `alone`: it works, and
 * others can join through it.
 */
import type { Clock, Timer } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { TypedEmitter } from '../core/events.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import type { Address, DatagramTransport } from '../transport/types.ts'
import {
  ADDRESS_CHECK_MS,
  LINK_DISCOVERY_WAIT_MS,
  MAX_ROUTE_ENDPOINTS,
  MDNS_QUERY_MS,
} from './constants.ts'
import { isWildcard, machineAddresses } from '../transport/addresses.ts'
import { PnrpNode, type CloudState as NodeState } from './node.ts'
import type { RecentNodes } from './recent-nodes.ts'
import type { Endpoint } from './types.ts'

const log = createLogger('pnrp')

/** The global cloud's name (Windows: "Global_"). */
export const GLOBAL_CLOUD = 'Global_'
/** Link-local clouds are named `LinkLocal_<interface>`. */
export const LINK_LOCAL_PREFIX = 'LinkLocal_'
/** In options, every link-local cloud (Windows: PEER_PNRP_ALL_LINK_CLOUDS). */
export const ALL_LINK_LOCAL = 'LinkLocal'

/** PNRP_SCOPE: 'any' only filters; a cloud is global or link-local (site-local is deprecated). */
export type CloudScope = 'global' | 'link-local'
export const SCOPE_IDS: Record<CloudScope | 'any', number> = {
  any: 0,
  global: 1,
  'link-local': 3,
}

/** PNRP_CLOUD_STATE: the node's states plus `no-net` (no address in scope) and `disabled`. */
export type CloudState = NodeState | 'no-net' | 'disabled'
/** PNRP_CLOUD_FLAGS. */
export type CloudFlag = 'name-local' | 'resolve-only' | 'full-participant'

/** What clouds() returns for each cloud. */
export interface CloudInfo {
  name: string
  scope: CloudScope
  /** 0 for Global_; the interface's index for a link-local cloud. */
  scopeId: number
  state: CloudState
  flags: CloudFlag[]
}

/** Finds the nodes of a link-local cloud on its link (mDNS in production, a fake in tests). */
export interface LinkDiscovery {
  /** Starts announcing `self` and listening; `onPeer` gets every other node found. */
  start(self: Address, onPeer: (peer: Address) => void): Promise<void>
  /** Asks the link who is there (answers arrive through `onPeer`). */
  query(): void
  stop(): Promise<void>
}

export interface CloudOptions {
  name: string
  scope: CloudScope
  scopeId: number
  datagrams: DatagramTransport
  clock: Clock
  random: Random
  /** Where to bind: an interface address, or a wildcard. */
  host: string
  port: number
  /** Global_: configured seeds (tried first) and the persisted recent nodes. */
  seeds?: Address[]
  recent?: RecentNodes
  /** Link-local: how the cloud finds its first nodes. */
  discovery?: LinkDiscovery
  /**
   * The addresses this machine publishes in the cloud, read at start and every ADDRESS_CHECK_MS
   * (default: the machine's interface addresses when bound to a wildcard, else the bound one).
   */
  addresses?: () => string[]
}

export interface CloudEvents extends Record<string, unknown> {
  'state-changed': CloudInfo
  /** The addresses published changed (a new network); automatic registrations follow. */
  'addresses-changed': Endpoint[]
}

export class PnrpCloud extends TypedEmitter<CloudEvents> {
  readonly name: string
  readonly scope: CloudScope
  readonly scopeId: number
  private readonly options: CloudOptions
  private protocolNode: PnrpNode | undefined
  private currentState: CloudState = 'virtual'
  private advertised: Endpoint[] = []
  /** Link-local: asks the link again every MDNS_QUERY_MS while the cloud is alone. */
  private requery: Timer | undefined
  /** Link-local: nodes the link announced after start, not yet joined through. */
  private lateFinds: Address[] = []
  /** Reads the machine's addresses again every ADDRESS_CHECK_MS, when they can change. */
  private addressCheck: Timer | undefined

  constructor(options: CloudOptions) {
    super()
    this.options = options
    this.name = options.name
    this.scope = options.scope
    this.scopeId = options.scopeId
  }

  get state(): CloudState {
    return this.currentState
  }

  get info(): CloudInfo {
    const flags: CloudFlag[] = ['full-participant']
    if (this.scope === 'link-local') flags.unshift('name-local')
    return {
      name: this.name,
      scope: this.scope,
      scopeId: this.scopeId,
      state: this.currentState,
      flags,
    }
  }

  /** The protocol node; PEER_E_CLOUD_IS_DEAD before start() or after stop(). */
  get node(): PnrpNode {
    const node = this.protocolNode
    if (!node || this.currentState === 'dead' || this.currentState === 'virtual') {
      throw new PeerError('PEER_E_CLOUD_IS_DEAD', `the cloud ${this.name} is not running`)
    }
    return node
  }

  /** Where this cloud's node listens for PNRP, as others should reach it. */
  get endpoints(): Endpoint[] {
    return this.advertised
  }

  /** The addresses an automatic registration publishes in this cloud, with `port`. */
  autoEndpoints(port: number): Endpoint[] {
    return this.advertised.map((e) => ({ address: e.address, port }))
  }

  /** Binds, bootstraps and takes part; resolves once the cloud is active or alone. */
  async start(): Promise<void> {
    const { options } = this
    const socket = await options.datagrams.bind({ host: options.host, port: options.port })
    const local = socket.local
    // With nothing to publish yet, the interfaces' addresses (the addresses option may fill in).
    this.advertised = this.currentEndpoints(local) ?? withPort(machineAddresses('ipv4'), local)
    const seeds = [...(options.seeds ?? [])]
    if (options.discovery) {
      const found: Address[] = []
      await options.discovery.start(this.advertised[0] as Address, (peer) => {
        if (this.protocolNode) this.onLateFind(peer)
        else found.push(peer)
      })
      options.discovery.query()
      // Give the link a moment to answer before deciding the cloud is empty.
      await options.clock.sleep(LINK_DISCOVERY_WAIT_MS)
      seeds.push(...found)
    }
    for (const recent of options.recent?.load() ?? []) seeds.push(recent)
    const node = new PnrpNode({
      socket,
      clock: options.clock,
      random: options.random,
      seeds: dedupe(seeds),
      advertise: this.advertised,
    })
    this.protocolNode = node
    node.on('state-changed', (state) => this.setState(state))
    try {
      await node.start()
    } catch (err) {
      await node.stop()
      this.setState('dead')
      throw err
    }
    if (options.discovery) {
      const discovery = options.discovery
      this.requery = options.clock.setInterval(() => {
        if (this.currentState === 'alone') discovery.query()
      }, MDNS_QUERY_MS)
    }
    if (options.addresses || isWildcard(local.address)) {
      this.addressCheck = options.clock.setInterval(
        () => this.checkAddresses(local),
        ADDRESS_CHECK_MS,
      )
    }
    log.debug('cloud started', { cloud: this.name, state: node.state, port: local.port })
  }

  /**
   * What this machine publishes, with the cloud's port: the addresses option, or the machine's
   * addresses for a wildcard bind, or the bound address; undefined when there are none (or the
   * addresses option failed).
   */
  private currentEndpoints(local: Address): Endpoint[] | undefined {
    let list: string[]
    try {
      const { addresses } = this.options
      if (addresses) list = addresses().filter((a) => typeof a === 'string' && a.length > 0)
      else list = isWildcard(local.address) ? machineAddresses('ipv4') : [local.address]
    } catch (err) {
      log.warn('reading the addresses to publish failed', { cloud: this.name, error: String(err) })
      return undefined
    }
    return list.length > 0 ? withPort(list, local) : undefined
  }

  /** A new network: the node's route entry and the automatic registrations change with it. */
  private checkAddresses(local: Address): void {
    const node = this.protocolNode
    const next = this.currentEndpoints(local)
    if (!node || !next || sameEndpoints(next, this.advertised)) return
    log.info('this machine has new addresses', {
      cloud: this.name,
      addresses: next.map((e) => e.address),
    })
    this.advertised = next
    node.setEndpoints(next)
    this.emit('addresses-changed', next)
  }

  /** A node the link announced after start: while alone, join the cloud through it. */
  private onLateFind(peer: Address): void {
    const node = this.protocolNode
    if (!node || this.currentState !== 'alone') return
    this.lateFinds.push(peer)
    const seeds = this.lateFinds.splice(0)
    node.join(seeds).catch((err: unknown) => {
      log.debug('joining through a late link answer failed', { error: String(err) })
    })
  }

  /** Revokes this node's registrations, remembers whom it knew, and closes its socket. */
  async stop(): Promise<void> {
    const node = this.protocolNode
    if (!node) return
    this.requery?.cancel()
    this.addressCheck?.cancel()
    this.protocolNode = undefined
    const known = node.cache.spread(this.options.recent?.capacity ?? 0)
    await node.stop()
    await this.options.discovery?.stop()
    if (this.options.recent && known.length > 0) {
      await this.options.recent.save(known.map((entry) => entry.endpoints[0] as Endpoint))
    }
    this.setState('dead')
  }

  private setState(state: CloudState): void {
    if (state === this.currentState) return
    this.currentState = state
    this.emit('state-changed', this.info)
  }
}

/** The first MAX_ROUTE_ENDPOINTS distinct addresses, with the port `local` is bound to. */
function withPort(addresses: string[], local: Address): Endpoint[] {
  return [...new Set(addresses)]
    .slice(0, MAX_ROUTE_ENDPOINTS)
    .map((address) => ({ address, port: local.port }))
}

function sameEndpoints(a: Endpoint[], b: Endpoint[]): boolean {
  const key = (list: Endpoint[]): string =>
    list
      .map((e) => `${e.address}|${e.port}`)
      .sort()
      .join(',')
  return key(a) === key(b)
}

function dedupe(addresses: Address[]): Address[] {
  const seen = new Set<string>()
  return addresses.filter((a) => {
    const key = `${a.address}|${a.port}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
