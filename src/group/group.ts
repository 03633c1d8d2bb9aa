/**
 * PeerGroup: an application's handle on a group (windows-api.md section 2). Records, search,
 * presence and direct connections are Graphing's, signed and checked by the group security
 * provider; the group adds members, invitations, credentials, revocation and properties that
 * only the creator may change. Several handles on one identity and group share one session
 * (session.ts).
 */
import { PeerError } from '../core/errors.ts'
import { createLogger } from '../core/log.ts'
import { TypedEmitter, type EventOf, type SubscribeOptions } from '../core/events.ts'
import type { Certificate } from '../identity/certificate.ts'
import { parseIdentityInfo, type IdentityInfo } from '../identity/identity-info.ts'
import type {
  GraphConnectionInfo,
  GraphConnectOptions,
  ListenOptions,
  LocalNodeInfo,
  RecordInput,
  RecordUpdate,
} from '../graph/graph.ts'
import type { PeerRecord } from '../graph/peer-record.ts'
import type { NodeInfo } from '../graph/presence.ts'
import type { SearchQuery } from '../graph/search.ts'
import type { GraphStatus } from '../graph/status.ts'
import { recordTypeFilter } from '../graph/events.ts'
import { ALL_LINK_LOCAL, LINK_LOCAL_PREFIX } from '../pnrp/cloud.ts'
import { parseGuid } from '../graph/records.ts'
import {
  GROUP_FLAG_DISABLE_PRESENCE,
  GROUP_RECORD_TYPES,
  MAX_REVOCATION_KEPT_RECORDS,
  MEMBERSHIP_RECORD_TYPE,
  REVOCATION_RECORD_TYPE,
  ROLE_MEMBER,
  type AuthScheme,
  type RoleName,
} from './constants.ts'
import {
  encodeChain,
  isAdmin,
  issueMembership,
  mayIssue,
  roleUuid,
  rolesOf,
  serialOf,
} from './credentials.ts'
import { GROUP_EVENT_TYPES, type GroupEvents, type GroupEventType } from './events.ts'
import { exportConfig } from './config.ts'
import {
  createInvitation,
  parseInvitation,
  type InvitationInfo,
  type InvitationScope,
} from './invitation.ts'
import {
  changeGroupProperties,
  type GroupProperties,
  type MutableGroupProperties,
} from './properties.ts'
import { passwordVerifier } from './password.ts'
import { encodeRevocation } from './revocation.ts'
import type { GroupSession } from './session.ts'

const log = createLogger('group')

export interface CredentialInfo {
  /** The member's raw Ed25519 key. */
  publicKey: Uint8Array
  issuerPeerName: string
  validityStart: Date
  validityEnd: Date
  roles: RoleName[]
  serial: string
}

export interface GroupEventOptions<
  K extends GroupEventType = GroupEventType,
> extends SubscribeOptions<GroupEvents, K> {
  /** Only record-changed and synchronized events of these record types (others pass). */
  recordTypes?: readonly string[]
}

/** Windows' PEER_MEMBER. */
export interface GroupMember {
  identity: string
  /** The member's highest role. */
  role: RoleName | undefined
  /** True for the local member and members whose presence is known. */
  present: boolean
  nodeId: string | undefined
  addresses: { address: string; port: number }[]
  attributes: string | undefined
  credential: CredentialInfo
}

export interface InvitationOptions {
  /** The invitee's `<PEERIDENTITYINFO>` XML, or its parsed form. */
  invitee: string | IdentityInfo
  /** Default ['member']. */
  roles?: readonly string[]
  /** Default: the group's member-data lifetime from now, within the issuer's own. */
  expiresAt?: Date
  /** 'xml' (default, Windows' form) or 'token' (one line to copy and paste). */
  format?: 'xml' | 'token'
}

