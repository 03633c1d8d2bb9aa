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
import {
  CONTEXT_SELECTOR_BYTES,
  FRAME_HEADER_BYTES,
  MAX_PENDING_HANDSHAKES,
  MAX_PENDING_HANDSHAKES_PER_ADDRESS,
} from '../../src/transport/constants.ts'
import { contextSelector, SessionCredentials } from '../../src/transport/secure-session.ts'
import { x25519KeyPair } from '../../src/transport/noise/crypto.ts'
import type { Duplex } from '../../src/transport/types.ts'

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

test('one host stalling handshakes cannot take the slots other hosts need', async () => {
  await runScenario(
    'connections-slots',
    3,
    async (sim) => {
      const server = peer(sim, 'server')
      const address = await server.listen({ port: 3587 })
      // x opens many streams and stops after the (public) first handshake message.
      const x = sim.network.addNode('x')
      const stalled: Duplex[] = []
      for (let i = 0; i < MAX_PENDING_HANDSHAKES; i++) {
        let dialled: Duplex | undefined
        void x.streams.dial(address).then((d) => (dialled = d))
        await sim.runUntil(() => dialled !== undefined, { maxMs: 5_000 })
        const duplex = dialled as Duplex
        duplex.setHandlers({ data: () => {}, drain: () => {}, close: () => {} })
        const first = new Uint8Array(FRAME_HEADER_BYTES + 32 + CONTEXT_SELECTOR_BYTES)
        new DataView(first.buffer).setUint32(0, first.length - FRAME_HEADER_BYTES)
        first.set(x25519KeyPair(sim.random).publicKey, FRAME_HEADER_BYTES)
        first.set(contextSelector('graph:sim'), FRAME_HEADER_BYTES + 32)
        duplex.write(first)
        stalled.push(duplex)
      }
      await sim.run(100)
      const kept = stalled.filter((d) => !d.closed).length
      assert.equal(kept, MAX_PENDING_HANDSHAKES_PER_ADDRESS)
      const honest = peer(sim, 'honest')
      let connected = false
      void honest.connect(address).then(() => (connected = true))
      await sim.runUntil(() => connected, { maxMs: 5_000 })
      for (const d of stalled) d.close()
      await honest.stop()
      await server.stop()
    },
    { log: () => {} },
  )
})
