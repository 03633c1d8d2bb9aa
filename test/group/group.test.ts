/**
 * Groups of PeerNodes on the simulator's in-memory network: create, invite, join, connect by
 * the invitation's addresses, signed records, members, the admin/member rules on every node,
 * outsiders refused at the handshake, revocation, multiplexed handles, restart and delete.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  GROUP_FLAG_DEFER_EXPIRATION,
  GROUP_FLAG_DISABLE_PRESENCE,
  JOIN_TIMEOUT_MS,
  MEMBERSHIP_RECORD_TYPE,
} from '../../src/group/constants.ts'
import { encodeChain } from '../../src/group/credentials.ts'
import type { GroupEvents } from '../../src/group/events.ts'
import type { MutableGroupProperties } from '../../src/group/properties.ts'
import { PeerError } from '../../src/core/errors.ts'
import { PeerGroup } from '../../src/group/group.ts'
import { participantName } from '../../src/group/discovery.ts'
import { parseInvitation } from '../../src/group/invitation.ts'
import { stateFileName } from '../../src/group/state.ts'
import {
  decodeJoinMessage,
  encodeJoinMessage,
  JOIN_CHANNEL,
  JOIN_REQUEST,
  type JoinMessage,
} from '../../src/group/messages.ts'
import { passwordJoin, passwordProof } from '../../src/group/password-join.ts'
import { passwordKeyPair } from '../../src/group/password.ts'
import { RESTRICTED_CONNECTION_MS } from '../../src/graph/constants.ts'
import { PeerGraph } from '../../src/graph/graph.ts'
import { graphContext } from '../../src/graph/network.ts'
import type { GraphSecurityProvider } from '../../src/graph/security.ts'
import { ConnectionManager } from '../../src/transport/connections.ts'
import { SessionCredentials } from '../../src/transport/secure-session.ts'
import { PeerNode } from '../../src/node/peer-node.ts'
import type { PnrpOptions } from '../../src/pnrp/service.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import { rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { drive } from '../helpers/sim.ts'
import { startSimNode, startSimPeer } from '../helpers/sim-peer.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const MINUTE = 60_000

const root = tempRoot('peerinfra-group-')

interface Peer {
  name: string
  node: PeerNode
  peerName: string
  infoXml: string
}

/** A PeerNode with an identity on `sim`; `pnrp` makes it take part in PNRP. */
async function peer(sim: Sim, name: string, pnrp?: PnrpOptions): Promise<Peer> {
  const { node, peerName } = await startSimPeer(sim, name, {
    dataDir: join(root.path, sim.name, name),
    random: `peer/${name}`,
    ...(pnrp ? { pnrp } : {}),
  })
  return { name, node, peerName, infoXml: node.identities.getInfoXml(peerName) }
}

function collect<K extends keyof GroupEvents>(group: PeerGroup, type: K): GroupEvents[K][] {
  const seen: GroupEvents[K][] = []
  group.on(type, (e) => seen.push(e))
  return seen
}

function later(sim: Sim, minutes: number): Date {
  return new Date(sim.clock.now() + minutes * MINUTE)
}

const text = (b: Uint8Array | undefined): string | undefined => b && Buffer.from(b).toString()

/** Admin `a` creates and listens; `b` joins with an invitation and connects through its hints. */
async function twoMembers(seed: string) {
  const sim = createSim(seed, seed)
  const a = await peer(sim, 'a')
  const b = await peer(sim, 'b')
  const ga = await drive(sim, a.node.groups.create({ classifier: 'team', friendlyName: 'Team' }))
  await drive(sim, ga.connect())
  const invitation = await drive(sim, ga.createInvitation({ invitee: b.infoXml }))
  const gb = await drive(sim, b.node.groups.join({ invitation }))
  await drive(sim, gb.connect())
  await sim.run(5_000)
  return { sim, a, b, ga, gb, invitation }
}

/** twoMembers, and c invited by a, online and synchronized. */
async function threeMembers(seed: string) {
  const two = await twoMembers(seed)
  const { sim, ga } = two
  const c = await peer(sim, 'c')
  const gc = await drive(
    sim,
    c.node.groups.join({ invitation: await ga.createInvitation({ invitee: c.infoXml }) }),
  )
  await drive(sim, gc.connect())
  await sim.run(5_000)
  return { ...two, c, gc }
}

/**
 * a is cut off while b writes a record (dated before any revocation a then makes) that reaches
 * c only; the partition is returned for healing.
 */
async function unseenByAdmin(m: { sim: Sim; gb: PeerGroup; gc: PeerGroup }) {
  const split = m.sim.network.partition(['a'], ['b', 'c'])
  const unseen = await drive(
    m.sim,
    m.gb.addRecord({ type: CHAT, data: Buffer.from('unseen'), expiresAt: later(m.sim, 60) }),
  )
  await m.sim.run(5_000)
  assert.ok(m.gc.getRecord(unseen))
  return { split, unseen }
}

