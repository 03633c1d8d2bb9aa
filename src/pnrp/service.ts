/**
 * `node.pnrp`: the PeerPnrp* API (windows-api.md section 4) over the clouds this node takes
 * part in. Register, update and unregister names; resolve them (blocking or streaming, with
 * max results, timeout, criteria and an AbortSignal); enumerate clouds. Windows' rules:
 * at most 10 addresses, a payload of at most 4096 bytes, a comment of at most 39 characters,
 * an update cannot change the cloud or switch between automatic and explicit addresses, one
 * registration per name and cloud per node, and nothing persists across a restart.
 */
import { join } from 'node:path'
import { abortError, throwIfAborted } from '../core/abort.ts'
import type { Clock } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { TypedEmitter } from '../core/events.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import type { IdentityStore } from '../identity/store.ts'
import { KeyPair } from '../identity/keys.ts'
import { PeerName } from '../identity/peer-name.ts'
import type { Address, DatagramTransport } from '../transport/types.ts'
import {
  ALL_LINK_LOCAL,
  GLOBAL_CLOUD,
  LINK_LOCAL_PREFIX,
  PnrpCloud,
  type CloudInfo,
  type CloudScope,
  type LinkDiscovery,
} from './cloud.ts'
import {
  CPA_LIFETIME_MS,
  DEFAULT_MAX_RESULTS,
  DEFAULT_RESOLVE_TIMEOUT_MS,
  MAX_CPA_ENDPOINTS,
  MAX_RESOLVE_TIMEOUT_MS,
  MAX_RESULTS,
} from './constants.ts'
import { Cpa, ZERO_NONCE } from './cpa.ts'
import { nearestLocation, parseEndpoint, serviceLocationFor } from './endpoints.ts'
import { linkInterfaces, mdnsDiscovery } from './mdns.ts'
import { p2pIdOf, pnrpIdOf, resolverTarget, type PnrpId } from './ids.ts'
import { RecentNodes } from './recent-nodes.ts'
import type { Endpoint } from './types.ts'

const log = createLogger('pnrp')

/** An interface a link-local cloud runs on. */
export interface LinkInterface {
  name: string
  /** The address the cloud binds and advertises on that link. */
  address: string
  /** The interface index (PNRP_CLOUD_ID.ScopeId). */
  scopeId: number
}

export interface PnrpOptions {
  /** Global_'s UDP port (default 0, any free port; the CLI and Windows use 3540). */
  port?: number
  /** Where Global_ binds (default '0.0.0.0', every interface). */
  host?: string
  /** Nodes to bootstrap Global_ from: `host:port` or { address, port }. */
  seeds?: (string | Address)[]
  /**
   * The addresses Global_ publishes for this machine (its route entry, automatic
   * registrations), read at start and every 30 s so registrations follow a new network. Default:
   * the interfaces' addresses when bound to a wildcard, else the bound address. Give it to
   * publish an address the interfaces do not show (a port forwarded through a NAT).
   */
  addresses?: () => string[]
  /** Clouds to take part in: 'Global_', 'LinkLocal' (every link), 'LinkLocal_<if>'. */
  clouds?: string[]
  /** The links for link-local clouds (default: the machine's interfaces with IPv4). */
  interfaces?: LinkInterface[]
  /** How a link-local cloud finds its first nodes (default: mDNS on that interface). */
  linkDiscovery?: (link: LinkInterface) => LinkDiscovery
}

export interface PnrpServiceContext {
  datagrams: DatagramTransport
  clock: Clock
  random: Random
  identities: IdentityStore
  /** Where Global_ keeps its recently seen nodes; none when omitted. */
  stateDir?: string
}

export type ResolveCriteria =
  | 'default'
  | 'remote'
  | 'nearest-remote'
  | 'non-current-process'
  | 'nearest-non-current-process'
  | 'any'
  | 'nearest'

