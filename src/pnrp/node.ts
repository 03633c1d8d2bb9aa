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
  MAX_CONCURRENT_RESOLVES,
  LEAF_SET_SIDE,
  MAX_CONVERSATIONS,
  MAX_PATH,
  MAX_PENDING_ADMISSIONS,
  NONCE_BYTES,
  RESOLVE_START_ENTRIES,
  RETRANSMIT_MS,
  LEAF_REPAIR_ROUNDS,
  SPLIT_DETECTION_MIN_MS,
  SPLIT_DETECTION_PER_NODE_MS,
  STALE_CHECKS_PER_ROUND,
  SMALL_CACHE_ENTRIES,
  SMALL_CACHE_MAINTENANCE_MS,
} from './constants.ts'
import { Cpa, ZERO_NONCE } from './cpa.ts'
import { isRoutable } from './endpoints.ts'
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

/**
 * What a node does when an admitted entry joins one of its leaf sets (MS-PNRP 1.6 "Leaf-set
 * flooding"): 'flood' (possibly news: a registrant, a flooded or introduced entry) floods it
 * to its neighbours and sends our own entry back; 'reply' (an established node that a walk of
 * ours met: its neighbours know it) only sends our own entry back.
 */
type Spread = 'flood' | 'reply'

interface AdmitOptions {
  spread: Spread
  /** The Already-Flooded list it came with. */
  flooded?: Endpoint[]
  /** Return routability only, even for a leaf-set candidate (the sync conversation's entries). */
  plain?: boolean
  /** It already won a full level's draw (RouteCache.wouldKeep). */
  drawn?: boolean
}

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
  /** The IDs we advertised: a REQUEST may ask for these only. */
  advertised: Set<PnrpId>
  /** The REQUEST answered, so its retransmission (our ACK was lost) is answered again. */
  answered?: number
}

