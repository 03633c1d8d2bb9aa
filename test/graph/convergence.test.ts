/**
 * Convergence (issue 5 acceptance): 50 PeerNodes on the simulator with random neighbours make
 * random adds, updates and deletes from every node while connections break at random (the
 * simulated streams never lose bytes, so loss shows as connections that close mid-flood), the
 * graph splits in two halves for ten minutes and heals, and two nodes crash and restart.
 * Afterwards every node holds the same records (ids, versions, data), compared store by store,
 * for several seeds. A failure prints its seed; PEERINFRA_SEED replays it.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import type { PeerGraph } from '../../src/graph/graph.ts'
import type { PeerNode } from '../../src/node/peer-node.ts'
import { runScenario, type Sim } from '../../src/sim/index.ts'
import { drive } from '../helpers/sim.ts'
import { cutRandomLink } from '../helpers/sim-faults.ts'
import { startSimNode, startSimPeer } from '../helpers/sim-peer.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const NODES = 50
const PORT = 3587
const TYPE = '0cc0c0c0-1111-4222-8333-444455556666'
const DAY = 86_400_000
const MINUTE = 60_000

const root = tempRoot('peerinfra-graph-conv-')

interface Member {
  name: string
  node: PeerNode
  graph: PeerGraph
  up: boolean
}

async function startMember(sim: Sim, name: string, create: boolean, life: number): Promise<Member> {
  const node = await startSimNode(sim, name, {
    dataDir: join(root.path, sim.seed, name),
    random: `${name}/${life}`,
  })
  if (node.identities.list().length === 0) {
    await drive(sim, node.identities.create({ classifier: name }))
  }
  const graph = await drive(
    sim,
    create ? node.graphs.create({ graphId: 'converge' }) : node.graphs.open('converge'),
  )
  return { name, node, graph, up: true }
}

/** Each live record as `id v<version> <data>`, sorted: what must be equal everywhere. */
function snapshot(graph: PeerGraph): string[] {
  return [...graph.records()]
    .map((r) => `${r.id} v${r.version} ${Buffer.from(r.data).toString()}`)
    .sort()
}

async function converge(seed: string): Promise<void> {
  await runScenario('graph-convergence', seed, async (sim) => {
    const rnd = sim.random.fork('test')
    const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)]!
    const members: Member[] = []
    const connectSomewhere = async (m: Member, candidates: Member[]): Promise<void> => {
      const target = pick(candidates.filter((c) => c !== m && c.up))
      await drive(sim, m.graph.connect({ address: target.name, port: PORT }))
      await sim.runUntil(() => m.graph.status.synchronized, { maxMs: MINUTE, what: 'first sync' })
    }

    // Build: each node connects to a random earlier one, then listens.
    for (let i = 0; i < NODES; i++) {
      const m = await startMember(sim, `n${i}`, i === 0, 0)
      if (i > 0) await connectSomewhere(m, members)
      await drive(sim, m.graph.listen({ port: PORT }))
      members.push(m)
    }
    await sim.run(MINUTE)

    let counter = 0
    const operate = async (): Promise<void> => {
      const m = pick(members.filter((x) => x.up && x.graph.status.synchronized))
      const own = [...m.graph.records()]
      const roll = rnd.float()
      const data = Buffer.from(`${m.name}#${counter++}`)
      try {
        if (roll < 0.5 || own.length === 0) {
          await drive(
            sim,
            m.graph.addRecord({ type: TYPE, data, expiresAt: new Date(sim.clock.now() + DAY) }),
          )
        } else if (roll < 0.85) {
          await drive(sim, m.graph.updateRecord(pick(own).id, { data }))
        } else {
          await drive(sim, m.graph.deleteRecord(pick(own).id))
        }
      } catch (err) {
        // A record deleted meanwhile by a flood: the application would see NOT_FOUND too.
        if ((err as { code?: string }).code !== 'PEER_E_RECORD_NOT_FOUND') throw err
      }
      await sim.run(rnd.int(2000))
    }

    for (let i = 0; i < 60; i++) {
      if (i % 10 === 0) cutRandomLink(sim, members, pick)
      await operate()
    }

    // The graph splits in two halves for ten minutes; both go on working.
    const half = members.slice(0, NODES / 2).map((m) => m.name)
    const rest = members.slice(NODES / 2).map((m) => m.name)
    const split = sim.network.partition(half, rest)
    for (let i = 0; i < 30; i++) {
      if (i === 10) {
        // Two nodes crash (one on each side) and come back a little later.
        for (const m of [members[3]!, members[NODES - 3]!]) {
          sim.network.node(m.name).crash()
          await drive(sim, m.node.stop())
          m.up = false
        }
      }
      if (i === 20) {
        for (const index of [3, NODES - 3]) {
          const old = members[index]!
          sim.network.node(old.name).restart()
          const m = await startMember(sim, old.name, false, 1)
          await drive(sim, m.graph.listen({ port: PORT }))
          members[index] = m
          const side = index < NODES / 2 ? members.slice(0, NODES / 2) : members.slice(NODES / 2)
          await connectSomewhere(m, side)
        }
      }
      await operate()
    }
    await sim.run(10 * MINUTE - (sim.elapsedMs % MINUTE))
    sim.network.heal(split)

    // Converged: every node's records equal, checked each simulated minute for up to an hour.
    const reference = (): string[] => snapshot(members[0]!.graph)
    let minutes = 0
    while (minutes < 60 && !members.every((m) => snapshot(m.graph).join() === reference().join())) {
      await sim.run(MINUTE)
      minutes++
    }
    const expected = reference()
    if (process.env['GRAPH_DEBUG']) {
      const groups = new Map<string, string[]>()
      for (const m of members) {
        const key = snapshot(m.graph).join()
        const names = m.graph
          .connections()
          .map((c) => c.peerId.split('.')[1])
          .join('/')
        groups.set(key, [...(groups.get(key) ?? []), `${m.name}(${names})`])
      }
      for (const [k, names] of groups)
        process.stderr.write(`${k.split(',').length} records: ${names.join(' ')}\n`)
    }
    assert.ok(expected.length > 20, `records left: ${expected.length}`)
    for (const m of members) {
      assert.deepEqual(snapshot(m.graph), expected, `${m.name} differs from n0 (seed ${seed})`)
    }
    process.stderr.write(
      `graph-convergence seed=${seed}: ${expected.length} records equal on ${NODES} nodes ` +
        `${minutes} simulated min after the heal\n`,
    )
    for (const m of members) await drive(sim, m.node.stop())
  })
}

