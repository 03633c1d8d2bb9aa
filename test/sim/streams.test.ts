import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError } from '../../src/core/errors.ts'
import { runScenario, type Sim, type ScenarioOptions } from '../../src/sim/index.ts'
import { STREAM_HIGH_WATER_BYTES } from '../../src/transport/constants.ts'
import type { Duplex } from '../../src/transport/types.ts'
import { assertPeerError, rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { settle } from '../helpers/sim.ts'

const quiet: ScenarioOptions = { log: () => {} }

interface Recording {
  chunks: Uint8Array[]
  times: number[]
  drains: number[]
  close: { error: PeerError | undefined; at: number } | undefined
  closes: number
}

/** Installs handlers on `duplex` that record everything, with virtual times. */
function record(sim: Sim, duplex: Duplex): Recording {
  const r: Recording = { chunks: [], times: [], drains: [], close: undefined, closes: 0 }
  duplex.setHandlers({
    data: (chunk) => {
      r.chunks.push(chunk)
      r.times.push(sim.elapsedMs)
    },
    drain: () => r.drains.push(sim.elapsedMs),
    close: (error) => {
      r.closes++
      r.close = { error, at: sim.elapsedMs }
    },
  })
  return r
}

/** Two nodes, `a` listening; returns both ends of one connection (b dialled a). */
async function connected(sim: Sim): Promise<{ server: Duplex; client: Duplex; dialledAt: number }> {
  const a = sim.addNode('a')
  const b = sim.addNode('b')
  let server: Duplex | undefined
  const listener = await a.streams.listen({}, (d) => (server = d))
  const client = await settle(sim, b.streams.dial(listener.address))
  assert.ok(server, 'the listener saw the connection')
  return { server, client, dialledAt: sim.elapsedMs }
}

function bytes(n: number, fill = 0): Uint8Array {
  return new Uint8Array(n).fill(fill)
}

function concat(chunks: Uint8Array[]): number[] {
  return chunks.flatMap((c) => [...c])
}

describe('SimNetwork streams', () => {
  test('two nodes exchange data both ways in order, though jitter exceeds the spacing', () =>
    runScenario(
      'streams-order',
      1,
      async (sim) => {
        const { server, client, dialledAt } = await connected(sim)
        assert.ok(dialledAt >= 5 && dialledAt < 45, `dial took one link delay, got ${dialledAt}`)
        assert.deepEqual(server.local, { address: 'a', port: 49152 })
        assert.deepEqual(server.remote, client.local)
        assert.deepEqual(client.remote, { address: 'a', port: 49152 })
        assert.equal(client.local.address, 'b')
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        for (let i = 0; i < 100; i++) {
          assert.equal(client.write(Uint8Array.of(i)), true)
          assert.equal(server.write(Uint8Array.of(255 - i)), true)
          await sim.run(1)
        }
        await sim.runUntil(() => atServer.chunks.length === 100 && atClient.chunks.length === 100)
        assert.deepEqual(
          concat(atServer.chunks),
          Array.from({ length: 100 }, (_, i) => i),
        )
        assert.deepEqual(
          concat(atClient.chunks),
          Array.from({ length: 100 }, (_, i) => 255 - i),
        )
        // Arrival times never go backwards, and each took at least the latency.
        for (let i = 1; i < 100; i++) {
          assert.ok((atServer.times[i] as number) >= (atServer.times[i - 1] as number))
        }
        const counts = sim.network.counters.kind('stream')
        assert.equal(counts.sent, 200)
        assert.equal(counts.delivered, 200)
        assert.equal(counts.deliveredBytes, 200)
      },
      { ...quiet, link: { latencyMs: 5, jitterMs: 40, loss: 0.5 } },
    ))

  test('data that arrives before setHandlers is kept and delivered from a timer once set', () =>
    runScenario(
      'streams-early-data',
      2,
      async (sim) => {
        const a = sim.addNode('a')
        const b = sim.addNode('b')
        const listener = await a.streams.listen({ port: 7000 }, (d) => {
          d.write(Uint8Array.of(1, 2))
          d.write(Uint8Array.of(3))
          d.close()
        })
        const client = await settle(sim, b.streams.dial(listener.address))
        await sim.run(500) // the data and the close arrive with no handlers set
        assert.equal(client.closed, true, 'the remote closed')
        const r: Recording = { chunks: [], times: [], drains: [], close: undefined, closes: 0 }
        let inside = true
        client.setHandlers({
          data: (c) => {
            assert.equal(inside, false, 'never called from inside setHandlers')
            r.chunks.push(c)
          },
          drain: () => {},
          close: (error) => {
            r.closes++
            r.close = { error, at: sim.elapsedMs }
          },
        })
        inside = false
        assert.equal(r.chunks.length, 0)
        await sim.runUntil(() => r.closes === 1)
        assert.deepEqual(concat(r.chunks), [1, 2, 3])
        assert.equal(r.close?.error, undefined)
        throwsPeerError(
          () => client.setHandlers({ data: () => {}, drain: () => {}, close: () => {} }),
          'E_UNEXPECTED',
        )
      },
      quiet,
    ))

  test('backpressure: write returns false above the high-water mark, and drain follows', () =>
    runScenario(
      'streams-backpressure',
      3,
      async (sim) => {
        const { server, client } = await connected(sim)
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        const chunk = bytes(64 * 1024, 7)
        let writes = 0
        while (client.write(chunk)) writes++
        writes++
        // 1 MiB / 64 KiB = 16 chunks fit; the 17th goes over the mark.
        assert.equal(writes, STREAM_HIGH_WATER_BYTES / chunk.length + 1)
        assert.equal(atClient.drains.length, 0, 'drain is never synchronous')
        await sim.runUntil(() => atClient.drains.length === 1)
        const received = atServer.chunks.reduce((n, c) => n + c.length, 0)
        assert.ok(received > 0 && received <= writes * chunk.length)
        await sim.runUntil(() => atServer.chunks.length === writes)
        assert.equal(atClient.drains.length, 1, 'one drain per false')
        assert.equal(client.write(chunk), true, 'room again')
      },
      { ...quiet, link: { latencyMs: 10, jitterMs: 0, loss: 0, bandwidthBytesPerSec: 10e6 } },
    ))

  test('a paused reader holds delivery and pushes back on the writer; resume delivers', () =>
    runScenario(
      'streams-pause',
      4,
      async (sim) => {
        const { server, client } = await connected(sim)
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        server.pause()
        assert.equal(client.write(Uint8Array.of(1)), true)
        assert.equal(client.write(Uint8Array.of(2)), true)
        await sim.run(1000)
        assert.equal(atServer.chunks.length, 0, 'paused: nothing delivered')
        // Bytes held by the paused reader still count against the writer.
        assert.equal(client.write(bytes(STREAM_HIGH_WATER_BYTES)), false)
        await sim.run(1000)
        assert.equal(atClient.drains.length, 0, 'no drain while the reader is paused')
        const resumedAt = sim.elapsedMs
        server.resume()
        assert.equal(atServer.chunks.length, 0, 'resume does not deliver synchronously')
        await sim.runUntil(() => atServer.chunks.length === 3)
        assert.deepEqual([...(atServer.chunks[0] ?? [])], [1])
        assert.deepEqual([...(atServer.chunks[1] ?? [])], [2])
        assert.ok((atServer.times[0] as number) >= resumedAt)
        await sim.runUntil(() => atClient.drains.length === 1)
        // Pausing again mid-stream stops after the current chunk.
        server.pause()
        client.write(Uint8Array.of(9))
        await sim.run(100)
        assert.equal(atServer.chunks.length, 3)
        server.resume()
        await sim.runUntil(() => atServer.chunks.length === 4)
      },
      quiet,
    ))

  test('close() delivers the remote close after the data in flight, once to each side', () =>
    runScenario(
      'streams-orderly-close',
      5,
      async (sim) => {
        const { server, client } = await connected(sim)
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        client.write(Uint8Array.of(1))
        client.write(Uint8Array.of(2))
        client.write(Uint8Array.of(3))
        client.close()
        assert.equal(client.closed, true)
        assert.equal(atClient.closes, 0, 'the local close handler is not called synchronously')
        assert.equal(client.write(Uint8Array.of(4)), false, 'writing after close is refused')
        client.close() // idempotent
        await sim.runUntil(() => atServer.closes === 1 && atClient.closes === 1)
        assert.deepEqual(concat(atServer.chunks), [1, 2, 3])
        assert.equal(atServer.close?.error, undefined)
        assert.equal(atClient.close?.error, undefined)
        assert.ok(
          (atServer.close?.at as number) >= (atServer.times[2] as number),
          'close after the data',
        )
        assert.equal(server.closed, true)
        // The server may still write until it learns of the close; nothing reaches the client.
        assert.equal(server.write(Uint8Array.of(5)), false)
        await sim.runUntilIdle()
        assert.equal(atClient.chunks.length, 0)
        assert.equal(atServer.closes, 1)
        assert.equal(atClient.closes, 1)
        assert.equal(sim.network.openConnections, 0)
        assert.equal(sim.clock.pendingTimers, 0)
        const stream = sim.network.counters.kind('stream')
        assert.equal(stream.sent, stream.delivered + stream.dropped)
      },
      { ...quiet, link: { latencyMs: 10, jitterMs: 20, loss: 0 } },
    ))

  test('close(error) is abrupt: data in flight is dropped, the remote fails after one delay', () =>
    runScenario(
      'streams-abrupt-close',
      6,
      async (sim) => {
        const { server, client } = await connected(sim)
        const atServer = record(sim, server)
        const atClient = record(sim, client)
        client.write(Uint8Array.of(1, 2, 3))
        const start = sim.elapsedMs
        const why = new PeerError('PEER_E_NOT_AUTHORIZED', 'go away')
        client.close(why)
        await sim.runUntil(() => atServer.closes === 1 && atClient.closes === 1)
        assert.equal(atClient.close?.error, why, 'the local side gets its own error')
        const err = assertPeerError(atServer.close?.error, 'PEER_E_CONNECTION_FAILED', /reset/)
        assert.equal(err.details?.['reason'], 'aborted')
        assert.equal(atServer.close?.at, start + 10, 'after one link latency')
        assert.equal(atServer.chunks.length, 0, 'the data in flight was discarded')
        assert.equal(sim.network.counters.dropped('reset'), 1)
        assert.equal(sim.network.openConnections, 0)
      },
      quiet,
    ))

  test('dialling a port nobody listens on is refused after one link latency', () =>
    runScenario(
      'streams-refused',
      7,
      async (sim) => {
        const a = sim.addNode('a')
        const b = sim.addNode('b')
        sim.network.setLink('a', 'b', { latencyMs: 37, jitterMs: 0, loss: 0 })
        const err = await rejectsPeerError(
          settle(sim, b.streams.dial({ address: 'a', port: 1234 })),
          'PEER_E_CONNECTION_REFUSED',
          /a:1234 refused/,
        )
        assert.equal(err.details?.['port'], 1234)
        assert.equal(sim.elapsedMs, 37)
        // A listener closed is nobody, too.
        const listener = await a.streams.listen({}, () => {})
        await listener.close()
        await rejectsPeerError(
          settle(sim, b.streams.dial(listener.address)),
          'PEER_E_CONNECTION_REFUSED',
        )
        await rejectsPeerError(b.streams.dial({ address: 'a', port: 0 }), 'PEER_E_INVALID_ADDRESS')
        await rejectsPeerError(b.streams.dial({ address: '', port: 1 }), 'PEER_E_INVALID_ADDRESS')
        assert.equal(sim.clock.pendingTimers, 0)
      },
      quiet,
    ))

  test('dial timeoutMs gives PEER_E_TIMEOUT on virtual time; a signal aborts with E_ABORT', () =>
    runScenario(
      'streams-dial-timeout-abort',
      8,
      async (sim) => {
        const a = sim.addNode('a')
        sim.addNode('b')
        sim.network.crash('b') // a crashed node never answers
        const t0 = sim.elapsedMs
        await rejectsPeerError(
          settle(sim, a.streams.dial({ address: 'b', port: 80 }, { timeoutMs: 750 })),
          'PEER_E_TIMEOUT',
          /750 ms/,
        )
        assert.equal(sim.elapsedMs - t0, 750)
        // Nor does an unknown name: the default timeout applies.
        const t1 = sim.elapsedMs
        await rejectsPeerError(
          settle(sim, a.streams.dial({ address: 'nowhere', port: 80 })),
          'PEER_E_TIMEOUT',
        )
        assert.equal(sim.elapsedMs - t1, 20_000)

        const ac = new AbortController()
        sim.clock.setTimeout(() => ac.abort(), 3)
        const t2 = sim.elapsedMs
        await rejectsPeerError(
          settle(sim, a.streams.dial({ address: 'b', port: 80 }, { signal: ac.signal })),
          'E_ABORT',
        )
        assert.equal(sim.elapsedMs - t2, 3)
        // An abort reason that is a PeerError is kept; an aborted signal fails at once.
        await rejectsPeerError(
          a.streams.dial(
            { address: 'b', port: 80 },
            { signal: AbortSignal.abort(new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'bye')) },
          ),
          'PEER_E_GRAPH_SHUTTING_DOWN',
        )
        await rejectsPeerError(
          a.streams.dial({ address: 'b', port: 80 }, { timeoutMs: -1 }),
          'E_INVALIDARG',
        )
        assert.equal(sim.clock.pendingTimers, 0, 'no dial left a timer behind')
        assert.equal(a.openHandles.dials, 0)
      },
      quiet,
    ))

  test('bandwidth adds size/bandwidth of serialisation delay, queued per link', () =>
    runScenario(
      'streams-bandwidth',
      9,
      async (sim) => {
        const { server, client } = await connected(sim)
        sim.network.setLink('a', 'b', {
          latencyMs: 10,
          jitterMs: 0,
          loss: 0,
          bandwidthBytesPerSec: 1000,
        })
        const atServer = record(sim, server)
        const t0 = sim.elapsedMs
        client.write(bytes(500))
        client.write(bytes(250))
        await sim.runUntil(() => atServer.chunks.length === 2)
        // 500 B at 1000 B/s: 500 ms on the wire, then 10 ms latency; the next waits its turn.
        assert.deepEqual(
          atServer.times.map((t) => t - t0),
          [510, 760],
        )
        assert.deepEqual(sim.network.link('b', 'a').bandwidthBytesPerSec, 1000)
      },
      quiet,
    ))

  test('ports: 0 allocates from 49152 up; a taken port is refused; hosts are checked', () =>
    runScenario(
      'streams-ports',
      10,
      async (sim) => {
        const a = sim.addNode('a')
        const l1 = await a.streams.listen({}, () => {})
        const l2 = await a.streams.listen({ host: 'a', port: 0 }, () => {})
        const l3 = await a.streams.listen({ host: '0.0.0.0', port: 49154 }, () => {})
        assert.deepEqual([l1.address.port, l2.address.port, l3.address.port], [49152, 49153, 49154])
        assert.equal((await a.streams.listen({}, () => {})).address.port, 49155)
        await rejectsPeerError(
          a.streams.listen({ port: 49153 }, () => {}),
          'PEER_E_UNABLE_TO_LISTEN',
        )
        await rejectsPeerError(
          a.streams.listen({ port: 70000 }, () => {}),
          'PEER_E_INVALID_ADDRESS',
        )
        await rejectsPeerError(
          a.streams.listen({ host: 'elsewhere' }, () => {}),
          'PEER_E_UNABLE_TO_LISTEN',
        )
        await l2.close()
        await l2.close()
        assert.equal((await a.streams.listen({ port: 49153 }, () => {})).address.port, 49153)
      },
      quiet,
    ))

  test('a throwing handler closes its stream with E_UNEXPECTED and is counted', () =>
    runScenario(
      'streams-throwing-handler',
      11,
      async (sim) => {
        const { server, client } = await connected(sim)
        const atClient = record(sim, client)
        let closedWith: PeerError | undefined
        server.setHandlers({
          data: () => {
            throw new Error('boom')
          },
          drain: () => {},
          close: (e) => (closedWith = e),
        })
        client.write(Uint8Array.of(1))
        await sim.runUntil(() => atClient.closes === 1)
        assertPeerError(closedWith, 'E_UNEXPECTED', /data handler threw: boom/)
        assertPeerError(atClient.close?.error, 'PEER_E_CONNECTION_FAILED')
        assert.equal(sim.network.handlerErrors, 1)
      },
      { ...quiet, failOnHandlerError: false },
    ))

  test('a writer that ignores backpressure fails with PEER_E_TOO_LARGE', () =>
    runScenario(
      'streams-too-large',
      12,
      async (sim) => {
        const { client } = await connected(sim)
        const atClient = record(sim, client)
        const chunk = bytes(STREAM_HIGH_WATER_BYTES)
        for (let i = 0; i < 4; i++) client.write(chunk)
        assert.equal(client.write(chunk), false)
        assert.equal(client.closed, true)
        await sim.runUntil(() => atClient.closes === 1)
        assertPeerError(atClient.close?.error, 'PEER_E_TOO_LARGE')
      },
      quiet,
    ))
})
