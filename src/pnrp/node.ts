/**
 * One PNRP node in one cloud (MS-PNRP 1.5-1.6): its route cache and leaf sets, its
 * registrations, the handlers for every message, bootstrap, registration by resolving ID+1,
 * leaf-set flooding, revocation, and the maintenance loop. Clock, randomness and the datagram
 * socket come from the caller, so the same code runs on UDP and in the simulator.
 */
import { setMaxListeners } from 'node:events'
import type { Clock, Timer } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { TypedEmitter } from '../core/events.ts'
import type { Random } from '../core/random.ts'
import { KeyPair } from '../identity/keys.ts'
import { PeerName } from '../identity/peer-name.ts'
import type { Address, DatagramSocket } from '../transport/types.ts'
import { RouteCache } from './cache.ts'
import {
  ADVERTISE_IDS,
  BOOTSTRAP_FANOUT,
  CONVERSATION_TTL_MS,
  ENTRY_STALE_MS,
  MAINTENANCE_MS,
  MAX_ADVERTISE_IDS,
  MAX_AUTHORITY_LEAVES,
  LEAF_SET_SIDE,
  MAX_CONVERSATIONS,
  MAX_PATH,
  MAX_PENDING_ADMISSIONS,
  NONCE_BYTES,
  RETRANSMIT_MS,
  SMALL_CACHE_ENTRIES,
  SMALL_CACHE_MAINTENANCE_MS,
} from './constants.ts'
import { Cpa, ZERO_NONCE } from './cpa.ts'
import {
  addToId,
  clockwise,
  compareCloseness,
  matchesTarget,
  randomServiceLocation,
  type MatchMode,
  type PnrpId,
} from './ids.ts'
import type { PnrpMessage, PnrpMessageOf } from './messages.ts'
import { Registrations, type LocalRegistration, type RegistrationFields } from './registrations.ts'
import {
  fetchValidCpa,
  hashNonce,
  resolveIteratively,
  type ResolveOutcome,
  type ResolveRequest,
  type ResolverContext,
} from './resolver.ts'
import { addressKey, PnrpRpc } from './rpc.ts'
import type { Endpoint, RouteEntry } from './types.ts'

/** Windows' cloud states (PNRP_CLOUD_STATE) that a protocol node can be in. */
export type CloudState = 'virtual' | 'synchronizing' | 'active' | 'alone' | 'dead'

export interface PnrpNodeOptions {
  /** A bound datagram socket; the node owns it from now on and closes it on stop(). */
  socket: DatagramSocket
  clock: Clock
  random: Random
  /** Nodes to bootstrap from (MS-PNRP 1.6: the out-of-band list, then seed servers). */
  seeds?: Address[]
  /** How other nodes reach us (default: the socket's local address). */
  advertise?: Endpoint[]
  /** The key of the node's own ID (default: a new one from `random`). */
  nodeKey?: KeyPair
}

export interface PnrpNodeEvents extends Record<string, unknown> {
  'state-changed': CloudState
}

interface Conversation {
  from: string
  expires: number
}

/** The classifier of the name every node registers for its own place in the ring. */
export const NODE_CLASSIFIER = 'pnrp-node'

export class PnrpNode extends TypedEmitter<PnrpNodeEvents> {
  readonly rpc: PnrpRpc
  readonly cache: RouteCache
  readonly registrations = new Registrations()
  readonly nodeKey: KeyPair
  private readonly clock: Clock
  private readonly random: Random
  private readonly socket: DatagramSocket
  private readonly endpoints: Endpoint[]
  private readonly seeds: Address[]
  private readonly conversations = new Map<string, Conversation>()
  private readonly admissions = new Set<PnrpId>()
  /** IDs a sync conversation asked for, resolved when their FLOOD has been admitted. */
  private readonly expectedFloods = new Map<PnrpId, (admitted: Promise<void>) => void>()
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly stopController = new AbortController()
  private maintenanceTimer: Timer | undefined
  private nodeRegistration: LocalRegistration | undefined
  private currentState: CloudState = 'virtual'
  private stopped = false

  constructor(options: PnrpNodeOptions) {
    super()
    this.clock = options.clock
    this.random = options.random
    this.socket = options.socket
    this.endpoints = options.advertise ?? [this.socket.local]
    this.seeds = [...(options.seeds ?? [])]
    this.nodeKey = options.nodeKey ?? KeyPair.generate(this.random)
    this.cache = new RouteCache({ random: this.random })
    this.rpc = new PnrpRpc(this.socket, this.clock, this.random)
    this.rpc.onRequest((message, from) => this.onRequest(message, from))
    // Every request in flight listens for the node stopping.
    setMaxListeners(0, this.stopController.signal)
  }

