/**
 * One group, opened by one identity on one node: the group's graph with the group security
 * provider, the member's credentials, and the handles (PeerGroup) applications hold on it.
 * Windows' multiplexing: every handle on the same identity and group shares this session (one
 * database, one set of connections); it goes offline only when the last handle closes.
 */
import type { Clock } from '../core/clock.ts'
import { TypedEmitter } from '../core/events.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import type { Identity } from '../identity/identity.ts'
import type { ListenOptions, PeerGraph } from '../graph/graph.ts'
import type { PnrpRegistration, PnrpService } from '../pnrp/service.ts'
import type { Certificate } from '../identity/certificate.ts'
import {
  GROUP_FLAG_DEFER_EXPIRATION,
  GROUP_FLAG_MEMBER_DATA_OPTIONAL,
  MEMBERSHIP_RECORD_TYPE,
  REVOCATION_RECORD_TYPE,
  SECURITY_PROPERTIES_RECORD_TYPE,
} from './constants.ts'
import { decodeChain, encodeChain, isCertificateOf, serialOf } from './credentials.ts'
import type { GroupEvents } from './events.ts'
import {
  propertiesFromRecord,
  securityPropertiesRecord,
  securityPropertiesRecordId,
  type GroupProperties,
} from './properties.ts'
import { findParticipants, registerParticipant, type MemberAddress } from './discovery.ts'
import { PasswordAuthenticator } from './password-join.ts'
import { GroupSecurity } from './security.ts'
import type { GroupState } from './state.ts'

const log = createLogger('group')

/** Record types a group syncs first: its properties, then who is a member, then who is not. */
export const GROUP_SYNC_PRECEDENCE = [
  SECURITY_PROPERTIES_RECORD_TYPE,
  MEMBERSHIP_RECORD_TYPE,
  REVOCATION_RECORD_TYPE,
]

export interface SessionContext {
  clock: Clock
  random: Random
  identity: Identity
  /** Persists a changed state (a renewed chain). */
  save: (state: GroupState) => Promise<void>
  /** Called once the last handle closed and the graph is closed. */
  onClosed: () => void
  /** The node's PNRP, when it runs one: members register and find each other there. */
  pnrp: () => PnrpService | undefined
}

export class GroupSession extends TypedEmitter<GroupEvents> {
  readonly state: GroupState
  readonly security: GroupSecurity
  readonly ctx: SessionContext
  private graph_: PeerGraph | undefined
  private props_: GroupProperties | undefined
  /** Members with a membership record stored here: a further one (a renewal) is no join. */
  private readonly withMembership = new Set<string>()
  /** Handles open on this session. */
  private handles = 0
  private closing: Promise<void> | undefined
  private unsubscribe: (() => void)[] = []
  /** Deferred records are re-validated once per turn when certificates arrive. */
  private revalidation: Promise<void> | undefined
  /** The state saves in flight, in order. */
  private saving: Promise<void> = Promise.resolve()
  private publishing: Promise<void> | undefined
  /** The certificate whose membership record is known to be in the group. */
  private publishedSerial: string | undefined
  /** Where to listen once the first sync completes (a joiner's connect). */
  private listenWhenSynchronized: ListenOptions | undefined
  private participant: PnrpRegistration | undefined
  private registering: Promise<void> | undefined

  constructor(ctx: SessionContext, state: GroupState) {
    super()
    this.ctx = ctx
    this.state = state
    this.security = new GroupSecurity({
      groupPeerName: state.groupPeerName,
      root: state.root,
      peerName: state.identity,
      key: ctx.identity.keyPair,
      chain: () => this.state.chain,
      ...(state.ownerKey ? { ownerKey: state.ownerKey } : {}),
      now: () => this.now(),
      onLearned: () => this.revalidateSoon(),
      onRevoked: (peerName, serial) => this.onRevoked(peerName, serial),
      onAuthenticationFailed: (remote, reason) =>
        this.emit('authentication-failed', { identity: remote.peerId, reason }),
      passwordJoins: new PasswordAuthenticator({
        groupPeerName: state.groupPeerName,
        clock: ctx.clock,
        random: ctx.random,
        key: ctx.identity.keyPair,
        chain: () => this.state.chain,
        properties: () => this.props_,
        now: () => this.now(),
      }),
    })
  }