/** Every resolve criterion (PNRP_RESOLVE_CRITERIA), for option lists. */
export const RESOLVE_CRITERIA: readonly ResolveCriteria[] = [
  'default',
  'remote',
  'nearest-remote',
  'non-current-process',
  'nearest-non-current-process',
  'any',
  'nearest',
]

export interface RegisterOptions {
  peerName: string
  /** One cloud by name; all of this node's clouds when omitted (Windows: NULL). */
  cloud?: string
  /** The application's port, for automatic addresses. */
  port?: number
  /** 'auto' (default): this node's addresses in each cloud; or up to 10 endpoints. */
  addresses?: 'auto' | (Endpoint | string)[]
  comment?: string
  payload?: Uint8Array
  /** The identity that signs (secured names: the name's owner, found by default). */
  identity?: string
  signal?: AbortSignal
}

export interface UpdateOptions {
  /** Must be left out or name the registration's cloud: an update cannot move it. */
  cloud?: string
  addresses?: 'auto' | (Endpoint | string)[]
  port?: number
  comment?: string
  payload?: Uint8Array
}

export interface ResolveOptions {
  /** One cloud by name; every cloud in parallel when omitted. */
  cloud?: string
  /** Results wanted (default 1, at most 100). */
  max?: number
  /** Default 30 s, at most 600 s. */
  timeoutMs?: number
  criteria?: ResolveCriteria
  /** For the nearest criteria: the address results should be near (default: ours). */
  hint?: Endpoint | string
  signal?: AbortSignal
}

/** PEER_PNRP_ENDPOINT_INFO: one registration found. */
export interface PnrpRecord {
  peerName: string
  cloud: string
  endpoints: Endpoint[]
  comment: string
  payload: Uint8Array
  /** The raw Ed25519 key that signed the registration (for an unsecured name, anyone's). */
  publicKey: Uint8Array
}

export interface PnrpEvents extends Record<string, unknown> {
  /** A cloud's state changed (Windows' SIO_NSP_NOTIFY_CHANGE on the cloud list). */
  'cloud-changed': CloudInfo
}

interface CloudRegistration {
  cloud: PnrpCloud
  id: PnrpId
}

/** A name registered by this node: update or unregister it. */
export class PnrpRegistration {
  readonly peerName: string
  private readonly service: PnrpService
  private readonly auto: boolean
  private port: number | undefined
  private readonly entries: CloudRegistration[]
  private fields: { comment: string; payload: Uint8Array; explicit: Endpoint[] }

  /** @internal */
  constructor(
    service: PnrpService,
    peerName: string,
    auto: boolean,
    port: number | undefined,
    entries: CloudRegistration[],
    fields: { comment: string; payload: Uint8Array; explicit: Endpoint[] },
  ) {
    this.service = service
    this.peerName = peerName
    this.auto = auto
    this.port = port
    this.entries = entries
    this.fields = fields
  }

  get registered(): boolean {
    return this.entries.some(
      (e) => e.cloud.state !== 'dead' && e.cloud.node.registrations.has(e.id),
    )
  }

  get clouds(): string[] {
    return this.entries.map((e) => e.cloud.name)
  }

  get comment(): string {
    return this.fields.comment
  }

  get payload(): Uint8Array {
    return this.fields.payload
  }

  /** The endpoints published in each cloud. */
  endpoints(cloud?: string): Endpoint[] {
    const entry = this.entries.find((e) => cloud === undefined || e.cloud.name === cloud)
    if (!entry) throw new PeerError('PEER_E_CLOUD_NOT_FOUND', `not registered in ${cloud}`)
    return this.auto ? entry.cloud.autoEndpoints(this.port as number) : this.fields.explicit
  }

  /**
   * Replaces what the registration publishes; fields left out keep their values. Resolvers see
   * the change on their next resolve (each one asks the registrant for a freshly signed CPA).
   */
  update(options: UpdateOptions): Promise<void> {
    return settled(() => this.applyUpdate(options))
  }