function credentialOf(cert: Certificate): CredentialInfo {
  return {
    publicKey: new Uint8Array(cert.subjectKey),
    issuerPeerName: cert.issuerName,
    validityStart: new Date(cert.notBefore),
    validityEnd: new Date(cert.notAfter),
    roles: rolesOf(cert),
    serial: serialOf(cert),
  }
}

function reserved(type: string): boolean {
  return GROUP_RECORD_TYPES.includes(type)
}

function notAuthorized(message: string): PeerError {
  return new PeerError('PEER_E_NOT_AUTHORIZED', message)
}

export class PeerGroup extends TypedEmitter<GroupEvents> {
  /** The group's own peer name. */
  readonly peerName: string
  /** The member's identity peer name. */
  readonly identity: string
  /** Windows' PEER_S_ALREADY_A_MEMBER: a password join of a group this identity was in. */
  readonly alreadyMember: boolean
  private readonly session: GroupSession
  private readonly forwarding: (() => void)[] = []
  private closed = false

  /**
   * Windows' PeerGroupParseInvitation: what an invitation (XML or token) says, its signature
   * checked; whether its credentials are trusted is decided when joining.
   */
  static parseInvitation(invitation: string): InvitationInfo & { authScheme: AuthScheme } {
    const info = parseInvitation(invitation)
    return { ...info, authScheme: info.scheme }
  }

  /** @internal GroupManager makes handles. */
  constructor(session: GroupSession, options: { alreadyMember?: boolean } = {}) {
    super()
    this.alreadyMember = options.alreadyMember === true
    this.session = session
    this.peerName = session.state.groupPeerName
    this.identity = session.state.identity
    session.addHandle()
    for (const type of GROUP_EVENT_TYPES) {
      this.forwarding.push(session.on(type, (data) => this.emit(type, data as never)))
    }
  }

  private get graph() {
    this.checkOpen()
    return this.session.graph
  }

  private checkOpen(): void {
    if (this.closed || this.session.isClosed) {
      throw new PeerError('PEER_E_INVALID_GROUP', `this handle on group ${this.peerName} is closed`)
    }
  }

  /** Windows' PEER_E_GROUP_NOT_READY before the first sync. */
  private checkReady(): void {
    if (!this.graph.status.synchronized) {
      throw new PeerError(
        'PEER_E_GROUP_NOT_READY',
        'the group has not synchronized with a member yet',
      )
    }
  }

  // ---- state ---------------------------------------------------------------------------

  get status(): GraphStatus {
    return this.graph.status
  }

  get localNode(): LocalNodeInfo {
    return this.graph.localNode
  }

  /** The group's properties; PEER_E_GROUP_NOT_READY before the first sync. */
  get properties(): GroupProperties {
    this.checkReady()
    const props = this.session.properties
    if (!props)
      throw new PeerError('PEER_E_GROUP_NOT_READY', 'the group properties have not arrived yet')
    const { password: _password, ...visible } = props
    return { ...visible, authSchemes: [...visible.authSchemes] }
  }

  /** This member's credentials. */
  get credential(): CredentialInfo {
    this.checkOpen()
    return credentialOf(this.session.certificate)
  }

  /** Only the creator (who holds the group key) changes them; never cloud, classifier or names. */
  async setProperties(change: MutableGroupProperties): Promise<void> {
    this.checkReady()
    if (!this.session.state.ownerKey) {
      throw notAuthorized("only the group's creator may change its properties")
    }
    const current = this.session.properties
    if (!current) throw new PeerError('PEER_E_GROUP_NOT_READY', 'the group properties are unknown')
    const next = changeGroupProperties(current, change, (password) =>
      passwordVerifier(password, this.session.ctx.random),
    )
    await this.session.publishProperties(next)
    // The graph carries the presence settings the group's flags and lifetime imply.
    await this.graph.setProperties({
      presenceLifetime: next.presenceLifetime,
      presenceMax: next.flags & GROUP_FLAG_DISABLE_PRESENCE ? 0 : -1,
    })
  }

  // ---- connections -----------------------------------------------------------------------

