/**
 * GroupManager (`node.groups`): creates, joins, opens, lists and deletes a node's groups
 * (windows-api.md section 2, "Lifecycle"). A group is a graph whose id is the group's peer
 * name, secured by the group provider; what the member holds besides (root, chain, the
 * owner's group key) is kept by state.ts. Handles on the same identity and group share one
 * session (Windows' multiplexing).
 */
import type { Clock } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import type { IdentitySummary } from '../identity/identity.ts'
import type { Identity } from '../identity/identity.ts'
import type { GraphManager } from '../graph/graphs.ts'
import type { PnrpService } from '../pnrp/service.ts'
import type { StreamTransport } from '../transport/types.ts'
import {
  GROUP_FLAG_DEFER_EXPIRATION,
  GROUP_FLAG_DISABLE_PRESENCE,
  ROLE_ADMIN,
} from './constants.ts'
import {
  createGroupRoot,
  isCertificateOf,
  issueMembership,
  verifyMembership,
} from './credentials.ts'
import { PeerGroup } from './group.ts'
import { importConfig } from './config.ts'
import { findParticipants } from './discovery.ts'
import { parseInvitation, type InvitationInfo } from './invitation.ts'
import { passwordJoin } from './password-join.ts'
import { passwordVerifier } from './password.ts'
import { createGroupProperties, type GroupCreateOptions } from './properties.ts'
import { GROUP_SYNC_PRECEDENCE, GroupSession } from './session.ts'
import { listStates, loadState, removeState, saveState, type GroupState } from './state.ts'
import type { Certificate } from '../identity/certificate.ts'

export interface GroupManagerContext {
  /** Folder holding the group state files. */
  dir: string
  clock: Clock
  random: Random
  graphs: GraphManager
  /** An identity of this node by peer name or classifier; the default one when undefined. */
  identity: (nameOrClassifier: string | undefined) => Identity
  /** The node's stream transport (password joins dial with it). */
  streams: () => StreamTransport
  /** The node's PNRP, when it runs one (members register and are found there). */
  pnrp: () => PnrpService | undefined
}

export interface PasswordJoinOptions {
  identity?: string
  invitation: string
  password: string
  /** Members to join through; the invitation's addresses by default. */
  addresses?: readonly { address: string; port: number }[]
  signal?: AbortSignal
}

export interface GroupSummary {
  groupPeerName: string
  /** As last known here ('' when none is known). */
  friendlyName: string
  identity: string
  cloud: string
  /** Whether this node holds the group key (it created the group). */
  owner: boolean
  open: boolean
}

function keyOf(identity: string, groupPeerName: string): string {
  return `${identity}\n${groupPeerName}`
}

export class GroupManager {
  private readonly ctx: GroupManagerContext
  private readonly states = new Map<string, GroupState>()
  private readonly sessions = new Map<string, GroupSession>()
  /** Sessions being opened, so that concurrent opens wait for the same one. */
  private readonly opening = new Map<string, Promise<GroupSession>>()

  constructor(ctx: GroupManagerContext) {
    this.ctx = ctx
  }

  /** Loads the groups this node belongs to (PeerNode.start calls it). */
  async load(): Promise<void> {
    for (const state of await listStates(this.ctx.dir)) {
      this.states.set(keyOf(state.identity, state.groupPeerName), state)
    }
  }

  /** PeerEnumGroups for the identity store (PEER_E_GROUPS_EXIST on identity delete). */
  groupsOf(identity: string): IdentitySummary[] {
    return [...this.states.values()]
      .filter((s) => s.identity === identity)
      .map((s) => ({ peerName: s.groupPeerName, friendlyName: s.friendlyName ?? '' }))
  }

  list(options: { identity?: string } = {}): GroupSummary[] {
    const identity =
      options.identity === undefined ? undefined : this.ctx.identity(options.identity).peerName
    return [...this.states.values()]
      .filter((s) => identity === undefined || s.identity === identity)
      .map((s) => ({
        groupPeerName: s.groupPeerName,
        friendlyName: s.friendlyName ?? '',
        identity: s.identity,
        cloud: s.cloud,
        owner: s.ownerKey !== undefined,
        open: this.sessions.has(keyOf(s.identity, s.groupPeerName)),
      }))
  }

  exists(groupPeerName: string, options: { identity?: string } = {}): boolean {
    return this.states.has(keyOf(this.ctx.identity(options.identity).peerName, groupPeerName))
  }