  /** Messages refused as invalid: forged, replayed or expired CPAs, requests out of turn. */
  get invalid(): number {
    return this.rpc.counters.dropped.invalid ?? 0
  }

  get state(): CloudState {
    return this.currentState
  }

  /** The node's own ID in the ring (after start()). */
  get nodeId(): PnrpId | undefined {
    return this.nodeRegistration?.id
  }

  get local(): Address {
    return this.socket.local
  }

  /**
   * Joins the cloud: synchronises a cache from the seeds, then registers the node's own ID.
   * With no seed answering the node is `alone` (usable: others may bootstrap from it).
   */
  async start(): Promise<void> {
    if (this.nodeRegistration) return
    this.setState('synchronizing')
    this.nodeRegistration = this.registrations.add(
      {
        peerName: PeerName.fromParts(this.nodeKey.publicKey.authority, NODE_CLASSIFIER).toString(),
        serviceLocation: randomServiceLocation(this.random),
        endpoints: this.endpoints,
        payload: new Uint8Array(0),
        comment: '',
      },
      this.nodeKey,
      this.clock.now(),
      true,
    )
    this.cache.addLocalId(this.nodeRegistration.id)
    await this.bootstrap()
    await this.announce(this.nodeRegistration)
    this.scheduleMaintenance()
  }

  /** Leaves the cloud: revokes every registration, stops timers, closes the socket. */
  async stop(): Promise<void> {
    if (this.stopped) return
    for (const registration of this.registrations.all()) this.revoke(registration)
    this.stopped = true
    this.maintenanceTimer?.cancel()
    this.stopController.abort()
    this.rpc.close()
    await Promise.allSettled([...this.tasks])
    await this.socket.close()
    this.setState('dead')
  }

  /** Registers a name (MS-PNRP 1.6 "Register"): adds its ID, then resolves ID+1 announcing it. */
  async register(
    fields: Omit<RegistrationFields, 'serviceLocation'> & { serviceLocation?: Uint8Array },
    key: KeyPair,
  ): Promise<LocalRegistration> {
    this.checkRunning()
    const registration = this.registrations.add(
      { ...fields, serviceLocation: fields.serviceLocation ?? randomServiceLocation(this.random) },
      key,
      this.clock.now(),
    )
    this.cache.addLocalId(registration.id)
    await this.announce(registration)
    return registration
  }

  /** Changes what a registration publishes; resolvers see it on their next INQUIRE. */
  update(
    id: PnrpId,
    fields: Partial<Pick<RegistrationFields, 'endpoints' | 'payload' | 'comment'>>,
  ): LocalRegistration {
    this.checkRunning()
    return this.registrations.update(id, fields, this.clock.now())
  }

  /** Unregisters (MS-PNRP 1.6 "Unregister"): floods a revocation to the leaf set. */
  unregister(id: PnrpId): void {
    const registration = this.registrations.get(id)
    if (!registration || registration.internal) {
      throw new PeerError('PEER_E_NOT_FOUND', 'no such registration here')
    }
    this.revoke(registration)
  }

  /** Resolves `target`: validated CPAs of matching registrations, closest first. */
  resolve(
    request: Omit<ResolveRequest, 'reason'> & { reason?: ResolveRequest['reason'] },
  ): Promise<ResolveOutcome> {
    this.checkRunning()
    const signal = request.signal
      ? AbortSignal.any([request.signal, this.stopController.signal])
      : this.stopController.signal
    return this.track(
      resolveIteratively(this.resolverContext(), { reason: 'app', ...request, signal }).then(
        (outcome) => {
          for (const entry of outcome.met) this.consider(entry)
          return outcome
        },
      ),
    )
  }

  // ---- bootstrap and registration -------------------------------------------------------

  /** MS-PNRP 1.6 sync conversation with up to BOOTSTRAP_FANOUT seeds: SOLICIT, ADVERTISE, REQUEST. */
  private async bootstrap(): Promise<void> {
    const seeds = this.seeds.filter((s) => addressKey(s) !== addressKey(this.socket.local))
    const chosen = seeds.slice(0, BOOTSTRAP_FANOUT)
    await Promise.all(chosen.map((seed) => this.synchronize(seed)))
    this.setState(this.cache.size > 0 ? 'active' : 'alone')
  }