  /**
   * Windows' PeerGroupConnect: goes online. Finds members (the invitation's addresses, then
   * PNRP's `<groupAuthority>.participant` when the node runs PNRP) and connects to them while
   * not connected; listens (any free port unless given) and registers in PNRP once
   * synchronized. A member that has not synchronized yet and reaches no member gets
   * connection-failed and PEER_E_CONNECTION_FAILED.
   */
  async connect(options: ListenOptions & { signal?: AbortSignal } = {}): Promise<void> {
    this.checkOpen()
    const { signal, ...listen } = options
    const status = this.graph.status
    if (!status.hasConnections) {
      const found = await this.session.findMembers(signal)
      const seen = new Set<string>()
      const candidates = [...(this.session.state.hints ?? []), ...found].filter((a) => {
        const key = `${a.address}|${a.port}`
        if (seen.has(key)) return false
        seen.add(key)
        return true
      })
      if (candidates.length === 0 && !status.synchronized) {
        this.session.emit('connection-failed', { reason: 'PEER_E_CONNECTION_FAILED' })
        throw new PeerError(
          'PEER_E_CONNECTION_FAILED',
          'no member of the group is reachable: none in the invitation or PNRP (try connectByAddress)',
        )
      }
      if (candidates.length > 0) {
        try {
          await this.connectByAddress(candidates, { listen, ...(signal ? { signal } : {}) })
          return
        } catch (err) {
          if (!status.synchronized) throw err
        }
      }
    }
    await this.session.listen(listen)
  }

  /**
   * Listens (any free port unless given) and registers in PNRP; the address. Before the first
   * sync it only arranges to listen once synchronized, and returns undefined.
   */
  async listen(
    options: ListenOptions = {},
  ): Promise<{ address: string; port: number } | undefined> {
    this.checkOpen()
    return this.session.listen(options)
  }

  /**
   * Windows' PeerGroupConnectByAddress: connects to members at these addresses (and listens,
   * as a member online must). Resolves with the connections made; when none could be made,
   * connection-failed fires and PEER_E_CONNECTION_FAILED is thrown.
   */
  async connectByAddress(
    addresses: readonly { address: string; port: number; peerId?: string }[],
    options: { signal?: AbortSignal; listen?: ListenOptions } = {},
  ): Promise<string[]> {
    this.checkOpen()
    const list: readonly { address: string; port: number; peerId?: string }[] = Array.isArray(
      addresses,
    )
      ? addresses
      : []
    if (list.length === 0) {
      throw new PeerError('E_INVALIDARG', 'connectByAddress needs at least one address')
    }
    const made: string[] = []
    const errors: string[] = []
    for (const a of list) {
      try {
        const connect: GraphConnectOptions = { address: a.address, port: a.port }
        if (a.peerId !== undefined) connect.peerId = a.peerId
        if (options.signal) connect.signal = options.signal
        made.push(await this.graph.connect(connect))
      } catch (err) {
        if (err instanceof PeerError && err.code === 'PEER_E_ALREADY_EXISTS') continue
        if (err instanceof PeerError && err.code === 'E_ABORT') throw err
        errors.push(err instanceof PeerError ? err.code : String(err))
      }
    }
    if (made.length === 0 && errors.length > 0) {
      this.session.emit('connection-failed', { reason: 'PEER_E_CONNECTION_FAILED' })
      throw new PeerError('PEER_E_CONNECTION_FAILED', `no member reachable (${errors.join(', ')})`)
    }
    await this.session.listen(options.listen ?? {})
    return made
  }

  connections(kind: 'neighbor' | 'direct' = 'neighbor'): GraphConnectionInfo[] {
    return this.graph.connections(kind)
  }

  openDirectConnection(peerId: string, address: { address: string; port: number }) {
    return this.graph.openDirectConnection(peerId, address)
  }

  closeDirectConnection(connectionId: string): Promise<void> {
    return this.graph.closeDirectConnection(connectionId)
  }

