/**
 * node.pnrp, the PeerPnrp* API, on PeerNodes in the simulator: register (secured and
 * unsecured, automatic and explicit addresses), resolve and resolveStream with max, criteria,
 * timeout and AbortSignal, update, unregister, the Windows limits and error codes, clouds(),
 * persistence rules, and a link-local cloud bootstrapped through link discovery.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { KeyPair } from '../../src/identity/keys.ts'
import { PeerName } from '../../src/identity/peer-name.ts'
import type { PeerNode } from '../../src/node/peer-node.ts'
import { ADDRESS_CHECK_MS } from '../../src/pnrp/constants.ts'
import { Cpa } from '../../src/pnrp/cpa.ts'
import { encodePnrpMessage } from '../../src/pnrp/messages.ts'
import type { PnrpNode } from '../../src/pnrp/node.ts'
import type { LocalRegistration } from '../../src/pnrp/registrations.ts'
import type { LinkDiscovery } from '../../src/pnrp/cloud.ts'
import type { PnrpOptions } from '../../src/pnrp/service.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import type { Address } from '../../src/transport/types.ts'
import { rejectsPeerError } from '../helpers/assert-peer-error.ts'
import { drive } from '../helpers/sim.ts'
import { startSimNode } from '../helpers/sim-peer.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const PORT = 3540
const root = tempRoot('peerinfra-pnrp-api-')

function startPeer(sim: Sim, name: string, pnrp: PnrpOptions | undefined): Promise<PeerNode> {
  return startSimNode(sim, name, {
    dataDir: join(root.path, sim.name, name),
    random: `peer/${name}/${sim.elapsedMs}`,
    ...(pnrp ? { pnrp } : {}),
  })
}

/** `count` PeerNodes in Global_, the first the seed of the others, each with an identity. */
async function cloud(seed: string, count: number): Promise<{ sim: Sim; peers: PeerNode[] }> {
  const sim = createSim(seed, seed)
  const peers: PeerNode[] = []
  for (let i = 0; i < count; i++) {
    const seeds = i === 0 ? [] : [`n0:${PORT}`]
    const peer = await startPeer(sim, `n${i}`, { port: PORT, seeds })
    await drive(sim, peer.identities.create({ classifier: `peer${i}` }))
    peers.push(peer)
  }
  return { sim, peers }
}

async function stopAll(sim: Sim, peers: PeerNode[]): Promise<void> {
  for (const peer of peers) await drive(sim, peer.stop())
}

/** A link where every node hears every other's announcement, unless muted (mDNS in production). */
function fakeLink(muted: boolean): { muted: boolean; discovery: () => LinkDiscovery } {
  const members = new Set<{ self: Address; onPeer: (peer: Address) => void }>()
  const link = {
    muted,
    discovery: (): LinkDiscovery => {
      let me: { self: Address; onPeer: (peer: Address) => void } | undefined
      return {
        start: (self, onPeer) => {
          me = { self, onPeer }
          members.add(me)
          return Promise.resolve()
        },
        query: () => {
          if (link.muted) return
          for (const other of members) if (other !== me) me?.onPeer(other.self)
        },
        stop: () => {
          if (me) members.delete(me)
          return Promise.resolve()
        },
      }
    },
  }
  return link
}

