import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import type { PeerError } from '../../src/core/errors.ts'
import {
  STREAM_PARTITION_TIMEOUT_MS,
  runScenario,
  type ScenarioOptions,
  type Sim,
  type SimDatagramSocket,
} from '../../src/sim/index.ts'
import type { Duplex } from '../../src/transport/types.ts'
import { assertPeerError, rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { settle } from '../helpers/sim.ts'

const quiet: ScenarioOptions = { log: () => {} }

interface Recording {
  chunks: number[]
  closes: number
  error: PeerError | undefined
  closedAt: number | undefined
}

function record(sim: Sim, duplex: Duplex): Recording {
  const r: Recording = { chunks: [], closes: 0, error: undefined, closedAt: undefined }
  duplex.setHandlers({
    data: (c) => r.chunks.push(...c),
    drain: () => {},
    close: (e) => {
      r.closes++
      r.error = e
      r.closedAt = sim.elapsedMs
    },
  })
  return r
}

/** Nodes named `names`, each with a datagram socket counting what it receives, by sender. */
async function mesh(
  sim: Sim,
  names: string[],
): Promise<{ sockets: Map<string, SimDatagramSocket>; got: Map<string, string[]> }> {
  const sockets = new Map<string, SimDatagramSocket>()
  const got = new Map<string, string[]>()
  for (const name of names) {
    const socket = await sim.addNode(name).datagrams.bind({ port: 500 })
    const list: string[] = []
    socket.onMessage((_, from) => list.push(from.address))
    sockets.set(name, socket)
    got.set(name, list)
  }
  return { sockets, got }
}

function sendAll(sockets: Map<string, SimDatagramSocket>): void {
  for (const [from, socket] of sockets) {
    for (const to of sockets.keys()) {
      if (to !== from) socket.send({ address: to, port: 500 }, Uint8Array.of(1))
    }
  }
}

/** A stream from `b` to `a` (a listens). */
async function stream(sim: Sim, a: string, b: string): Promise<{ server: Duplex; client: Duplex }> {
  let server: Duplex | undefined
  const listener = await sim.node(a).streams.listen({}, (d) => (server = d))
  const client = await settle(sim, sim.node(b).streams.dial(listener.address))
  assert.ok(server)
  return { server, client }
}

describe('SimNetwork faults', () => {
  test('a partition drops datagrams between the groups only; heal restores them', () =>
    runScenario(
      'fault-partition-datagrams',
      1,
      async (sim) => {
        const { sockets, got } = await mesh(sim, ['a1', 'a2', 'b1', 'b2', 'x'])
        const id = sim.network.partition(['a1', 'a2'], ['b1', 'b2'])
        assert.equal(sim.network.partitioned('a1', 'b2'), true)
        assert.equal(sim.network.partitioned('a1', 'a2'), false)
        assert.equal(sim.network.partitioned('a1', 'x'), false)
        sendAll(sockets)
        await sim.runUntilIdle()
        assert.deepEqual(got.get('a1')?.sort(), ['a2', 'x'])
        assert.deepEqual(got.get('b1')?.sort(), ['b2', 'x'])
        assert.deepEqual(got.get('x')?.sort(), ['a1', 'a2', 'b1', 'b2'])
        assert.equal(sim.network.counters.dropped('partitioned'), 8)
        // In flight when the partition starts: dropped on arrival.
        sockets.get('a1')?.send({ address: 'b1', port: 500 }, Uint8Array.of(2))
        sim.network.heal()
        sim.network.partition(['a1'], ['b1'])
        await sim.runUntilIdle()
        assert.equal(sim.network.counters.dropped('partitioned'), 9)
        assert.equal(sim.network.heal(id), false, 'that one was healed already')
        assert.equal(sim.network.heal(), true)
        for (const list of got.values()) list.length = 0
        sendAll(sockets)
        await sim.runUntilIdle()
        for (const [name, list] of got) assert.equal(list.length, 4, name)
        throwsPeerError(() => sim.network.partition(['a1'], ['a1']), 'E_INVALIDARG')
        throwsPeerError(() => sim.network.partition(['a1'], ['nope']), 'E_INVALIDARG')
      },
      quiet,
    ))

  test('streams across a partition stall, and close with PEER_E_CONNECTION_FAILED after the timeout', () =>
    runScenario(
      'fault-partition-stream-timeout',
      2,
      async (sim) => {
        sim.addNode('a')
        sim.addNode('b')
        sim.addNode('c')
        const ab = await stream(sim, 'a', 'b')
        const ac = await stream(sim, 'a', 'c')
        const atServer = record(sim, ab.server)
        const atClient = record(sim, ab.client)
        const other = record(sim, ac.server)
        const start = sim.elapsedMs
        sim.network.partition(['a'], ['b'])
        ab.client.write(Uint8Array.of(1, 2))
        ac.client.write(Uint8Array.of(3))
        await sim.run(STREAM_PARTITION_TIMEOUT_MS - 1)
        assert.deepEqual(atServer.chunks, [], 'stalled')
        assert.deepEqual(other.chunks, [3], 'a stream within one side is unaffected')
        assert.equal(atServer.closes + atClient.closes, 0)
        await sim.runUntil(() => atServer.closes === 1 && atClient.closes === 1)
        assert.equal(sim.elapsedMs - start, STREAM_PARTITION_TIMEOUT_MS)
        assertPeerError(atServer.error, 'PEER_E_CONNECTION_FAILED', /partitioned/)
        assertPeerError(atClient.error, 'PEER_E_CONNECTION_FAILED', /partitioned/)
        assert.deepEqual(atServer.chunks, [])
        assert.equal(sim.network.counters.dropped('partitioned'), 1)
        assert.equal(other.closes, 0)
        // Dials across the partition time out.
        const l = await sim.node('a').streams.listen({}, () => {})
        await rejectsPeerError(
          settle(sim, sim.node('b').streams.dial(l.address, { timeoutMs: 1000 })),
          'PEER_E_TIMEOUT',
        )
      },
      quiet,
    ))

  test('a partition healed in time resumes the stalled stream, in order', () =>
    runScenario(
      'fault-partition-heal-stream',
      3,
      async (sim) => {
        sim.addNode('a')
        sim.addNode('b')
        const { server, client } = await stream(sim, 'a', 'b')
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        sim.network.partition(['a'], ['b'])
        for (let i = 0; i < 10; i++) {
          client.write(Uint8Array.of(i))
          await sim.run(100)
        }
        server.write(Uint8Array.of(200))
        assert.deepEqual(atServer.chunks, [])
        sim.network.heal()
        for (let i = 10; i < 20; i++) client.write(Uint8Array.of(i))
        await sim.runUntil(() => atServer.chunks.length === 20 && atClient.chunks.length === 1)
        assert.deepEqual(
          atServer.chunks,
          Array.from({ length: 20 }, (_, i) => i),
        )
        await sim.run(STREAM_PARTITION_TIMEOUT_MS * 2)
        assert.equal(atServer.closes + atClient.closes, 0, 'the timer was cancelled by heal')
        client.close()
        await sim.runUntilIdle()
        assert.equal(atServer.closes, 1)
        assert.equal(atServer.error, undefined)
      },
      { ...quiet, link: { latencyMs: 10, jitterMs: 30, loss: 0 } },
    ))

  test('crash: peers see PEER_E_CONNECTION_FAILED after latency, datagrams to it are dropped, its objects report closed', () =>
    runScenario(
      'fault-crash',
      4,
      async (sim) => {
        const a = sim.addNode('a')
        const b = sim.addNode('b')
        sim.network.setLink('a', 'b', { latencyMs: 40, jitterMs: 0, loss: 0 })
        const { server, client } = await stream(sim, 'a', 'b')
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        const sa = await a.datagrams.bind({ port: 53 })
        const sb = await b.datagrams.bind({ port: 53 })
        let atA = 0
        sa.onMessage(() => atA++)
        const listener = await a.streams.listen({ port: 80 }, () => {})
        // One datagram in flight to `a` when it crashes, one sent after.
        sb.send(sa.local, Uint8Array.of(1))
        await sim.run(20)
        const crashedAt = sim.elapsedMs
        sim.network.crash('a')
        sim.network.crash('a') // no-op
        assert.equal(a.running, false)
        assert.equal(server.closed, true)
        assert.equal(sa.closed, true)
        assert.equal((listener as { closed?: boolean }).closed, true)
        assert.equal(server.write(Uint8Array.of(1)), false)
        sb.send(sa.local, Uint8Array.of(2))
        client.write(Uint8Array.of(3))
        await sim.runUntil(() => atClient.closes === 1)
        assert.equal(atClient.closedAt, crashedAt + 40, 'after one link latency')
        const err = assertPeerError(atClient.error, 'PEER_E_CONNECTION_FAILED', /reset/)
        assert.equal(err.details?.['reason'], 'crashed')
        await sim.runUntilIdle()
        assert.equal(atA, 0)
        assert.equal(atServer.closes, 0, 'the crashed side gets no handler calls')
        // The datagram in flight and the one sent after; the chunk written after the crash was
        // still in flight when the reset came back, which discards it.
        assert.equal(sim.network.counters.dropped('node-down'), 2)
        assert.equal(sim.network.counters.dropped('reset'), 1)
        await rejectsPeerError(a.datagrams.bind({}), 'E_UNEXPECTED', /crashed; restart/)
        await rejectsPeerError(a.streams.dial(sb.local), 'E_UNEXPECTED')
        await rejectsPeerError(
          settle(sim, b.streams.dial({ address: 'a', port: 80 }, { timeoutMs: 500 })),
          'PEER_E_TIMEOUT',
        )
        assert.equal(sim.network.openConnections, 0)
        assert.equal(sim.clock.pendingTimers, 0)
      },
      quiet,
    ))

  test('a dial in progress from a node that crashes rejects; one to it times out', () =>
    runScenario(
      'fault-crash-dials',
      5,
      async (sim) => {
        const a = sim.addNode('a')
        const b = sim.addNode('b')
        const l = await b.streams.listen({}, () => {})
        const outgoing = a.streams.dial(l.address)
        const incoming = b.streams.dial({ address: 'a', port: 49152 }, { timeoutMs: 300 })
        sim.network.crash('a')
        await rejectsPeerError(settle(sim, outgoing), 'PEER_E_CONNECTION_FAILED', /crashed/)
        await rejectsPeerError(settle(sim, incoming), 'PEER_E_TIMEOUT')
        assert.equal(b.openHandles.streams, 0, 'the listener never saw a connection')
        assert.equal(sim.clock.pendingTimers, 0)
      },
      quiet,
    ))

  test('restart: the node binds and listens anew, on the same ports, and traffic flows', () =>
    runScenario(
      'fault-restart',
      6,
      async (sim) => {
        const a = sim.addNode('a')
        const b = sim.addNode('b')
        await a.datagrams.bind({ port: 53 })
        await a.streams.listen({ port: 80 }, () => {})
        await a.datagrams.bind({})
        sim.network.crash('a')
        throwsPeerError(() => sim.network.restart('b'), 'E_INVALIDARG', /running/)
        sim.network.restart('a')
        assert.equal(a.running, true)
        assert.deepEqual(a.openHandles, { listeners: 0, sockets: 0, streams: 0, dials: 0 })
        const sa = await a.datagrams.bind({ port: 53 })
        assert.equal((await a.datagrams.bind({})).local.port, 49152, 'ports start over')
        let got = 0
        sa.onMessage(() => got++)
        const sb = await b.datagrams.bind({})
        sb.send(sa.local, Uint8Array.of(1))
        let accepted = 0
        await a.streams.listen({ port: 80 }, () => accepted++)
        const d = await settle(sim, b.streams.dial({ address: 'a', port: 80 }))
        await sim.runUntilIdle()
        assert.equal(got, 1)
        assert.equal(accepted, 1)
        assert.equal(d.closed, false)
      },
      quiet,
    ))

  test('SimNode.close() closes its listeners, sockets and streams in order; dials abort', () =>
    runScenario(
      'fault-node-close',
      7,
      async (sim) => {
        sim.addNode('a')
        const b = sim.addNode('b')
        const { server, client } = await stream(sim, 'a', 'b')
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        client.write(Uint8Array.of(1, 2, 3))
        const pending = b.streams.dial({ address: 'nowhere', port: 1 })
        await b.datagrams.bind({})
        await b.close()
        await rejectsPeerError(pending, 'E_ABORT')
        await sim.runUntilIdle()
        assert.deepEqual(atServer.chunks, [1, 2, 3])
        assert.equal(atServer.error, undefined)
        assert.equal(atClient.closes, 1)
        assert.deepEqual(b.openHandles, { listeners: 0, sockets: 0, streams: 0, dials: 0 })
        assert.equal(sim.clock.pendingTimers, 0)
      },
      quiet,
    ))
})