  private async synchronize(seed: Address): Promise<void> {
    const nonce = this.random.bytes(NONCE_BYTES)
    const own = this.nodeRegistration ? this.entryOf(this.nodeRegistration) : undefined
    const advertise = await this.rpc.request(
      seed,
      {
        type: 'solicit',
        id: this.rpc.newId(),
        hashedNonce: hashNonce(nonce),
        ...(own ? { entry: own } : {}),
        localOnly: false,
      },
      'advertise',
      this.stopController.signal,
    )
    if (!advertise || advertise.ids.length === 0) return
    // The entries come as FLOODs (D set) after the ACK; wait until each is admitted (or not).
    const wanted = advertise.ids.filter((id) => !this.registrations.has(id))
    const arrivals = wanted.map(
      (id) =>
        new Promise<void>((resolve) => {
          this.expectedFloods.set(id, (admitted) => void admitted.then(resolve, resolve))
        }),
    )
    const ack = await this.rpc.request(
      seed,
      { type: 'request', id: this.rpc.newId(), nonce, ids: advertise.ids },
      'ack',
      this.stopController.signal,
    )
    if (ack) {
      // The FLOODs were sent right after the ACK; give them one retransmit interval to land.
      await Promise.race([
        Promise.all(arrivals),
        this.clock.sleep(RETRANSMIT_MS, this.stopController.signal).catch(() => {}),
      ])
    }
    for (const id of wanted) this.expectedFloods.delete(id)
  }

  /** Resolves ID+1 with our entry attached, so the nodes around our ID learn it. */
  private async announce(registration: LocalRegistration): Promise<void> {
    const outcome = await this.resolve({
      target: addToId(registration.id, 1n),
      mode: 'exact',
      reason: 'registration',
      max: 0,
      entry: this.entryOf(registration),
    })
    // Wait for the leaf-set candidates to be checked, so a registration returns ready.
    await Promise.allSettled(outcome.met.map((entry) => this.admit(entry)))
    if (this.cache.size > 0 && this.currentState !== 'active') this.setState('active')
  }

  private revoke(registration: LocalRegistration): void {
    const { below, above } = this.cache.leafSet(registration.id)
    const revocation = this.registrations.sign(registration, ZERO_NONCE, this.clock.now(), true)
    this.registrations.remove(registration.id)
    this.cache.removeLocalId(registration.id)
    // MS-PNRP 1.6 "Unregister": the revocation goes to the leaf set, which forwards it.
    this.floodRevocation(revocation.bytes, [...below, ...above], [...this.endpoints])
    // Repair the gap: tell each side's nearest neighbour about the other.
    const lower = below[0]
    const upper = above[0]
    if (lower && upper && lower.id !== upper.id) {
      this.floodTo(lower, { entry: upper }, this.endpoints, true)
      this.floodTo(upper, { entry: lower }, this.endpoints, true)
    }
  }

  /** Sends a revocation to `targets` not yet flooded, adding them to the Already-Flooded list. */
  private floodRevocation(bytes: Uint8Array, targets: RouteEntry[], flooded: Endpoint[]): void {
    const done = new Set(flooded.map(addressKey))
    const fresh = targets.filter((t) => !done.has(addressKey(t.endpoints[0] as Endpoint)))
    const list = [...flooded, ...fresh.map((t) => t.endpoints[0] as Endpoint)].slice(-MAX_PATH)
    for (const target of fresh) this.floodTo(target, { revoke: bytes }, list)
  }

  // ---- incoming requests ----------------------------------------------------------------

  private onRequest(message: PnrpMessage, from: Address): void {
    if (this.stopped) return
    switch (message.type) {
      case 'solicit':
        return this.onSolicit(message, from)
      case 'request':
        return this.onRequestIds(message, from)
      case 'flood':
        return this.onFlood(message, from)
      case 'inquire':
        return this.onInquire(message, from)
      case 'lookup':
        return this.onLookup(message, from)
      default:
        // Replies that matched nothing were already dropped by the rpc.
        this.rpc.countInvalid()
    }
  }

