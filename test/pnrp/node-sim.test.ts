/**
 * PNRP nodes on the simulated network: bootstrap, registration, resolution, forged CPAs,
 * unregistration and restart, all in virtual time from a seed.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { KeyPair } from '../../src/identity/keys.ts'
import { PeerName } from '../../src/identity/peer-name.ts'
import { CPA_SIGNATURE_DOMAIN, CPA_VERSION } from '../../src/pnrp/constants.ts'
import { Cpa } from '../../src/pnrp/cpa.ts'
import { resolverTarget, type PnrpId } from '../../src/pnrp/ids.ts'
import { PnrpNode } from '../../src/pnrp/node.ts'
import type { LocalRegistration } from '../../src/pnrp/registrations.ts'
import type { ResolveOutcome } from '../../src/pnrp/resolver.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import { encodeCbor } from '../../src/wire/cbor.ts'
import { settle } from '../helpers/sim.ts'

const PORT = 3540

interface Cloud {
  sim: Sim
  nodes: PnrpNode[]
  keys: KeyPair[]
}

async function startNode(sim: Sim, name: string, seeds: string[]): Promise<PnrpNode> {
  const simNode = sim.network.nodes.find((n) => n.name === name) ?? sim.addNode(name)
  const socket = await simNode.datagrams.bind({ port: PORT })
  const node = new PnrpNode({
    socket,
    clock: sim.clock,
    random: sim.random.fork(`pnrp/${name}/${sim.elapsedMs}`),
    seeds: seeds.map((address) => ({ address, port: PORT })),
  })
  await settle(sim, node.start())
  return node
}

/** `count` nodes joining one after another, each bootstrapping from a few earlier ones. */
async function cloud(seed: string, count: number): Promise<Cloud> {
  const sim = createSim('pnrp', seed)
  const nodes: PnrpNode[] = []
  const keys: KeyPair[] = []
  for (let i = 0; i < count; i++) {
    const seeds = i === 0 ? [] : ['n0', `n${sim.random.int(i)}`]
    nodes.push(await startNode(sim, `n${i}`, [...new Set(seeds)]))
    keys.push(KeyPair.generate(sim.random))
  }
  return { sim, nodes, keys }
}

function register(c: Cloud, i: number, classifier = `svc${i}`): Promise<LocalRegistration> {
  const key = c.keys[i] as KeyPair
  const node = c.nodes[i] as PnrpNode
  return settle(
    c.sim,
    node.register(
      {
        peerName: PeerName.fromParts(key.publicKey.authority, classifier).toString(),
        endpoints: [{ address: `n${i}`, port: 7000 + i }],
        payload: new Uint8Array([i & 0xff]),
        comment: `node ${i}`,
      },
      key,
    ),
  )
}

function resolveFrom(c: Cloud, from: number, peerName: string, max = 1): Promise<ResolveOutcome> {
  const node = c.nodes[from] as PnrpNode
  return settle(
    c.sim,
    node.resolve({ target: resolverTarget(peerName), mode: 'any-peer-name', max }),
  )
}

async function stopAll(c: Cloud): Promise<void> {
  await Promise.all(c.nodes.map((n) => n.stop()))
}