  get graph(): PeerGraph {
    if (!this.graph_) throw new Error('group session used before attach')
    return this.graph_
  }

  /** The properties, once the security-properties record is known. */
  get properties(): GroupProperties | undefined {
    return this.props_
  }

  get isClosed(): boolean {
    return this.closing !== undefined
  }

  now(): number {
    return this.graph_ && !this.graph_.isClosed
      ? this.graph_.peerTime().getTime()
      : this.ctx.clock.now()
  }

  get certificate(): Certificate {
    return this.state.chain[this.state.chain.length - 1] as Certificate
  }

  /** Binds the opened graph: learns what its store already holds and follows its events. */
  attach(graph: PeerGraph): void {
    this.graph_ = graph
    if (graph.status.synchronized) this.learnStored()
    this.unsubscribe.push(
      graph.on('record-changed', (e) => this.onRecordChanged(e)),
      graph.on('status-changed', (e) => {
        if (e.status.synchronized) this.afterSync()
        this.emit('status-changed', e)
        const pending = this.listenWhenSynchronized
        if (e.status.synchronized && pending && !e.status.listening) {
          this.listenWhenSynchronized = undefined
          this.listen(pending).catch((err: unknown) => {
            log.warn('could not listen after the first sync', { error: (err as Error).message })
          })
        }
      }),
      graph.on('neighbor-connection', (e) => {
        this.emit('neighbor-connection', e)
        if (e.status === 'failed') {
          this.emit('connection-failed', { reason: e.failure ?? 'PEER_E_CONNECTION_FAILED' })
        }
      }),
      graph.on('node-changed', (e) =>
        this.emit('member-changed', { change: e.change, identity: e.peerId }),
      ),
      graph.on('direct-connection', (e) => this.emit('direct-connection', e)),
      graph.on('incoming-data', (e) => this.emit('incoming-data', e)),
      graph.on('synchronized', (e) => this.emit('synchronized', e)),
    )
  }

  /** The stored membership and revocation records and properties (at open, after an import). */
  learnStored(): void {
    for (const r of this.graph.records({ type: MEMBERSHIP_RECORD_TYPE })) {
      if (r.deleted) continue
      try {
        const chain = decodeChain(r.data)
        this.withMembership.add((chain[chain.length - 1] as Certificate).subjectName)
        this.security.acceptChain(chain)
      } catch {
        // an expired membership: its member is no longer listed
      }
    }
    this.learnRevocations()
    const propsRecord = this.graph.getRecord(securityPropertiesRecordId(this.creatorPeerName()))
    if (propsRecord) this.readProperties(propsRecord.data)
    // A purge a revocation started may not have finished before the group last closed.
    const revoked = this.security.directory.revokedSubjects()
    if (revoked.length > 0) this.purgeRevoked(this.graph, new Set(revoked))
  }

  /** The group creator's peer name, from the Graph Info the graph keeps. */
  creatorPeerName(): string {
    return this.graph.properties.creatorId
  }

  private readProperties(data: Uint8Array): void {
    try {
      const creator = this.creatorPeerName()
      const record = { data, creator, id: securityPropertiesRecordId(creator) }
      this.adoptProperties(propertiesFromRecord(record, this.state.groupPeerName))
    } catch (err) {
      log.warn('stored group properties do not parse', { error: (err as Error).message })
    }
  }

  private onRecordChanged(e: GroupEvents['record-changed']): void {
    if (e.recordType === SECURITY_PROPERTIES_RECORD_TYPE) {
      const r = this.graph.getRecord(e.recordId)
      if (r) {
        const first = this.props_ === undefined
        this.readProperties(r.data)
        if (!first) this.emit('property-changed', {})
      }
      return
    }
    if (e.recordType === MEMBERSHIP_RECORD_TYPE) {
      const r = this.graph.getRecord(e.recordId)
      if (!r || r.deleted) return
      try {
        const chain = decodeChain(r.data)
        const leaf = chain[chain.length - 1] as Certificate
        this.adoptRenewal(chain)
        // A member's further memberships (renewed credentials) are not a join.
        const first = !this.withMembership.has(leaf.subjectName)
        this.withMembership.add(leaf.subjectName)
        if (e.change === 'added' && first) {
          this.emit('member-changed', { change: 'joined', identity: leaf.subjectName })
        }
      } catch {
        // validated before it was stored; nothing to tell
      }
      return
    }
    if (e.recordType === REVOCATION_RECORD_TYPE) return
    this.emit('record-changed', e)
  }