  private onSolicit(message: PnrpMessageOf<'solicit'>, from: Address): void {
    this.expireConversations()
    const key = Buffer.from(message.hashedNonce).toString('hex')
    let ids: PnrpId[] = []
    // MS-PNRP 1.8: a busy node answers with an empty ADVERTISE and keeps no state.
    if (this.conversations.size < MAX_CONVERSATIONS) {
      this.conversations.set(key, {
        from: addressKey(from),
        expires: this.clock.now() + CONVERSATION_TTL_MS,
      })
      ids = this.cache.spread(ADVERTISE_IDS).map((e) => e.id)
      // Pad with our own IDs when the cache is small (MS-PNRP 1.6).
      for (const local of this.registrations.all()) {
        if (ids.length >= MAX_ADVERTISE_IDS) break
        if (local.internal || ids.length < ADVERTISE_IDS) ids.push(local.id)
      }
    }
    this.rpc.send(from, {
      type: 'advertise',
      id: this.rpc.newId(),
      replyTo: message.id,
      hashedNonce: message.hashedNonce,
      ids,
    })
    if (message.entry) this.consider(message.entry)
  }

  private onRequestIds(message: PnrpMessageOf<'request'>, from: Address): void {
    const key = Buffer.from(hashNonce(message.nonce)).toString('hex')
    const conversation = this.conversations.get(key)
    if (
      !conversation ||
      conversation.from !== addressKey(from) ||
      conversation.expires < this.clock.now()
    ) {
      this.rpc.countInvalid()
      return
    }
    this.conversations.delete(key)
    this.rpc.send(from, { type: 'ack', id: this.rpc.newId(), replyTo: message.id, notHere: false })
    for (const id of message.ids) {
      const local = this.registrations.get(id)
      const entry = local ? this.entryOf(local) : this.cache.get(id)
      if (!entry) continue
      this.rpc.send(from, {
        type: 'flood',
        id: this.rpc.newId(),
        validate: id,
        entry: { id: entry.id, endpoints: entry.endpoints },
        noAck: true,
        flooded: [],
      })
    }
  }

  private onFlood(message: PnrpMessageOf<'flood'>, from: Address): void {
    if (!message.noAck) {
      this.rpc.send(from, {
        type: 'ack',
        id: this.rpc.newId(),
        replyTo: message.id,
        notHere: !this.registrations.has(message.validate),
      })
    }
    if (message.revoke) {
      this.onRevoke(message.revoke, message.flooded)
      return
    }
    const entry = message.entry as RouteEntry
    if (this.registrations.has(entry.id)) return
    const expected = this.expectedFloods.get(entry.id)
    this.expectedFloods.delete(entry.id)
    const known = this.cache.get(entry.id)
    if (known) {
      this.cache.touch(entry.id, this.clock.now())
      expected?.(Promise.resolve())
      return
    }
    const admitted = this.admit(entry, message.flooded, from)
    expected?.(admitted)
  }

  private onRevoke(bytes: Uint8Array, flooded: Endpoint[]): void {
    let cpa: Cpa
    try {
      cpa = Cpa.decode(bytes)
      cpa.verify({ now: this.clock.now() })
    } catch {
      this.rpc.countInvalid()
      return
    }
    if (!cpa.revoke) {
      this.rpc.countInvalid()
      return
    }
    const wasLeaf = this.cache.inLeafSet(cpa.id)
    if (!this.cache.remove(cpa.id)) return
    // Forward along our leaf set while the ID was in it (MS-PNRP 1.6 "Unregister"): to the
    // entries around it, which are the ones that may hold it as a leaf too.
    if (!wasLeaf) return
    this.floodRevocation(bytes, this.cache.closest(cpa.id, 2 * LEAF_SET_SIDE), [
      ...flooded,
      ...this.endpoints,
    ])
  }

  private onInquire(message: PnrpMessageOf<'inquire'>, from: Address): void {
    const registration = this.registrations.get(message.target)
    let cpa: Uint8Array | undefined
    if (registration && message.wantCpa) {
      cpa = this.registrations.sign(
        registration,
        message.nonce ?? ZERO_NONCE,
        this.clock.now(),
        false,
      ).bytes
    }
    this.rpc.send(from, {
      type: 'authority',
      id: this.rpc.newId(),
      replyTo: message.id,
      target: message.target,
      notHere: !registration,
      leafGap: false,
      busy: false,
      ...(cpa ? { cpa } : {}),
      leaves: [],
    })
  }

