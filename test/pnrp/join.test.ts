/**
 * Joining a cloud through several seeds, in virtual time: two seeds usually advertise the same
 * IDs, and each sync conversation must see every FLOOD it asked for rather than wait out a
 * retransmit interval because another conversation's waiter replaced its own.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RETRANSMIT_MS } from '../../src/pnrp/constants.ts'
import { PnrpNode } from '../../src/pnrp/node.ts'
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