describe('node.pnrp in the simulator', () => {
  test('secured and unsecured names register, resolve, update and unregister', async () => {
    const { sim, peers } = await cloud('pnrp-api-1', 6)
    try {
      const [a, b, c, d] = peers as [PeerNode, PeerNode, PeerNode, PeerNode]
      assert.deepEqual(a.pnrp.clouds(), [
        {
          name: 'Global_',
          scope: 'global',
          scopeId: 0,
          state: 'active',
          flags: ['full-participant'],
        },
      ])

      const secured = `${a.identity.key.authority}.chat`
      const reg = await drive(
        sim,
        a.pnrp.register({
          peerName: secured,
          port: 7000,
          comment: 'hi',
          payload: new Uint8Array([1, 2]),
        }),
      )
      assert.deepEqual(reg.clouds, ['Global_'])
      assert.deepEqual(reg.endpoints(), [{ address: 'n0', port: 7000 }])
      const found = await drive(sim, b.pnrp.resolve(secured))
      assert.deepEqual(found, [
        {
          peerName: secured,
          cloud: 'Global_',
          endpoints: [{ address: 'n0', port: 7000 }],
          comment: 'hi',
          payload: new Uint8Array([1, 2]),
          publicKey: a.identity.publicKey,
        },
      ])

      // An unsecured name: anyone may register it, several times from different nodes.
      await drive(sim, b.pnrp.register({ peerName: '0.shared', addresses: ['10.0.0.2:80'] }))
      await drive(sim, c.pnrp.register({ peerName: '0.shared', addresses: ['10.0.0.3:80'] }))
      const shared = await drive(sim, d.pnrp.resolve('0.shared', { max: 5 }))
      assert.deepEqual(shared.map((r) => r.endpoints[0]?.address).sort(), ['10.0.0.2', '10.0.0.3'])
      // Host names resolve as their peer names do (Windows: getaddrinfo on .pnrp.net).
      const byHost = await drive(sim, d.pnrp.resolve('shared.PNRP.net.', { max: 5 }))
      assert.deepEqual(
        byHost.map((r) => r.peerName),
        ['0.shared', '0.shared'],
      )
      const securedHost = PeerName.toHostName(secured)
      assert.deepEqual(await drive(sim, c.pnrp.resolve(securedHost)), found)
      await rejectsPeerError(
        drive(sim, d.pnrp.resolve('-bad-.pnrp.net')),
        'PEER_E_INVALID_PEER_HOST_NAME',
      )
      const streamed: string[] = []
      await drive(
        sim,
        (async () => {
          for await (const record of d.pnrp.resolveStream('0.shared', { max: 5 })) {
            streamed.push(record.endpoints[0]?.address as string)
          }
        })(),
      )
      assert.deepEqual(streamed.sort(), ['10.0.0.2', '10.0.0.3'])

      // 'default' leaves out this node's own registrations; 'any' includes them.
      const own = await drive(sim, b.pnrp.resolve('0.shared', { max: 5 }))
      assert.deepEqual(
        own.map((x) => x.endpoints[0]?.address),
        ['10.0.0.3'],
      )
      const any = await drive(sim, b.pnrp.resolve('0.shared', { max: 5, criteria: 'any' }))
      assert.equal(any.length, 2)

      // Update: resolvers see the new payload and comment on their next resolve.
      await reg.update({ payload: new Uint8Array([9]), comment: 'updated' })
      const updated = await drive(sim, c.pnrp.resolve(secured))
      assert.deepEqual(updated[0]?.payload, new Uint8Array([9]))
      assert.equal(updated[0]?.comment, 'updated')

      // Unregister: the name stops resolving.
      await reg.unregister()
      assert.equal(reg.registered, false)
      await rejectsPeerError(
        drive(sim, d.pnrp.resolve(secured, { timeoutMs: 20_000 })),
        'PEER_E_NOT_FOUND',
      )
    } finally {
      await stopAll(sim, peers)
    }
  })

  test('automatic registrations follow the machine to new addresses', async () => {
    const sim = createSim('pnrp-api-addresses', 'pnrp-api-addresses')
    const seed = await startPeer(sim, 'n0', { port: PORT })
    // n1's interfaces as the test sets them; PNRP reads them again every ADDRESS_CHECK_MS.
    let interfaces = ['n1']
    const mover = await startPeer(sim, 'n1', {
      port: PORT,
      seeds: [`n0:${PORT}`],
      addresses: () => interfaces,
    })
    const peers = [seed, mover]
    try {
      await drive(sim, mover.identities.create({ classifier: 'mover' }))
      const name = `${mover.identity.key.authority}.laptop`
      const reg = await drive(sim, mover.pnrp.register({ peerName: name, port: 7000 }))
      const fixed = await drive(
        sim,
        mover.pnrp.register({ peerName: '0.fixed', addresses: ['10.0.0.9:80'] }),
      )
      assert.deepEqual(reg.endpoints(), [{ address: 'n1', port: 7000 }])
      const before = await drive(sim, seed.pnrp.resolve(name))
      assert.deepEqual(before[0]?.endpoints, [{ address: 'n1', port: 7000 }])

      interfaces = ['n1', '192.0.2.7', '', 'n1']
      await sim.run(ADDRESS_CHECK_MS + 1000)
      const now = [
        { address: 'n1', port: 7000 },
        { address: '192.0.2.7', port: 7000 },
      ]
      assert.deepEqual(reg.endpoints(), now)
      const after = await drive(sim, seed.pnrp.resolve(name))
      assert.deepEqual(after[0]?.endpoints, now)
      // Explicit addresses stay as they were given; the cloud's own entry changed too.
      assert.deepEqual(fixed.endpoints(), [{ address: '10.0.0.9', port: 80 }])
      assert.deepEqual(
        mover.pnrp.endpoints('Global_').map((e) => e.address),
        ['n1', '192.0.2.7'],
      )

      // No address at all (every interface down): what was published stays.
      interfaces = []
      await sim.run(ADDRESS_CHECK_MS + 1000)
      assert.deepEqual(reg.endpoints(), now)
    } finally {
      await stopAll(sim, peers)
    }
    await rejectsPeerError(
      startPeer(createSim('pnrp-api-bad', 'x'), 'n0', { addresses: ['n0'] as never }),
      'E_INVALIDARG',
    )
  })

  test('the Windows rules and limits give their error codes', async () => {
    const { sim, peers } = await cloud('pnrp-api-2', 3)
    try {
      const [a, b] = peers as [PeerNode, PeerNode]
      const mine = `${a.identity.key.authority}.limits`
      const addresses = Array.from({ length: 11 }, (_, i) => `10.0.0.${i + 1}:80`)
      await rejectsPeerError(
        a.pnrp.register({ peerName: mine, addresses }),
        'E_INVALIDARG',
        /at most 10/,
      )
      await rejectsPeerError(
        a.pnrp.register({ peerName: mine, port: 1, payload: new Uint8Array(4097) }),
        'E_INVALIDARG',
      )
      await rejectsPeerError(
        a.pnrp.register({ peerName: mine, port: 1, comment: 'x'.repeat(40) }),
        'E_INVALIDARG',
      )
      await rejectsPeerError(a.pnrp.register({ peerName: mine }), 'E_INVALIDARG', /port/)
      await rejectsPeerError(
        a.pnrp.register({ peerName: 'not a name', port: 1 }),
        'PEER_E_INVALID_PEER_NAME',
      )
      // A secured name is only the key holder's.
      await rejectsPeerError(
        a.pnrp.register({ peerName: `${b.identity.key.authority}.theirs`, port: 1 }),
        'PEER_E_INVALID_IDENTITY',
      )
      await rejectsPeerError(
        a.pnrp.register({ peerName: mine, port: 1, cloud: 'Nowhere_' }),
        'PEER_E_CLOUD_NOT_FOUND',
      )
      const reg = await drive(
        sim,
        a.pnrp.register({ peerName: mine, port: 1, payload: new Uint8Array(4096) }),
      )
      await rejectsPeerError(
        drive(sim, a.pnrp.register({ peerName: mine, port: 2 })),
        'PEER_E_ALREADY_EXISTS',
      )
      await rejectsPeerError(reg.update({ cloud: 'LinkLocal_x' }), 'E_INVALIDARG', /cloud/)
      await rejectsPeerError(reg.update({ addresses: ['10.0.0.1:1'] }), 'E_INVALIDARG', /automatic/)
      await rejectsPeerError(reg.update({ payload: new Uint8Array(4097) }), 'E_INVALIDARG')
      assert.equal(reg.payload.length, 4096, 'a refused update changes nothing')
      await rejectsPeerError(b.pnrp.resolve(mine, { max: 0 }), 'E_INVALIDARG')
      await rejectsPeerError(b.pnrp.resolve(mine, { max: 101 }), 'E_INVALIDARG')
      await rejectsPeerError(b.pnrp.resolve(mine, { timeoutMs: 600_001 }), 'E_INVALIDARG')
      await rejectsPeerError(b.pnrp.resolve(mine, { criteria: 'closest' as never }), 'E_INVALIDARG')
      const aborted = AbortSignal.abort()
      await rejectsPeerError(b.pnrp.resolve(mine, { signal: aborted }), 'E_ABORT')

      // A name nobody registered: NOT_FOUND once the walk ends; TIMEOUT when time runs out first.
      await rejectsPeerError(drive(sim, b.pnrp.resolve('0.nobody')), 'PEER_E_NOT_FOUND')
      sim.network.partition(['n1'], ['n0', 'n2'])
      await rejectsPeerError(
        drive(sim, b.pnrp.resolve('0.nobody', { timeoutMs: 500 })),
        'PEER_E_TIMEOUT',
      )
      sim.network.heal()
    } finally {
      await stopAll(sim, peers)
    }
  })

  test('a node without pnrp options has no PNRP; registrations do not survive a restart', async () => {
    const { sim, peers } = await cloud('pnrp-api-3', 3)
    const [a, b, c] = peers as [PeerNode, PeerNode, PeerNode]
    const restarted: PeerNode[] = []
    try {
      const plain = await startPeer(sim, 'plain', undefined)
      assert.throws(() => plain.pnrp, { code: 'PEER_E_SERVICE_NOT_AVAILABLE' })
      await drive(sim, plain.stop())

      await drive(sim, c.pnrp.register({ peerName: '0.restart', port: 9 }))
      assert.equal((await drive(sim, a.pnrp.resolve('0.restart'))).length, 1)
      // c stops (revoking its registration) and starts again with no seeds: it bootstraps from
      // the nodes it remembered, and its old registration is gone until registered again.
      await drive(sim, c.stop())
      await rejectsPeerError(drive(sim, a.pnrp.resolve('0.restart')), 'PEER_E_NOT_FOUND')
      const again = await startPeer(sim, 'n2', { port: PORT })
      restarted.push(again)
      assert.equal(again.pnrp.clouds()[0]?.state, 'active', 'rejoined from its recent nodes')
      assert.deepEqual(again.pnrp.registrations(), [])
      await rejectsPeerError(drive(sim, b.pnrp.resolve('0.restart')), 'PEER_E_NOT_FOUND')
      await drive(sim, again.pnrp.register({ peerName: '0.restart', port: 10 }))
      const back = await drive(sim, b.pnrp.resolve('0.restart'))
      assert.deepEqual(back[0]?.endpoints, [{ address: 'n2', port: 10 }])
      // A node that knows no one is alone, not broken.
      const loner = await startPeer(createSim('loner', 1), 'solo', { port: PORT })
      assert.equal(loner.pnrp.clouds()[0]?.state, 'alone')
      await loner.stop()
    } finally {
      await stopAll(sim, [a, b, ...restarted])
    }
  })

  test('a forged revocation of an unsecured name does not unregister it', async () => {
    const { sim, peers } = await cloud('pnrp-api-revoke', 5)
    try {
      const [a, b, c] = peers as [PeerNode, PeerNode, PeerNode]
      const reg = await drive(sim, a.pnrp.register({ peerName: '0.victim', port: 80 }))
      assert.equal((await drive(sim, b.pnrp.resolve('0.victim'))).length, 1)
      // Anyone may sign a CPA for an unsecured name: a stranger signs its revocation and floods
      // it to every node.
      const cloudOfA = Reflect.get(a.pnrp, 'cloudList') as { node: PnrpNode }[]
      const own = (cloudOfA[0] as { node: PnrpNode }).node.registrations
        .all()
        .find((r) => r.peerName === '0.victim') as LocalRegistration
      const stranger = KeyPair.generate(sim.random.fork('stranger'))
      const forged = Cpa.sign(
        {
          peerName: '0.victim',
          serviceLocation: own.serviceLocation,
          endpoints: own.endpoints,
          payload: new Uint8Array(0),
          comment: '',
          notAfter: sim.clock.now() + 3_600_000,
          nonce: new Uint8Array(16),
          revoke: true,
        },
        stranger,
      )
      const attacker = await sim.addNode('mallory').datagrams.bind({ port: 3540 })
      for (const name of ['n0', 'n1', 'n2', 'n3', 'n4']) {
        attacker.send(
          { address: name, port: 3540 },
          encodePnrpMessage({
            type: 'flood',
            id: 7,
            validate: own.id,
            revoke: forged.bytes,
            noAck: true,
            flooded: [],
          }),
        )
      }
      await sim.runUntil(() => false, { maxMs: 10_000, throwOnTimeout: false })
      assert.equal((await drive(sim, c.pnrp.resolve('0.victim'))).length, 1, 'still resolves')
      // The genuine unregistration still works.
      await reg.unregister()
      await rejectsPeerError(drive(sim, c.pnrp.resolve('0.victim')), 'PEER_E_NOT_FOUND')
      await attacker.close()
    } finally {
      await stopAll(sim, peers)
    }
  })

  test('two link-local nodes that started alone find each other on a later query', async () => {
    const sim = createSim('pnrp-link-late', 'late')
    const link = fakeLink(true)
    const peers: PeerNode[] = []
    try {
      for (const name of ['m0', 'm1']) {
        peers.push(
          await startPeer(sim, name, {
            clouds: ['LinkLocal'],
            interfaces: [{ name: 'eth0', address: name, scopeId: 2 }],
            linkDiscovery: link.discovery,
          }),
        )
      }
      const [m0, m1] = peers as [PeerNode, PeerNode]
      assert.deepEqual(
        peers.map((p) => p.pnrp.clouds()[0]?.state),
        ['alone', 'alone'],
      )
      // Registered while alone: the announce reached no one.
      await drive(sim, m0.pnrp.register({ peerName: '0.early', port: 1 }))
      link.muted = false
      await sim.runUntil(() => m1.pnrp.clouds()[0]?.state === 'active', { maxMs: 60_000 })
      await sim.runUntil(() => false, { maxMs: 5000, throwOnTimeout: false })
      const found = await drive(sim, m1.pnrp.resolve('0.early'))
      assert.deepEqual(found[0]?.endpoints, [{ address: 'm0', port: 1 }])
    } finally {
      await stopAll(sim, peers)
    }
  })

  test('a link-local cloud bootstraps from link discovery', async () => {
    const sim = createSim('pnrp-link', 'link')
    // A link where every node hears every other's announcement (mDNS in production).
    const link = fakeLink(false)
    const peers: PeerNode[] = []
    try {
      for (const name of ['l0', 'l1', 'l2']) {
        peers.push(
          await startPeer(sim, name, {
            clouds: ['LinkLocal'],
            interfaces: [{ name: 'eth0', address: name, scopeId: 2 }],
            linkDiscovery: link.discovery,
          }),
        )
      }
      const [l0, l1, l2] = peers as [PeerNode, PeerNode, PeerNode]
      assert.deepEqual(l2.pnrp.clouds(), [
        {
          name: 'LinkLocal_eth0',
          scope: 'link-local',
          scopeId: 2,
          state: 'active',
          flags: ['name-local', 'full-participant'],
        },
      ])
      assert.equal(l0.pnrp.clouds({ scope: 'global' }).length, 0)
      await drive(
        sim,
        l1.pnrp.register({ peerName: '0.printer', port: 631, cloud: 'LinkLocal_eth0' }),
      )
      const found = await drive(sim, l2.pnrp.resolve('0.printer'))
      assert.deepEqual(found[0]?.endpoints, [{ address: 'l1', port: 631 }])
      assert.equal(found[0]?.cloud, 'LinkLocal_eth0')
    } finally {
      await stopAll(sim, peers)
    }
  })
})
