/**
 * Secure connections and channels over the simulator's in-memory network, on virtual time:
 * the same code as over TCP, with latency, jitter and a crash, replayable from its seed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Identity } from '../../src/identity/identity.ts'
import { runScenario, type Sim } from '../../src/sim/index.ts'
import { ConnectionManager, type PeerConnection } from '../../src/transport/connections.ts'
import type { Channel } from '../../src/transport/mux.ts'
import { SessionCredentials } from '../../src/transport/secure-session.ts'

function peer(sim: Sim, name: string): ConnectionManager {
  const random = sim.random.fork(name)
  const identity = Identity.create({ classifier: name, random, now: sim.clock.now() })
  return new ConnectionManager({
    credentials: new SessionCredentials(identity, random),
    context: 'graph:sim',
    streams: sim.network.addNode(name).streams,
    clock: sim.clock,
    random,
  })
}

test('two peers on the simulated network exchange channelled messages; a crash is reported', async () => {
  await runScenario(
    'connections-sim',
    7,
    async (sim) => {
      sim.network.setDefaultLink({ latencyMs: 25, jitterMs: 10, loss: 0 })
      const a = peer(sim, 'a')
      const b = peer(sim, 'b')
      const address = await b.listen({ port: 3587 })
      const received: string[] = []
      b.on('connected', (c) =>
        c.mux.on('channel', (ch: Channel) =>
          ch.on('message', (m) => {
            received.push(new TextDecoder().decode(m))
            void ch.send(m).catch(() => {})
          }),
        ),
      )
      let connection: PeerConnection | undefined
      void a.connect(address, { peerName: b.ownPeerName }).then((c) => (connection = c))
      await sim.runUntil(() => connection !== undefined, { maxMs: 5_000 })
      const chat = (connection as PeerConnection).mux.open('chat')
      const echoes: string[] = []
      chat.on('message', (m) => echoes.push(new TextDecoder().decode(m)))
      for (const text of ['one', 'two', 'three']) void chat.send(new TextEncoder().encode(text))
      await sim.runUntil(() => echoes.length === 3, { maxMs: 5_000 })
      assert.deepEqual(received, ['one', 'two', 'three'])
      assert.deepEqual(echoes, ['one', 'two', 'three'])

      const lost = new Promise<string | undefined>((resolve) =>
        a.on('disconnected', ({ error }) => resolve(error?.code)),
      )
      sim.network.crash('b')
      let code: string | undefined = 'pending'
      void lost.then((c) => (code = c))
      await sim.runUntil(() => code !== 'pending', { maxMs: 5_000 })
      assert.equal(code, 'PEER_E_CONNECTION_FAILED')
      assert.equal(a.connections().length, 0)
      await a.stop()
      await b.stop()
    },
    { log: () => {} },
  )
})