describe('PNRP on the simulated network', () => {
  test('60 nodes: every registered name resolves from 5 random other nodes', async () => {
    const c = await cloud('pnrp/60', 60)
    assert.ok(c.nodes.slice(1).every((n) => n.state === 'active'))
    assert.equal(c.nodes[0]?.state, 'active') // it learned of the others as they joined
    const names: string[] = []
    for (let i = 0; i < c.nodes.length; i++) names.push((await register(c, i)).peerName)
    let resolved = 0
    let attempts = 0
    let hops = 0
    for (let i = 0; i < names.length; i++) {
      for (let k = 0; k < 5; k++) {
        let from = c.sim.random.int(names.length)
        if (from === i) from = (from + 1) % names.length
        const outcome = await resolveFrom(c, from, names[i] as string)
        attempts++
        hops += outcome.hops
        const cpa = outcome.results[0]
        if (cpa && cpa.peerName === names[i]) {
          resolved++
          assert.deepEqual(cpa.endpoints, [{ address: `n${i}`, port: 7000 + i }])
          assert.equal(cpa.comment, `node ${i}`)
          assert.deepEqual([...cpa.payload], [i & 0xff])
        }
      }
    }
    assert.equal(resolved, attempts, `${resolved}/${attempts} resolved`)
    // MS-PNRP: about log10(N) hops; the goal is log10(N) + 2 on average.
    assert.ok(hops / attempts <= Math.log10(60) + 2, `mean hops ${hops / attempts}`)
    const invalid = c.nodes.reduce((n, node) => n + node.invalid, 0)
    assert.equal(invalid, 0)
    await stopAll(c)
  })

  test('an unregistered name stops resolving; the others still resolve', async () => {
    const c = await cloud('pnrp/unregister', 20)
    const gone = await register(c, 3)
    const kept = await register(c, 4)
    assert.equal((await resolveFrom(c, 10, gone.peerName)).results.length, 1)
    c.nodes[3]?.unregister(gone.id)
    await c.sim.run(5_000)
    for (const from of [0, 7, 12, 19]) {
      assert.equal((await resolveFrom(c, from, gone.peerName)).results.length, 0)
      assert.equal((await resolveFrom(c, from, kept.peerName)).results.length, 1)
    }
    // The revocation reached the leaf set: nobody keeps the ID as a leaf.
    assert.ok(c.nodes.every((n) => !n.cache.inLeafSet(gone.id)))
    await stopAll(c)
  })

  test('forged, replayed and expired CPAs are never returned, and are counted', async () => {
    const c = await cloud('pnrp/forged', 20)
    const forger = c.nodes[5] as PnrpNode
    const registration = await register(c, 5)
    const original = forger.registrations.sign.bind(forger.registrations)
    const mallory = KeyPair.generate(c.sim.random)
    const now = (): number => c.sim.clock.now()
    const forgeries: Record<string, (nonce: Uint8Array) => Cpa> = {
      // The right name, ID and nonce, signed by a key that is not the name's.
      'wrong key': (nonce) => signedBy(original(registration, nonce, now(), false), mallory),
      // One bit of the signature flipped.
      'wrong signature': (nonce) => {
        const bytes = new Uint8Array(original(registration, nonce, now(), false).bytes)
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
        return Cpa.decode(bytes)
      },
      // A genuine CPA recorded earlier: its nonce is not the resolver's.
      'replayed nonce': () => original(registration, new Uint8Array(16).fill(9), now(), false),
      // Genuine, but expired a day ago.
      expired: (nonce) => original(registration, nonce, now() - 2 * 86_400_000, false),
    }
    for (const [what, forge] of Object.entries(forgeries)) {
      const before = c.nodes[12]?.invalid ?? 0
      forger.registrations.sign = (_r, nonce) => forge(nonce)
      const outcome = await resolveFrom(c, 12, registration.peerName)
      assert.equal(outcome.results.length, 0, `${what}: a forged CPA was returned`)
      assert.ok((c.nodes[12]?.invalid ?? 0) > before, `${what}: not counted`)
    }
    forger.registrations.sign = original
    assert.equal((await resolveFrom(c, 12, registration.peerName)).results.length, 1)
    await stopAll(c)
  })

  test('a node that crashes and restarts rejoins and its new registration resolves', async () => {
    const c = await cloud('pnrp/restart', 20)
    const simNode = c.sim.network.node('n7')
    simNode.crash()
    await c.sim.run(1_000)
    simNode.restart()
    const again = await startNode(c.sim, 'n7', ['n0', 'n2'])
    c.nodes[7] = again
    assert.equal(again.state, 'active')
    const registration = await register(c, 7, 'after-restart')
    for (const from of [1, 9, 15]) {
      const outcome = await resolveFrom(c, from, registration.peerName)
      assert.equal(outcome.results[0]?.peerName, registration.peerName)
    }
    await stopAll(c)
  })

  test('two clouds formed apart merge once the partition heals (split detection)', async () => {
    const sim = createSim('pnrp', 'pnrp/split')
    const side = (prefix: string): string[] => Array.from({ length: 12 }, (_, i) => `${prefix}${i}`)
    const a = side('a')
    const b = side('b')
    for (const name of [...a, ...b]) sim.addNode(name)
    const cut = sim.network.partition(a, b)
    const c: Cloud = { sim, nodes: [], keys: [] }
    const names: { peerName: string; side: string[] }[] = []
    try {
      // Each side bootstraps from its own first node; every node also lists the other side's
      // first node as a seed (MS-PNRP: a seed server), unreachable while the network is cut.
      for (let i = 0; i < 12; i++) {
        for (const [own, other] of [
          [a, b],
          [b, a],
        ] as const) {
          const seeds = i === 0 ? [other[0]!] : [own[0]!, own[sim.random.int(i)]!, other[0]!]
          c.nodes.push(await startNode(sim, own[i]!, [...new Set(seeds)]))
          c.keys.push(KeyPair.generate(sim.random))
          const at = c.nodes.length - 1
          const registration = await register(c, at, `split${at}`)
          names.push({ peerName: registration.peerName, side: own })
        }
      }
      const nodeOf = (name: string): number => c.nodes.findIndex((n) => n.local.address === name)
      // Apart: each side resolves its own names only.
      const across = names.find((n) => n.side === b)!
      assert.equal((await resolveFrom(c, nodeOf('a5'), across.peerName)).results.length, 0)
      assert.equal((await resolveFrom(c, nodeOf('b5'), across.peerName)).results.length, 1)

      sim.network.heal(cut)
      // Maintenance rounds: split detection walks from a seed of the other side find nodes
      // closer to our IDs than our leaf sets hold; the leaf-set floods merge the two rings.
      await sim.run(10 * 60_000)
      let resolved = 0
      for (const name of names) {
        const others = name.side === a ? b : a
        for (let k = 0; k < 3; k++) {
          const from = nodeOf(others[sim.random.int(others.length)]!)
          const outcome = await resolveFrom(c, from, name.peerName)
          if (outcome.results[0]?.peerName === name.peerName) resolved++
        }
      }
      assert.equal(resolved, 3 * names.length, `${resolved}/${3 * names.length} resolved across`)
    } finally {
      await settle(sim, stopAll(c))
    }
  })

  test('the same seed gives the same run; another seed a different one', async () => {
    const trace = async (seed: string): Promise<string> => {
      const c = await cloud(seed, 12)
      const r = await register(c, 2)
      const outcome = await resolveFrom(c, 9, r.peerName)
      const ids: PnrpId[] = c.nodes.map((n) => n.nodeId as PnrpId)
      const line = `${ids.join(',')}|${outcome.hops}|${c.sim.clock.now()}`
      await stopAll(c)
      return line
    }
    assert.equal(await trace('pnrp/det'), await trace('pnrp/det'))
    assert.notEqual(await trace('pnrp/det'), await trace('pnrp/det-2'))
  })
})

/** The CPA's fields with `key` as its key, signed by it, although the name belongs to another. */
function signedBy(genuine: Cpa, key: KeyPair): Cpa {
  const tbs = encodeCbor({
    v: CPA_VERSION,
    name: genuine.peerName,
    key: key.publicKey.bytes,
    loc: genuine.serviceLocation,
    nonce: genuine.nonce,
    notAfter: genuine.notAfter,
    endpoints: genuine.endpoints.map((e) => [e.address, e.port]),
    ...(genuine.payload.length > 0 ? { payload: genuine.payload } : {}),
    ...(genuine.comment ? { comment: genuine.comment } : {}),
  })
  return Cpa.decode(encodeCbor([tbs, key.sign(CPA_SIGNATURE_DOMAIN, tbs)]))
}