  private applyUpdate(options: UpdateOptions): void {
    if (options.cloud !== undefined && !this.clouds.includes(options.cloud)) {
      throw new PeerError('E_INVALIDARG', 'an update cannot change the cloud of a registration')
    }
    if (options.addresses !== undefined && (options.addresses === 'auto') !== this.auto) {
      throw new PeerError(
        'E_INVALIDARG',
        'an update cannot switch between automatic and explicit addresses; unregister first',
      )
    }
    if (!this.registered)
      throw new PeerError('PEER_E_NOT_FOUND', `${this.peerName} is not registered`)
    const explicit =
      options.addresses !== undefined && options.addresses !== 'auto'
        ? checkAddresses(options.addresses)
        : this.fields.explicit
    const port = options.port !== undefined ? checkPort(options.port) : this.port
    const next = {
      comment: options.comment ?? this.fields.comment,
      payload: options.payload ?? this.fields.payload,
      explicit,
    }
    // Sign every cloud's CPA before changing any, so a bad field changes nothing.
    const updates = this.entries.map((e) => ({
      entry: e,
      fields: {
        comment: next.comment,
        payload: next.payload,
        endpoints: this.auto ? e.cloud.autoEndpoints(port as number) : explicit,
      },
    }))
    for (const { entry, fields } of updates) checkUpdate(entry, fields, this.service.now())
    for (const { entry, fields } of updates) entry.cloud.node.update(entry.id, fields)
    this.port = port
    this.fields = next
  }

  /**
   * @internal The machine's addresses in `cloud` changed: an automatic registration publishes
   * the new ones (Windows PNRP updates such registrations itself).
   */
  followAddresses(cloud: PnrpCloud): void {
    if (!this.auto) return
    for (const entry of this.entries) {
      if (entry.cloud !== cloud || cloud.state === 'dead') continue
      if (!cloud.node.registrations.has(entry.id)) continue
      try {
        cloud.node.update(entry.id, { endpoints: cloud.autoEndpoints(this.port as number) })
      } catch (err) {
        // An address the CPA cannot carry: the registration keeps what it published.
        log.warn('a registration could not follow new addresses', {
          peerName: this.peerName,
          error: String(err),
        })
      }
    }
  }

  /** Removes the name from every cloud (a revocation floods its leaf sets); idempotent. */
  unregister(): Promise<void> {
    return settled(() => {
      for (const { cloud, id } of this.entries) {
        if (cloud.state !== 'dead' && cloud.node.registrations.has(id)) cloud.node.unregister(id)
      }
      this.service.forget(this)
    })
  }
}

export class PnrpService extends TypedEmitter<PnrpEvents> {
  private readonly context: PnrpServiceContext
  private readonly cloudList: PnrpCloud[]
  private readonly registrationList = new Set<PnrpRegistration>()
  /** A key for unsecured names registered without an identity (Windows: the machine's). */
  private readonly machineKey: KeyPair
  private stopped = false

  private constructor(context: PnrpServiceContext, clouds: PnrpCloud[]) {
    super()
    this.context = context
    this.cloudList = clouds
    this.machineKey = KeyPair.generate(context.random)
    for (const cloud of clouds) {
      cloud.on('state-changed', (info) => this.emit('cloud-changed', info))
      cloud.on('addresses-changed', () => {
        for (const registration of this.registrationList) registration.followAddresses(cloud)
      })
    }
  }

  /** Starts every configured cloud; a cloud that cannot bind fails the start. */
  static async start(options: PnrpOptions, context: PnrpServiceContext): Promise<PnrpService> {
    const clouds = await planClouds(options, context)
    const service = new PnrpService(context, clouds)
    try {
      await Promise.all(clouds.map((cloud) => cloud.start()))
    } catch (err) {
      await service.stop()
      throw err
    }
    return service
  }

