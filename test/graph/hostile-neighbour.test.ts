/**
 * A neighbour that passed the handshake but does not play by the rules (found in a review of
 * network.ts): it deletes the Graph Info record, walks our peer time away, forges ACKs, floods
 * announces and contact records, or sends graph traffic over a direct connection. Each test
 * fails on the code before its fix. Also: a new node receives every large record of a sync.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  MAX_PEER_TIME_SKEW_MS,
  MAX_PENDING_PULLS,
  MAX_REPAIRS_PER_PASS,
  PARTITION_PASS_MS,
} from '../../src/graph/constants.ts'
import type { PeerGraph } from '../../src/graph/graph.ts'
import { graphInfoRecordId } from '../../src/graph/graph-info.ts'
import type { Link } from '../../src/graph/link.ts'
import type { GraphNetwork } from '../../src/graph/network.ts'
import { contactRecord } from '../../src/graph/partition.ts'
import { encodeRecord } from '../../src/graph/record-codec.ts'
import type { GraphRecord } from '../../src/graph/records.ts'
import type { RecordStore } from '../../src/graph/store.ts'
import type { PeerNode } from '../../src/node/peer-node.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import { drive } from '../helpers/sim.ts'
import { startSimPeer } from '../helpers/sim-peer.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const TYPE = '0cc0c0c0-1111-4222-8333-444455556666'
const HOUR = 3_600_000
const root = tempRoot('peerinfra-graph-hostile-')

async function member(sim: Sim, name: string): Promise<{ node: PeerNode; peerId: string }> {
  const { node, peerName } = await startSimPeer(sim, name, {
    dataDir: join(root.path, sim.name, name),
    random: name,
  })
  return { node, peerId: peerName }
}

function networkOf(graph: PeerGraph): GraphNetwork {
  return (graph as unknown as { network: GraphNetwork }).network
}

/** The attacker's own end of a link (reached through the graph's private network). */
function linkOf(graph: PeerGraph, connectionId: string): Link {
  return networkOf(graph).link(connectionId)!
}

/** A victim that created graph g and listens, and an attacker that joined it. */
async function victimAndAttacker(seed: string) {
  const sim = createSim(seed, seed)
  const victim = await member(sim, 'victim')
  const attacker = await member(sim, 'attacker')
  const gv = await drive(sim, victim.node.graphs.create({ graphId: 'g', friendlyName: 'G' }))
  const { port } = await drive(sim, gv.listen())
  const ga = await drive(sim, attacker.node.graphs.open('g'))
  const connectionId = await drive(sim, ga.connect({ address: 'victim', port }))
  await sim.runUntil(() => ga.status.synchronized, { maxMs: 60_000 })
  const stop = async (...more: PeerNode[]): Promise<void> => {
    for (const node of [victim.node, attacker.node, ...more]) await drive(sim, node.stop())
  }
  return { sim, victim, attacker, gv, ga, port, link: linkOf(ga, connectionId), stop }
}

const digest = (i: number): Uint8Array => {
  const d = new Uint8Array(16)
  new DataView(d.buffer).setUint32(0, i + 1)
  return d
}

