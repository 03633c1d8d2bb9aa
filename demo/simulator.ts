/** The simulator part of the demo: 500 nodes on virtual time, lossy links and a partition. */
import { createSim } from '../src/sim/index.ts'
import type { DemoContext } from './index.ts'

const NODES = 500
const PINGS = 20

export async function simulatorDemo(demo: DemoContext): Promise<void> {
  demo.step(
    `The simulator: ${NODES} nodes ping each other over lossy links, split in two for a while`,
  )
  const seed = 2026
  const sim = createSim('demo', seed)
  sim.network.setDefaultLink({ latencyMs: 20, jitterMs: 15, loss: 0.05 })
  const names = Array.from({ length: NODES }, (_, i) => `n${i}`)
  const sockets = await Promise.all(names.map((n) => sim.addNode(n).datagrams.bind({})))
  let pongs = 0
  sockets.forEach((socket, i) => {
    socket.onMessage((data, from) => {
      if (data[0] === 1) socket.send(from, new Uint8Array([2]))
      else pongs++
    })
    const pick = sim.random.fork(`n${i}`)
    let left = PINGS
    const timer = sim.clock.setInterval(() => {
      socket.send(
        { address: names[pick.int(NODES)] as string, port: socket.local.port },
        new Uint8Array([1]),
      )
      if (--left === 0) timer.cancel()
    }, 50)
  })
  sim.clock.setTimeout(
    () => sim.network.partition(names.slice(0, NODES / 2), names.slice(NODES / 2)),
    300,
  )
  sim.clock.setTimeout(() => sim.network.heal(), 600)
  const started = performance.now()
  await sim.runUntilIdle({ flush: false, maxMs: 60_000 })
  const c = sim.network.counters.snapshot().total
  demo.say('seed', `${seed} (the same seed replays the same run exactly)`)
  demo.say(
    'datagrams',
    `${c.sent} sent, ${c.delivered} delivered, ${c.dropped} dropped (loss and partition)`,
  )
  demo.say('round trips', `${pongs} of ${NODES * PINGS} pings answered`)
  demo.say(
    'time',
    `${Math.round(sim.elapsedMs)} ms simulated in ${Math.round(performance.now() - started)} ms`,
  )
  for (const name of names) sim.network.crash(name)
}