  sendData(connectionId: string, dataType: string, data: Uint8Array): Promise<void> {
    return this.graph.sendData(connectionId, dataType, data)
  }

  // ---- records ---------------------------------------------------------------------------

  /** As Graphing's, signed; the group's own record types are PEER_E_NOT_AUTHORIZED. */
  async addRecord(input: RecordInput): Promise<string> {
    this.checkReady()
    if (input && typeof input === 'object' && typeof input.type === 'string') {
      if (reserved(parseGuid(input.type, 'the record type'))) {
        throw notAuthorized(`record type ${input.type} is reserved for the group itself`)
      }
    }
    await this.session.publishMembership()
    return await this.graph.addRecord(input)
  }

  async updateRecord(recordId: string, changes: RecordUpdate): Promise<void> {
    this.checkReady()
    this.appRecord(recordId)
    await this.graph.updateRecord(recordId, changes)
  }

  /** Windows' PeerGroupDeleteRecord: always for the whole group (no local-only delete). */
  async deleteRecord(recordId: string): Promise<void> {
    this.checkReady()
    this.appRecord(recordId)
    await this.graph.deleteRecord(recordId)
  }

  private appRecord(recordId: string): PeerRecord {
    const record = this.graph.getRecord(recordId)
    if (!record)
      throw new PeerError('PEER_E_RECORD_NOT_FOUND', `no record ${recordId} in this group`)
    if (reserved(record.type)) throw notAuthorized('this record belongs to the group itself')
    return record
  }

  getRecord(recordId: string): PeerRecord | undefined {
    this.checkReady()
    const r = this.graph.getRecord(recordId)
    return r && !reserved(r.type) ? r : undefined
  }

  /** Windows' PeerGroupEnumRecords: by type (no creator filter in Windows; ours is extra). */
  *records(filter: { type?: string; creator?: string } = {}): IterableIterator<PeerRecord> {
    this.checkReady()
    if (filter.type !== undefined && reserved(parseGuid(filter.type, 'the record type'))) return
    for (const r of this.graph.records(filter)) if (!reserved(r.type)) yield r
  }

  search(query: SearchQuery | string): PeerRecord[] {
    this.checkReady()
    return this.graph.search(query).filter((r) => !reserved(r.type))
  }

  /** Windows' PeerGroupValidateDeferredRecords: see PeerGraph.validateDeferredRecords. */
  validateDeferredRecords(recordIds?: readonly string[]): Promise<number> {
    return this.graph.validateDeferredRecords(recordIds)
  }

  /** Windows' PeerGroupExportDatabase: a consistent copy of this member's database, to `file`. */
  async exportDatabase(file: string): Promise<void> {
    this.checkReady()
    await this.graph.exportDatabase(file)
  }

  /**
   * Windows' PeerGroupImportDatabase: merges a database this identity exported from this group
   * (PEER_E_INVALID_DATABASE otherwise) into a group opened with groups.open, before it
   * connects (PEER_E_GROUP_IN_USE). Every record passes the group's checks as if a member
   * had sent it; records signed by members the file introduces are settled at the end.
   */
  async importDatabase(file: string): Promise<void> {
    try {
      await this.graph.importDatabase(file)
    } catch (err) {
      if (!(err instanceof PeerError && err.code === 'PEER_E_GRAPH_IN_USE')) throw err
      throw new PeerError(
        'PEER_E_GROUP_IN_USE',
        'import a database only into a group opened with groups.open, before it connects',
        { cause: err },
      )
    }
    this.session.learnStored()
    await this.graph.validateDeferredRecords()
  }

  async setPresence(on: boolean): Promise<void> {
    if (on) await this.session.publishMembership()
    await this.graph.setPresence(on)
  }

  setNodeAttributes(text: string | null | undefined): Promise<void> {
    return this.graph.setNodeAttributes(text)
  }

  /** The group's shared time (Windows' PeerGroupPeerTimeToUniversalTime of now). */
  peerTime(): Date {
    return this.graph.peerTime()
  }

