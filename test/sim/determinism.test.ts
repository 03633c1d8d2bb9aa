import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'

import { runScenario, type CountersSnapshot, type SimDatagramSocket } from '../../src/sim/index.ts'
import type { Duplex } from '../../src/transport/types.ts'

const NODES = 1000
const PINGS_PER_NODE = 150
const PING_INTERVAL_MS = 20
const PORT = 49152

interface Outcome {
  traceSha256: string
  countersSha256: string
  traceLines: number
  counters: CountersSnapshot
  wallMs: number
  pendingAfterCrash: number
}

/**
 * 1,000 nodes; each pings a random node every 20 ms, 150 times, and answers every ping with a
 * pong. Links: 20 ms + up to 15 ms jitter, 5% loss, 0.5% duplication. From 1 s to 2 s of
 * virtual time the first half of the nodes is cut off from the second half.
 */
async function meshRun(seed: number): Promise<Outcome> {
  const hash = createHash('sha256')
  let traceLines = 0
  const started = performance.now()
  return runScenario(
    'determinism-1000',
    seed,
    async (sim) => {
      const names = Array.from({ length: NODES }, (_, i) => `n${i}`)
      const sockets: SimDatagramSocket[] = []
      for (const name of names) sockets.push(await sim.addNode(name).datagrams.bind({}))
      const ping = new Uint8Array(48).fill(1)
      const pong = new Uint8Array(32).fill(2)
      const traffic = sim.random.fork('traffic')
      sockets.forEach((socket, i) => {
        socket.onMessage((data, from) => {
          if (data[0] === 1) socket.send(from, pong)
        })
        const pick = traffic.fork(String(i))
        let left = PINGS_PER_NODE
        const timer = sim.clock.setInterval(() => {
          socket.send({ address: names[pick.int(NODES)] as string, port: PORT }, ping)
          if (--left === 0) timer.cancel()
        }, PING_INTERVAL_MS)
      })
      const half = NODES / 2
      sim.clock.setTimeout(
        () => sim.network.partition(names.slice(0, half), names.slice(half)),
        1000,
      )
      sim.clock.setTimeout(() => sim.network.heal(), 2000)
      await sim.runUntilIdle({ flush: false, maxMs: 60_000 })
      const counters = sim.network.counters.snapshot()
      for (const name of names) sim.network.crash(name)
      return {
        traceSha256: hash.digest('hex'),
        countersSha256: createHash('sha256').update(JSON.stringify(counters)).digest('hex'),
        traceLines,
        counters,
        wallMs: performance.now() - started,
        pendingAfterCrash: sim.clock.pendingTimers,
      }
    },
    {
      log: () => {},
      link: { latencyMs: 20, jitterMs: 15, loss: 0.05, duplicate: 0.005 },
      classify: (data) => (data[0] === 1 ? 'ping' : 'pong'),
      trace: (line) => {
        hash.update(line)
        hash.update('\n')
        traceLines++
      },
    },
  )
}