  /**
   * Windows' PeerGroupCreate: a new group key and root certificate, the creator's admin
   * membership, the signed security-properties record. The group is synchronized at once;
   * call `connect`/`listen` so that invitees can reach it.
   */
  async create(options: GroupCreateOptions & { identity?: string }): Promise<PeerGroup> {
    if (options === null || typeof options !== 'object') {
      throw new PeerError('E_INVALIDARG', 'groups.create needs { classifier, ... }')
    }
    const identity = this.ctx.identity(options.identity)
    const now = this.ctx.clock.now()
    const root = createGroupRoot(options.classifier, now, this.ctx.random)
    const props = createGroupProperties(options, root.peerName, identity.peerName)
    if (props.authSchemes.includes('password')) {
      props.password = passwordVerifier(options.password as string, this.ctx.random)
    }
    const chain = issueMembership({
      issuer: root.key,
      issuerChain: [root.certificate],
      subjectKey: identity.key,
      subjectName: identity.peerName,
      roles: [ROLE_ADMIN],
      notBefore: now,
      notAfter: root.certificate.notAfter,
      random: this.ctx.random,
    })
    const state: GroupState = {
      groupPeerName: root.peerName,
      identity: identity.peerName,
      cloud: props.cloud,
      friendlyName: props.friendlyName,
      root: root.certificate,
      chain,
      ownerKey: root.key,
    }
    const session = this.newSession(state, identity)
    let created = false
    try {
      const graph = await this.ctx.graphs.create({
        graphId: state.groupPeerName,
        peerId: identity.peerName,
        friendlyName: props.friendlyName,
        comment: props.comment,
        presenceLifetime: props.presenceLifetime,
        presenceMax: props.flags & GROUP_FLAG_DISABLE_PRESENCE ? 0 : -1,
        deferExpiration: (props.flags & GROUP_FLAG_DEFER_EXPIRATION) !== 0,
        security: session.security,
      })
      created = true
      session.attach(graph)
      this.sessions.set(keyOf(state.identity, state.groupPeerName), session)
      await session.publishProperties(props)
      await session.publishMembership()
      await saveState(this.ctx.dir, state)
    } catch (err) {
      await session.close()
      if (created)
        await this.ctx.graphs
          .delete(state.groupPeerName, { peerId: identity.peerName })
          .catch(() => {})
      throw err
    }
    this.states.set(keyOf(state.identity, state.groupPeerName), state)
    return new PeerGroup(session)
  }

  /**
   * Windows' PeerGroupJoin: the invitation's certificate must be this identity's
   * (PEER_E_INVITATION_NOT_TRUSTED otherwise) and its chain must verify now (distinct codes
   * for expired, too long, circular, untrusted chains). Returns an offline handle: connect it.
   * Joining a group this identity already belongs to takes the newer credentials and opens it.
   */
  async join(options: { identity?: string; invitation: string }): Promise<PeerGroup> {
    if (options === null || typeof options !== 'object') {
      throw new PeerError('E_INVALIDARG', 'groups.join needs { invitation, identity? }')
    }
    const identity = this.ctx.identity(options.identity)
    const info = parseInvitation(options.invitation)
    if (info.scheme !== 'gmc') {
      throw new PeerError('E_INVALIDARG', 'this is a password invitation: use groups.passwordJoin')
    }
    const chain = info.chain
    const leaf = chain[chain.length - 1] as Certificate
    if (!isCertificateOf(leaf, identity.publicKey, identity.peerName)) {
      throw new PeerError(
        'PEER_E_INVITATION_NOT_TRUSTED',
        `the invitation was issued to ${leaf.subjectName}, not to ${identity.peerName}`,
      )
    }
    const root = chain[0] as Certificate
    verifyMembership(chain, {
      groupKey: root.subject,
      groupPeerName: info.groupPeerName,
      now: this.ctx.clock.now(),
    })
    const existing = await this.known(identity.peerName, info.groupPeerName)
    if (existing) {
      if (!existing.root.subject.equals(root.subject)) {
        throw new PeerError(
          'PEER_E_INVITATION_NOT_TRUSTED',
          'the invitation names another group of the same name',
        )
      }
      const current = existing.chain[existing.chain.length - 1] as Certificate
      if (leaf.notBefore > current.notBefore) {
        existing.chain = chain
        await saveState(this.ctx.dir, existing)
      }
      return this.openState(existing, identity)
    }
    return this.adopt(identity, info, chain, info.addresses)
  }

