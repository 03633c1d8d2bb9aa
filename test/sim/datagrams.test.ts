import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import {
  runScenario,
  type ScenarioOptions,
  type Sim,
  type SimDatagramSocket,
} from '../../src/sim/index.ts'
import { MAX_DATAGRAM_BYTES } from '../../src/transport/constants.ts'
import type { Address } from '../../src/transport/types.ts'
import { rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'

const quiet: ScenarioOptions = { log: () => {} }

interface Received {
  data: Uint8Array
  from: Address
  at: number
}

/** Nodes `a` and `b`, each with a datagram socket bound to a free port. */
async function socketPair(sim: Sim): Promise<{ sa: SimDatagramSocket; sb: SimDatagramSocket }> {
  const a = sim.addNode('a')
  const b = sim.addNode('b')
  return { sa: await a.datagrams.bind({}), sb: await b.datagrams.bind({}) }
}

describe('SimNetwork datagrams', () => {
  test('a datagram arrives after the link latency, from the sender address, as a copy', () =>
    runScenario(
      'dgram-latency',
      1,
      async (sim) => {
        const a = sim.addNode('a')
        const b = sim.addNode('b')
        sim.network.setLink('a', 'b', { latencyMs: 25, jitterMs: 0, loss: 0 })
        const sa = await a.datagrams.bind({})
        const sb = await b.datagrams.bind({ port: 5000 })
        assert.deepEqual(sa.local, { address: 'a', port: 49152 })
        const got: Received[] = []
        sb.onMessage((data, from) => got.push({ data, from, at: sim.elapsedMs }))
        const payload = Uint8Array.of(1, 2, 3)
        sa.send({ address: 'b', port: 5000 }, payload)
        payload[0] = 99 // the sender may reuse its buffer at once
        assert.equal(got.length, 0, 'never delivered synchronously')
        await sim.runUntilIdle()
        assert.equal(got.length, 1)
        assert.deepEqual([...(got[0]?.data ?? [])], [1, 2, 3])
        assert.deepEqual(got[0]?.from, { address: 'a', port: 49152 })
        assert.equal(got[0]?.at, 25)
        // Other pairs keep the default link (10 ms).
        const c = sim.addNode('c')
        const sc = await c.datagrams.bind({})
        const t0 = sim.elapsedMs
        sc.send(sb.local, Uint8Array.of(7))
        await sim.runUntilIdle()
        assert.equal((got[1]?.at ?? 0) - t0, 10)
      },
      quiet,
    ))

  test('jitter reorders datagrams; every one still arrives within latency + jitter', () =>
    runScenario(
      'dgram-jitter',
      2,
      async (sim) => {
        const { sa, sb } = await socketPair(sim)
        const got: { seq: number; delay: number }[] = []
        const sentAt = new Map<number, number>()
        sb.onMessage((data) => {
          const seq = (data[0] as number) * 256 + (data[1] as number)
          got.push({ seq, delay: sim.elapsedMs - (sentAt.get(seq) as number) })
        })
        for (let i = 0; i < 500; i++) {
          sentAt.set(i, sim.elapsedMs)
          sa.send(sb.local, Uint8Array.of(i >> 8, i & 0xff))
          await sim.run(0.5)
        }
        await sim.runUntilIdle()
        assert.equal(got.length, 500)
        const inversions = got.filter(
          (g, i) => i > 0 && g.seq < (got[i - 1] as { seq: number }).seq,
        )
        assert.ok(inversions.length > 50, `expected reordering, saw ${inversions.length}`)
        for (const g of got) assert.ok(g.delay >= 20 && g.delay < 50, `delay ${g.delay}`)
      },
      { ...quiet, link: { latencyMs: 20, jitterMs: 30, loss: 0 } },
    ))

  test('loss drops close to the configured share, and the counters say so', () =>
    runScenario(
      'dgram-loss',
      3,
      async (sim) => {
        const { sa, sb } = await socketPair(sim)
        let received = 0
        sb.onMessage(() => received++)
        const n = 20_000
        for (let i = 0; i < n; i++) sa.send(sb.local, new Uint8Array(10))
        await sim.runUntilIdle({ flush: false })
        const lossRate = 1 - received / n
        // sigma = sqrt(0.1 * 0.9 / 20000) ~ 0.0021: +-0.01 is nearly 5 sigma.
        assert.ok(Math.abs(lossRate - 0.1) < 0.01, `loss rate ${lossRate}`)
        const c = sim.network.counters
        assert.equal(c.total.sent, n)
        assert.equal(c.total.sentBytes, n * 10)
        assert.equal(c.total.delivered, received)
        assert.equal(c.dropped('lost'), n - received)
        assert.equal(c.kind('datagram').dropped, n - received)
        assert.equal(c.kind('stream').sent, 0)
      },
      { ...quiet, link: { latencyMs: 5, jitterMs: 5, loss: 0.1 } },
    ))

  test('duplication delivers extra copies, counted; sent + duplicated = delivered + dropped', () =>
    runScenario(
      'dgram-duplicate',
      4,
      async (sim) => {
        const { sa, sb } = await socketPair(sim)
        const seen = new Map<number, number>()
        sb.onMessage((data) => seen.set(data[0] as number, (seen.get(data[0] as number) ?? 0) + 1))
        for (let i = 0; i < 200; i++) sa.send(sb.local, Uint8Array.of(i))
        await sim.runUntilIdle()
        const c = sim.network.counters.total
        const twice = [...seen.values()].filter((v) => v === 2).length
        assert.ok(twice > 40 && twice < 120, `duplicated ${twice} of 200`)
        // Loss is drawn first: a message is lost, or delivered once, or delivered twice.
        assert.equal(c.duplicated, twice)
        assert.equal(
          c.delivered,
          [...seen.values()].reduce((n, v) => n + v, 0),
        )
        assert.equal(c.sent + c.duplicated, c.delivered + c.dropped)
        assert.ok(c.dropped > 0, 'loss applies too')
      },
      { ...quiet, link: { latencyMs: 5, jitterMs: 10, loss: 0.05, duplicate: 0.4 } },
    ))

  test('oversized payloads and bad addresses are refused at send; the limit itself passes', () =>
    runScenario(
      'dgram-refused',
      5,
      async (sim) => {
        const { sa, sb } = await socketPair(sim)
        let got = 0
        sb.onMessage(() => got++)
        throwsPeerError(
          () => sa.send(sb.local, new Uint8Array(MAX_DATAGRAM_BYTES + 1)),
          'E_INVALIDARG',
          /65508 bytes is over the 65507-byte limit/,
        )
        throwsPeerError(() => sa.send(sb.local, 'text' as never), 'E_INVALIDARG')
        throwsPeerError(
          () => sa.send({ address: 'b', port: 0 }, new Uint8Array(1)),
          'PEER_E_INVALID_ADDRESS',
        )
        throwsPeerError(
          () => sa.send({ address: 'b', port: 1.5 }, new Uint8Array(1)),
          'PEER_E_INVALID_ADDRESS',
        )
        sa.send(sb.local, new Uint8Array(MAX_DATAGRAM_BYTES))
        await sim.runUntilIdle()
        assert.equal(got, 1)
        assert.equal(sim.network.counters.total.sent, 1, 'refused sends are not counted')
      },
      quiet,
    ))

  test('sends to an unbound port, a socket without handler, an unknown node or from a closed socket are dropped and counted', () =>
    runScenario(
      'dgram-dropped',
      6,
      async (sim) => {
        const a = sim.addNode('a')
        sim.addNode('b')
        const sa = await a.datagrams.bind({})
        const sb = await sim.node('b').datagrams.bind({ port: 9 })
        sa.send({ address: 'b', port: 10 }, new Uint8Array(3))
        sa.send({ address: 'b', port: 9 }, new Uint8Array(4))
        sa.send({ address: 'zz', port: 9 }, new Uint8Array(5))
        await sim.runUntilIdle()
        await sa.close()
        assert.equal(sa.closed, true)
        sa.send(sb.local, new Uint8Array(6))
        const c = sim.network.counters
        assert.equal(c.dropped('no-port'), 1)
        assert.equal(c.dropped('no-handler'), 1)
        assert.equal(c.dropped('no-route'), 1)
        assert.equal(c.dropped('closed'), 1)
        assert.equal(c.total.sent, 4)
        assert.equal(c.total.dropped, 4)
        assert.equal(c.total.droppedBytes, 18)
        assert.equal(c.total.delivered, 0)
      },
      quiet,
    ))

  test('trace lines and per-label counters (classify, and count for callers)', async () => {
    const trace: string[] = []
    await runScenario(
      'dgram-trace',
      7,
      async (sim) => {
        const { sa, sb } = await socketPair(sim)
        sb.onMessage(() => {})
        sa.send(sb.local, Uint8Array.of(1, 0, 0))
        sa.send(sb.local, Uint8Array.of(2, 0))
        sa.send({ address: 'b', port: 1 }, Uint8Array.of(2))
        await sim.runUntilIdle()
        sim.network.count('app:hello', 42)
        sim.network.count('app:hello', 8, 'delivered')
        const c = sim.network.counters
        assert.equal(c.label('ping').sent, 1)
        assert.equal(c.label('ping').delivered, 1)
        assert.equal(c.label('pong').sent, 2)
        assert.equal(c.label('pong').dropped, 1)
        assert.deepEqual(
          { sent: c.label('app:hello').sentBytes, delivered: c.label('app:hello').delivered },
          { sent: 42, delivered: 1 },
        )
        assert.equal(c.total.sent, 3, 'caller counts stay out of the totals')
        const snap = c.snapshot()
        assert.deepEqual(Object.keys(snap.labels), ['app:hello', 'ping', 'pong'])
        assert.deepEqual(snap.dropReasons, { 'no-port': 1 })
        throwsPeerError(() => sim.network.count('', 1), 'E_INVALIDARG')
      },
      {
        ...quiet,
        trace,
        classify: (data) => (data[0] === 1 ? 'ping' : 'pong'),
        link: { latencyMs: 12.5, jitterMs: 0, loss: 0 },
      },
    )
    // An unbound port is found out on arrival, one latency later; same-instant events keep
    // the order they were sent in.
    assert.deepEqual(trace, [
      '12.500 a:49152->b:49152 datagram:ping 3 delivered',
      '12.500 a:49152->b:49152 datagram:pong 2 delivered',
      '12.500 a:49152->b:1 datagram:pong 1 dropped:no-port',
    ])
  })

  test('setLink overrides one pair in both directions; bad models are refused', () =>
    runScenario(
      'dgram-setlink',
      8,
      async (sim) => {
        const [a, b, c] = ['a', 'b', 'c'].map((n) => sim.addNode(n))
        const [sa, sb, sc] = await Promise.all([a, b, c].map((n) => n!.datagrams.bind({})))
        sim.network.setLink('a', 'b', { latencyMs: 100, jitterMs: 0, loss: 0 })
        const at: Record<string, number> = {}
        sa!.onMessage((_, from) => (at[`${from.address}->a`] = sim.elapsedMs))
        sb!.onMessage((_, from) => (at[`${from.address}->b`] = sim.elapsedMs))
        sa!.send(sb!.local, Uint8Array.of(1))
        sb!.send(sa!.local, Uint8Array.of(1))
        sc!.send(sb!.local, Uint8Array.of(1))
        await sim.runUntilIdle()
        assert.deepEqual(at, { 'c->b': 10, 'a->b': 100, 'b->a': 100 })
        sim.network.setLink('a', 'b', undefined)
        assert.equal(sim.network.link('a', 'b').latencyMs, 10)
        throwsPeerError(
          () => sim.network.setLink('a', 'b', { latencyMs: -1, jitterMs: 0, loss: 0 }),
          'E_INVALIDARG',
        )
        throwsPeerError(
          () => sim.network.setLink('a', 'b', { latencyMs: 1, jitterMs: 0, loss: 1.5 }),
          'E_INVALIDARG',
        )
        throwsPeerError(
          () => sim.network.setLink('a', 'x', { latencyMs: 1, jitterMs: 0, loss: 0 }),
          'E_INVALIDARG',
        )
        throwsPeerError(() => sim.addNode('a'), 'E_INVALIDARG')
        throwsPeerError(() => sim.addNode('has space'), 'E_INVALIDARG')
      },
      quiet,
    ))

  test('bind: port 0 from 49152 up, a taken port refused, separate from stream ports', () =>
    runScenario(
      'dgram-bind',
      9,
      async (sim) => {
        const a = sim.addNode('a')
        const s1 = await a.datagrams.bind({})
        await a.streams.listen({}, () => {})
        const s2 = await a.datagrams.bind({ host: '::' })
        assert.deepEqual([s1.local.port, s2.local.port], [49152, 49153])
        await rejectsPeerError(a.datagrams.bind({ port: 49152 }), 'PEER_E_UNABLE_TO_LISTEN')
        await s1.close()
        assert.equal((await a.datagrams.bind({ port: 49152 })).local.port, 49152)
        assert.equal(a.datagrams.openSockets, 2)
      },
      quiet,
    ))
})
