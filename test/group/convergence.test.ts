/**
 * Group convergence (issue acceptance, as Graphing's): 30 PeerNodes on the simulator form one
 * group by invitation (the admin invites an inviting member, who invites another, so chains
 * run root -> admin -> inviting member -> inviting member -> member), each joiner connecting
 * by address to a few random members already in. Then, on lossy links (2% datagram loss; the
 * simulated streams never lose bytes, so loss also shows as connections cut for longer than the
 * stream timeout), every member adds, updates and deletes its own records while the admin
 * edits and deletes other members'; the group splits in two halves for four minutes, during
 * which one member crashes and another stops cleanly, and both restart from their data folders
 * and reconnect. After the heal the churn stops, and once the stores settle every member holds
 * the same application records (ids, versions, creator, modifier, data, attributes, signature),
 * knows every other member, and every record it holds verifies with a GroupSecurity that
 * learned the members' chains from the invitations alone, never from a store.
 * A failure prints its seed; PEERINFRA_SEED replays it (or runs another seed).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { test } from 'node:test'
import { attributesFromObject } from '../../src/graph/attributes.ts'
import type { PeerRecord } from '../../src/graph/peer-record.ts'
import { encodeRecord } from '../../src/graph/record-codec.ts'
import type { GraphRecord } from '../../src/graph/records.ts'
import type { PeerGroup } from '../../src/group/group.ts'
import { parseInvitation } from '../../src/group/invitation.ts'
import { GroupSecurity } from '../../src/group/security.ts'
import type { Certificate } from '../../src/identity/certificate.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import type { PeerNode } from '../../src/node/peer-node.ts'
import { runScenario, type Sim } from '../../src/sim/index.ts'
import { drive } from '../helpers/sim.ts'
import { cutRandomLink } from '../helpers/sim-faults.ts'
import { startSimNode } from '../helpers/sim-peer.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const MEMBERS = 30
const PORT = 3588
const TYPE = '0cc0c0c0-1111-4222-8333-444455556666'
const DAY = 86_400_000
const MINUTE = 60_000

const root = tempRoot('peerinfra-group-conv-')

interface Member {
  name: string
  peerName: string
  node: PeerNode
  group: PeerGroup
  up: boolean
}

function startNode(sim: Sim, name: string, life: number): Promise<PeerNode> {
  return startSimNode(sim, name, {
    dataDir: join(root.path, sim.seed, name),
    random: `${name}/${life}`,
  })
}

/** The record as the store holds it, rebuilt from what the application sees. */
function graphRecordOf(r: PeerRecord): GraphRecord {
  return {
    type: r.type,
    id: r.id,
    version: r.version,
    flags: r.flags,
    creator: r.creatorId,
    modifiedBy: r.modifiedById,
    createdAt: r.createdAt.getTime(),
    expiresAt: r.expiresAt.getTime(),
    modifiedAt: r.modifiedAt.getTime(),
    attributes: attributesFromObject(r.attributes),
    securityData: r.securityData,
    data: r.data,
  }
}

/** Each live application record, sorted: what must be equal everywhere. */
function snapshot(group: PeerGroup): string[] {
  return [...group.records()]
    .map((r) => {
      const digest = createHash('sha256')
        .update(encodeRecord(graphRecordOf(r)))
        .digest('hex')
        .slice(0, 16)
      const data = Buffer.from(r.data).toString()
      return `${r.id} v${r.version} ${r.creatorId}/${r.modifiedById} ${data} ${digest}`
    })
    .sort()
}