  /**
   * Windows' PeerGroupPasswordJoin: reaches a member named by the password invitation (or
   * `addresses`), checks that it is a member allowed to admit joiners, proves the password
   * and receives a membership certificate with the group's password role. A member that
   * joins again gets a handle with `alreadyMember` (Windows' PEER_S_ALREADY_A_MEMBER).
   * PEER_E_NOT_AUTHORIZED for a wrong password, PEER_E_INVALID_TIME_PERIOD for an expired
   * invitation, PEER_E_CONNECTION_FAILED when no member is reachable.
   */
  async passwordJoin(options: PasswordJoinOptions): Promise<PeerGroup> {
    if (options === null || typeof options !== 'object' || typeof options.password !== 'string') {
      throw new PeerError(
        'E_INVALIDARG',
        'groups.passwordJoin needs { invitation, password, identity? }',
      )
    }
    const identity = this.ctx.identity(options.identity)
    const info = parseInvitation(options.invitation)
    if (info.scheme !== 'password') {
      throw new PeerError('E_INVALIDARG', 'this is not a password invitation: use groups.join')
    }
    const now = this.ctx.clock.now()
    if (now < info.validity.start.getTime() || now > info.validity.end.getTime()) {
      throw new PeerError('PEER_E_INVALID_TIME_PERIOD', 'the invitation is not valid now')
    }
    const root = info.chain[0] as Certificate
    verifyMembership(info.chain, { groupKey: root.subject, groupPeerName: info.groupPeerName, now })
    const existing = await this.known(identity.peerName, info.groupPeerName)
    if (existing) return this.openState(existing, identity, { alreadyMember: true })
    const pnrp = this.ctx.pnrp()
    const found = pnrp
      ? await findParticipants(pnrp, {
          groupPeerName: info.groupPeerName,
          cloud: info.cloud,
          root,
          self: identity.peerName,
          now,
          revoked: () => false,
          ...(options.signal ? { signal: options.signal } : {}),
        })
      : []
    const addresses = [...(options.addresses ?? info.addresses), ...found]
    if (addresses.length === 0) {
      throw new PeerError(
        'PEER_E_CONNECTION_FAILED',
        'no member of the group is known (none in the invitation or PNRP): pass addresses',
      )
    }
    const chain = await passwordJoin({
      identity,
      groupPeerName: info.groupPeerName,
      root,
      role: info.roleUuids[0] as string,
      password: options.password,
      addresses,
      streams: this.ctx.streams(),
      clock: this.ctx.clock,
      random: this.ctx.random,
      ...(options.signal ? { signal: options.signal } : {}),
    })
    return this.adopt(identity, info, chain, addresses)
  }

  /**
   * Windows' PeerGroupImportConfig: takes a group to this node from another one's
   * exportConfig. The identity must already be here (PEER_E_IDENTITY_NOT_FOUND, import it
   * first); a group this identity already has is PEER_E_ALREADY_EXISTS unless `overwrite`.
   * Open the group afterwards; it syncs its records from the members.
   */
  async importConfig(
    xml: string,
    password: string,
    options: { overwrite?: boolean } = {},
  ): Promise<{ identity: string; groupPeerName: string }> {
    const state = await importConfig(xml, password, {
      now: this.ctx.clock.now(),
      identityKey: (peerName) => this.ctx.identity(peerName).publicKey,
    })
    const key = keyOf(state.identity, state.groupPeerName)
    if (options.overwrite !== true && (await this.known(state.identity, state.groupPeerName))) {
      throw new PeerError(
        'PEER_E_ALREADY_EXISTS',
        `${state.identity} already has group ${state.groupPeerName} here: pass overwrite`,
      )
    }
    if (this.sessions.has(key)) {
      throw new PeerError('PEER_E_GROUP_IN_USE', 'the group is open here: close it first')
    }
    await saveState(this.ctx.dir, state)
    this.states.set(key, state)
    return { identity: state.identity, groupPeerName: state.groupPeerName }
  }

  /**
   * The state of a group this identity has here, loaded or on disk. A state file that is damaged
   * is PEER_E_INVALID_GROUP: a join or import must not overwrite it (it may hold the group key).
   */
  private async known(identity: string, groupPeerName: string): Promise<GroupState | undefined> {
    const loaded = this.states.get(keyOf(identity, groupPeerName))
    if (loaded) return loaded
    try {
      const state = await loadState(this.ctx.dir, identity, groupPeerName)
      if (state) this.states.set(keyOf(identity, groupPeerName), state)
      return state
    } catch (err) {
      if (!(err instanceof PeerError && err.code === 'PEER_E_INVALID_GROUP')) throw err
      throw new PeerError(
        'PEER_E_INVALID_GROUP',
        `${err.message}; it is kept as it is (it may hold the group key): move it away, or ` +
          `delete the group with groups.delete, then try again`,
        { cause: err },
      )
    }
  }