describe('create', () => {
  test('the creator is the first admin, the group is ready and its own records are reserved', async () => {
    const sim = createSim('group-create', 'group-create')
    const a = await peer(sim, 'a')
    const g = await drive(
      sim,
      a.node.groups.create({ classifier: 'team', friendlyName: 'Team', comment: 'hi' }),
    )
    assert.match(g.peerName, /^[0-9a-f]{40}\.team$/)
    assert.notEqual(g.peerName.split('.')[0], a.peerName.split('.')[0])
    assert.equal(g.status.synchronized, true)
    assert.equal(g.properties.friendlyName, 'Team')
    assert.equal(g.properties.creatorPeerName, a.peerName)
    assert.equal(g.properties.memberDataLifetime, 28 * 24 * 3600)
    assert.deepEqual(g.credential.roles, ['admin'])
    const members = g.members()
    assert.equal(members.length, 1)
    assert.equal(members[0]!.identity, a.peerName)
    assert.equal(members[0]!.role, 'admin')
    await rejectsPeerError(
      drive(sim, g.addRecord({ type: MEMBERSHIP_RECORD_TYPE, expiresAt: later(sim, 5) })),
      'PEER_E_NOT_AUTHORIZED',
    )
    assert.deepEqual([...g.records()], [])
    assert.deepEqual(
      a.node.groups.list().map((s) => [s.groupPeerName, s.friendlyName]),
      [[g.peerName, 'Team']],
    )
    assert.deepEqual(a.node.identities.groupsOf(a.peerName), [
      { peerName: g.peerName, friendlyName: 'Team' },
    ])
    await rejectsPeerError(drive(sim, a.node.identities.delete(a.peerName)), 'PEER_E_GROUPS_EXIST')

    const changed = collect(g, 'property-changed')
    await drive(sim, g.setProperties({ friendlyName: 'Team 2' }))
    assert.equal(g.properties.friendlyName, 'Team 2')
    assert.equal(changed.length, 1)
    assert.equal(a.node.groups.list()[0]!.friendlyName, 'Team 2')
    await drive(sim, a.node.stop())
    // The state file keeps it, for listings while the group is closed.
    const file = join(root.path, sim.name, 'a', 'groups', stateFileName(a.peerName, g.peerName))
    assert.equal(
      (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)['friendlyName'],
      'Team 2',
    )
  })

  test('events filter by record type and peer time converts both ways, as for graphs', async () => {
    const sim = createSim('group-events', 'group-events')
    const a = await peer(sim, 'a')
    const g = await drive(sim, a.node.groups.create({ classifier: 'team' }))
    const OTHER = '0dd0d0d0-1111-4222-8333-444455556666'
    const it = g.events({ types: ['record-changed'], recordTypes: [OTHER.toUpperCase()] })
    await drive(sim, g.addRecord({ type: CHAT, expiresAt: later(sim, 30) }))
    const wanted = await drive(sim, g.addRecord({ type: OTHER, expiresAt: later(sim, 30) }))
    const first = await drive(sim, it.next())
    assert.deepEqual(first.value, {
      type: 'record-changed',
      data: { change: 'added', recordId: wanted, recordType: OTHER },
    })
    await it.return?.()
    throwsPeerError(() => g.events({ recordTypes: ['not-a-guid'] }), 'E_INVALIDARG')

    const local = new Date(sim.clock.now())
    assert.equal(g.toPeerTime(local).getTime(), g.peerTime().getTime())
    assert.equal(g.fromPeerTime(g.toPeerTime(local)).getTime(), local.getTime())
    await drive(sim, a.node.stop())
  })

  test('two groups of one node listen on one port, as Windows groups share TCP 3587', async () => {
    const sim = createSim('group-one-port', 'group-one-port')
    const a = await peer(sim, 'a')
    const team = await drive(sim, a.node.groups.create({ classifier: 'team' }))
    const club = await drive(sim, a.node.groups.create({ classifier: 'club' }))
    await drive(sim, team.connect({ port: 3587 }))
    await drive(sim, club.connect({ port: 3587 }))
    assert.deepEqual(
      [team, club].map((g) => g.localNode.addresses),
      [[{ address: 'a', port: 3587 }], [{ address: 'a', port: 3587 }]],
    )
    const b = await peer(sim, 'b')
    const c = await peer(sim, 'c')
    const joined = await Promise.all([
      drive(
        sim,
        b.node.groups.join({ invitation: await team.createInvitation({ invitee: b.infoXml }) }),
      ),
      drive(
        sim,
        c.node.groups.join({ invitation: await club.createInvitation({ invitee: c.infoXml }) }),
      ),
    ])
    for (const g of joined) await drive(sim, g.connect())
    await sim.run(5_000)
    assert.deepEqual(
      joined.map((g) => [g.status.synchronized, g.connections().map((x) => x.peerId)]),
      [
        [true, [a.peerName]],
        [true, [a.peerName]],
      ],
    )
    assert.deepEqual(
      [team, club].map((g) => g.connections().map((x) => x.peerId)),
      [[b.peerName], [c.peerName]],
    )
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test("an invitation's scope follows the group's cloud", async () => {
    const sim = createSim('group-scope', 'group-scope')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const local = await drive(
      sim,
      a.node.groups.create({ classifier: 'lan', cloud: 'LinkLocal_eth0' }),
    )
    const global = await drive(sim, a.node.groups.create({ classifier: 'wan' }))
    const scopes = await Promise.all(
      [local, global].map(async (g) => {
        const info = parseInvitation(await g.createInvitation({ invitee: b.infoXml }))
        return [info.cloud, info.scope]
      }),
    )
    assert.deepEqual(scopes, [
      ['LinkLocal_eth0', 'link-local'],
      ['Global_', 'global'],
    ])
    await drive(sim, Promise.all([a.node.stop(), b.node.stop()]))
  })

  test('bad properties and weak passwords are refused', async () => {
    const sim = createSim('group-create-bad', 'group-create-bad')
    const a = await peer(sim, 'a')
    await rejectsPeerError(
      drive(sim, a.node.groups.create({ classifier: '' })),
      'PEER_E_INVALID_CLASSIFIER',
    )
    await rejectsPeerError(
      drive(sim, a.node.groups.create({ classifier: 'x', memberDataLifetime: 60 })),
      'PEER_E_INVALID_GROUP_PROPERTIES',
    )
    await rejectsPeerError(
      drive(
        sim,
        a.node.groups.create({ classifier: 'x', authentication: ['password'], password: 'short' }),
      ),
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
    )
    assert.deepEqual(a.node.groups.list(), [])
    await drive(sim, a.node.stop())
  })
})

describe('invite and join', () => {
  test('an invited member joins, syncs, and records flood both ways, signed', async () => {
    const { sim, a, b, ga, gb, invitation } = await twoMembers('group-join')
    const info = parseInvitation(invitation)
    assert.equal(PeerGroup.parseInvitation(invitation).authScheme, 'gmc')
    assert.equal(info.groupPeerName, ga.peerName)
    assert.equal(info.subject?.peerName, b.peerName)
    assert.deepEqual(info.roles, ['member'])
    assert.equal(gb.status.synchronized, true)
    assert.equal(gb.properties.friendlyName, 'Team')
    assert.equal(b.node.groups.list()[0]!.friendlyName, 'Team', 'from the invitation')
    assert.deepEqual(gb.credential.roles, ['member'])

    const seenAtB = collect(gb, 'record-changed')
    const fromA = await drive(
      sim,
      ga.addRecord({ type: CHAT, data: Buffer.from('hello'), expiresAt: later(sim, 60) }),
    )
    const fromB = await drive(
      sim,
      gb.addRecord({ type: CHAT, data: Buffer.from('hi'), expiresAt: later(sim, 60) }),
    )
    await sim.run(5_000)
    assert.equal(text(gb.getRecord(fromA)?.data), 'hello')
    assert.equal(text(ga.getRecord(fromB)?.data), 'hi')
    assert.ok(seenAtB.some((e) => e.recordId === fromA && e.change === 'added'))
    assert.ok(
      seenAtB.every((e) => e.recordType === CHAT),
      'the group records are not reported',
    )

    const atA = ga.members().map((m) => [m.identity, m.role])
    assert.deepEqual(atA, [
      [a.peerName, 'admin'],
      [b.peerName, 'member'],
    ])
    assert.equal(gb.members({ identity: a.peerName })[0]?.role, 'admin')

    // A member changes only its own records; an admin changes anyone's, on every node.
    await rejectsPeerError(
      drive(sim, gb.updateRecord(fromA, { data: Buffer.from('x') })),
      'PEER_E_NOT_AUTHORIZED',
    )
    await rejectsPeerError(drive(sim, gb.deleteRecord(fromA)), 'PEER_E_NOT_AUTHORIZED')
    await drive(sim, ga.updateRecord(fromB, { data: Buffer.from('edited by admin') }))
    await sim.run(5_000)
    assert.equal(text(gb.getRecord(fromB)?.data), 'edited by admin')
    assert.equal(gb.getRecord(fromB)?.modifiedById, a.peerName)

    // Members invite nobody; invitations for another identity are refused at join.
    await rejectsPeerError(
      drive(sim, gb.createInvitation({ invitee: a.infoXml })),
      'PEER_E_NOT_AUTHORIZED',
    )
    const c = await peer(sim, 'c')
    await rejectsPeerError(
      drive(sim, c.node.groups.join({ invitation })),
      'PEER_E_INVITATION_NOT_TRUSTED',
    )
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test('an expired invitation is refused; a token works like the XML', async () => {
    const sim = createSim('group-expired', 'group-expired')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const c = await peer(sim, 'c')
    const ga = await drive(sim, a.node.groups.create({ classifier: 'team' }))
    await drive(sim, ga.connect())
    const short = await drive(
      sim,
      ga.createInvitation({ invitee: b.infoXml, expiresAt: later(sim, 10) }),
    )
    const token = await drive(sim, ga.createInvitation({ invitee: c.infoXml, format: 'token' }))
    assert.match(token, /^peerinv1:[A-Za-z0-9_-]+$/)
    await sim.run(30 * MINUTE)
    await rejectsPeerError(
      drive(sim, b.node.groups.join({ invitation: short })),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    const gc = await drive(sim, c.node.groups.join({ invitation: token }))
    await drive(sim, gc.connect())
    await sim.run(5_000)
    assert.equal(gc.status.synchronized, true)
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })
})

describe('outsiders and revocation', () => {
  test('a node without a membership is refused at the handshake', async () => {
    const { sim, a, ga, b } = await twoMembers('group-outsider')
    const failures = collect(ga, 'authentication-failed')
    const o = await peer(sim, 'o')
    const graph = await drive(sim, o.node.graphs.open(ga.peerName))
    const { port } = ga.localNode.addresses[0]!
    await rejectsPeerError(
      drive(sim, graph.connect({ address: 'a', port })),
      'PEER_E_CONNECTION_FAILED',
    )
    assert.equal(graph.status.synchronized, false)
    assert.equal(failures.length, 1)
    assert.equal(failures[0]!.identity, o.peerName)
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), o.node.stop()]))
  })

  test('a revoked member is cut off: connections refused, new records rejected everywhere', async () => {
    const { sim, a, b, ga, gb } = await twoMembers('group-revoke')
    const c = await peer(sim, 'c')
    const changes = collect(ga, 'member-changed')
    const gc = await drive(
      sim,
      c.node.groups.join({ invitation: await ga.createInvitation({ invitee: c.infoXml }) }),
    )
    await drive(sim, gc.connect())
    await sim.run(5_000)
    assert.ok(changes.some((e) => e.change === 'joined' && e.identity === c.peerName))
    assert.ok(changes.some((e) => e.change === 'connected' && e.identity === c.peerName))
    const before = await drive(
      sim,
      gb.addRecord({ type: CHAT, data: Buffer.from('before'), expiresAt: later(sim, 60) }),
    )
    await sim.run(5_000)
    assert.ok(gc.getRecord(before))

    // b is cut off from the others while the admin revokes it, so b does not learn of it.
    const split = sim.network.partition(['b'], ['a', 'c'])
    const left = collect(gc, 'member-changed')
    assert.equal(await drive(sim, ga.revoke(b.peerName)), 1)
    await sim.run(10_000)
    assert.ok(left.some((e) => e.change === 'left' && e.identity === b.peerName))
    assert.equal(
      ga.members().some((m) => m.identity === b.peerName),
      false,
    )
    assert.ok(gc.getRecord(before), 'records signed before the revocation stay')
    // b still believes it is a member; what it writes now is refused by everyone else, and
    // its connections are refused at the handshake.
    const afterId = await drive(
      sim,
      gb.addRecord({ type: CHAT, data: Buffer.from('after'), expiresAt: later(sim, 60) }),
    )
    const failures = collect(ga, 'authentication-failed')
    gc.on('authentication-failed', (e) => failures.push(e))
    sim.network.heal(split)
    const { port } = ga.localNode.addresses[0]!
    await drive(
      sim,
      gb.connectByAddress([{ address: 'a', port }]).catch(() => []),
    )
    await sim.run(180_000)
    assert.equal(ga.getRecord(afterId), undefined)
    assert.equal(gc.getRecord(afterId), undefined)
    assert.ok(
      failures.some((f) => f.identity === b.peerName),
      'b tried again (its maintenance) and a member refused it at the handshake',
    )
    assert.equal(
      ga.connections().some((x) => x.peerId === b.peerName),
      false,
      'a revoked member cannot connect again',
    )
    assert.equal(
      gc.connections().some((x) => x.peerId === b.peerName),
      false,
    )
    await rejectsPeerError(drive(sim, gb.revoke(c.peerName)), 'PEER_E_NOT_AUTHORIZED')
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test('what a revoked member signed that the revoking admin never held goes where it was accepted', async () => {
    const { sim, a, b, c, ga, gb, gc } = await threeMembers('group-revoke-kept')
    const seen = await drive(
      sim,
      gb.addRecord({ type: CHAT, data: Buffer.from('seen'), expiresAt: later(sim, 60) }),
    )
    await sim.run(5_000)
    assert.ok(ga.getRecord(seen) && gc.getRecord(seen))

    const { split, unseen } = await unseenByAdmin({ sim, gb, gc })
    assert.equal(ga.getRecord(unseen), undefined)
    assert.equal(await drive(sim, ga.revoke(b.peerName)), 1)
    const gone: string[] = []
    gc.on('record-changed', (e) => {
      if (e.change === 'deleted') gone.push(e.recordId)
    })
    sim.network.heal(split)
    await sim.run(180_000)

    assert.ok(
      gc.members().every((m) => m.identity !== b.peerName),
      'c learned of the revocation',
    )
    assert.equal(gc.getRecord(unseen), undefined, 'the revocation does not keep it')
    assert.deepEqual(gone, [unseen])
    assert.ok(gc.getRecord(seen), 'what the admin held stays')
    assert.ok(ga.getRecord(seen))
    assert.equal(ga.getRecord(unseen), undefined)
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test('a member that closed before it could remove what a revocation does not keep removes it on open', async () => {
    const { sim, a, b, c, ga, gb, gc } = await threeMembers('group-revoke-reopen')
    const { split, unseen } = await unseenByAdmin({ sim, gb, gc })
    // The purge a revocation starts fails everywhere this time, as if c had stopped first.
    const purge = Object.getOwnPropertyDescriptor(PeerGraph.prototype, 'revalidateModifiedBy')!
    PeerGraph.prototype.revalidateModifiedBy = () =>
      Promise.reject(new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'stopped'))
    try {
      assert.equal(await drive(sim, ga.revoke(b.peerName)), 1)
      sim.network.heal(split)
      await sim.runUntil(() => gc.members().every((m) => m.identity !== b.peerName), {
        maxMs: 180_000,
      })
      assert.ok(gc.getRecord(unseen), 'not removed yet')
    } finally {
      Object.defineProperty(PeerGraph.prototype, 'revalidateModifiedBy', purge)
    }
    await drive(sim, gc.close())
    const reopened = await drive(sim, c.node.groups.open(ga.peerName))
    await sim.run(1_000)
    assert.equal(reopened.getRecord(unseen), undefined, 'removed when the group opened')
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test('a revocation by an admin that is itself revoked without it being kept is undone', async () => {
    const { sim, a, b, ga, gb } = await twoMembers('group-revoke-undone')
    const join = async (name: string, roles: string[]) => {
      const p = await peer(sim, name)
      const invitation = await drive(sim, ga.createInvitation({ invitee: p.infoXml, roles }))
      const g = await drive(sim, p.node.groups.join({ invitation }))
      await drive(sim, g.connect())
      return { p, g }
    }
    const admin = await join('c', ['admin'])
    const d = await join('d', ['member'])
    await sim.run(10_000)
    // a is cut off while admin c revokes b; d learns of it, a never does.
    const split = sim.network.partition(['a'], ['b', 'c', 'd'])
    assert.equal(await drive(sim, admin.g.revoke(b.peerName)), 1)
    await sim.run(10_000)
    assert.equal(
      d.g.members().some((m) => m.identity === b.peerName),
      false,
    )
    // Then a revokes c, keeping only what c had signed as a held it.
    assert.equal(await drive(sim, ga.revoke(admin.p.peerName)), 1)
    sim.network.heal(split)
    await sim.run(180_000)
    assert.equal(
      d.g.members().some((m) => m.identity === admin.p.peerName),
      false,
      'c is revoked at d',
    )
    assert.ok(
      d.g.members().some((m) => m.identity === b.peerName),
      "c's revocation of b is gone, and b is a member again at d",
    )
    assert.equal(gb.status.hasConnections, true)
    await drive(sim, Promise.all([a, b, admin.p, d.p].map((x) => x.node.stop())))
  })
})

describe('handles, restart and delete', () => {
  test('handles share one session; the group goes offline with the last one', async () => {
    const { sim, a, b, ga, gb } = await twoMembers('group-multiplex')
    const second = await drive(sim, b.node.groups.open(ga.peerName))
    assert.equal(second.status.synchronized, true)
    assert.equal(second.status.hasConnections, true, 'already online through the first handle')
    const seen = collect(second, 'record-changed')
    const id = await drive(
      sim,
      ga.addRecord({ type: CHAT, data: Buffer.from('to both'), expiresAt: later(sim, 60) }),
    )
    await sim.run(5_000)
    assert.ok(seen.some((e) => e.recordId === id))
    await drive(sim, gb.close())
    assert.equal(second.status.hasConnections, true)
    throwsPeerError(() => gb.status, 'PEER_E_INVALID_GROUP')
    await drive(sim, second.close())
    assert.equal(b.node.groups.list()[0]?.open, false)
    await drive(sim, Promise.all([a.node.stop(), b.node.stop()]))
  })

  test('two opens at once share one session, ready for both', async () => {
    const { sim, a, b, ga, gb } = await twoMembers('group-open-race')
    await drive(sim, gb.close())
    const [h1, h2] = await drive(
      sim,
      Promise.all([b.node.groups.open(ga.peerName), b.node.groups.open(ga.peerName)]),
    )
    assert.equal(h1.status.synchronized, true)
    assert.equal(h2.status.synchronized, true)
    await drive(sim, h1.close())
    assert.equal(h2.status.synchronized, true, 'the session stays open for the other handle')
    await drive(sim, h2.close())
    assert.equal(b.node.groups.list()[0]?.open, false)
    await drive(sim, Promise.all([a.node.stop(), b.node.stop()]))
  })

  test('membership survives a restart; delete erases it and lets the identity go', async () => {
    const { sim, a, b, ga, gb } = await twoMembers('group-restart')
    const groupName = ga.peerName
    await drive(sim, b.node.stop())
    const node = await startSimNode(sim, 'b', {
      dataDir: join(root.path, sim.name, 'b'),
      random: 'peer/b2',
    })
    assert.deepEqual(
      node.groups.list().map((s) => s.groupPeerName),
      [groupName],
    )
    const again = await drive(sim, node.groups.open(groupName))
    assert.equal(again.status.synchronized, true)
    assert.deepEqual(again.credential.roles, ['member'])
    assert.ok(again.members().some((m) => m.identity === a.peerName))
    void gb
    await rejectsPeerError(drive(sim, node.groups.open('0123.nope')), 'PEER_E_NOT_FOUND')
    await drive(sim, node.groups.delete(groupName))
    assert.equal(again.isClosed, true)
    assert.deepEqual(node.groups.list(), [])
    await drive(sim, node.identities.delete(b.peerName))
    await drive(sim, Promise.all([a.node.stop(), node.stop()]))
  })

  test('a damaged state file is never overwritten by a join or an import; delete removes it', async () => {
    const { sim, a, b, ga, gb, invitation } = await twoMembers('group-damaged')
    const config = await gb.exportConfig('export password 1', { logN: 10 })
    await drive(sim, b.node.stop())
    const file = join(root.path, sim.name, 'b', 'groups', stateFileName(b.peerName, ga.peerName))
    const damaged = readFileSync(file, 'utf8').slice(0, 40)
    writeFileSync(file, damaged)
    const node = await startSimNode(sim, 'b', {
      dataDir: join(root.path, sim.name, 'b'),
      random: 'peer/b2',
    })
    assert.deepEqual(node.groups.list(), [])
    // The import's scrypt runs on the thread pool, outside the simulator's driver.
    for (const attempt of [
      () => drive(sim, node.groups.join({ invitation })),
      () => drive(sim, node.groups.open(ga.peerName)),
      () => node.groups.importConfig(config, 'export password 1'),
    ]) {
      const err = await rejectsPeerError(attempt(), 'PEER_E_INVALID_GROUP')
      assert.match(err.message, /is damaged.*move it away/)
      assert.equal(readFileSync(file, 'utf8'), damaged)
    }
    await drive(sim, node.groups.delete(ga.peerName))
    assert.equal(existsSync(file), false)
    const again = await drive(sim, node.groups.join({ invitation }))
    assert.deepEqual(again.credential.roles, ['member'])
    await drive(sim, Promise.all([a.node.stop(), node.stop()]))
  })
})

describe('password groups', () => {
  const PASSWORD = 'correct horse battery'

  async function passwordGroup(seed: string) {
    const sim = createSim(seed, seed)
    const a = await peer(sim, 'a')
    const ga = await drive(
      sim,
      a.node.groups.create({ classifier: 'club', password: PASSWORD, passwordRole: 'member' }),
    )
    await drive(sim, ga.connect())
    const invitation = await drive(sim, ga.createPasswordInvitation())
    return { sim, a, ga, invitation }
  }

  test('the right password makes a member; a wrong one is refused; joining again is idempotent', async () => {
    const { sim, a, ga, invitation } = await passwordGroup('group-password')
    assert.deepEqual(ga.properties.authSchemes, ['gmc', 'password'])
    assert.equal('password' in ga.properties, false, 'the verifier is not shown')
    const info = parseInvitation(invitation)
    assert.equal(info.scheme, 'password')
    assert.equal(info.subject, undefined)

    const b = await peer(sim, 'b')
    const gb = await drive(sim, b.node.groups.passwordJoin({ invitation, password: PASSWORD }))
    assert.equal(gb.alreadyMember, false)
    assert.deepEqual(gb.credential.roles, ['member'])
    assert.equal(gb.credential.issuerPeerName, a.peerName)
    await drive(sim, gb.connect())
    await sim.run(5_000)
    assert.equal(gb.status.synchronized, true)
    assert.ok(ga.members().some((m) => m.identity === b.peerName))

    const again = await drive(sim, b.node.groups.passwordJoin({ invitation, password: PASSWORD }))
    assert.equal(again.alreadyMember, true)
    await drive(sim, again.close())

    const c = await peer(sim, 'c')
    await rejectsPeerError(
      drive(sim, c.node.groups.passwordJoin({ invitation, password: 'wrong password' })),
      'PEER_E_NOT_AUTHORIZED',
    )
    assert.deepEqual(c.node.groups.list(), [])
    // A member may not admit password joiners with the member role (members issue nothing).
    await rejectsPeerError(drive(sim, gb.createPasswordInvitation()), 'PEER_E_NOT_AUTHORIZED')
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test('the owner changes the password, the role, or ends password joins', async () => {
    const { sim, a, ga, invitation } = await passwordGroup('group-password-change')
    const NEW = 'a brand new passphrase'
    await drive(sim, ga.setProperties({ password: NEW, passwordRole: 'inviting-member' }))
    assert.deepEqual(ga.properties.authSchemes, ['gmc', 'password'])
    const b = await peer(sim, 'b')
    await rejectsPeerError(
      drive(sim, b.node.groups.passwordJoin({ invitation, password: PASSWORD })),
      'PEER_E_NOT_AUTHORIZED',
    )
    const gb = await drive(sim, b.node.groups.passwordJoin({ invitation, password: NEW }))
    assert.deepEqual(gb.credential.roles, ['inviting-member'])

    // Bad changes leave the properties as they were.
    for (const [change, code] of [
      [{ authSchemes: [] }, 'PEER_E_INVALID_GROUP_PROPERTIES'],
      [{ authSchemes: ['gmc'], password: 'another password' }, 'PEER_E_INVALID_GROUP_PROPERTIES'],
      [{ password: 'short' }, 'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY'],
      [{ passwordRole: 'owner' }, 'PEER_E_INVALID_ROLE_PROPERTY'],
    ] as const) {
      await rejectsPeerError(drive(sim, ga.setProperties(change as MutableGroupProperties)), code)
    }
    assert.deepEqual(ga.properties.authSchemes, ['gmc', 'password'])

    // Password joins end; turning them on again needs a password.
    await drive(sim, ga.setProperties({ authSchemes: ['gmc'] }))
    assert.deepEqual(ga.properties.authSchemes, ['gmc'])
    const c = await peer(sim, 'c')
    // Members now refuse a password joiner at the handshake: to it, no member answers.
    await rejectsPeerError(
      drive(sim, c.node.groups.passwordJoin({ invitation, password: NEW })),
      'PEER_E_CONNECTION_FAILED',
    )
    await rejectsPeerError(
      drive(sim, ga.setProperties({ authSchemes: ['gmc', 'password'] })),
      'PEER_E_INVALID_GROUP_PROPERTIES',
    )
    await drive(sim, ga.setProperties({ authSchemes: ['gmc', 'password'], password: PASSWORD }))
    const gc = await drive(sim, c.node.groups.passwordJoin({ invitation, password: PASSWORD }))
    assert.deepEqual(gc.credential.roles, ['member'], 'the role starts again at member')
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test('a member that dials a peer answering as a password joiner gets no link to it', async () => {
    const { sim, a, ga } = await passwordGroup('group-password-dialled')
    const secret = await drive(
      sim,
      ga.addRecord({ type: CHAT, data: Buffer.from('members only'), expiresAt: later(sim, 60) }),
    )
    // o runs a graph of the group's name whose handshake claims to be a password joiner.
    const o = await peer(sim, 'o')
    const impostor: GraphSecurityProvider = {
      name: 'impostor',
      secureRecord: () => new Uint8Array(0),
      validateRecord: () => 'accept',
      connectionPayload: () => JOIN_REQUEST,
      authenticateConnection: () => true,
    }
    const og = await drive(sim, o.node.graphs.create({ graphId: ga.peerName, security: impostor }))
    const { port } = await drive(sim, og.listen())
    await rejectsPeerError(
      drive(sim, ga.connectByAddress([{ address: 'o', port }])),
      'PEER_E_CONNECTION_FAILED',
    )
    await sim.run(5_000)
    assert.equal(ga.connections().length, 0)
    assert.equal(og.getRecord(secret), undefined, 'nothing of the group reached o')
    await drive(sim, Promise.all([a.node.stop(), o.node.stop()]))
  })

  test('a proof made for another handshake is refused', async () => {
    const { sim, a, ga, invitation } = await passwordGroup('group-password-replay')
    const o = await peer(sim, 'o')
    const identity = o.node.identities.get(o.peerName)
    const info = parseInvitation(invitation)
    const manager = new ConnectionManager({
      credentials: new SessionCredentials(identity, sim.random.fork('replay')),
      context: graphContext(ga.peerName),
      streams: sim.node('o').streams,
      clock: sim.clock,
      random: sim.random.fork('replay/cm'),
      payload: () => JOIN_REQUEST,
    })
    const { port } = ga.localNode.addresses[0]!
    const connection = await drive(sim, manager.connect({ address: 'a', port }))
    const channel = connection.mux.open(JOIN_CHANNEL)
    const replies: JoinMessage[] = []
    channel.on('message', (m) => replies.push(decodeJoinMessage(m)))
    await drive(sim, channel.send(encodeJoinMessage({ t: 'hello', v: 1 })))
    await sim.run(1_000)
    const salt = replies[0]
    assert.equal(salt?.t, 'salt')
    const key = passwordKeyPair(PASSWORD, (salt as { salt: Uint8Array }).salt)
    // The right password, but proven for a handshake this connection is not.
    const otherHandshake = new Uint8Array(32).fill(7)
    await drive(
      sim,
      channel.send(
        encodeJoinMessage({ t: 'proof', proof: passwordProof(key, otherHandshake, o.peerName) }),
      ),
    )
    await sim.run(1_000)
    assert.deepEqual(replies[1], {
      t: 'refused',
      code: 'PEER_E_NOT_AUTHORIZED',
      reason: 'the password is wrong',
    })
    // A graph channel on this restricted connection is refused too.
    const graphChannel = connection.mux.open('graph/neighbor')
    let closed = false
    graphChannel.on('close', () => (closed = true))
    await sim.run(1_000)
    assert.equal(closed, true)
    assert.equal(info.groupPeerName, ga.peerName)
    // And the restricted connection itself ends RESTRICTED_CONNECTION_MS after it began.
    let ended = false
    manager.on('disconnected', () => (ended = true))
    await sim.run(RESTRICTED_CONNECTION_MS - 10_000)
    assert.equal(ended, false)
    await sim.run(10_000)
    assert.equal(ended, true)
    assert.equal(ga.connections().length, 0)
    await drive(sim, manager.stop())
    await drive(sim, Promise.all([a.node.stop(), o.node.stop()]))
  })

  test('a member that answers each step just in time still ends the join after JOIN_TIMEOUT_MS', async () => {
    const { sim, a, invitation } = await passwordGroup('group-password-slow')
    const b = await peer(sim, 'b')
    const info = parseInvitation(invitation)
    // m speaks as a (the owner) but answers the hello 20 s late and the proof 15 s late: each
    // step within the limit, the two together not.
    sim.network.addNode('m')
    const member = new ConnectionManager({
      credentials: new SessionCredentials(
        a.node.identities.get(a.peerName),
        sim.random.fork('slow'),
      ),
      context: graphContext(info.groupPeerName),
      streams: sim.node('m').streams,
      clock: sim.clock,
      random: sim.random.fork('slow/cm'),
      payload: () => encodeChain(info.chain),
    })
    const { port } = await drive(sim, member.listen())
    const answers: JoinMessage[] = [
      { t: 'salt', salt: new Uint8Array(16).fill(1) },
      { t: 'refused', code: 'PEER_E_NOT_AUTHORIZED', reason: 'too late to matter' },
    ]
    const delays = [20_000, 15_000]
    member.on('connected', (connection) =>
      connection.mux.on('channel', (channel) =>
        channel.on('message', () => {
          const answer = answers.shift()!
          sim.clock.setTimeout(
            () => void channel.send(encodeJoinMessage(answer)).catch(() => undefined),
            delays.shift()!,
          )
        }),
      ),
    )
    const started = sim.clock.now()
    await rejectsPeerError(
      drive(
        sim,
        passwordJoin({
          identity: b.node.identities.get(b.peerName),
          groupPeerName: info.groupPeerName,
          root: info.chain[0]!,
          role: info.roleUuids[0]!,
          password: PASSWORD,
          addresses: [{ address: 'm', port }],
          streams: sim.node('b').streams,
          clock: sim.clock,
          random: sim.random.fork('slow/joiner'),
        }),
      ),
      'PEER_E_CONNECTION_FAILED',
    )
    const took = sim.clock.now() - started
    assert.ok(took >= JOIN_TIMEOUT_MS && took < JOIN_TIMEOUT_MS + 1_000, `gave up after ${took} ms`)
    await drive(sim, member.stop())
    await drive(sim, Promise.all([a.node.stop(), b.node.stop()]))
  })
})

describe('config export and import', () => {
  test('a member takes its group to another node; wrong passwords and edits are refused', async () => {
    const home1 = join(root.path, 'config-1')
    const home2 = join(root.path, 'config-2')
    const one = await PeerNode.start({ dataDir: home1 })
    const two = await PeerNode.start({ dataDir: home2 })
    try {
      const alice = await one.identities.create({ classifier: 'alice' })
      const group = await one.groups.create({ classifier: 'team', friendlyName: 'Team' })
      const note = await group.addRecord({
        type: CHAT,
        data: Buffer.from('kept in the database'),
        expiresAt: new Date(Date.now() + 60 * MINUTE),
      })
      const database = join(root.path, 'config-team.sqlite3')
      await group.exportDatabase(database)
      await rejectsPeerError(group.importDatabase(database), 'PEER_E_GROUP_IN_USE', 'created here')
      const config = await group.exportConfig('config password', { logN: 10 })
      assert.match(config, /^<PEERGROUPCONFIG VERSION="1.0"><IDENTITYPEERNAME>/)
      assert.ok(config.includes(`<GROUPPEERNAME>${group.peerName}</GROUPPEERNAME>`))

      await rejectsPeerError(
        two.groups.importConfig(config, 'config password'),
        'PEER_E_IDENTITY_NOT_FOUND',
      )
      const exported = await one.identities.export(alice.peerName, 'identity password')
      await two.identities.import(exported, 'identity password')
      await rejectsPeerError(
        two.groups.importConfig(config, 'wrong password'),
        'PEER_E_DECRYPTION_FAILED',
      )
      const renamed = config.replace(/<CLOUDNAME>[^<]*</, '<CLOUDNAME>Other_<')
      await rejectsPeerError(two.groups.importConfig(renamed, 'config password'), 'E_INVALIDARG')

      const imported = await two.groups.importConfig(config, 'config password')
      assert.deepEqual(imported, { identity: alice.peerName, groupPeerName: group.peerName })
      assert.equal(two.groups.list()[0]?.owner, true, "the owner's group key travels too")
      await rejectsPeerError(
        two.groups.importConfig(config, 'config password'),
        'PEER_E_ALREADY_EXISTS',
      )
      await two.groups.importConfig(config, 'config password', { overwrite: true })
      const opened = await two.groups.open(group.peerName)
      assert.equal(opened.credential.roles[0], 'admin')
      assert.equal(opened.status.synchronized, false, 'its records come from the members')
      // ... or from a database this identity exported (PeerGroupImportDatabase), offline.
      await opened.importDatabase(database)
      assert.equal(opened.status.synchronized, true)
      assert.equal(text(opened.getRecord(note)?.data), 'kept in the database')
      assert.deepEqual(
        opened.members().map((m) => m.identity),
        [alice.peerName],
      )
    } finally {
      await one.stop()
      await two.stop()
    }
  })
})

describe('discovery through PNRP', () => {
  test('members found through <groupAuthority>.participant, for invitations and passwords', async () => {
    const sim = createSim('group-pnrp', 'group-pnrp')
    const start = (name: string, seeds: string[]): Promise<Peer> =>
      peer(sim, name, { port: 3540, seeds })
    const a = await start('a', [])
    const b = await start('b', ['a:3540'])
    const c = await start('c', ['a:3540'])
    await sim.run(30_000)
    const ga = await drive(
      sim,
      a.node.groups.create({ classifier: 'team', password: 'correct horse battery' }),
    )
    // Made before a listens: the invitations name no address, so only PNRP can find a.
    const invitation = await drive(sim, ga.createInvitation({ invitee: b.infoXml }))
    const passwordInvitation = await drive(sim, ga.createPasswordInvitation())
    assert.deepEqual(parseInvitation(invitation).addresses, [])
    await drive(sim, ga.connect())
    await sim.run(10_000)
    const found = await drive(
      sim,
      a.node.pnrp.resolve(participantName(ga.peerName), { criteria: 'any' }),
    )
    assert.equal(found.length, 1)

    const gb = await drive(sim, b.node.groups.join({ invitation }))
    await drive(sim, gb.connect())
    await sim.runUntil(() => gb.status.synchronized, { maxMs: 60_000, what: 'b synchronized' })
    const gc = await drive(
      sim,
      c.node.groups.passwordJoin({
        invitation: passwordInvitation,
        password: 'correct horse battery',
      }),
    )
    await drive(sim, gc.connect())
    await sim.runUntil(() => gc.status.synchronized, { maxMs: 60_000, what: 'c synchronized' })
    await sim.run(10_000)
    assert.deepEqual(
      ga
        .members()
        .map((m) => m.identity)
        .sort(),
      [a.peerName, b.peerName, c.peerName].sort(),
    )
    // A registration under the name by a non-member is ignored by resolvers.
    const o = await start('o', ['a:3540'])
    await sim.run(10_000)
    await drive(
      sim,
      o.node.pnrp.register({
        peerName: participantName(ga.peerName),
        port: 9,
        payload: Buffer.from('x'),
      }),
    )
    await sim.run(5_000)
    const d = await start('d', ['a:3540'])
    await sim.run(10_000)
    const gd = await drive(
      sim,
      d.node.groups.passwordJoin({
        invitation: passwordInvitation,
        password: 'correct horse battery',
      }),
    )
    assert.equal(gd.credential.roles[0], 'member')
    await drive(sim, Promise.all([a, b, c, o, d].map((p) => p.node.stop())))
  })
})

describe('credentials and reachability', () => {
  test('credentials an admin stores in the group reach the member, with the new role', async () => {
    const { sim, a, b, ga, gb } = await twoMembers('group-issue')
    assert.deepEqual(gb.credential.roles, ['member'])
    const changes = [collect(ga, 'member-changed'), collect(gb, 'member-changed')]
    await rejectsPeerError(
      drive(sim, gb.issueCredentials(a.peerName, { roles: ['member'] })),
      'PEER_E_NOT_AUTHORIZED',
    )
    await drive(
      sim,
      ga.issueCredentials(b.peerName, { roles: ['inviting-member'] }, { store: true }),
    )
    await sim.run(10_000)
    assert.deepEqual(gb.credential.roles, ['inviting-member'])
    assert.equal(ga.members({ identity: b.peerName })[0]?.role, 'inviting-member')
    // Renewed credentials are not a join, on either side.
    for (const seen of changes)
      assert.deepEqual(
        seen.filter((e) => e.change === 'joined'),
        [],
      )
    // Now b may invite members, and only members or inviting members.
    const c = await peer(sim, 'c')
    await drive(sim, gb.createInvitation({ invitee: c.infoXml }))
    await rejectsPeerError(
      drive(sim, gb.createInvitation({ invitee: c.infoXml, roles: ['admin'] })),
      'PEER_E_NOT_AUTHORIZED',
    )
    await drive(sim, Promise.all([a.node.stop(), b.node.stop(), c.node.stop()]))
  })

  test('connect with no member reachable fires connection-failed', async () => {
    const sim = createSim('group-unreachable', 'group-unreachable')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const ga = await drive(sim, a.node.groups.create({ classifier: 'team' }))
    await drive(sim, ga.connect())
    const invitation = await drive(sim, ga.createInvitation({ invitee: b.infoXml }))
    await drive(sim, a.node.stop())
    const gb = await drive(sim, b.node.groups.join({ invitation }))
    const failed = collect(gb, 'connection-failed')
    await rejectsPeerError(drive(sim, gb.connect()), 'PEER_E_CONNECTION_FAILED')
    assert.ok(failed.length >= 1)
    assert.equal(gb.status.synchronized, false)
    await drive(sim, b.node.stop())
  })
})

describe('member data and presence flags', () => {
  test('with member data optional a member publishes its membership when it first acts', async () => {
    const sim = createSim('group-optional', 'group-optional')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const ga = await drive(
      sim,
      a.node.groups.create({ classifier: 'team', memberDataOptional: true }),
    )
    await drive(sim, ga.connect())
    const invitation = await drive(sim, ga.createInvitation({ invitee: b.infoXml }))
    const gb = await drive(sim, b.node.groups.join({ invitation }))
    await drive(sim, gb.connect())
    await sim.run(5_000)
    const graphAtA = a.node.graphs.list().find((g) => g.graphId === ga.peerName)!
    const memberships = () =>
      [...graphAtA.records({ type: MEMBERSHIP_RECORD_TYPE })].map((r) => r.creatorId).sort()
    assert.deepEqual(memberships(), [a.peerName], 'b has not acted yet')
    await drive(
      sim,
      gb.addRecord({ type: CHAT, data: Buffer.from('hi'), expiresAt: later(sim, 60) }),
    )
    await sim.run(5_000)
    assert.deepEqual(memberships(), [a.peerName, b.peerName].sort())
    await drive(sim, Promise.all([a.node.stop(), b.node.stop()]))
  })

  test("the owner's presence flags reach every member's graph", async () => {
    const { sim, a, b, ga, gb } = await twoMembers('group-flags')
    const graphOf = (p: Peer, g: PeerGroup) =>
      p.node.graphs.list().find((x) => x.graphId === g.peerName)!
    assert.equal(graphOf(b, gb).properties.presenceMax, -1)
    await drive(
      sim,
      ga.setProperties({ flags: GROUP_FLAG_DISABLE_PRESENCE, presenceLifetime: 600 }),
    )
    await sim.run(5_000)
    assert.equal(gb.properties.flags, GROUP_FLAG_DISABLE_PRESENCE)
    assert.equal(graphOf(b, gb).properties.presenceMax, 0)
    assert.equal(graphOf(b, gb).properties.presenceLifetime, 600)
    await rejectsPeerError(drive(sim, gb.setProperties({ comment: 'x' })), 'PEER_E_NOT_AUTHORIZED')
    await drive(sim, Promise.all([a.node.stop(), b.node.stop()]))
  })

  test('DEFER_EXPIRATION set or cleared by the owner holds or releases expiry', async () => {
    const sim = createSim('group-defer', 'group-defer')
    const a = await peer(sim, 'a')
    // Never connected to anyone: DEFER_EXPIRATION applies.
    const ga = await drive(sim, a.node.groups.create({ classifier: 'solo' }))
    await drive(sim, ga.setProperties({ flags: GROUP_FLAG_DEFER_EXPIRATION }))
    const id = await drive(
      sim,
      ga.addRecord({ type: CHAT, data: Buffer.from('hold me'), expiresAt: later(sim, 1) }),
    )
    await sim.run(3 * MINUTE)
    assert.equal(text(ga.getRecord(id)?.data), 'hold me', 'held while DEFER_EXPIRATION is set')
    await drive(sim, ga.setProperties({ flags: 0 }))
    await sim.run(MINUTE)
    assert.equal(ga.getRecord(id), undefined, 'expired once it is cleared')
    await drive(sim, a.node.stop())
  })
})
