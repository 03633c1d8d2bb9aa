import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import {
  DEFAULT_RUN_UNTIL_MS,
  createSim,
  runScenario,
  scenarioSeed,
  type ScenarioOptions,
  type Sim,
} from '../../src/sim/index.ts'
import type { Duplex } from '../../src/transport/types.ts'
import { rejectsPeerError } from '../helpers/assert-peer-error.ts'

const quiet: ScenarioOptions = { log: () => {}, env: {} }

describe('runScenario', () => {
  test('prints one line with the name and seed, and returns what the body returns', async () => {
    const lines: string[] = []
    const result = await runScenario(
      'hello',
      1234,
      (sim) => {
        assert.equal(sim.name, 'hello')
        assert.equal(sim.seed, '1234')
        assert.equal(sim.random.next32(), new SeededRandom(1234).next32())
        return 'done'
      },
      { log: (l) => lines.push(l), env: {} },
    )
    assert.equal(result, 'done')
    assert.deepEqual(lines, ['scenario hello seed=1234'])
  })

  test('PEERINFRA_SEED overrides the seed when set and not empty', async () => {
    assert.equal(scenarioSeed(5, { PEERINFRA_SEED: '99' }), '99')
    assert.equal(scenarioSeed(5, { PEERINFRA_SEED: '  ' }), '5')
    assert.equal(scenarioSeed('abc', {}), 'abc')
    const lines: string[] = []
    await runScenario(
      'override',
      5,
      (sim) => {
        assert.equal(sim.seed, 'replay-me')
        assert.equal(sim.random.next32(), new SeededRandom('replay-me').next32())
      },
      { log: (l) => lines.push(l), env: { PEERINFRA_SEED: 'replay-me' } },
    )
    assert.deepEqual(lines, ['scenario override seed=replay-me'])
  })

  test('a failure is rethrown with the seed, a replay hint, its code and its cause', async () => {
    const original = new PeerError('PEER_E_GRAPH_NOT_READY', 'not yet', { details: { n: 1 } })
    const err = await rejectsPeerError(
      runScenario(
        'failing',
        7,
        async (sim) => {
          await sim.run(250)
          throw original
        },
        quiet,
      ),
      'PEER_E_GRAPH_NOT_READY',
    )
    assert.match(err.message, /^scenario failing failed at \+250 ms \(seed=7\): not yet/)
    assert.match(err.message, /replay: runScenario\("failing", 7, \.\.\.\) or PEERINFRA_SEED=7/)
    assert.equal(err.cause, original)
    assert.deepEqual(
      { n: err.details?.['n'], seed: err.details?.['seed'], scenario: err.details?.['scenario'] },
      { n: 1, seed: '7', scenario: 'failing' },
    )

    // Anything else becomes E_UNEXPECTED, the original kept as cause, its frames as the stack.
    const wrapped = await rejectsPeerError(
      runScenario('assertion', 'seed-x', () => assert.equal(1, 2), quiet),
      'E_UNEXPECTED',
      /replay: runScenario\("assertion", "seed-x", \.\.\.\) or PEERINFRA_SEED=seed-x/,
    )
    assert.ok(wrapped.cause instanceof assert.AssertionError)
    assert.match(wrapped.stack ?? '', /scenario\.test\.ts/)
  })

  test('a network handler that threw fails the scenario, unless allowed', async () => {
    const body = async (sim: Sim): Promise<void> => {
      const a = sim.addNode('a')
      const s = await a.datagrams.bind({})
      s.onMessage(() => {
        throw new Error('handler bug')
      })
      s.send(s.local, Uint8Array.of(1))
      await sim.runUntilIdle()
    }
    await rejectsPeerError(
      runScenario('handler-error', 1, body, quiet),
      'E_UNEXPECTED',
      /handler bug/,
    )
    await runScenario('handler-error-allowed', 1, body, { ...quiet, failOnHandlerError: false })
  })
})