  /** PeerPnrpGetCloudInfo / Cloud.GetAvailableClouds, optionally only one scope. */
  clouds(options: { scope?: CloudScope | 'any' } = {}): CloudInfo[] {
    const scope = options.scope ?? 'any'
    return this.cloudList.filter((c) => scope === 'any' || c.scope === scope).map((c) => c.info)
  }

  /** Where this node's PNRP listens in `cloud`, as other nodes reach it (seed addresses). */
  endpoints(cloud: string = GLOBAL_CLOUD): Endpoint[] {
    const found = this.cloudList.find((c) => c.name === cloud)
    if (!found) throw new PeerError('PEER_E_CLOUD_NOT_FOUND', `no cloud named ${cloud} here`)
    return found.endpoints.map((e) => ({ ...e }))
  }

  /** Registers a name in one cloud or in all (PeerPnrpRegister). */
  async register(options: RegisterOptions): Promise<PnrpRegistration> {
    this.checkRunning()
    throwIfAborted(options.signal, 'PNRP registration')
    const name = parseName(options.peerName)
    const peerName = name.toString()
    const clouds = this.cloudsFor(options.cloud)
    const auto = options.addresses === undefined || options.addresses === 'auto'
    const port = options.port !== undefined ? checkPort(options.port) : undefined
    if (auto && port === undefined) {
      throw new PeerError('E_INVALIDARG', 'automatic addresses need the application port')
    }
    const explicit = auto ? [] : checkAddresses(options.addresses as (Endpoint | string)[])
    for (const existing of this.registrationList) {
      if (
        existing.peerName === peerName &&
        existing.clouds.some((c) => clouds.some((k) => k.name === c))
      ) {
        throw new PeerError(
          'PEER_E_ALREADY_EXISTS',
          `${peerName} is already registered by this node; update that registration instead`,
        )
      }
    }
    const key = this.signingKey(name, options.identity)
    const fields = {
      comment: options.comment ?? '',
      payload: options.payload ?? new Uint8Array(0),
      explicit,
    }
    const entries: CloudRegistration[] = []
    try {
      for (const cloud of clouds) {
        const endpoints = auto ? cloud.autoEndpoints(port as number) : explicit
        const registration = await cloud.node.register(
          {
            peerName,
            serviceLocation: serviceLocationFor(endpoints[0], this.context.random),
            endpoints,
            comment: fields.comment,
            payload: fields.payload,
          },
          key,
        )
        entries.push({ cloud, id: registration.id })
        throwIfAborted(options.signal, 'PNRP registration')
      }
    } catch (err) {
      for (const { cloud, id } of entries) cloud.node.unregister(id)
      throw err
    }
    const registration = new PnrpRegistration(this, peerName, auto, port, entries, fields)
    this.registrationList.add(registration)
    return registration
  }

  /** This node's registrations (none survive a restart: applications register again). */
  registrations(): PnrpRegistration[] {
    return [...this.registrationList]
  }

  /**
   * Resolves a name (PeerPnrpResolve), a peer name or its `.pnrp.net` host name: up to `max`
   * registrations, each validated against a fresh nonce. PEER_E_NOT_FOUND when the name has no registration in reach,
   * PEER_E_TIMEOUT when the timeout ended a resolve that had found nothing, E_ABORT.
   */
  async resolve(peerName: string, options: ResolveOptions = {}): Promise<PnrpRecord[]> {
    const records: PnrpRecord[] = []
    const { timedOut } = await this.run(peerName, options, (record) => records.push(record))
    if (records.length === 0) {
      throw timedOut
        ? new PeerError('PEER_E_TIMEOUT', `no registration of ${peerName} found in time`)
        : new PeerError('PEER_E_NOT_FOUND', `no registration of ${peerName} was found`)
    }
    return records
  }