  private onLookup(message: PnrpMessageOf<'lookup'>, from: Address): void {
    const reply = {
      type: 'authority' as const,
      id: this.rpc.newId(),
      replyTo: message.id,
      target: message.validate,
      busy: false,
    }
    if (!this.registrations.has(message.validate)) {
      this.rpc.send(from, { ...reply, notHere: true, leafGap: false, leaves: [] })
      return
    }
    if (message.entry) this.consider(message.entry)
    const onPath = new Set(message.path.map(addressKey))
    const target = message.target
    const local = this.closestLocal(target)
    const remote = this.cache.closest(target, 1, (e) =>
      onPath.has(addressKey(e.endpoints[0] as Endpoint)),
    )[0]
    let next: RouteEntry = this.entryOf(local)
    if (remote && compareCloseness(target, remote.id, local.id) < 0) {
      next = { id: remote.id, endpoints: remote.endpoints }
    }
    // Matches we hold or know closely: our registrations and leaf entries (MS-PNRP 1.6).
    const leaves = this.matchingNear(target, message.mode, message.reason === 'registration')
    const knownMatch = leaves.some((e) => matchesTarget(message.mode, target, e.id))
    const leafGap =
      !knownMatch &&
      message.mode !== 'nearest' &&
      message.mode !== 'nearest64' &&
      this.withinLeafRange(target)
    this.rpc.send(from, { ...reply, notHere: false, leafGap, next, leaves })
  }

  // ---- cache admission and flooding -----------------------------------------------------

  /** Admits a route entry heard of in passing, bounded by MAX_PENDING_ADMISSIONS. */
  private consider(entry: RouteEntry): void {
    if (this.registrations.has(entry.id) || this.cache.get(entry.id)) return
    void this.admit(entry)
  }

  /**
   * MS-PNRP 1.6 "New route entry": cached only after an INQUIRE at its address answers for
   * its ID; an entry that would join a leaf set needs a validated CPA (nonce-signed) too.
   */
  private async admit(entry: RouteEntry, flooded: Endpoint[] = [], from?: Address): Promise<void> {
    if (this.stopped || this.registrations.has(entry.id) || this.cache.get(entry.id)) return
    if (this.admissions.has(entry.id) || this.admissions.size >= MAX_PENDING_ADMISSIONS) return
    this.admissions.add(entry.id)
    try {
      const wouldJoin = this.cache.wouldJoinLeafSet(entry.id)
      let validated = false
      if (wouldJoin) {
        const cpa = await fetchValidCpa(this.resolverContext(), entry, this.stopController.signal)
        if (!cpa || cpa.revoke) return
        validated = true
      } else {
        const reply = await this.rpc.request(
          entry.endpoints[0] as Address,
          { type: 'inquire', id: this.rpc.newId(), target: entry.id, wantCpa: false },
          'authority',
          this.stopController.signal,
        )
        if (!reply || reply.notHere) return
      }
      if (this.stopped) return
      const result = this.cache.add(entry, this.clock.now(), { validated })
      if (result.joinedLeafSetsOf.length > 0) this.floodNewLeaf(entry, flooded, from)
    } finally {
      this.admissions.delete(entry.id)
    }
  }

  /**
   * MS-PNRP 1.6 "Leaf-set flooding": a validated entry joined a leaf set here: flood it to our
   * nearest neighbour on each side of it (not already flooded), and send our own entry back.
   */
  private floodNewLeaf(entry: RouteEntry, flooded: Endpoint[], from?: Address): void {
    const already = new Set(flooded.map(addressKey))
    const { below, above } = this.cache.neighbours(entry.id)
    const targets = [below, above].filter(
      (n): n is NonNullable<typeof n> =>
        n !== undefined &&
        n.id !== entry.id &&
        !already.has(addressKey(n.endpoints[0] as Endpoint)),
    )
    const list = [...flooded, ...this.endpoints, ...targets.map((t) => t.endpoints[0] as Endpoint)]
    for (const neighbour of targets) this.floodTo(neighbour, { entry }, list)
    const own = this.closestLocal(entry.id)
    const back: Address = from ?? (entry.endpoints[0] as Endpoint)
    this.rpc.send(back, {
      type: 'flood',
      id: this.rpc.newId(),
      validate: entry.id,
      entry: this.entryOf(own),
      noAck: true,
      flooded: [],
    })
  }

  private floodTo(
    to: RouteEntry,
    what: { entry: RouteEntry } | { revoke: Uint8Array },
    flooded: Endpoint[],
    noAck = false,
  ): void {
    const message: PnrpMessage = {
      type: 'flood',
      id: this.rpc.newId(),
      validate: to.id,
      ...('entry' in what
        ? { entry: { id: what.entry.id, endpoints: what.entry.endpoints } }
        : { revoke: what.revoke }),
      noAck,
      flooded: flooded.slice(-MAX_PATH),
    }
    const address = to.endpoints[0] as Address
    if (noAck) {
      this.rpc.send(address, message)
      return
    }
    void this.track(
      this.rpc.request(address, message, 'ack', this.stopController.signal).then((ack) => {
        if (!ack || ack.notHere) this.cache.remove(to.id)
      }),
    )
  }