  /** Credentials issued to this member and stored in the group (STORE_CREDENTIALS). */
  private adoptRenewal(chain: Certificate[]): void {
    const leaf = chain[chain.length - 1] as Certificate
    const mine = this.certificate
    if (!isCertificateOf(leaf, this.ctx.identity.publicKey, this.state.identity)) return
    if (leaf.notBefore <= mine.notBefore || serialOf(leaf) === serialOf(mine)) return
    this.state.chain = chain
    this.saveState('renewed credentials')
    // Resolvers check the chain in the PNRP registration: it must be the current one.
    this.participant?.update({ payload: encodeChain(chain) }).catch((err: unknown) => {
      log.warn('could not update the PNRP registration', { error: (err as Error).message })
    })
  }

  /** Learns the revocations of the stored revocation records (`again`: only those). */
  private learnRevocations(options: { again?: boolean } = {}): void {
    const records = [...this.graph.records({ type: REVOCATION_RECORD_TYPE })]
    if (options.again) this.security.directory.clearRevocations()
    for (const r of records) this.security.learnRevocation(r.data, { notify: false })
  }

  /**
   * A revocation arrived: it is told, every member it cuts off loses its connections, and the
   * records signed under the revoked certificate that the revocation does not keep go.
   */
  private onRevoked(peerName: string, serial: string): void {
    this.emit('member-changed', { change: 'left', identity: peerName })
    const graph = this.graph_
    if (!graph || graph.isClosed) return
    const directory = this.security.directory
    const peers = new Set(
      [...graph.connections('neighbor'), ...graph.connections('direct')].map((c) => c.peerId),
    )
    peers.add(peerName)
    for (const peer of peers) {
      if (directory.latest(peer) && directory.isCutOff(peer)) {
        graph.disconnectPeer(peer, `${peer} was revoked`).catch(() => {})
      }
    }
    this.purgeRevoked(graph, new Set([peerName, ...directory.subjectsUnder(serial)]))
  }

  /**
   * Removes what `signers` signed that the revocations no longer keep (in the background);
   * if any went, the revocations are learnt again from what stands (a revoked admin's
   * revocations may have been among them).
   */
  private purgeRevoked(graph: PeerGraph, signers: ReadonlySet<string>): void {
    void (async () => {
      let removed = 0
      for (const signer of signers) {
        if (graph.isClosed) return
        removed += await graph.revalidateModifiedBy(signer)
      }
      if (removed === 0 || graph.isClosed) return
      log.info('records revocations do not keep removed', { removed })
      this.learnRevocations({ again: true })
    })().catch((err: unknown) => {
      log.debug('records not re-validated after a revocation', { error: (err as Error).message })
    })
  }

  private revalidateSoon(): void {
    if (this.revalidation || !this.graph_) return
    this.revalidation = Promise.resolve().then(async () => {
      this.revalidation = undefined
      const graph = this.graph_
      if (!graph || graph.isClosed || !graph.status.synchronized) return
      try {
        await graph.validateDeferredRecords()
      } catch (err) {
        log.debug('deferred records not re-validated', { error: (err as Error).message })
      }
    })
  }

  /** After the first sync: this member publishes its membership record (MS-PPSEC). */
  private afterSync(): void {
    if (this.props_ === undefined) this.learnStored()
    // MEMBER_DATA_OPTIONAL (windows-api.md): a member's data appears once it acts.
    if ((this.props_?.flags ?? 0) & GROUP_FLAG_MEMBER_DATA_OPTIONAL) return
    this.publishMembership().catch((err: unknown) => {
      log.warn('could not publish the membership record', { error: (err as Error).message })
    })
  }

  /** Publishes this member's current chain as its membership record, once per certificate. */
  publishMembership(): Promise<void> {
    this.publishing ??= this.doPublishMembership().finally(() => (this.publishing = undefined))
    return this.publishing
  }