  /** Resolves a name, yielding each registration as it is validated (PeerPnrpStartResolve). */
  async *resolveStream(
    peerName: string,
    options: ResolveOptions = {},
  ): AsyncGenerator<PnrpRecord, void, undefined> {
    const queue: PnrpRecord[] = []
    let wake: (() => void) | undefined
    let finished = false
    let failure: Error | undefined
    const stop = new AbortController()
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
    const running = this.run(peerName, { ...options, signal }, (record) => {
      queue.push(record)
      wake?.()
    }).then(
      () => {
        finished = true
        wake?.()
      },
      (err: unknown) => {
        failure = err instanceof Error ? err : new Error(String(err))
        finished = true
        wake?.()
      },
    )
    try {
      for (;;) {
        const next = queue.shift()
        if (next) {
          yield next
          continue
        }
        if (finished) break
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
      if (failure) throw failure
      if (options.signal?.aborted) throw abortError(options.signal, 'PNRP resolve')
    } finally {
      stop.abort()
      await running
    }
  }

  /** Stops every cloud: registrations are revoked and forgotten. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.registrationList.clear()
    await Promise.allSettled(this.cloudList.map((cloud) => cloud.stop()))
    this.endSubscriptions()
  }

  /** @internal */
  now(): number {
    return this.context.clock.now()
  }

  /** @internal: a registration that was unregistered. */
  forget(registration: PnrpRegistration): void {
    this.registrationList.delete(registration)
  }

  /** Runs one resolve in every chosen cloud, reporting each record until `max` are found. */
  private async run(
    peerName: string,
    options: ResolveOptions,
    onRecord: (record: PnrpRecord) => void,
  ): Promise<{ timedOut: boolean }> {
    this.checkRunning()
    const name = parseResolvable(peerName).toString()
    const max = checkRange(options.max ?? DEFAULT_MAX_RESULTS, 1, MAX_RESULTS, 'max')
    const timeoutMs = checkRange(
      options.timeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS,
      1,
      MAX_RESOLVE_TIMEOUT_MS,
      'timeoutMs',
    )
    const criteria = options.criteria ?? 'default'
    if (!RESOLVE_CRITERIA.includes(criteria)) {
      throw new PeerError('E_INVALIDARG', `criteria must be one of ${RESOLVE_CRITERIA.join(', ')}`)
    }
    const hint = options.hint === undefined ? undefined : toEndpoint(options.hint)
    const clouds = this.cloudsFor(options.cloud).filter((c) => c.state !== 'dead')
    throwIfAborted(options.signal, 'PNRP resolve')

    const done = new AbortController()
    let timedOut = false
    const timer = this.context.clock.setTimeout(() => {
      timedOut = true
      done.abort(new PeerError('PEER_E_TIMEOUT', 'PNRP resolve timed out'))
    }, timeoutMs)
    const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal
    let found = 0
    const excludeOwn = criteria !== 'any' && criteria !== 'nearest'
    const ownIds = new Set<PnrpId>()
    if (excludeOwn) {
      for (const cloud of this.cloudList) {
        if (cloud.state === 'dead') continue
        for (const r of cloud.node.registrations.all()) ownIds.add(r.id)
      }
    }
    try {
      await Promise.all(
        clouds.map(async (cloud) => {
          const nearest = criteria.startsWith('nearest')
          const near = hint ?? cloud.endpoints[0]
          const target =
            nearest && near ? pnrpIdOf(p2pIdOf(name), nearestLocation(near)) : resolverTarget(name)
          await cloud.node.resolve({
            target,
            mode: 'any-peer-name',
            max,
            exclude: (id) => ownIds.has(id),
            onResult: (cpa) => {
              if (found >= max) return
              found++
              onRecord(recordOf(cpa, cloud.name))
              if (found >= max) done.abort()
            },
            signal,
          })
        }),
      )
    } finally {
      timer.cancel()
    }
    if (options.signal?.aborted) throw abortError(options.signal, 'PNRP resolve')
    return { timedOut: timedOut && found === 0 }
  }

  private cloudsFor(name: string | undefined): PnrpCloud[] {
    if (name === undefined || name === '') {
      const running = this.cloudList.filter((c) => c.state !== 'dead')
      if (running.length === 0) throw new PeerError('PEER_E_NO_CLOUD', 'no PNRP cloud is running')
      return running
    }
    const wanted = name.toLowerCase() === GLOBAL_CLOUD.toLowerCase() ? GLOBAL_CLOUD : name
    const cloud = this.cloudList.find((c) => c.name === wanted)
    if (!cloud) {
      throw new PeerError(
        'PEER_E_CLOUD_NOT_FOUND',
        `no cloud named ${name} here (clouds: ${this.cloudList.map((c) => c.name).join(', ') || 'none'})`,
      )
    }
    if (cloud.state === 'dead')
      throw new PeerError('PEER_E_CLOUD_IS_DEAD', `${name} is not running`)
    return [cloud]
  }

  /** The key that signs `name`: its owner's identity, or for an unsecured name any identity. */
  private signingKey(name: PeerName, identity: string | undefined): KeyPair {
    const store = this.context.identities
    if (identity !== undefined) {
      const chosen = store.find(identity)
      if (name.isSecured && chosen.key.authority !== name.authority) {
        throw new PeerError(
          'PEER_E_INVALID_IDENTITY',
          `${name.toString()} belongs to another key than the identity ${chosen.peerName}`,
        )
      }
      return chosen.keyPair
    }
    if (!name.isSecured) return this.machineKey
    for (const summary of store.list()) {
      const candidate = store.get(summary.peerName)
      if (candidate.key.authority === name.authority) return candidate.keyPair
    }
    throw new PeerError(
      'PEER_E_INVALID_IDENTITY',
      `${name.toString()} is a secured name and no identity here owns it (authority ${name.authority})`,
    )
  }

  private checkRunning(): void {
    if (this.stopped) throw new PeerError('PEER_E_NOT_INITIALIZED', 'PNRP has been stopped')
  }
}

/** The clouds to run, from the options: Global_, each link, or named links. */
async function planClouds(options: PnrpOptions, context: PnrpServiceContext): Promise<PnrpCloud[]> {
  const wanted = options.clouds ?? [GLOBAL_CLOUD]
  if (options.addresses !== undefined && typeof options.addresses !== 'function') {
    throw new PeerError('E_INVALIDARG', 'pnrp.addresses is a function returning address strings')
  }
  const clouds: PnrpCloud[] = []
  const links = options.interfaces
  for (const name of new Set(wanted)) {
    if (name === GLOBAL_CLOUD) {
      const recent = context.stateDir
        ? await RecentNodes.open(join(context.stateDir, `${GLOBAL_CLOUD}.json`))
        : undefined
      clouds.push(
        new PnrpCloud({
          name: GLOBAL_CLOUD,
          scope: 'global',
          scopeId: 0,
          datagrams: context.datagrams,
          clock: context.clock,
          random: context.random,
          host: options.host ?? '0.0.0.0',
          port: options.port ?? 0,
          seeds: (options.seeds ?? []).map(toEndpoint),
          ...(recent ? { recent } : {}),
          ...(options.addresses ? { addresses: options.addresses } : {}),
        }),
      )
      continue
    }
    if (name !== ALL_LINK_LOCAL && !name.startsWith(LINK_LOCAL_PREFIX)) {
      throw new PeerError(
        'PEER_E_CLOUD_NOT_FOUND',
        `unknown cloud ${name}: use ${GLOBAL_CLOUD}, ${ALL_LINK_LOCAL} or ${LINK_LOCAL_PREFIX}<interface>`,
      )
    }
    const available = links ?? linkInterfaces()
    const chosen =
      name === ALL_LINK_LOCAL
        ? available
        : available.filter((l) => `${LINK_LOCAL_PREFIX}${l.name}` === name)
    if (chosen.length === 0 && name !== ALL_LINK_LOCAL) {
      throw new PeerError('PEER_E_CLOUD_NOT_FOUND', `no interface for the cloud ${name}`)
    }
    for (const link of chosen) {
      const cloudName = `${LINK_LOCAL_PREFIX}${link.name}`
      if (clouds.some((c) => c.name === cloudName)) continue
      const discovery = options.linkDiscovery
        ? options.linkDiscovery(link)
        : mdnsDiscovery(link, context.random)
      clouds.push(
        new PnrpCloud({
          name: cloudName,
          scope: 'link-local',
          scopeId: link.scopeId,
          datagrams: context.datagrams,
          clock: context.clock,
          random: context.random,
          host: link.address,
          port: 0,
          discovery,
        }),
      )
    }
  }
  return clouds
}

/** Runs `fn` now; its result or exception as a promise (calls that may later do I/O). */
function settled(fn: () => void): Promise<void> {
  try {
    fn()
    return Promise.resolve()
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)))
  }
}

