/**
 * Joining a cloud through several seeds, in virtual time: two seeds usually advertise the same
 * IDs, and each sync conversation must see every FLOOD it asked for rather than wait out a
 * retransmit interval because another conversation's waiter replaced its own.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RETRANSMIT_MS } from '../../src/pnrp/constants.ts'
import { decodePnrpMessage, encodePnrpMessage, type PnrpMessage } from '../../src/pnrp/messages.ts'
import { PnrpNode } from '../../src/pnrp/node.ts'
import { hashNonce } from '../../src/pnrp/resolver.ts'
import { createSim } from '../../src/sim/index.ts'
import { settle } from '../helpers/sim.ts'

test('joining through two seeds that advertise the same IDs takes no retransmit interval', async () => {
  const sim = createSim('pnrp-join', 'two-seeds')
  const nodes: PnrpNode[] = []
  try {
    const join = async (seeds: PnrpNode[]): Promise<number> => {
      const name = `n${nodes.length}`
      const node = new PnrpNode({
        socket: await sim.addNode(name).datagrams.bind({ port: 3540 }),
        clock: sim.clock,
        random: sim.random.fork(name),
        seeds: seeds.map((s) => s.local),
      })
      nodes.push(node)
      const start = sim.clock.now()
      await settle(sim, node.start())
      return sim.clock.now() - start
    }
    await join([])
    await join([nodes[0] as PnrpNode])
    const took = await join([nodes[0] as PnrpNode, nodes[1] as PnrpNode])
    assert.equal(nodes[2]?.state, 'active')
    assert.ok(took < RETRANSMIT_MS / 2, `joining took ${took} ms of virtual time`)
  } finally {
    for (const node of nodes) await settle(sim, node.stop())
  }
})

test('a retransmitted REQUEST gets its ACK again; other REQUESTs and unadvertised IDs get nothing', async () => {
  const sim = createSim('pnrp-join', 'request-retransmit')
  const nodes: PnrpNode[] = []
  try {
    for (const name of ['s0', 's1']) {
      const node = new PnrpNode({
        socket: await sim.addNode(name).datagrams.bind({ port: 3540 }),
        clock: sim.clock,
        random: sim.random.fork(name),
        seeds: nodes.map((n) => n.local),
      })
      nodes.push(node)
      await settle(sim, node.start())
    }
    const seed = nodes[0] as PnrpNode
    const raw = await sim.addNode('joiner').datagrams.bind({ port: 40000 })
    const got: PnrpMessage[] = []
    raw.onMessage((bytes) => got.push(decodePnrpMessage(bytes)))
    const exchange = async (message: PnrpMessage): Promise<PnrpMessage[]> => {
      got.length = 0
      raw.send(seed.local, encodePnrpMessage(message))
      await sim.runUntil(() => false, { maxMs: 200, throwOnTimeout: false })
      return [...got]
    }
    const nonce = new Uint8Array(16).fill(7)
    const [advertise] = await exchange({
      type: 'solicit',
      id: 1,
      hashedNonce: hashNonce(nonce),
      localOnly: false,
    })
    assert.equal(advertise?.type, 'advertise')
    const ids = advertise.ids
    assert.ok(ids.length > 0)
    const unadvertised = ids[0] === 5n ? 6n : 5n
    const request: PnrpMessage = { type: 'request', id: 2, nonce, ids: [...ids, unadvertised] }
    const first = await exchange(request)
    assert.deepEqual(first.map((m) => m.type).sort(), ['ack', ...ids.map(() => 'flood')].sort())
    assert.ok(first.every((m) => m.type !== 'flood' || m.validate !== unadvertised))
    const invalid = seed.invalid
    // Our ACK was lost: the joiner sends the same REQUEST again and gets the ACK, no new FLOODs.
    assert.deepEqual(
      (await exchange(request)).map((m) => m.type),
      ['ack'],
    )
    assert.equal(seed.invalid, invalid)
    // A different REQUEST on the same conversation is a replay: nothing, and counted.
    assert.deepEqual(await exchange({ ...request, id: 3 }), [])
    assert.equal(seed.invalid, invalid + 1)
    await raw.close()
  } finally {
    for (const node of nodes) await settle(sim, node.stop())
  }
})
