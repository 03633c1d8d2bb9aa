/** PeerNodes on the network simulator, for the tests that run them there. */
import { PeerNode } from '../../src/node/peer-node.ts'
import type { PnrpOptions } from '../../src/pnrp/service.ts'
import type { Sim } from '../../src/sim/index.ts'
import { drive } from './sim.ts'

export interface SimNodeOptions {
  /** The node's data folder. */
  dataDir: string
  /** The label its random stream is forked from the sim's with. */
  random: string
  /** Take part in PNRP with these options. */
  pnrp?: PnrpOptions
}

/**
 * Starts a PeerNode on the sim's node `name` (added to the network unless it is there already,
 * as after a restart), on the sim's clock.
 */
export function startSimNode(sim: Sim, name: string, options: SimNodeOptions): Promise<PeerNode> {
  const network = sim.network.nodes.find((n) => n.name === name) ?? sim.addNode(name)
  return drive(
    sim,
    PeerNode.start({
      dataDir: options.dataDir,
      clock: sim.clock,
      random: sim.random.fork(options.random),
      network,
      ...(options.pnrp ? { pnrp: options.pnrp } : {}),
    }),
  )
}

/** Like startSimNode, then creates the node's identity, classified by `name`. */
export async function startSimPeer(
  sim: Sim,
  name: string,
  options: SimNodeOptions,
): Promise<{ node: PeerNode; peerName: string }> {
  const node = await startSimNode(sim, name, options)
  const id = await drive(sim, node.identities.create({ classifier: name }))
  return { node, peerName: id.peerName }
}
