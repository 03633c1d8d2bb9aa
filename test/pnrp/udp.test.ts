/**
 * PNRP over real UDP sockets on 127.0.0.1 with the real clock: 20 nodes join through the first,
 * each registers a name, every name resolves from another node to the endpoints it registered,
 * and stopping the nodes leaves no socket, send request or timer behind.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { systemClock } from '../../src/core/clock.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import { PeerName } from '../../src/identity/peer-name.ts'
import { resolverTarget } from '../../src/pnrp/ids.ts'
import { PnrpNode } from '../../src/pnrp/node.ts'
import { UdpTransport } from '../../src/transport/udp.ts'
import { watchHandles } from '../helpers/handles.ts'

const HOST = '127.0.0.1'
const NODES = 20

/** Every test must leave no socket, send request or timer behind. */
const handles = watchHandles(['UDPWrap', 'SendWrap', 'Timeout'])

describe('PNRP on real UDP sockets (127.0.0.1)', () => {
  test(
    `${NODES} nodes: every registered name resolves from another node`,
    { timeout: 20_000 },
    async (t) => {
      const random = new SeededRandom('pnrp/udp')
      const transport = new UdpTransport()
      const nodes: PnrpNode[] = []
      handles.cleanup(async () => {
        await Promise.all(nodes.map((n) => n.stop()))
        await transport.close()
      })
      const started = Date.now()

      // The first node is alone; every other one bootstraps from it.
      for (let i = 0; i < NODES; i++) {
        const socket = await transport.bind({ host: HOST, port: 0 })
        const node = new PnrpNode({
          socket,
          clock: systemClock,
          random: random.fork(`node${i}`),
          seeds: i === 0 ? [] : [(nodes[0] as PnrpNode).local],
        })
        nodes.push(node)
        await node.start()
        assert.equal(node.local.address, HOST)
        assert.equal(node.state, i === 0 ? 'alone' : 'active', `node ${i}`)
      }
      const joined = Date.now()
      // The first node learned of the others as they joined (its state says 'alone' until its
      // first maintenance round, 10 s on, which this test does not wait for).
      assert.ok((nodes[0] as PnrpNode).cache.size > 0)

      // Each node registers a name of its own, published with an endpoint of its own.
      const names: string[] = []
      for (let i = 0; i < NODES; i++) {
        const key = KeyPair.generate(random)
        const registration = await (nodes[i] as PnrpNode).register(
          {
            peerName: PeerName.fromParts(key.publicKey.authority, `udp-svc${i}`).toString(),
            endpoints: [{ address: HOST, port: 20_000 + i }],
            payload: new Uint8Array([i]),
            comment: `udp node ${i}`,
          },
          key,
        )
        names.push(registration.peerName)
      }
      const registered = Date.now()

      // Each name from 2 other nodes: 40 resolves, all must find the registration.
      let hops = 0
      let resolves = 0
      for (let i = 0; i < NODES; i++) {
        for (const offset of [1 + random.int(NODES - 1), 1 + random.int(NODES - 1)]) {
          const from = (i + offset) % NODES
          assert.notEqual(from, i)
          const outcome = await (nodes[from] as PnrpNode).resolve({
            target: resolverTarget(names[i] as string),
            mode: 'any-peer-name',
            max: 1,
          })
          resolves++
          hops += outcome.hops
          const cpa = outcome.results[0]
          assert.ok(cpa, `${names[i]} from node ${from}: not found`)
          assert.equal(cpa.peerName, names[i])
          assert.deepEqual(cpa.endpoints, [{ address: HOST, port: 20_000 + i }])
          assert.equal(cpa.comment, `udp node ${i}`)
          assert.deepEqual([...cpa.payload], [i])
        }
      }
      assert.equal(resolves, 2 * NODES)
      const resolved = Date.now()

      // Nothing on loopback was refused as invalid, and no handler threw.
      for (const node of nodes) {
        assert.equal(node.invalid, 0)
        assert.equal(node.rpc.counters.dropped['handler-error'] ?? 0, 0)
      }
      t.diagnostic(
        `join ${joined - started} ms, register ${registered - joined} ms, ` +
          `${resolves} resolves ${resolved - registered} ms, mean hops ${(hops / resolves).toFixed(2)}`,
      )

      await Promise.all(nodes.map((n) => n.stop()))
      assert.ok(nodes.every((n) => n.state === 'dead'))
      await transport.close()
      assert.equal(transport.openSockets, 0)
      // watchHandles then checks that no UDPWrap, SendWrap or Timeout is left.
    },
  )
})