async function converge(seed: string): Promise<void> {
  await runScenario(
    'group-convergence',
    seed,
    async (sim) => {
      const rnd = sim.random.fork('test')
      const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)]!
      const members: Member[] = []
      /** Every chain handed out, from the invitations: all the verifier will trust. */
      const chains: Certificate[][] = []

      // The admin creates the group and listens.
      const adminNode = await startNode(sim, 'm0', 0)
      const adminId = await drive(sim, adminNode.identities.create({ classifier: 'm0' }))
      const admin = await drive(sim, adminNode.groups.create({ classifier: 'converge' }))
      await drive(sim, admin.listen({ port: PORT }))
      const groupPeerName = admin.peerName
      const first = { name: 'm0', peerName: adminId.peerName, node: adminNode, group: admin }
      members.push({ ...first, up: true })

      /** Connects to up to three random members that are up, syncs, and listens on PORT. */
      const connectSomewhere = async (m: Member, candidates: readonly Member[]): Promise<void> => {
        const up = candidates.filter((c) => c !== m && c.up)
        const targets = [...new Set([pick(up), pick(up), pick(up)])]
        await drive(
          sim,
          m.group.connectByAddress(
            targets.map((t) => ({ address: t.name, port: PORT })),
            { listen: { port: PORT } },
          ),
        )
        await sim.runUntil(() => m.group.status.synchronized, {
          maxMs: 2 * MINUTE,
          what: `${m.name} synchronizing`,
        })
        await drive(sim, m.group.listen({ port: PORT }))
      }

      // Joins: m1 is an inviting member of the admin's, m2 one of m1's; the others are invited
      // in turn by the admin, m1 and m2 (chains of 1 to 4 membership certificates).
      for (let i = 1; i < MEMBERS; i++) {
        const name = `m${i}`
        const node = await startNode(sim, name, 0)
        const id = await drive(sim, node.identities.create({ classifier: name }))
        const inviter = members[i <= 2 ? i - 1 : i % 3]!
        const invitation = await drive(
          sim,
          inviter.group.createInvitation({
            invitee: node.identities.getInfoXml(id.peerName),
            roles: i <= 2 ? ['inviting-member'] : ['member'],
          }),
        )
        chains.push(parseInvitation(invitation).chain)
        const group = await drive(sim, node.groups.join({ invitation }))
        const m: Member = { name, peerName: id.peerName, node, group, up: true }
        await connectSomewhere(m, members)
        members.push(m)
      }
      assert.equal(chains[chains.length - 1]!.length, 5, 'root, admin, m1, m2, member')
      await sim.run(MINUTE)

      let counter = 0
      /** One change: mostly a member's to its own records, sometimes the admin's to another's. */
      const operate = async (): Promise<void> => {
        const byAdmin = rnd.float() < 0.2
        const m = byAdmin ? members[0]! : pick(members.filter((x) => x.up))
        const mine = byAdmin
          ? [...m.group.records()].filter((r) => r.creatorId !== m.peerName)
          : [...m.group.records({ creator: m.peerName })]
        const roll = rnd.float()
        const n = counter++
        const data = Buffer.from(`${m.name}#${n}`)
        try {
          if (!byAdmin && (roll < 0.45 || mine.length === 0)) {
            await drive(
              sim,
              m.group.addRecord({
                type: TYPE,
                data,
                attributes: { n, by: m.name },
                expiresAt: new Date(sim.clock.now() + DAY),
              }),
            )
          } else if (mine.length > 0 && roll < 0.85) {
            await drive(sim, m.group.updateRecord(pick(mine).id, { data, attributes: { n } }))
          } else if (mine.length > 0) {
            await drive(sim, m.group.deleteRecord(pick(mine).id))
          }
        } catch (err) {
          // A record deleted meanwhile by a flood: the application would see NOT_FOUND too.
          if ((err as { code?: string }).code !== 'PEER_E_RECORD_NOT_FOUND') throw err
        }
        await sim.run(rnd.int(5000))
      }
      const churn = async (untilMs: number, before?: () => Promise<void>): Promise<void> => {
        for (let i = 0; sim.elapsedMs < untilMs; i++) {
          if (i % 10 === 0) cutRandomLink(sim, members, pick)
          await before?.()
          await operate()
        }
      }

      // A minute and a half of changes everywhere.
      await churn(sim.elapsedMs + 1.5 * MINUTE)

      // The group splits in two halves for four minutes; both go on working. After a minute
      // m5 crashes and m20 stops cleanly; a minute and a half later both come back.
      const names = members.map((m) => m.name)
      const halfOf = (index: number): Member[] =>
        index < MEMBERS / 2 ? members.slice(0, MEMBERS / 2) : members.slice(MEMBERS / 2)
      const split = sim.network.partition(names.slice(0, MEMBERS / 2), names.slice(MEMBERS / 2))
      const splitAt = sim.elapsedMs
      const crashed = 5
      const stopped = [crashed, 20]
      let phase = 0
      await churn(splitAt + 4 * MINUTE, async () => {
        if (phase === 0 && sim.elapsedMs >= splitAt + MINUTE) {
          phase = 1
          for (const index of stopped) {
            const m = members[index]!
            if (index === crashed) sim.network.node(m.name).crash()
            await drive(sim, m.node.stop())
            m.up = false
          }
        } else if (phase === 1 && sim.elapsedMs >= splitAt + 2.5 * MINUTE) {
          phase = 2
          for (const index of stopped) {
            const old = members[index]!
            if (index === crashed) sim.network.node(old.name).restart()
            const node = await startNode(sim, old.name, 1)
            const group = await drive(sim, node.groups.open(groupPeerName))
            assert.equal(group.status.synchronized, true, `${old.name} reopens from its store`)
            const m: Member = { ...old, node, group, up: true }
            members[index] = m
            await connectSomewhere(m, halfOf(index))
          }
        }
      })
      assert.equal(phase, 2, 'the stopped members came back')
      sim.network.heal(split)

      // The churn stops; the stores settle, checked each simulated minute for up to 15.
      const reference = (): string => snapshot(members[0]!.group).join()
      let minutes = 0
      while (minutes < 15 && !members.every((m) => snapshot(m.group).join() === reference())) {
        await sim.run(MINUTE)
        minutes++
      }

      // (1) The same application records everywhere.
      const expected = snapshot(members[0]!.group)
      assert.ok(expected.length > 20, `records left: ${expected.length}`)
      for (const m of members) {
        assert.deepEqual(snapshot(m.group), expected, `${m.name} differs from m0 (seed ${seed})`)
      }
      const edited = [...admin.records()].filter(
        (r) => r.modifiedById === adminId.peerName && r.creatorId !== adminId.peerName,
      )
      assert.ok(edited.length > 0, "some records stand as the admin edited another member's")

      // (2) Every member knows every other.
      const everyone = members.map((m) => m.peerName).sort()
      for (const m of members) {
        const known = m.group
          .members()
          .map((x) => x.identity)
          .sort()
        assert.deepEqual(known, everyone, `${m.name} does not know every member (seed ${seed})`)
      }

      // (3) Every record held verifies for a provider that trusts nothing but the group's
      // root and the chains of the invitations.
      const adminChain = chains[0]!.slice(0, 2)
      const verifier = new GroupSecurity({
        groupPeerName,
        root: adminChain[0]!,
        peerName: 'verifier',
        key: KeyPair.generate(sim.random.fork('verifier')),
        chain: () => adminChain,
        now: () => sim.clock.now(),
      })
      for (const chain of chains) verifier.acceptChain(chain)
      for (const m of members) {
        for (const r of m.group.records()) {
          const verdict = verifier.validateRecord(
            graphRecordOf(r),
            r.version > 1 ? 'updated' : 'added',
          )
          assert.equal(verdict, 'accept', `${m.name}: record ${r.id} v${r.version} (seed ${seed})`)
        }
      }
      // The verifier is not blind: one more byte, or another member named as the modifier, fails.
      const sample = graphRecordOf(edited[0]!)
      const tampered = { ...sample, data: Buffer.concat([sample.data, Buffer.from('!')]) }
      assert.equal(verifier.validateRecord(tampered, 'updated'), 'reject')
      const posing = { ...sample, modifiedBy: members[7]!.peerName }
      assert.equal(verifier.validateRecord(posing, 'updated'), 'reject')

      for (const m of members) await drive(sim, m.node.stop())
    },
    { link: { latencyMs: 10, jitterMs: 20, loss: 0.02 }, log: () => {} },
  )
}

test('30 members converge after loss, a partition and restarts', async () => {
  await converge('group-converge-1')
})