  /** A local time expressed in peer time (Windows' PeerGroupUniversalTimeToPeerTime). */
  toPeerTime(date: Date): Date {
    return this.graph.toPeerTime(date)
  }

  /** A peer time expressed in local time (Windows' PeerGroupPeerTimeToUniversalTime). */
  fromPeerTime(date: Date): Date {
    return this.graph.fromPeerTime(date)
  }

  // ---- members ---------------------------------------------------------------------------

  /**
   * Windows' PeerGroupEnumMembers: the local member first, then every member whose
   * membership is known (from its membership record or a handshake) and not revoked; with
   * `present`, only those online now (presence). `identity` picks one member.
   */
  members(options: { present?: boolean; identity?: string } = {}): GroupMember[] {
    this.checkReady()
    const directory = this.session.security.directory
    let nodes: NodeInfo[] = []
    try {
      nodes = this.graph.nodes()
    } catch {
      // presence disabled: members are listed without addresses
    }
    const me = this.identity
    const names = [
      me,
      ...directory
        .members()
        .filter((n) => n !== me)
        .sort(),
    ]
    const out: GroupMember[] = []
    for (const name of names) {
      if (options.identity !== undefined && name !== options.identity) continue
      const cert = name === me ? this.session.certificate : directory.latest(name)
      if (!cert || (name !== me && directory.isCutOff(name))) continue
      const node = name === me ? this.graph.localNode : nodes.find((n) => n.peerId === name)
      const present = name === me || node !== undefined
      if (options.present === true && !present) continue
      const roles = rolesOf(cert)
      out.push({
        identity: name,
        role: roles[0],
        present,
        nodeId: node?.nodeId,
        addresses: node ? node.addresses.map((a) => ({ ...a })) : [],
        attributes: node?.attributes,
        credential: credentialOf(cert),
      })
    }
    return out
  }

  // ---- invitations, credentials, revocation ----------------------------------------------

  private inviteeOf(invitee: string | IdentityInfo): IdentityInfo {
    if (typeof invitee === 'string') return parseIdentityInfo(invitee, { now: this.session.now() })
    if (invitee && typeof invitee === 'object' && invitee.certificate) return invitee
    throw new PeerError('E_INVALIDARG', 'invitee must be <PEERIDENTITYINFO> XML')
  }

  /** The subject's chain, issued by this member under the issuing rules. */
  private issue(subject: IdentityInfo, roles: readonly string[], expiresAt?: Date): Certificate[] {
    const mine = this.session.certificate
    const uuids = [...new Set(roles.map(roleUuid))]
    if (!mayIssue(mine, uuids)) {
      throw notAuthorized(
        `${this.identity} may not issue ${roles.join(', ')} (its roles: ${rolesOf(mine).join(', ')})`,
      )
    }
    const now = this.session.now()
    const lifetime = this.session.properties?.memberDataLifetime ?? 0
    const notAfter =
      expiresAt !== undefined
        ? expiresAt.getTime()
        : lifetime > 0
          ? Math.min(now + lifetime * 1000, mine.notAfter)
          : mine.notAfter
    if (!Number.isFinite(notAfter) || notAfter <= now) {
      throw new PeerError('PEER_E_INVALID_TIME_PERIOD', 'expiresAt must be a date after now')
    }
    return issueMembership({
      issuer: this.session.ctx.identity.keyPair,
      issuerChain: this.session.state.chain,
      subjectKey: subject.publicKey,
      subjectName: subject.peerName,
      roles: uuids,
      notBefore: Math.max(now, mine.notBefore),
      notAfter,
      random: this.session.ctx.random,
    })
  }