describe('a hostile neighbour', () => {
  test('cannot delete the Graph Info record, so new nodes can still join', async () => {
    const { sim, victim, attacker, gv, ga, port, link, stop } =
      await victimAndAttacker('hostile-info')
    // The attacker's copy of Graph Info (internal: the application API does not list it).
    const store = (ga as unknown as { store: RecordStore }).store
    const original = store.getEntry(graphInfoRecordId(victim.peerId))!.record
    const tombstone: GraphRecord = {
      ...original,
      version: original.version + 1,
      flags: 2,
      modifiedBy: attacker.peerId,
      modifiedAt: Math.max(original.modifiedAt, sim.clock.now()),
    }
    await drive(sim, link.send({ type: 'flood', r: encodeRecord(tombstone) }))
    await sim.run(2_000)
    assert.ok(gv.counters!.invalidRecords >= 1, 'the tombstone was refused and counted')

    const newcomer = await member(sim, 'newcomer')
    const gn = await drive(sim, newcomer.node.graphs.open('g'))
    await drive(sim, gn.connect({ address: 'victim', port }))
    await sim.runUntil(() => gn.status.synchronized, { maxMs: 120_000, throwOnTimeout: false })
    assert.equal(gn.status.synchronized, true)
    assert.equal(gn.properties.friendlyName, 'G')
    await stop(newcomer.node)
  })

  test('cannot walk our peer time away 20 minutes at a time', async () => {
    const { sim, gv, ga, attacker, stop } = await victimAndAttacker('hostile-time')
    const kept = await drive(
      sim,
      gv.addRecord({
        type: TYPE,
        data: new Uint8Array([1]),
        expiresAt: new Date(gv.peerTime().getTime() + 2 * HOUR),
      }),
    )
    const { port } = await drive(sim, ga.listen())
    const offsetOf = (g: PeerGraph): number =>
      (g as unknown as { peerTimeOffset: number }).peerTimeOffset
    for (let round = 0; round < 8; round++) {
      const network = networkOf(ga)
      for (const l of network.linksOf('neighbor')) await drive(sim, network.closeLink(l))
      await sim.run(500)
      // Each time the attacker's peer time reads 19 minutes past the victim's.
      ;(ga as unknown as { peerTimeOffset: number }).peerTimeOffset = offsetOf(gv) + 19 * 60_000
      await drive(sim, gv.connect({ address: 'attacker', port, peerId: attacker.peerId }))
      await sim.run(500)
    }
    assert.ok(
      Math.abs(offsetOf(gv)) <= MAX_PEER_TIME_SKEW_MS,
      `offset ${offsetOf(gv) / 60_000} min`,
    )
    await sim.run(20_000)
    assert.ok(gv.getRecord(kept), 'a record two hours from expiry is still there')
    await stop()
  })

  test('gains no utility from ACKs of records never flooded to it', async () => {
    const { sim, gv, link, stop } = await victimAndAttacker('hostile-ack')
    const forged = Array.from({ length: 1024 }, (_, i) => [digest(i), true] as [Uint8Array, true])
    await drive(sim, link.send({ type: 'ack', d: forged }))
    await sim.run(100)
    assert.equal(networkOf(gv).linksOf('neighbor')[0]!.utility, 0)
    await stop()
  })

  test('cannot make us hold unbounded pulls or repeat waits for one announcer', async () => {
    const { sim, gv, link, stop } = await victimAndAttacker('hostile-announce')
    const guid = new Uint8Array(16).fill(9)
    for (let i = 0; i < 2 * MAX_PENDING_PULLS; i++) {
      link.post({ type: 'announce', d: digest(i), i: guid, sz: 20_000 })
    }
    for (let i = 0; i < 1000; i++)
      link.post({ type: 'announce', d: digest(0), i: guid, sz: 20_000 })
    // Bigger than any record the graph allows: refused outright.
    link.post({ type: 'announce', d: digest(99_999), i: guid, sz: 200 * 1024 * 1024 })
    await sim.run(2_000)
    const pulls = (networkOf(gv) as unknown as { pulls: Map<string, { announcers: Link[] }> }).pulls
    assert.equal(pulls.size, MAX_PENDING_PULLS)
    assert.ok([...pulls.values()].every((p) => p.announcers.length === 0))
    await sim.run(60_000)
    assert.equal(pulls.size, 0, 'each pull gave up after its one announcer')
    await stop()
  })

  test('cannot make every node dial where forged contact records point', async () => {
    const { sim, gv, link, stop } = await victimAndAttacker('hostile-contacts')
    sim.network.addNode('target')
    for (let i = 0; i < 300; i++) {
      const forged = contactRecord({
        contact: {
          peerId: `fake-${i}`,
          nodeId: (0x1000 + i).toString(16).padStart(16, '0'),
          signature: 'ffffffffffffffff',
          addresses: [{ address: 'target', port: 80 }],
        },
        now: sim.clock.now(),
        lifetimeMs: i < 150 ? HOUR : 35_000,
        base: undefined,
      })
      link.post({ type: 'flood', r: encodeRecord(forged) })
    }
    const passes = 4
    await sim.run(passes * PARTITION_PASS_MS + 5_000)
    const repairs = gv.counters!.partitionRepairs
    assert.ok(repairs <= (passes + 1) * MAX_REPAIRS_PER_PASS, `${repairs} repairs`)
    // Still some: a suspect stays one across passes until it is checked (and repaired).
    assert.ok(repairs >= 1, 'partition repair still works')
    // Suspects are forgotten with their contact record: none names an expired one.
    const suspects = (gv as unknown as { partitions: { partitionSuspects: Map<string, number> } })
      .partitions.partitionSuspects
    const expired = (nodeId: string): boolean => parseInt(nodeId, 16) - 0x1000 >= 150
    assert.deepEqual([...suspects.keys()].filter(expired), [])
    await stop()
  })

  test('gets no graph traffic through over a direct connection', async () => {
    const { sim, victim, gv, ga, port, stop } = await victimAndAttacker('hostile-direct')
    const id = await drive(sim, ga.openDirectConnection(victim.peerId, { address: 'victim', port }))
    const before = gv.counters!.malformed
    const piece = new Uint8Array(64 * 1024).fill(1)
    const direct = linkOf(ga, id)
    for (let x = 0; x < 4; x++) {
      await drive(sim, direct.send({ type: 'chunk', d: digest(1), x, n: 8, b: piece }))
    }
    await drive(sim, direct.send({ type: 'solicit-new', ty: [] }))
    await sim.run(1_000)
    let held = 0
    for (const l of networkOf(gv).linksOf('direct'))
      for (const e of l.chunks.values()) held += e.bytes
    assert.equal(held, 0)
    assert.equal(gv.counters!.malformed - before, 5)
    await stop()
  })
})

test('a new node receives every large record of its sync, however many', async () => {
  const sim = createSim('large-sync', 'large-sync')
  const a = await member(sim, 'a')
  const b = await member(sim, 'b')
  const ga = await drive(sim, a.node.graphs.create({ graphId: 'g' }))
  for (let i = 0; i < 10; i++) {
    await drive(
      sim,
      ga.addRecord({
        type: TYPE,
        data: new Uint8Array(1_500_000).fill(i + 1),
        expiresAt: new Date(ga.peerTime().getTime() + HOUR),
      }),
    )
  }
  const { port } = await drive(sim, ga.listen())
  const gb = await drive(sim, b.node.graphs.open('g'))
  await drive(sim, gb.connect({ address: 'a', port }))
  await sim.run(60_000)
  assert.equal(gb.recordCount, ga.recordCount)
  assert.equal(gb.counters!.malformed, 0)
  await drive(sim, a.node.stop())
  await drive(sim, b.node.stop())
})