  /** Keeps the credentials a join brought and opens the group; nothing is kept if that fails. */
  private async adopt(
    identity: Identity,
    info: InvitationInfo,
    chain: Certificate[],
    hints: readonly { address: string; port: number }[],
  ): Promise<PeerGroup> {
    const state: GroupState = {
      groupPeerName: info.groupPeerName,
      identity: identity.peerName,
      cloud: info.cloud,
      friendlyName: info.groupFriendlyName,
      root: chain[0] as Certificate,
      chain,
      hints: hints.map((a) => ({ address: a.address, port: a.port })),
    }
    const key = keyOf(state.identity, state.groupPeerName)
    await saveState(this.ctx.dir, state)
    this.states.set(key, state)
    try {
      return await this.openState(state, identity)
    } catch (err) {
      this.states.delete(key)
      await removeState(this.ctx.dir, state.identity, state.groupPeerName)
      throw err
    }
  }

  /** Windows' PeerGroupOpen: an offline handle on a group this identity belongs to. */
  async open(groupPeerName: string, options: { identity?: string } = {}): Promise<PeerGroup> {
    if (typeof groupPeerName !== 'string' || groupPeerName.length === 0) {
      throw new PeerError('E_INVALIDARG', 'groups.open needs the group peer name')
    }
    const identity = this.ctx.identity(options.identity)
    const state = await this.known(identity.peerName, groupPeerName)
    if (!state) {
      throw new PeerError(
        'PEER_E_NOT_FOUND',
        `${identity.peerName} is not a member of ${groupPeerName} here`,
      )
    }
    return this.openState(state, identity)
  }

  /** A handle on the state's session, opening the session (and its graph) when none is open. */
  private async openState(
    state: GroupState,
    identity: Identity,
    options: { alreadyMember?: boolean } = {},
  ): Promise<PeerGroup> {
    const key = keyOf(state.identity, state.groupPeerName)
    let session = this.sessions.get(key)
    if (!session || session.isClosed) {
      // Two opens at once share one session, handed out only once its graph is attached.
      let pending = this.opening.get(key)
      if (!pending) {
        pending = this.openSession(state, identity).finally(() => this.opening.delete(key))
        this.opening.set(key, pending)
      }
      session = await pending
    }
    return new PeerGroup(session, options)
  }

  private async openSession(state: GroupState, identity: Identity): Promise<GroupSession> {
    const session = this.newSession(state, identity)
    try {
      const graph = await this.ctx.graphs.open(state.groupPeerName, {
        peerId: identity.peerName,
        security: session.security,
        recordTypeSyncPrecedence: GROUP_SYNC_PRECEDENCE,
      })
      session.attach(graph)
    } catch (err) {
      await session.close()
      throw err
    }
    this.sessions.set(keyOf(state.identity, state.groupPeerName), session)
    return session
  }

  private newSession(state: GroupState, identity: Identity): GroupSession {
    const key = keyOf(state.identity, state.groupPeerName)
    const session: GroupSession = new GroupSession(
      {
        clock: this.ctx.clock,
        random: this.ctx.random,
        identity,
        save: (s) => saveState(this.ctx.dir, s),
        onClosed: () => {
          if (this.sessions.get(key) === session) this.sessions.delete(key)
        },
        pnrp: this.ctx.pnrp,
      },
      state,
    )
    return session
  }

  /**
   * Windows' PeerGroupDelete: erases this identity's data of the group (database, credentials,
   * the group key) and invalidates every open handle on it.
   */
  async delete(groupPeerName: string, options: { identity?: string } = {}): Promise<void> {
    const identity = this.ctx.identity(options.identity)
    const key = keyOf(identity.peerName, groupPeerName)
    // A damaged state file is deleted too: deleting is how its owner gets rid of it.
    const state = await this.known(identity.peerName, groupPeerName).catch((err: unknown) => {
      if (err instanceof PeerError && err.code === 'PEER_E_INVALID_GROUP') return 'damaged'
      throw err
    })
    if (!state) {
      throw new PeerError(
        'PEER_E_NOT_FOUND',
        `${identity.peerName} is not a member of ${groupPeerName} here`,
      )
    }
    await this.sessions.get(key)?.close()
    await this.ctx.graphs
      .delete(groupPeerName, { peerId: identity.peerName })
      .catch((err: unknown) => {
        if (!(err instanceof PeerError && err.code === 'PEER_E_DATABASE_NOT_PRESENT')) throw err
      })
    await removeState(this.ctx.dir, identity.peerName, groupPeerName)
    this.states.delete(key)
  }

  /** Closes every open session (the node is stopping). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close()))
  }
}