describe('Sim.runUntil', () => {
  test('drives async protocol code (sleep, dial, await data) to a condition', async () => {
    const sim = createSim('async', 1)
    const a = sim.addNode('a')
    const b = sim.addNode('b')
    const steps: string[] = []
    await a.streams.listen({ port: 80 }, (d) => {
      d.setHandlers({ data: (c) => void d.write(c), drain: () => {}, close: () => {} })
    })
    let done = false
    const protocol = async (): Promise<void> => {
      await sim.clock.sleep(100)
      steps.push(`slept ${sim.elapsedMs}`)
      const d: Duplex = await b.streams.dial({ address: 'a', port: 80 })
      steps.push(`dialled ${sim.elapsedMs}`)
      const echoed = new Promise<number>((resolve) =>
        d.setHandlers({ data: (c) => resolve(c[0] as number), drain: () => {}, close: () => {} }),
      )
      d.write(Uint8Array.of(42))
      steps.push(`echo ${await echoed} ${sim.elapsedMs}`)
      d.close()
      done = true
    }
    const running = protocol()
    assert.equal(await sim.runUntil(() => done), true)
    await running
    assert.deepEqual(steps, ['slept 100', 'dialled 110', 'echo 42 130'])
    assert.equal(sim.elapsedMs, 130, 'stopped as soon as the condition held')
  })

  test('at the limit: PEER_E_TIMEOUT with virtual time at the limit, or false when asked', async () => {
    const sim = createSim('limit', 2)
    sim.clock.setInterval(() => {}, 1000)
    const err = await rejectsPeerError(
      sim.runUntil(() => false, { maxMs: 5500, what: 'the moon' }),
      'PEER_E_TIMEOUT',
      /the moon did not hold within 5500 ms/,
    )
    assert.equal(err.details?.['elapsedMs'], 5500)
    assert.equal(sim.elapsedMs, 5500)
    assert.equal(await sim.runUntil(() => false, { maxMs: 10, throwOnTimeout: false }), false)
    // With no timers at all, time jumps to the limit.
    const idle = createSim('idle', 3)
    assert.equal(await idle.runUntil(() => false, { throwOnTimeout: false }), false)
    assert.equal(idle.elapsedMs, DEFAULT_RUN_UNTIL_MS)
    await rejectsPeerError(
      sim.runUntil(() => true, { maxMs: -1 }),
      'E_INVALIDARG',
    )
  })
})

describe('nothing leaks', () => {
  test('once every node is closed or crashed no timer is left, and no real handle was opened', async () => {
    const before = process.getActiveResourcesInfo().sort()
    let pending = -1
    await runScenario(
      'no-leaks',
      11,
      async (sim) => {
        const names = Array.from({ length: 12 }, (_, i) => `p${i}`)
        const nodes = names.map((n) => sim.addNode(n))
        for (const node of nodes) {
          const s = await node.datagrams.bind({ port: 9 })
          s.onMessage((_, from) => s.send(from, Uint8Array.of(2)))
          await node.streams.listen({ port: 80 }, (d) =>
            d.setHandlers({ data: (c) => void d.write(c), drain: () => {}, close: () => {} }),
          )
        }
        const streams: Duplex[] = []
        for (let i = 0; i < nodes.length; i++) {
          const d = nodes[i]?.streams.dial({
            address: names[(i + 1) % names.length] as string,
            port: 80,
          })
          void d?.then((duplex) => {
            duplex.setHandlers({ data: () => {}, drain: () => {}, close: () => {} })
            duplex.write(new Uint8Array(1000))
            streams.push(duplex)
          })
        }
        // A dial that will never answer, a partition, a crash, datagrams in flight.
        const hanging = nodes[0]?.streams.dial({ address: 'p1', port: 81 }, { timeoutMs: 60_000 })
        hanging?.catch(() => {})
        await sim.run(15)
        sim.network.partition(names.slice(0, 6), names.slice(6))
        for (const node of nodes) {
          const s = await node.datagrams.bind({})
          for (const to of names) s.send({ address: to, port: 9 }, Uint8Array.of(1))
        }
        sim.network.crash('p3')
        await sim.run(5)
        assert.ok(sim.clock.pendingTimers > 0)
        assert.ok(sim.network.openConnections > 0)
        // Close half the nodes, crash the rest.
        for (const node of nodes.slice(0, 6)) await node.close()
        for (const name of names.slice(6)) sim.network.crash(name)
        // The orderly closes still have FINs to deliver (stalled or not): crash those too.
        for (const name of names.slice(0, 6)) sim.network.crash(name)
        pending = sim.clock.pendingTimers
        assert.equal(sim.network.pendingEvents, 0)
        assert.equal(sim.network.openConnections, 0)
      },
      quiet,
    )
    assert.equal(pending, 0)
    assert.deepEqual(process.getActiveResourcesInfo().sort(), before)
  })

  test('closing every node the orderly way leaves no timer once the network has drained', async () => {
    await runScenario(
      'drain-closed',
      12,
      async (sim) => {
        const a = sim.addNode('a')
        const b = sim.addNode('b')
        await a.streams.listen({ port: 80 }, (d) =>
          d.setHandlers({ data: () => {}, drain: () => {}, close: () => {} }),
        )
        let dialled: Duplex | undefined
        void b.streams.dial({ address: 'a', port: 80 }).then((duplex) => (dialled = duplex))
        await sim.runUntil(() => dialled !== undefined)
        const d = dialled as Duplex
        d.setHandlers({ data: () => {}, drain: () => {}, close: () => {} })
        d.write(new Uint8Array(100))
        const s = await a.datagrams.bind({})
        s.send({ address: 'b', port: 1 }, Uint8Array.of(1))
        await a.close()
        await b.close()
        await sim.runUntilIdle()
        assert.equal(sim.clock.pendingTimers, 0)
        assert.equal(sim.network.openConnections, 0)
        assert.deepEqual(a.openHandles, { listeners: 0, sockets: 0, streams: 0, dials: 0 })
      },
      quiet,
    )
  })
})