/** Signs a throw-away CPA with the new fields, so bad ones fail before anything changes. */
function checkUpdate(
  entry: CloudRegistration,
  fields: { comment: string; payload: Uint8Array; endpoints: Endpoint[] },
  now: number,
): void {
  const current = entry.cloud.node.registrations.get(entry.id)
  if (!current) throw new PeerError('PEER_E_NOT_FOUND', `${entry.cloud.name}: no longer registered`)
  Cpa.sign(
    {
      peerName: current.peerName,
      serviceLocation: current.serviceLocation,
      ...fields,
      notAfter: now + CPA_LIFETIME_MS,
      nonce: ZERO_NONCE,
      revoke: false,
    },
    current.key,
  )
}

function recordOf(cpa: Cpa, cloud: string): PnrpRecord {
  return {
    peerName: cpa.peerName,
    cloud,
    endpoints: cpa.endpoints.map((e) => ({ address: e.address, port: e.port })),
    comment: cpa.comment,
    payload: cpa.payload,
    publicKey: new Uint8Array(cpa.publicKey),
  }
}

function parseName(text: string): PeerName {
  if (typeof text !== 'string')
    throw new PeerError('PEER_E_INVALID_PEER_NAME', 'a peer name is text')
  return PeerName.parse(text)
}

/** A peer name, or its host name (`classifier.authority.pnrp.net`, which Windows' getaddrinfo resolves through PNRP). */
function parseResolvable(text: string): PeerName {
  const host = typeof text === 'string' && /\.pnrp\.net\.?$/i.test(text)
  return host ? PeerName.fromHostName(text) : parseName(text)
}

function toEndpoint(value: Endpoint | Address | string): Endpoint {
  if (typeof value === 'string') return parseEndpoint(value)
  if (typeof value !== 'object' || value === null) {
    throw new PeerError('PEER_E_INVALID_ADDRESS', 'an endpoint is host:port or { address, port }')
  }
  return parseEndpoint(
    `${value.address.includes(':') ? `[${value.address}]` : value.address}:${value.port}`,
  )
}

function checkAddresses(addresses: (Endpoint | string)[]): Endpoint[] {
  if (!Array.isArray(addresses) || addresses.length === 0) {
    throw new PeerError('E_INVALIDARG', "addresses must be 'auto' or a list of endpoints")
  }
  if (addresses.length > MAX_CPA_ENDPOINTS) {
    throw new PeerError(
      'E_INVALIDARG',
      `a registration carries at most ${MAX_CPA_ENDPOINTS} addresses (MAX_CPA_ENDPOINTS), not ${addresses.length}`,
    )
  }
  return addresses.map(toEndpoint)
}

function checkPort(port: number): number {
  return checkRange(port, 1, 65_535, 'port')
}

function checkRange(value: number, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PeerError('E_INVALIDARG', `${what} must be an integer from ${min} to ${max}`)
  }
  return value
}