/** 24 nodes with streams: random dials, chunks both ways, bandwidth, a partition and a crash. */
async function streamRun(seed: number): Promise<string[]> {
  const trace: string[] = []
  await runScenario(
    'determinism-streams',
    seed,
    async (sim) => {
      const names = Array.from({ length: 24 }, (_, i) => `s${i}`)
      const rng = sim.random.fork('dials')
      for (const name of names) {
        const node = sim.addNode(name)
        await node.streams.listen({ port: 80 }, (d) => echo(d))
      }
      sim.network.setLink('s0', 's1', {
        latencyMs: 5,
        jitterMs: 1,
        loss: 0,
        bandwidthBytesPerSec: 50_000,
      })
      const echo = (d: Duplex): void =>
        d.setHandlers({ data: (c) => void d.write(c), drain: () => {}, close: () => {} })
      const dials: Promise<void>[] = []
      for (const name of names) {
        for (let k = 0; k < 3; k++) {
          const to = names[rng.int(names.length)] as string
          dials.push(
            sim
              .node(name)
              .streams.dial({ address: to, port: 80 })
              .then((d) => {
                d.setHandlers({ data: () => {}, drain: () => {}, close: () => {} })
                for (let i = 0; i < 5; i++) d.write(new Uint8Array(100 + rng.int(900)))
                sim.clock.setTimeout(() => d.close(), 400 + rng.int(400))
              }),
          )
        }
      }
      sim.clock.setTimeout(() => sim.network.partition(names.slice(0, 6), names.slice(6)), 50)
      sim.clock.setTimeout(() => sim.network.crash('s7'), 60)
      sim.clock.setTimeout(() => sim.network.heal(), 300)
      // A dial across the partition: its request is lost, and it times out.
      let crossDial: Promise<unknown> = Promise.resolve()
      sim.clock.setTimeout(() => {
        crossDial = sim
          .node('s0')
          .streams.dial({ address: 's10', port: 80 }, { timeoutMs: 1000 })
          .then(
            () => 'connected',
            (err: unknown) => (err as { code?: string }).code,
          )
      }, 100)
      await sim.runUntilIdle({ maxMs: 120_000 })
      await Promise.allSettled(dials)
      assert.equal(await crossDial, 'PEER_E_TIMEOUT')
    },
    { log: () => {}, trace, link: { latencyMs: 10, jitterMs: 25, loss: 0 } },
  )
  return trace
}

describe('determinism', () => {
  test('1,000 nodes, 5% loss, a partition of half: same seed, same trace; another seed, another', async (t) => {
    const first = await meshRun(42)
    t.diagnostic(
      `one run: ${first.wallMs.toFixed(0)} ms wall, ${first.counters.total.sent} datagrams ` +
        `sent, ${first.traceLines} trace lines`,
    )
    const again = await meshRun(42)
    t.diagnostic(`second run: ${again.wallMs.toFixed(0)} ms wall`)
    assert.equal(again.traceSha256, first.traceSha256)
    assert.equal(again.countersSha256, first.countersSha256)
    assert.deepEqual(again.counters, first.counters)

    const other = await meshRun(43)
    t.diagnostic(`other seed: ${other.wallMs.toFixed(0)} ms wall`)
    assert.notEqual(other.traceSha256, first.traceSha256)

    // The run did what it says: pings and pongs, the loss rate, the partition.
    const c = first.counters
    assert.equal(c.labels['ping']?.sent, NODES * PINGS_PER_NODE)
    assert.ok((c.labels['pong']?.sent ?? 0) > 0.7 * NODES * PINGS_PER_NODE)
    const lost = c.dropReasons['lost'] ?? 0
    const crossed = c.total.sent - (c.dropReasons['partitioned'] ?? 0)
    assert.ok(Math.abs(lost / crossed - 0.05) < 0.005, `loss ${lost / crossed}`)
    assert.ok((c.dropReasons['partitioned'] ?? 0) > 10_000)
    assert.ok(c.total.duplicated > 0)
    assert.equal(c.total.sent + c.total.duplicated, c.total.delivered + c.total.dropped)
    assert.equal(first.traceLines, c.total.delivered + c.total.dropped)
    assert.equal(first.pendingAfterCrash, 0, 'nothing left on the clock once all crashed')
  })

  test('streams with jitter, bandwidth, a partition and a crash replay exactly', async () => {
    const a = await streamRun(7)
    const b = await streamRun(7)
    assert.ok(a.length > 500, `trace of ${a.length} lines`)
    assert.deepEqual(b, a)
    assert.ok(a.some((l) => / s0->s10:80 syn 0 dropped:partitioned$/.test(l)))
    assert.ok(a.some((l) => / rst 0 delivered$/.test(l)))
    const c = await streamRun(8)
    assert.notDeepEqual(c, a)
  })
})