  private invitationFor(
    chain: Certificate[],
    format = 'xml',
    password?: { role: string; notAfter?: number },
  ) {
    const props = this.session.properties
    const made = createInvitation({
      scheme: password ? 'password' : 'gmc',
      issuer: this.session.ctx.identity.keyPair,
      chain,
      ...(password ? { roles: [password.role] } : {}),
      ...(password?.notAfter !== undefined ? { notAfter: password.notAfter } : {}),
      groupFriendlyName: props?.friendlyName ?? '',
      cloud: this.session.state.cloud,
      scope: scopeOfCloud(this.session.state.cloud),
      cloudFlags: 0,
      issuerFriendlyName: this.session.ctx.identity.friendlyName,
      addresses: this.graph.localNode.addresses.slice(0, 4),
    })
    return format === 'token' ? made.token : made.xml
  }

  /**
   * Windows' PeerGroupCreateInvitation: a membership certificate for the invitee, wrapped as
   * `<PEERINVITATION>` XML (or a token). Admins invite any role, inviting members members and
   * inviting members (PEER_E_NOT_AUTHORIZED otherwise).
   */
  createInvitation(options: InvitationOptions): Promise<string> {
    try {
      this.checkReady()
      if (options === null || typeof options !== 'object') {
        throw new PeerError(
          'E_INVALIDARG',
          'createInvitation needs { invitee, roles?, expiresAt? }',
        )
      }
      const invitee = this.inviteeOf(options.invitee)
      const chain = this.issue(invitee, options.roles ?? [ROLE_MEMBER], options.expiresAt)
      return Promise.resolve(this.invitationFor(chain, options.format))
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * Windows' PeerGroupCreatePasswordInvitation: names the group, its root and this member
   * (whose chain the joiner checks before proving the password), no invitee. Only on a group
   * with password authentication, by a member that may issue its password role.
   */
  createPasswordInvitation(
    options: { expiresAt?: Date; format?: 'xml' | 'token' } = {},
  ): Promise<string> {
    try {
      this.checkReady()
      const props = this.session.properties
      if (!props?.authSchemes.includes('password')) {
        throw new PeerError('PEER_E_INVALID_GROUP_PROPERTIES', 'this group does not take passwords')
      }
      if (!mayIssue(this.session.certificate, [props.passwordRole])) {
        throw notAuthorized(`${this.identity} may not admit password joiners`)
      }
      const notAfter = options.expiresAt?.getTime()
      return Promise.resolve(
        this.invitationFor(this.session.state.chain, options.format, {
          role: props.passwordRole,
          ...(notAfter !== undefined ? { notAfter } : {}),
        }),
      )
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * Windows' PeerGroupIssueCredentials: admins only. New credentials for a member (roles and
   * validity), returned as an invitation; with `store`, also published in the group, where the
   * member picks them up (role changes take effect on its next connection).
   */
  async issueCredentials(
    subject: string | IdentityInfo,
    credentials: { roles?: readonly string[]; expiresAt?: Date } = {},
    options: { store?: boolean; format?: 'xml' | 'token' } = {},
  ): Promise<string> {
    this.checkReady()
    if (!isAdmin(this.session.certificate)) throw notAuthorized('only admins issue credentials')
    const info = this.subjectInfo(subject)
    const current = this.session.security.directory.latest(info.peerName)
    const roles = credentials.roles ?? (current ? rolesOf(current) : ['member'])
    const chain = this.issue(info, roles, credentials.expiresAt)
    const issued = chain[chain.length - 1] as Certificate
    if (current && issued.notBefore <= current.notBefore) {
      throw new PeerError(
        'PEER_E_INVALID_TIME_PERIOD',
        'new credentials must start after the current ones',
      )
    }
    if (options.store === true) {
      await this.graph.addRecord({
        type: MEMBERSHIP_RECORD_TYPE,
        data: encodeChain(chain),
        expiresAt: new Date(issued.notAfter),
      })
    }
    return this.invitationFor(chain, options.format)
  }

  /** A member's identity from identity info, or a peer name whose certificate is known here. */
  private subjectInfo(subject: string | IdentityInfo): IdentityInfo {
    if (typeof subject === 'string' && !subject.trimStart().startsWith('<')) {
      const cert = this.session.security.directory.latest(subject)
      if (!cert) {
        throw new PeerError(
          'PEER_E_NOT_FOUND',
          `no member ${subject} is known here: pass its identity info`,
        )
      }
      return { peerName: cert.subjectName, publicKey: cert.subject, certificate: cert }
    }
    return this.inviteeOf(subject)
  }

  /**
   * Revokes a member (peerinfra, beyond Windows): admins only. Every certificate of the member
   * is withdrawn from now; members then refuse its connections and its new records, and it
   * is cut off where it is connected. Returns how many certificates were revoked.
   */
  async revoke(subjectPeerName: string): Promise<number> {
    this.checkReady()
    if (!isAdmin(this.session.certificate)) throw notAuthorized('only admins revoke members')
    if (subjectPeerName === this.identity) {
      throw new PeerError('E_INVALIDARG', 'a member cannot revoke itself')
    }
    const directory = this.session.security.directory
    const certs = directory
      .certificatesOf(subjectPeerName)
      .filter((c) => directory.revokedAt(c) === undefined)
    if (certs.length === 0 && !directory.latest(subjectPeerName)) {
      throw new PeerError('PEER_E_NOT_FOUND', `no member ${subjectPeerName} is known here`)
    }
    const now = this.session.now()
    for (const cert of certs) {
      // What it signed until now, as this admin holds it, stays; nothing else it signs will.
      const signed = this.session.security.recordsSignedUnder(serialOf(cert), (peer) =>
        this.graph.storedRecordsModifiedBy(peer),
      )
      const kept = signed.length <= MAX_REVOCATION_KEPT_RECORDS ? signed : undefined
      if (!kept) {
        log.warn('too many records to list in the revocation: only its time applies', {
          member: subjectPeerName,
          records: signed.length,
        })
      }
      await this.graph.addRecord({
        type: REVOCATION_RECORD_TYPE,
        data: encodeRevocation({
          serial: cert.serial,
          peerName: subjectPeerName,
          revokedAt: now,
          ...(kept ? { kept } : {}),
        }),
        // As long as the group root: the revocation must outlive the revoked certificate.
        expiresAt: new Date(this.session.state.root.notAfter),
      })
    }
    return certs.length
  }

  /**
   * Windows' PeerGroupExportConfig: `<PEERGROUPCONFIG>` with this member's credentials (and
   * the group key, for the owner) sealed under `password`, for importConfig on another node.
   */
  exportConfig(password: string, options: { logN?: number } = {}): Promise<string> {
    this.checkOpen()
    return exportConfig(this.session.state, password, {
      random: this.session.ctx.random,
      ...(options.logN !== undefined ? { logN: options.logN } : {}),
    })
  }

  // ---- events and lifecycle ---------------------------------------------------------------

  /**
   * Events as an async iterator, optionally of some types and, for record-changed and
   * synchronized, of some record types (Windows' pType filter, as for graphs).
   */
  override events<K extends GroupEventType = GroupEventType>(
    options: GroupEventOptions<K> = {},
  ): AsyncIterableIterator<EventOf<GroupEvents, K>> {
    const { recordTypes, filter, ...rest } = options
    const byType = recordTypeFilter(recordTypes?.map((t) => parseGuid(t, 'a record type filter')))
    return super.events({ ...rest, filter: (ev) => byType(ev) && (!filter || filter(ev)) })
  }

  get isClosed(): boolean {
    return this.closed || this.session.isClosed
  }

  /** Closes this handle; the group goes offline when the last handle on it closes. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const off of this.forwarding) off()
    await this.session.release()
  }
}

/** The invitation's SCOPE for a group cloud: `LinkLocal_<if>` clouds are link-local (cloud.ts). */
function scopeOfCloud(cloud: string): InvitationScope {
  return cloud.startsWith(LINK_LOCAL_PREFIX) || cloud === ALL_LINK_LOCAL ? 'link-local' : 'global'
}