  // ---- maintenance ----------------------------------------------------------------------

  private scheduleMaintenance(): void {
    if (this.stopped) return
    const delay = this.cache.size <= 2 ? SMALL_CACHE_MAINTENANCE_MS : MAINTENANCE_MS
    this.maintenanceTimer = this.clock.setTimeout(() => {
      void this.track(this.maintain()).finally(() => this.scheduleMaintenance())
    }, delay)
  }

  /** MS-PNRP 1.7 maintenance: liveness of stale entries, resync when small, cache balancing. */
  private async maintain(): Promise<void> {
    if (this.stopped) return
    const now = this.clock.now()
    const checks = this.cache
      .staleEntries(now - ENTRY_STALE_MS)
      .slice(0, 8)
      .map(async (entry) => {
        const reply = await this.rpc.request(
          entry.endpoints[0] as Address,
          { type: 'inquire', id: this.rpc.newId(), target: entry.id, wantCpa: false },
          'authority',
          this.stopController.signal,
        )
        if (!reply || reply.notHere) this.cache.remove(entry.id)
        else this.cache.touch(entry.id, this.clock.now())
      })
    await Promise.allSettled(checks)
    if (this.stopped) return
    if (this.cache.size < SMALL_CACHE_ENTRIES && this.seeds.length > 0) await this.bootstrap()
    const gap = this.cache.largestGap()
    if (gap && !this.stopped) {
      const middle = addToId(gap.from, clockwise(gap.from, gap.to) / 2n)
      await this.resolve({ target: middle, mode: 'nearest', reason: 'maintenance', max: 0 })
    }
    this.setState(this.cache.size > 0 ? 'active' : 'alone')
  }

  // ---- helpers --------------------------------------------------------------------------

  private resolverContext(): ResolverContext {
    return {
      rpc: this.rpc,
      cache: this.cache,
      clock: this.clock,
      random: this.random,
      self: this.endpoints[0] as Endpoint,
      onInvalid: () => this.rpc.countInvalid(),
    }
  }

  private entryOf(registration: LocalRegistration): RouteEntry {
    return { id: registration.id, endpoints: this.endpoints }
  }

  private closestLocal(target: PnrpId): LocalRegistration {
    let best: LocalRegistration | undefined
    for (const r of this.registrations.all()) {
      if (!best || compareCloseness(target, r.id, best.id) < 0) best = r
    }
    return best as LocalRegistration
  }

  /** Our registrations and leaf entries matching `target` (or, registering, the closest). */
  private matchingNear(target: PnrpId, mode: MatchMode, registering: boolean): RouteEntry[] {
    const out: RouteEntry[] = []
    for (const r of this.registrations.all()) {
      if (matchesTarget(mode, target, r.id)) {
        out.push(this.entryOf(r))
      }
    }
    const near = this.cache.closest(target, MAX_AUTHORITY_LEAVES)
    for (const e of near) {
      if (out.length >= MAX_AUTHORITY_LEAVES) break
      if ((matchesTarget(mode, target, e.id) && e.validated) || registering)
        out.push({ id: e.id, endpoints: e.endpoints })
    }
    return out.slice(0, MAX_AUTHORITY_LEAVES)
  }

  /** Whether `target` lies between the outermost leaf entries of our closest local ID. */
  private withinLeafRange(target: PnrpId): boolean {
    const local = this.closestLocal(target)
    const { below, above } = this.cache.leafSet(local.id)
    const low = below[below.length - 1]
    const high = above[above.length - 1]
    if (!low || !high) return false
    return clockwise(low.id, target) < clockwise(low.id, high.id)
  }

  private expireConversations(): void {
    const now = this.clock.now()
    for (const [key, c] of this.conversations) if (c.expires < now) this.conversations.delete(key)
  }

  private setState(state: CloudState): void {
    if (this.currentState === state) return
    this.currentState = state
    this.emit('state-changed', state)
  }

  private checkRunning(): void {
    if (this.stopped) throw new PeerError('PEER_E_CLOUD_IS_DEAD', 'this PNRP node was stopped')
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.tasks.add(promise)
    void promise.finally(() => this.tasks.delete(promise)).catch(() => {})
    return promise
  }
}
