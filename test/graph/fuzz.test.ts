/**
 * Bad input from a neighbour (seeded fuzz): 1,000 random byte strings and mutated copies of
 * every graph message type reach a node over an authenticated link. The node never crashes,
 * drops and counts them, closes a link that keeps sending garbage, stores nothing invalid,
 * and still floods and syncs with an honest neighbour afterwards.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { SeededRandom } from '../../src/core/random.ts'
import type { PeerGraph } from '../../src/graph/graph.ts'
import type { Link } from '../../src/graph/link.ts'
import { encodeGraphMessage, type GraphMessage } from '../../src/graph/messages.ts'
import type { GraphNetwork } from '../../src/graph/network.ts'
import { encodeRecord } from '../../src/graph/record-codec.ts'
import { encodeReconcile } from '../../src/graph/reconcile.ts'
import type { PeerNode } from '../../src/node/peer-node.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import { drive } from '../helpers/sim.ts'
import { startSimPeer } from '../helpers/sim-peer.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const TYPE = '0cc0c0c0-1111-4222-8333-444455556666'
const INPUTS = 1000

const root = tempRoot('peerinfra-graph-fuzz-')

async function member(sim: Sim, name: string): Promise<PeerNode> {
  return (await startSimPeer(sim, name, { dataDir: join(root.path, name), random: name })).node
}

/** The attacker's own end of its link (reached through the graph's private network). */
function linkOf(graph: PeerGraph, connectionId: string): Link {
  const network = (graph as unknown as { network: GraphNetwork }).network
  return network.link(connectionId)!
}

/** Valid messages of every type, to mutate. */
function samples(record: Uint8Array): GraphMessage[] {
  const d = new Uint8Array(16).fill(7)
  const guid = new Uint8Array(16).fill(9)
  return [
    { type: 'connect', n: new Uint8Array(8), a: [['x', 1]], u: true },
    { type: 'welcome', n: new Uint8Array(8), pt: 1, r: [['p.q', 'h', 2]] },
    { type: 'refuse', why: 'busy', r: [] },
    { type: 'solicit-new', ty: [guid] },
    { type: 'solicit-time', since: 5, ty: [] },
    { type: 'reconcile', b: encodeReconcile({ ranges: [] }) },
    { type: 'request', d: [d] },
    { type: 'flood', r: record },
    { type: 'announce', d, i: guid, sz: 100_000 },
    { type: 'chunk', d, x: 0, n: 2, b: new Uint8Array(10) },
    { type: 'sync-end', ty: guid },
    { type: 'ack', d: [[d, true]] },
    { type: 'data', ty: guid, b: new Uint8Array(3) },
  ]
}

function mutate(bytes: Uint8Array, random: SeededRandom): Uint8Array {
  const out = new Uint8Array(bytes)
  const flips = 1 + random.int(4)
  for (let i = 0; i < flips; i++) out[random.int(out.length)] = random.int(256)
  return random.int(4) === 0 ? out.subarray(0, random.int(out.length)) : out
}

/** A fresh link from the attacker (its maintenance may have made one already). */
async function reconnect(sim: Sim, ga: PeerGraph): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    await sim.run(1000)
    const current = ga.connections()[0]?.connectionId
    if (current) return current
    try {
      return await drive(sim, ga.connect({ address: 'victim', port: 3587 }))
    } catch (err) {
      // The victim may not have noticed the old link's end yet.
      if (attempt > 5) throw err
    }
  }
}

test('1,000 malformed and mutated graph messages: dropped, counted, nothing stored, no crash', async () => {
  const sim = createSim('graph-fuzz', 'graph-fuzz')
  const random = new SeededRandom('graph-fuzz/inputs')
  const victim = await member(sim, 'victim')
  const attacker = await member(sim, 'attacker')
  const honest = await member(sim, 'honest')
  const gv = await drive(sim, victim.graphs.create({ graphId: 'fuzz' }))
  await drive(sim, gv.listen({ port: 3587 }))
  const ga = await drive(sim, attacker.graphs.open('fuzz'))
  let connectionId = await drive(sim, ga.connect({ address: 'victim', port: 3587 }))
  await sim.runUntil(() => ga.status.synchronized, { maxMs: 60_000, what: 'sync' })
  const before = [...gv.records()].length

  const bogus = encodeRecord({
    type: TYPE,
    id: '00000000-0000-4000-8000-000000000001',
    version: 1,
    flags: 0,
    creator: 'someone',
    modifiedBy: 'someone',
    createdAt: sim.clock.now(),
    modifiedAt: sim.clock.now(),
    expiresAt: sim.clock.now() + 60_000,
    attributes: [],
    securityData: new Uint8Array(),
    data: new Uint8Array([1]),
  })
  const valid = samples(bogus).map((m) => encodeGraphMessage(m))
  let reconnects = 0
  let delivered = 0
  for (let i = 0; i < INPUTS; i++) {
    let link = linkOf(ga, connectionId)
    if (!link || link.closed) {
      connectionId = await reconnect(sim, ga)
      link = linkOf(ga, connectionId)
      reconnects++
    }
    const input =
      i % 2 === 0
        ? random.bytes(1 + random.int(200))
        : mutate(valid[random.int(valid.length)]!, random)
    await drive(sim, link.channel.send(input)).then(
      () => delivered++,
      () => undefined,
    )
    // Let each input land (and a closing link close) before the next.
    await sim.run(20)
  }
  await sim.run(5000)

  const counters = gv.counters!
  // Every input that reached the victim's link was either dropped as malformed or refused as
  // an invalid record; mutations that still decode (a REFUSE, an ACK...) may be harmless.
  assert.ok(delivered > INPUTS / 2, `${delivered} of ${INPUTS} inputs delivered`)
  assert.ok(
    counters.malformed + counters.invalidRecords > 0.8 * delivered,
    `${JSON.stringify(counters)} for ${delivered} delivered`,
  )
  assert.ok(reconnects > 0, 'a link that keeps sending garbage is closed')
  assert.equal([...gv.records()].length, before, 'nothing the attacker sent was stored')
  assert.equal(sim.network.handlerErrors, 0)

  // The victim still works: an honest node joins, both flood and sync.
  const gh = await drive(sim, honest.graphs.open('fuzz'))
  await drive(sim, gh.connect({ address: 'victim', port: 3587 }))
  await sim.runUntil(() => gh.status.synchronized, { maxMs: 60_000, what: 'honest sync' })
  const id = await drive(
    sim,
    gh.addRecord({
      type: TYPE,
      data: Buffer.from('still fine'),
      expiresAt: new Date(sim.clock.now() + 60_000),
    }),
  )
  await sim.run(2000)
  assert.equal(Buffer.from(gv.getRecord(id)!.data).toString(), 'still fine')
  for (const n of [victim, attacker, honest]) await drive(sim, n.stop())
})