  private async doPublishMembership(): Promise<void> {
    const graph = this.graph
    if (graph.isClosed || !graph.status.synchronized) return
    const serial = serialOf(this.certificate)
    if (this.publishedSerial === serial) return
    for (const r of graph.records({ type: MEMBERSHIP_RECORD_TYPE, creator: this.state.identity })) {
      try {
        const chain = decodeChain(r.data)
        if (serialOf(chain[chain.length - 1] as Certificate) === serial) {
          this.publishedSerial = serial
          return
        }
      } catch {
        // not ours to judge here
      }
    }
    await graph.addRecord({
      type: MEMBERSHIP_RECORD_TYPE,
      data: encodeChain(this.state.chain),
      expiresAt: new Date(this.certificate.notAfter),
    })
    this.publishedSerial = serial
  }

  /** The owner stores the security-properties record (at create and setProperties). */
  async publishProperties(props: GroupProperties): Promise<void> {
    await this.graph.publishRecord(
      securityPropertiesRecordId(props.creatorPeerName),
      (current, now) => securityPropertiesRecord(props, now, current),
    )
    this.adoptProperties(props)
  }

  private adoptProperties(props: GroupProperties): void {
    this.props_ = props
    this.graph.setDeferExpiration((props.flags & GROUP_FLAG_DEFER_EXPIRATION) !== 0)
    if ((this.state.friendlyName ?? '') !== props.friendlyName) {
      // Kept in the state too, so listings show it while the group is closed.
      this.state.friendlyName = props.friendlyName
      this.saveState('the group friendly name')
    }
  }

  /** Saves the state after the saves before it; close() waits for the last. */
  private saveState(what: string): void {
    this.saving = this.saving
      .then(() => this.ctx.save(this.state))
      .catch((err: unknown) => {
        log.warn(`could not save ${what}`, { error: (err as Error).message })
      })
  }

  /**
   * Listens (once) and registers this member in PNRP, so that joiners find it. Before the
   * first sync the listen waits for it (a graph listens only once synchronized).
   */
  async listen(
    options: ListenOptions = {},
  ): Promise<{ address: string; port: number } | undefined> {
    const graph = this.graph
    if (!graph.status.synchronized) {
      this.listenWhenSynchronized = options
      return undefined
    }
    const current = graph.localNode.addresses[0]
    const address = graph.status.listening && current ? { ...current } : await graph.listen(options)
    const pnrp = this.ctx.pnrp()
    if (pnrp && !this.registering && !this.isClosed) {
      this.registering = registerParticipant(pnrp, {
        groupPeerName: this.state.groupPeerName,
        cloud: this.state.cloud,
        identity: this.state.identity,
        port: address.port,
        chain: this.state.chain,
      }).then(
        async (registration) => {
          // Closed while registering: the registration must not outlive the session.
          if (this.isClosed) await registration?.unregister().catch(() => {})
          else this.participant = registration
        },
        (err: unknown) => {
          log.warn('could not register in PNRP', { error: (err as Error).message })
        },
      )
      await this.registering
    }
    return address
  }

  /** Members PNRP knows (none without PNRP). */
  async findMembers(signal?: AbortSignal): Promise<MemberAddress[]> {
    const pnrp = this.ctx.pnrp()
    if (!pnrp) return []
    return findParticipants(pnrp, {
      groupPeerName: this.state.groupPeerName,
      cloud: this.state.cloud,
      root: this.state.root,
      self: this.state.identity,
      now: this.now(),
      revoked: (leaf) => this.security.directory.revokedAt(leaf) !== undefined,
      ...(signal ? { signal } : {}),
    })
  }

  addHandle(): void {
    this.handles++
  }

  /** A handle closed; the last one closes the graph. */
  async release(): Promise<void> {
    this.handles--
    if (this.handles > 0) return
    await this.close()
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const off of this.unsubscribe) off()
      this.unsubscribe = []
      await this.registering
      await this.participant?.unregister().catch(() => {})
      await this.graph_?.close()
      await this.saving
      this.ctx.onClosed()
    })()
    return this.closing
  }
}
