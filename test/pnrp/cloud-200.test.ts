/**
 * Acceptance: a 200-node PNRP cloud on the simulated network. Every node registers a name and
 * every name is resolved from 20 random other nodes (4,000 resolves): all must succeed with the
 * registrant's name and endpoints, in log10(N) + 2 hops on average. Seeded and deterministic
 * (PEERINFRA_SEED replays another seed).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KeyPair } from '../../src/identity/keys.ts'
import { PeerName } from '../../src/identity/peer-name.ts'
import { resolverTarget } from '../../src/pnrp/ids.ts'
import { PnrpNode } from '../../src/pnrp/node.ts'
import type { LocalRegistration } from '../../src/pnrp/registrations.ts'
import { createSim, scenarioSeed, type Sim } from '../../src/sim/index.ts'
import { settle } from '../helpers/sim.ts'

const NODES = 200
const RESOLVERS_PER_NAME = 20
const PORT = 3540
/** Resolves in flight at once (each node runs at most a few). */
const CONCURRENT_RESOLVES = 50

async function startNode(sim: Sim, i: number, nodes: PnrpNode[]): Promise<PnrpNode> {
  const socket = await sim.addNode(`n${i}`).datagrams.bind({ port: PORT })
  // Bootstrap from the first node and one random earlier node (MS-PNRP: seed and cache list).
  const seeds = i === 0 ? [] : [...new Set([0, sim.random.int(i)])]
  const node = new PnrpNode({
    socket,
    clock: sim.clock,
    random: sim.random.fork(`pnrp/n${i}`),
    seeds: seeds.map((s) => ({ address: `n${s}`, port: PORT })),
  })
  nodes.push(node)
  await settle(sim, node.start())
  return node
}

/** Runs `jobs` on the simulator with at most `limit` in flight. */
async function inBatches<T>(
  sim: Sim,
  count: number,
  limit: number,
  job: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = []
  for (let start = 0; start < count; start += limit) {
    const batch = Array.from({ length: Math.min(limit, count - start) }, (_, k) => job(start + k))
    out.push(...(await settle(sim, Promise.all(batch), 600_000)))
  }
  return out
}

test(`${NODES} nodes: every name resolves from ${RESOLVERS_PER_NAME} random other nodes`, async () => {
  const seed = scenarioSeed('pnrp/cloud-200')
  const sim = createSim('pnrp-cloud-200', seed)
  const nodes: PnrpNode[] = []
  try {
    for (let i = 0; i < NODES; i++) await startNode(sim, i, nodes)
    assert.ok(
      nodes.every((n) => n.state === 'active'),
      `seed ${seed}: not every node is active`,
    )

    const registrations: LocalRegistration[] = []
    for (let i = 0; i < NODES; i++) {
      const key = KeyPair.generate(sim.random)
      const registration = await settle(
        sim,
        (nodes[i] as PnrpNode).register(
          {
            peerName: PeerName.fromParts(key.publicKey.authority, `svc${i}`).toString(),
            endpoints: [{ address: `n${i}`, port: 7000 + (i % 1000) }],
            payload: new Uint8Array(0),
            comment: `node ${i}`,
          },
          key,
        ),
      )
      registrations.push(registration)
    }

    // Who resolves what: each name from RESOLVERS_PER_NAME distinct other nodes.
    const plan: { name: number; from: number }[] = []
    for (let name = 0; name < NODES; name++) {
      const chosen = new Set<number>()
      while (chosen.size < RESOLVERS_PER_NAME) {
        const from = sim.random.int(NODES)
        if (from !== name) chosen.add(from)
      }
      for (const from of chosen) plan.push({ name, from })
    }
    const outcomes = await inBatches(sim, plan.length, CONCURRENT_RESOLVES, async (k) => {
      const { name, from } = plan[k]!
      const registration = registrations[name]!
      const outcome = await (nodes[from] as PnrpNode).resolve({
        target: resolverTarget(registration.peerName),
        mode: 'any-peer-name',
        max: 1,
      })
      const cpa = outcome.results[0]
      const ok =
        cpa !== undefined &&
        cpa.peerName === registration.peerName &&
        cpa.endpoints.length === 1 &&
        cpa.endpoints[0]?.address === `n${name}` &&
        cpa.endpoints[0]?.port === 7000 + (name % 1000)
      return { ok, hops: outcome.hops, name, from }
    })

    const failed = outcomes.filter((o) => !o.ok)
    assert.equal(
      failed.length,
      0,
      `seed ${seed}: ${failed.length}/${outcomes.length} resolves failed, e.g. ` +
        failed
          .slice(0, 5)
          .map((f) => `svc${f.name} from n${f.from}`)
          .join(', '),
    )
    const meanHops = outcomes.reduce((sum, o) => sum + o.hops, 0) / outcomes.length
    assert.ok(
      meanHops <= Math.log10(NODES) + 2,
      `seed ${seed}: mean hops ${meanHops.toFixed(2)} > log10(${NODES}) + 2`,
    )
    assert.equal(
      nodes.reduce((n, node) => n + node.invalid, 0),
      0,
      `seed ${seed}: messages refused as invalid in an honest cloud`,
    )
  } finally {
    await settle(sim, Promise.all(nodes.map((n) => n.stop())), 60_000)
  }
})
