/**
 * A copy that the security provider cannot validate yet (deferred) never replaces one it
 * validated, live or deleted: a member could otherwise hide any record, or bring a deleted one
 * back, behind a signer nobody knows. The copy is dropped and comes back with a later sync,
 * once it validates.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { RECORD_FLAG_DELETED } from '../../src/graph/constants.ts'
import type { GraphRecord } from '../../src/graph/records.ts'
import type { GraphSecurityProvider } from '../../src/graph/security.ts'
import { PeerNode } from '../../src/node/peer-node.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import { drive } from '../helpers/sim.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'peerinfra-graph-deferred-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** Defers records whose data starts with "later" until `known` is set; rejects "forged". */
function provider(state: { known: boolean }): GraphSecurityProvider {
  return {
    name: 'defer-later',
    secureRecord: () => new Uint8Array(0),
    validateRecord: (r) => {
      const text = Buffer.from(r.data).toString()
      if (text.startsWith('forged')) return 'reject'
      return !state.known && text.startsWith('later') ? 'defer' : 'accept'
    },
  }
}

async function node(sim: Sim, name: string): Promise<PeerNode> {
  const n = await drive(
    sim,
    PeerNode.start({
      dataDir: join(root, name),
      clock: sim.clock,
      random: sim.random.fork(name),
      network: sim.addNode(name),
    }),
  )
  await drive(sim, n.identities.create({ classifier: name }))
  return n
}

/**
 * Nodes `a` and `b` (named with `prefix`) on graph g: a knows every signer, b knows none of
 * the "later" ones until atB.known is set; b connected to a, which added a record `first`.
 */
async function twoNodes(seed: string, prefix: string, first: string) {
  const sim = createSim(seed, seed)
  const a = await node(sim, `${prefix}a`)
  const b = await node(sim, `${prefix}b`)
  const atB = { known: false }
  const security = provider({ known: true })
  const ga = await drive(sim, a.graphs.create({ graphId: 'g', security }))
  const { port } = await drive(sim, ga.listen())
  const gb = await drive(sim, b.graphs.open('g', { security: provider(atB) }))
  const connect = () => drive(sim, gb.connect({ address: `${prefix}a`, port }))
  await connect()
  const id = await drive(
    sim,
    ga.addRecord({
      type: CHAT,
      data: Buffer.from(first),
      expiresAt: new Date(sim.clock.now() + 3_600_000),
    }),
  )
  await sim.run(2_000)
  return { sim, a, b, ga, gb, atB, id, connect }
}

test('a deferred update does not replace the validated copy; it arrives once it validates', async () => {
  const { sim, a, b, ga, gb, atB, id, connect } = await twoNodes('graph-deferred', '', 'first')
  assert.equal(Buffer.from(gb.getRecord(id)!.data).toString(), 'first')

  await drive(
    sim,
    ga.updateRecord(id, { data: Buffer.from('later, signed by someone b does not know') }),
  )
  await sim.run(2_000)
  assert.equal(Buffer.from(gb.getRecord(id)!.data).toString(), 'first', 'the validated copy stays')

  // b learns the signer; the next sync (a new connection reconciles) brings the update.
  atB.known = true
  for (const c of gb.connections()) await drive(sim, gb.disconnectPeer(c.peerId, 'again'))
  await connect()
  await sim.run(5_000)
  assert.equal(
    Buffer.from(gb.getRecord(id)!.data).toString(),
    'later, signed by someone b does not know',
  )
  await drive(sim, Promise.all([a.stop(), b.stop()]))
})

test('a deferred copy does not replace a validated tombstone: the deletion stays', async () => {
  const { sim, a, b, ga, gb, id } = await twoNodes('graph-deferred-tombstone', 't', 'to delete')
  await drive(sim, ga.deleteRecord(id))
  await sim.run(2_000)
  const internals = gb as unknown as {
    store: { getEntry(id: string): { record: GraphRecord; deferred: boolean } | undefined }
    receiveRecord(record: GraphRecord): Promise<{ outcome: string }>
  }
  const tombstone = internals.store.getEntry(id)!
  assert.equal(tombstone.record.flags & RECORD_FLAG_DELETED, RECORD_FLAG_DELETED)
  // A newer copy of the record that b cannot validate yet (a signer it does not know).
  const copy: GraphRecord = {
    ...tombstone.record,
    version: tombstone.record.version + 1,
    flags: 0,
    modifiedAt: tombstone.record.modifiedAt + 1,
    data: Buffer.from('later: the record back from the dead'),
  }
  assert.equal((await drive(sim, internals.receiveRecord(copy))).outcome, 'deferred')
  const kept = internals.store.getEntry(id)!
  assert.equal(kept.deferred, false)
  assert.equal(kept.record.flags & RECORD_FLAG_DELETED, RECORD_FLAG_DELETED, 'still deleted')
  assert.equal(gb.getRecord(id), undefined)
  await drive(sim, Promise.all([a.stop(), b.stop()]))
})

test('an imported database is validated like records from a neighbour', async () => {
  const sim = createSim('graph-deferred-import', 'graph-deferred-import')
  const a = await node(sim, 'ia')
  const b = await node(sim, 'ib')
  // The file comes from a graph without the provider: anything could be in it.
  const plain = await drive(sim, a.graphs.create({ graphId: 'imported' }))
  const ids: Record<string, string> = {}
  for (const text of ['fine', 'forged by someone', 'later, by a signer b learns']) {
    ids[text.split(' ')[0]!] = await drive(
      sim,
      plain.addRecord({
        type: CHAT,
        data: Buffer.from(text),
        expiresAt: new Date(sim.clock.now() + 3_600_000),
      }),
    )
  }
  const file = join(root, 'imported.sqlite3')
  await drive(sim, plain.exportDatabase(file))
  const atB = { known: false }
  const gb = await drive(
    sim,
    b.graphs.open('imported', { peerId: plain.peerId, security: provider(atB) }),
  )
  await drive(sim, gb.importDatabase(file))
  assert.equal(Buffer.from(gb.getRecord(ids['fine']!)!.data).toString(), 'fine')
  assert.equal(gb.getRecord(ids['forged']!), undefined, 'rejected: never stored')
  assert.equal(gb.getRecord(ids['later,']!), undefined, 'deferred until validated')
  atB.known = true
  assert.equal(await drive(sim, gb.validateDeferredRecords()), 1)
  assert.equal(gb.getRecord(ids['forged']!), undefined)
  assert.ok(gb.getRecord(ids['later,']!))
  await drive(sim, Promise.all([a.stop(), b.stop()]))
})