for (const seed of ['converge-1', 'converge-2', 'converge-3']) {
  test(`50 nodes converge after loss, a partition and restarts (seed ${seed})`, async () => {
    await converge(seed)
  })
}

test('with probing off, signature and contact records find and rejoin a split graph', async () => {
  await runScenario('graph-partition-repair', 'repair-1', async (sim) => {
    const rnd = sim.random.fork('test')
    const names = Array.from({ length: 16 }, (_, i) => `p${i}`)
    const graphs: PeerGraph[] = []
    const nodes: PeerNode[] = []
    for (const [i, name] of names.entries()) {
      const { node } = await startSimPeer(sim, name, {
        dataDir: join(root.path, 'repair', name),
        random: name,
      })
      const tuning = { probeProbability: 0 }
      const g = await drive(
        sim,
        i === 0
          ? node.graphs.create({ graphId: 'repair', tuning })
          : node.graphs.open('repair', { tuning }),
      )
      if (i > 0) {
        await drive(sim, g.connect({ address: names[rnd.int(i)]!, port: PORT }))
        await sim.runUntil(() => g.status.synchronized, { maxMs: MINUTE, what: 'sync' })
      }
      await drive(sim, g.listen({ port: PORT }))
      graphs.push(g)
      nodes.push(node)
    }
    // Let the signature and the contacts settle.
    await sim.run(15 * MINUTE)
    const split = sim.network.partition(names.slice(0, 8), names.slice(8))
    // Longer than the signature lives without its holder (5 min), so the part without the
    // lowest node elects its own; shorter than contact records live (15 min).
    await sim.run(8 * MINUTE)
    const left = await drive(
      sim,
      graphs[1]!.addRecord({
        type: TYPE,
        data: Buffer.from('left'),
        expiresAt: new Date(sim.clock.now() + DAY),
      }),
    )
    const right = await drive(
      sim,
      graphs[9]!.addRecord({
        type: TYPE,
        data: Buffer.from('right'),
        expiresAt: new Date(sim.clock.now() + DAY),
      }),
    )
    await sim.run(MINUTE)
    assert.equal(graphs[9]!.getRecord(left), undefined, 'the parts are apart')
    sim.network.heal(split)
    let minutes = 0
    const done = (): boolean => graphs.every((g) => g.getRecord(left) && g.getRecord(right))
    while (!done() && minutes < 30) {
      await sim.run(MINUTE)
      minutes++
    }
    assert.ok(done(), `the parts did not find each other within ${minutes} simulated minutes`)
    process.stderr.write(
      `graph-partition-repair: rejoined ${minutes} simulated min after the heal\n`,
    )
    const repairs = graphs.reduce((n, g) => n + (g.counters?.partitionRepairs ?? 0), 0)
    assert.ok(repairs > 0, 'contacts of the other part were tried')
    for (const node of nodes) await drive(sim, node.stop())
  })
})