/** Told when an expected FLOOD arrives: its entry, and the admission under way. */
type FloodWaiter = (entry: RouteEntry, admitted: Promise<void>) => void

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
  private endpoints: Endpoint[]
  private readonly seeds: Address[]
  private readonly conversations = new Map<string, Conversation>()
  /** Liveness checks in flight, by entry ID. */
  private readonly livenessChecks = new Map<PnrpId, Promise<void>>()
  /** Local IDs whose registration walk (MS-PNRP 1.6 "Register") has finished. */
  private readonly announced = new Set<PnrpId>()
  /** Admissions in flight (return-routability INQUIRE or CPA check), by entry ID. */
  private readonly admissions = new Map<PnrpId, Promise<void>>()
  /**
   * IDs sync conversations asked for, each with the conversations waiting for its FLOOD (two
   * seeds may advertise the same ID), told when it has been admitted.
   */
  private readonly expectedFloods = new Map<PnrpId, Set<FloodWaiter>>()
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

  /**
   * The machine's addresses changed: the node's own route entry names the new ones from now on,
   * and it announces itself again so its leaf set learns them.
   */
  setEndpoints(endpoints: Endpoint[]): void {
    this.checkRunning()
    this.endpoints = [...endpoints]
    const own = this.nodeRegistration
    if (!own) return
    this.nodeRegistration = this.registrations.update(own.id, { endpoints }, this.clock.now())
    // Best effort: a leaf set that misses it learns the entry from the next maintenance round.
    void this.track(this.announce(this.nodeRegistration)).catch(() => undefined)
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
    if (this.resolving >= MAX_CONCURRENT_RESOLVES) {
      return Promise.reject(
        new PeerError(
          'PEER_E_TOO_MUCH_LOAD',
          `${MAX_CONCURRENT_RESOLVES} resolves are already running on this node (MAX_CONCURRENT_RESOLVES)`,
        ),
      )
    }
    this.resolving++
    const signal = request.signal
      ? AbortSignal.any([request.signal, this.stopController.signal])
      : this.stopController.signal
    return this.track(
      resolveIteratively(this.resolverContext(), { reason: 'app', ...request, signal })
        .then((outcome) => {
          void this.learn(outcome.met)
          return outcome
        })
        .finally(() => this.resolving--),
    )
  }

  // ---- bootstrap and registration -------------------------------------------------------

  /**
   * Joins through nodes learnt of after start (a link-local cloud's late mDNS answers): a sync
   * conversation with each, then every registration is announced again, since an announce
   * made while alone reached no one.
   */
  async join(seeds: Address[]): Promise<void> {
    this.checkRunning()
    const fresh = seeds
      .filter((s) => addressKey(s) !== addressKey(this.socket.local))
      .slice(0, BOOTSTRAP_FANOUT)
    if (fresh.length === 0) return
    await Promise.all(fresh.map((seed) => this.track(this.synchronize(seed)).catch(() => [])))
    if (this.cache.size === 0 || this.stopped) return
    if (this.currentState === 'alone') this.setState('active')
    await Promise.allSettled(this.registrations.all().map((r) => this.announce(r)))
  }

  /** MS-PNRP 1.6 sync conversation with up to BOOTSTRAP_FANOUT seeds: SOLICIT, ADVERTISE, REQUEST. */
  private async bootstrap(): Promise<void> {
    const seeds = this.seeds.filter((s) => addressKey(s) !== addressKey(this.socket.local))
    const chosen = seeds.slice(0, BOOTSTRAP_FANOUT)
    await Promise.all(chosen.map((seed) => this.synchronize(seed)))
    this.setState(this.cache.size > 0 ? 'active' : 'alone')
  }

  /**
   * One sync conversation with `seed`; resolves with the entries it sent that are in our cache
   * once their FLOODs have been admitted (the seed's part of the cloud, for split detection).
   */
  private async synchronize(seed: Address): Promise<RouteEntry[]> {
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
    )
    if (!advertise || advertise.ids.length === 0) return []
    // The entries come as FLOODs (D set) after the ACK; wait until each is admitted (or not).
    const wanted = advertise.ids.filter((id) => !this.registrations.has(id))
    const received: RouteEntry[] = []
    const mine = new Map<PnrpId, FloodWaiter>()
    const arrivals = wanted.map(
      (id) =>
        new Promise<void>((resolve) => {
          const waiter: FloodWaiter = (entry, admitted) => {
            received.push(entry)
            void admitted.then(resolve, resolve)
          }
          mine.set(id, waiter)
          let waiters = this.expectedFloods.get(id)
          if (!waiters) this.expectedFloods.set(id, (waiters = new Set()))
          waiters.add(waiter)
        }),
    )
    const ack = await this.rpc.request(
      seed,
      { type: 'request', id: this.rpc.newId(), nonce, ids: advertise.ids },
      'ack',
    )
    if (ack) {
      // The FLOODs were sent right after the ACK; give them one retransmit interval to land.
      await Promise.race([
        Promise.all(arrivals),
        this.clock.sleep(RETRANSMIT_MS, this.stopController.signal).catch(() => {}),
      ])
    }
    for (const [id, waiter] of mine) {
      const waiters = this.expectedFloods.get(id)
      waiters?.delete(waiter)
      if (waiters?.size === 0) this.expectedFloods.delete(id)
    }
    return received.filter((e) => this.cache.has(e.id))
  }

  /** Resolves ID+1 with our entry attached, so the nodes around our ID learn it. */
  private async announce(registration: LocalRegistration): Promise<void> {
    const outcome = await this.track(
      resolveIteratively(this.resolverContext(), {
        target: addToId(registration.id, 1n),
        mode: 'exact',
        reason: 'registration',
        max: 0,
        entry: this.entryOf(registration),
        signal: this.stopController.signal,
      }),
    )
    // Wait for the leaf-set candidates to be checked, so a registration returns ready.
    await this.learn(outcome.met)
    await this.fillLeafSets()
    if (this.registrations.has(registration.id)) this.announced.add(registration.id)
    if (this.cache.size > 0 && this.currentState !== 'active') this.setState('active')
  }

  private revoke(registration: LocalRegistration): void {
    const { below, above } = this.cache.leafSet(registration.id)
    const revocation = this.registrations.sign(registration, ZERO_NONCE, this.clock.now(), true)
    this.registrations.remove(registration.id)
    this.announced.delete(registration.id)
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
      ids = this.cache.spread(ADVERTISE_IDS).map((e) => e.id)
      // Pad with our own IDs when the cache is small (MS-PNRP 1.6).
      for (const local of this.registrations.all()) {
        if (ids.length >= MAX_ADVERTISE_IDS) break
        if (local.internal || ids.length < ADVERTISE_IDS) ids.push(local.id)
      }
      this.conversations.set(key, {
        from: addressKey(from),
        expires: this.clock.now() + CONVERSATION_TTL_MS,
        advertised: new Set(ids),
      })
    }
    this.rpc.send(from, {
      type: 'advertise',
      id: this.rpc.newId(),
      replyTo: message.id,
      hashedNonce: message.hashedNonce,
      ids,
    })
    if (message.entry) void this.consider(message.entry, 'flood')
  }

  private onRequestIds(message: PnrpMessageOf<'request'>, from: Address): void {
    const key = Buffer.from(hashNonce(message.nonce)).toString('hex')
    const conversation = this.conversations.get(key)
    if (
      !conversation ||
      conversation.from !== addressKey(from) ||
      conversation.expires < this.clock.now() ||
      (conversation.answered !== undefined && conversation.answered !== message.id)
    ) {
      this.rpc.countInvalid()
      return
    }
    const ack = { type: 'ack' as const, id: this.rpc.newId(), replyTo: message.id, notHere: false }
    if (conversation.answered !== undefined) {
      // A retransmission: our ACK was lost. The FLOODs went out once; only the ACK again.
      this.rpc.send(from, ack)
      return
    }
    conversation.answered = message.id
    this.rpc.send(from, ack)
    // Only what we advertised: a REQUEST cannot make us flood anything else (amplification).
    for (const id of message.ids) {
      if (!conversation.advertised.has(id)) continue
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
    if (!this.needsAdmission(entry)) {
      this.cache.touch(entry.id, this.clock.now())
      for (const waiter of expected ?? []) waiter(entry, Promise.resolve())
      return
    }
    // Entries a sync conversation asked for are checked for return routability only; the
    // ones that belong in a leaf set are validated when the registration walk meets them.
    const admitted = this.admit(entry, {
      flooded: message.flooded,
      plain: expected !== undefined,
      spread: 'flood',
    })
    for (const waiter of expected ?? []) waiter(entry, admitted)
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
    const entry = this.cache.get(cpa.id)
    if (!entry) return
    const wasLeaf = this.cache.inLeafSet(cpa.id)
    // Forward along our leaf set while the ID was in it (MS-PNRP 1.6 "Unregister"): to the
    // entries around it, which are the ones that may hold it as a leaf too.
    const forward = (): void => {
      if (!wasLeaf) return
      this.floodRevocation(bytes, this.cache.closest(cpa.id, 2 * LEAF_SET_SIDE), [
        ...flooded,
        ...this.endpoints,
      ])
    }
    if (!PeerName.parse(cpa.peerName).isSecured) {
      // Anyone may sign for an unsecured name, so its revocation proves nothing by itself: ask
      // the node that holds the ID, and act only when it says the registration is gone.
      void this.checkLiveness(entry).then(() => {
        if (!this.cache.has(cpa.id)) forward()
      })
      return
    }
    this.cache.remove(cpa.id)
    forward()
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
    if (message.entry) void this.consider(message.entry, 'flood')
    const onPath = new Set(message.path.map(addressKey))
    const target = message.target
    const local = this.closestLocal(target)
    const remote = this.cache.closest(target, 1, (e) =>
      onPath.has(addressKey(e.endpoints[0] as Endpoint)),
    )[0]
    let next: RouteEntry = this.entryOf(local)
    if (remote && compareCloseness(target, remote.id, local.id) < 0) {
      next = { id: remote.id, endpoints: remote.endpoints }
      // An entry not heard from in a while is checked as it is used (ENTRY_STALE_MS).
      if (remote.lastSeen < this.clock.now() - ENTRY_STALE_MS) void this.checkLiveness(remote)
    }
    // Matches we hold or know closely: our registrations and leaf entries (MS-PNRP 1.6).
    // A registrant (or a node re-announcing itself) learns the entries around its ID.
    const announcing = message.reason === 'registration' || message.reason === 'split-detection'
    const leaves = this.matchingNear(target, message.mode, announcing)
    const knownMatch = leaves.some((e) => matchesTarget(message.mode, target, e.id))
    const leafGap =
      !knownMatch &&
      message.mode !== 'nearest' &&
      message.mode !== 'nearest64' &&
      this.withinLeafRange(target)
    this.rpc.send(from, { ...reply, notHere: false, leafGap, next, leaves })
  }

  // ---- cache admission and flooding -----------------------------------------------------

  /**
   * Admits what a walk of ours met (MS-PNRP 1.6: AUTHORITY entries are new route entries).
   * They are checked at once, so each would qualify for a leaf set that is not yet full: only
   * those among the nearest on some side of a local ID (with the leaf entries we have) get the
   * CPA check; the others are checked for return routability, if the cache wants them.
   */
  private learn(met: RouteEntry[], spread: Spread = 'reply'): Promise<unknown> {
    const fresh = met.filter((e) => this.needsAdmission(e))
    const leaves = this.cache.leafCandidates(fresh.map((e) => e.id))
    return Promise.allSettled(
      fresh.map((e) =>
        leaves.has(e.id) ? this.admit(e, { spread }) : this.consider(e, spread, true),
      ),
    )
  }

  /**
   * Admits a route entry heard of in passing (a LOOKUP's registrant, a resolve's answers),
   * bounded by MAX_PENDING_ADMISSIONS. A level that is full takes a newcomer only if it wins
   * the cache's fair draw, drawn before the INQUIRE so that entries the cache would drop cost
   * no messages.
   */
  private consider(entry: RouteEntry, spread: Spread, plain = false): Promise<void> {
    if (!this.needsAdmission(entry)) return Promise.resolve()
    if (this.cache.has(entry.id)) return plain ? Promise.resolve() : this.admit(entry, { spread })
    if (!this.cache.wouldKeep(entry.id)) return Promise.resolve()
    return this.admit(entry, { spread, drawn: true, plain })
  }

  /**
   * Whether `entry` is worth an admission: not ours, and not cached yet, or cached without a
   * validation although it now belongs in a leaf set.
   */
  private needsAdmission(entry: RouteEntry): boolean {
    if (this.registrations.has(entry.id)) return false
    if (!isRoutable(entry.endpoints[0] as Endpoint)) return false
    const known = this.cache.get(entry.id)
    if (!known) return true
    return !known.validated && this.cache.wouldJoinLeafSet(entry.id)
  }

  /**
   * MS-PNRP 1.6 "New route entry": cached only after an INQUIRE at its address answers for
   * its ID; an entry that would join a leaf set needs a validated CPA (nonce-signed) too.
   * Concurrent admissions of one ID share one check.
   */
  /** Resolves running now (MAX_CONCURRENT_RESOLVES). */
  private resolving = 0
  /** Admission checks that failed with an error (not a refusal): request table full, stopping. */
  admissionFailures = 0

  private admit(entry: RouteEntry, options: AdmitOptions): Promise<void> {
    const running = this.admissions.get(entry.id)
    if (running) return running
    if (this.stopped || !this.needsAdmission(entry)) return Promise.resolve()
    if (this.admissions.size >= MAX_PENDING_ADMISSIONS) return Promise.resolve()
    // An admission never rejects: its callers fire and forget it, and a failed check (the
    // request table full, the node stopping) only means the entry is not admitted.
    const admission = this.check(entry, options)
      .catch(() => {
        this.admissionFailures++
      })
      .finally(() => this.admissions.delete(entry.id))
    this.admissions.set(entry.id, admission)
    return admission
  }

  private async check(entry: RouteEntry, options: AdmitOptions): Promise<void> {
    const wouldJoin = options.plain !== true && this.cache.wouldJoinLeafSet(entry.id)
    let validated = false
    if (wouldJoin) {
      const cpa = await fetchValidCpa(this.resolverContext(), entry)
      if (!cpa || cpa.revoke) return
      validated = true
    } else {
      const reply = await this.rpc.request(
        entry.endpoints[0] as Address,
        { type: 'inquire', id: this.rpc.newId(), target: entry.id, wantCpa: false },
        'authority',
      )
      if (!reply || reply.notHere) return
    }
    if (this.stopped) return
    const result = this.cache.add(entry, this.clock.now(), {
      ...(validated ? { validated } : {}),
      replace: options.drawn === true,
    })
    // A node that knew no one is part of a cloud from its first admitted neighbour.
    if (this.currentState === 'alone' && this.cache.size > 0) this.setState('active')
    if (result.joinedLeafSetsOf.length > 0) {
      this.floodNewLeaf(entry, result.joinedLeafSetsOf, options.flooded ?? [], options.spread)
    }
  }

  /**
   * MS-PNRP 1.6 "Leaf-set flooding": a validated entry joined a leaf set here: send it our own
   * entry (the local ID whose leaf set it joined), and with 'flood', flood it to our nearest
   * neighbour on each side of it (not already flooded), who pass it on while it enters their
   * leaf sets.
   */
  private floodNewLeaf(
    entry: RouteEntry,
    joined: PnrpId[],
    flooded: Endpoint[],
    spread: Spread,
  ): void {
    // Our entry back: the local ID whose leaf set it joined (the nearest, if several).
    let own = joined[0] as PnrpId
    for (const id of joined) if (compareCloseness(entry.id, id, own) < 0) own = id
    const introduce = (to: Address): void =>
      this.rpc.send(to, {
        type: 'flood',
        id: this.rpc.newId(),
        validate: entry.id,
        entry: { id: own, endpoints: this.endpoints },
        noAck: true,
        flooded: [],
      })
    // MS-PNRP sends our own entry back to the flood's sender; we send it to the entry's node,
    // which so learns each neighbour that learns it (its own walk may have missed some). The
    // sender needs no copy: it flooded us because it holds us in its cache.
    introduce(entry.endpoints[0] as Endpoint)
    if (spread === 'reply') return
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
      this.rpc.request(address, message, 'ack').then((ack) => {
        if (!ack || ack.notHere) this.cache.remove(to.id)
      }),
    )
  }

  // ---- maintenance ----------------------------------------------------------------------

  private scheduleMaintenance(): void {
    if (this.stopped) return
    const delay = this.cache.size <= 2 ? SMALL_CACHE_MAINTENANCE_MS : MAINTENANCE_MS
    this.maintenanceTimer = this.clock.setTimeout(() => {
      // A failed round (the request table full, the node stopping) is skipped, not fatal.
      void this.track(this.maintain())
        .catch(() => {})
        .finally(() => this.scheduleMaintenance())
    }, delay)
  }

  /** MS-PNRP 1.7 maintenance: liveness of stale entries, resync when small, cache balancing. */
  private async maintain(): Promise<void> {
    if (this.stopped) return
    // Liveness (MS-PNRP 1.7): the leaf entries not heard from in ENTRY_STALE_MS are checked
    // here, a few a round; other entries are checked when we hand them out (onLookup).
    const now = this.clock.now()
    const checks = this.cache
      .staleEntries(now - ENTRY_STALE_MS)
      .filter((e) => this.cache.inLeafSet(e.id))
      .slice(0, STALE_CHECKS_PER_ROUND)
      .map((entry) => this.checkLiveness(entry))
    await Promise.allSettled(checks)
    if (this.stopped) return
    await this.fillLeafSets()
    if (this.cache.size < SMALL_CACHE_ENTRIES && this.seeds.length > 0) await this.bootstrap()
    const cloudSize = this.cache.estimateCloudSize() ?? this.cache.size
    // Cache balancing: a LOOKUP into a level that the cloud's size says should hold more.
    const point = this.cache.balancePoint(cloudSize)
    if (point !== undefined && !this.stopped) {
      await this.resolve({ target: point, mode: 'nearest', reason: 'maintenance', max: 0 })
    }
    // Leaf-set repair: now and then, re-announce a local ID on a walk from across the ring.
    if (!this.stopped && this.random.int(LEAF_REPAIR_ROUNDS) === 0) {
      await this.reannounce(this.cache.spread(RESOLVE_START_ENTRIES))
    }
    // MS-PNRP 1.6 split detection: the same walk from a seed's entries, each node at a rate
    // inversely proportional to the cloud's size, so the cloud as a whole runs a steady few.
    const period = Math.max(SPLIT_DETECTION_MIN_MS, cloudSize * SPLIT_DETECTION_PER_NODE_MS)
    if (!this.stopped && this.seeds.length > 0 && this.random.float() * period < MAINTENANCE_MS) {
      const seed = this.seeds[this.random.int(this.seeds.length)] as Address
      if (addressKey(seed) !== addressKey(this.socket.local)) {
        await this.reannounce(await this.synchronize(seed))
      }
    }
    this.setState(this.cache.size > 0 ? 'active' : 'alone')
  }

  /**
   * Leaf-set repair and MS-PNRP 1.6 split detection: resolves (a random local ID)+1 with our
   * entry attached, starting at `start`, away from our own neighbourhood (entries a seed sent,
   * or cache entries spread over the ring). A walk that arrives from elsewhere reaches the
   * nodes around the ID even where our side of the ring does not know them (a split, or a
   * leaf set that concurrent joins left short); the nodes on its way learn our entry, and
   * what it meets is admitted and, when it enters a leaf set, flooded: the sides merge.
   */
  private async reannounce(start: RouteEntry[]): Promise<void> {
    const locals = [...this.announced]
    if (this.stopped || locals.length === 0 || start.length === 0) return
    const id = locals[this.random.int(locals.length)] as PnrpId
    const registration = this.registrations.get(id)
    if (!registration) return
    const outcome = await this.track(
      resolveIteratively(this.resolverContext(), {
        target: addToId(id, 1n),
        mode: 'exact',
        reason: 'split-detection',
        max: 0,
        entry: this.entryOf(registration),
        startFrom: start,
        signal: this.stopController.signal,
      }),
    )
    await this.learn(outcome.met, 'flood')
  }

  /**
   * Validates the cached entries that belong in a leaf set but were admitted without a CPA
   * check (return routability only, e.g. from a sync conversation), so a leaf set holds the
   * nearest nodes we know.
   */
  private fillLeafSets(): Promise<unknown> {
    return Promise.allSettled(
      this.cache.leafGaps().map((entry) => this.admit(entry, { spread: 'reply' })),
    )
  }

  /** INQUIREs a cached entry's node (return routability): kept and touched, or removed. */
  private checkLiveness(entry: RouteEntry): Promise<void> {
    const running = this.livenessChecks.get(entry.id)
    if (running) return running
    if (this.stopped || this.livenessChecks.size >= MAX_PENDING_ADMISSIONS) return Promise.resolve()
    const check = this.rpc
      .request(
        entry.endpoints[0] as Address,
        { type: 'inquire', id: this.rpc.newId(), target: entry.id, wantCpa: false },
        'authority',
      )
      .then((reply) => {
        if (!reply || reply.notHere) this.cache.remove(entry.id)
        else this.cache.touch(entry.id, this.clock.now())
      })
      // Fire and forget: a check that cannot be sent (request table full, stopping) is skipped.
      .catch(() => {})
      .finally(() => this.livenessChecks.delete(entry.id))
    this.livenessChecks.set(entry.id, check)
    return check
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

  /**
   * Our registration closest to `target`, among those whose registration walk has finished
   * (a local ID still registering has no leaf set yet: it would claim to be the closest node
   * to targets its neighbours are closer to), or among all when none has.
   */
  private closestLocal(target: PnrpId): LocalRegistration {
    let best: LocalRegistration | undefined
    let bestAnnounced: LocalRegistration | undefined
    for (const r of this.registrations.all()) {
      if (!best || compareCloseness(target, r.id, best.id) < 0) best = r
      if (
        this.announced.has(r.id) &&
        (!bestAnnounced || compareCloseness(target, r.id, bestAnnounced.id) < 0)
      ) {
        bestAnnounced = r
      }
    }
    return (bestAnnounced ?? best) as LocalRegistration
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
