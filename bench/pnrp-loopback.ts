/**
 * PNRP resolution over real UDP on 127.0.0.1: `--nodes` PnrpNodes in this one process (the
 * first alone, every other bootstrapping from it), each registering one name; then
 * `--resolves` resolves of random names from random other nodes, one after another, each timed
 * from resolve() to its validated CPA. Prints resolve latency (p50, p99, mean), success rate
 * and hops, and as the in-run baseline the round trip of a bare UDP request/reply between two
 * sockets on the same loopback (p50, p99), with the ratios. The machine's load is printed too:
 * every figure is CPU-bound on loopback, so other work on the host moves them.
 *
 *   npx tsx bench/pnrp-loopback.ts [--nodes 100] [--resolves 500] [--pings 2000] [--seed s]
 */
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { systemClock } from '../src/core/clock.ts'
import { SeededRandom } from '../src/core/random.ts'
import { KeyPair } from '../src/identity/keys.ts'
import { PeerName } from '../src/identity/peer-name.ts'
import { resolverTarget } from '../src/pnrp/ids.ts'
import { PnrpNode } from '../src/pnrp/node.ts'
import type { Address } from '../src/transport/types.ts'
import { UdpTransport, type UdpSocket } from '../src/transport/udp.ts'

const HOST = '127.0.0.1'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    resolves: { type: 'string', default: '500' },
    pings: { type: 'string', default: '2000' },
    seed: { type: 'string', default: 'bench:pnrp-loopback' },
  },
})

function count(name: string, text: string, min: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`)
  return n
}

const NODES = count('nodes', values.nodes, 2)
const RESOLVES = count('resolves', values.resolves, 1)
const PINGS = count('pings', values.pings, 10)

/** The q-quantile (nearest rank) of ascending `sorted`. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const ms = (x: number): string => x.toFixed(3)
const now = (): number => performance.now()

/**
 * The bare loopback round trip: socket A sends 64 bytes (about the size of a LOOKUP) to B, B
 * echoes them, A times the reply; one at a time, after `warm` unrecorded rounds.
 */
async function udpRoundTrips(
  transport: UdpTransport,
  rounds: number,
  warm = 200,
): Promise<number[]> {
  const a = await transport.bind({ host: HOST, port: 0 })
  const b = await transport.bind({ host: HOST, port: 0 })
  b.onMessage((data, from) => b.send(from, data))
  const payload = new Uint8Array(64).fill(7)
  let waiting: (() => void) | undefined
  a.onMessage(() => waiting?.())
  const once = (socket: UdpSocket, to: Address): Promise<number> =>
    new Promise((resolve) => {
      const start = now()
      waiting = () => {
        waiting = undefined
        resolve(now() - start)
      }
      socket.send(to, payload)
    })
  const times: number[] = []
  for (let i = 0; i < warm + rounds; i++) {
    const t = await once(a, b.local)
    if (i >= warm) times.push(t)
  }
  await a.close()
  await b.close()
  return times
}

async function main(): Promise<void> {
  const random = new SeededRandom(values.seed)
  const transport = new UdpTransport()
  const nodes: PnrpNode[] = []
  const load = loadavg().map((x) => x.toFixed(2))
  console.log(
    `bench:pnrp-loopback  node ${process.version}  ${availableParallelism()} cpus, load ${load.join(' ')}`,
  )
  console.log(
    `${NODES} nodes on ${HOST} (real UDP, one ` +
      `process), ${RESOLVES} resolves, seed ${values.seed}`,
  )

  // ---- join -------------------------------------------------------------------------------
  let t0 = now()
  for (let i = 0; i < NODES; i++) {
    const socket = await transport.bind({ host: HOST, port: 0 })
    // One seed: with two, start() waits out RETRANSMIT_MS (1 s) when both seeds advertise the
    // same ID (PnrpNode.expectedFloods holds one waiter per ID; see test/pnrp/udp.test.ts).
    const seeds: Address[] = i === 0 ? [] : [(nodes[0] as PnrpNode).local]
    const node = new PnrpNode({ socket, clock: systemClock, random: random.fork(`n${i}`), seeds })
    nodes.push(node)
    await node.start()
  }
  const joinMs = now() - t0

  // ---- register ---------------------------------------------------------------------------
  t0 = now()
  const names: string[] = []
  for (let i = 0; i < NODES; i++) {
    const key = KeyPair.generate(random)
    const registration = await (nodes[i] as PnrpNode).register(
      {
        peerName: PeerName.fromParts(key.publicKey.authority, `bench${i}`).toString(),
        endpoints: [{ address: HOST, port: 20_000 + i }],
        payload: new Uint8Array(0),
        comment: '',
      },
      key,
    )
    names.push(registration.peerName)
  }
  const registerMs = now() - t0
  const cacheSizes = nodes.map((n) => n.cache.size)
  console.log(
    `join ${(joinMs / 1000).toFixed(2)} s (${ms(joinMs / NODES)} ms/node), register ` +
      `${(registerMs / 1000).toFixed(2)} s (${ms(registerMs / NODES)} ms/name), cache entries ` +
      `mean ${mean(cacheSizes).toFixed(1)} min ${Math.min(...cacheSizes)} max ${Math.max(...cacheSizes)}`,
  )

  // ---- resolves ---------------------------------------------------------------------------
  const latencies: number[] = []
  const hops: number[] = []
  let ok = 0
  let wrong = 0
  const t1 = now()
  for (let k = 0; k < RESOLVES; k++) {
    const target = random.int(NODES)
    let from = random.int(NODES - 1)
    if (from >= target) from++
    const start = now()
    const outcome = await (nodes[from] as PnrpNode).resolve({
      target: resolverTarget(names[target] as string),
      mode: 'any-peer-name',
      max: 1,
    })
    const took = now() - start
    const cpa = outcome.results[0]
    hops.push(outcome.hops)
    if (cpa && cpa.peerName === names[target] && cpa.endpoints[0]?.port === 20_000 + target) {
      ok++
      latencies.push(took)
    } else if (cpa) wrong++
  }
  const resolveWall = now() - t1
  latencies.sort((a, b) => a - b)
  hops.sort((a, b) => a - b)
  const dropped: Record<string, number> = {}
  let invalid = 0
  let timeouts = 0
  for (const node of nodes) {
    invalid += node.invalid
    timeouts += node.rpc.counters.timeouts
    for (const [reason, n] of Object.entries(node.rpc.counters.dropped)) {
      dropped[reason] = (dropped[reason] ?? 0) + (n ?? 0)
    }
  }

  // ---- baseline: bare UDP round trips on the same loopback, same process ------------------
  const rtts = (await udpRoundTrips(transport, PINGS)).sort((a, b) => a - b)

  await Promise.all(nodes.map((n) => n.stop()))
  await transport.close()

  const p50 = quantile(latencies, 0.5)
  const p99 = quantile(latencies, 0.99)
  const rtt50 = quantile(rtts, 0.5)
  const rtt99 = quantile(rtts, 0.99)
  console.log(
    `resolve  p50 ${ms(p50)} ms  p99 ${ms(p99)} ms  mean ${ms(mean(latencies))} ms  ` +
      `max ${ms(latencies[latencies.length - 1] ?? NaN)} ms  (successful resolves)`,
  )
  console.log(
    `success  ${ok}/${RESOLVES} (${((100 * ok) / RESOLVES).toFixed(1)}%), wrong CPA ${wrong}, ` +
      `${(RESOLVES / (resolveWall / 1000)).toFixed(0)} resolves/s sequential`,
  )
  console.log(
    `hops     mean ${mean(hops).toFixed(2)}  p50 ${quantile(hops, 0.5)}  p99 ` +
      `${quantile(hops, 0.99)}  max ${hops[hops.length - 1]}  (log10 N = ${Math.log10(NODES).toFixed(2)})`,
  )
  console.log(
    `udp rtt  p50 ${ms(rtt50)} ms  p99 ${ms(rtt99)} ms  mean ${ms(mean(rtts))} ms  ` +
      `(${PINGS} bare 64-byte request/replies between two sockets)`,
  )
  console.log(
    `ratio    resolve/rtt  p50 ${(p50 / rtt50).toFixed(1)}x  p99 ${(p99 / rtt99).toFixed(1)}x  ` +
      `(a resolve = hops LOOKUPs + 1 INQUIRE round trips, CPA signing and checks)`,
  )
  // A resolve is (hops) LOOKUP exchanges and one INQUIRE exchange, each one round trip.
  const exchanges = mean(hops) + 1
  console.log(
    `per exchange  ${ms(mean(latencies) / exchanges)} ms mean (resolve mean / ${exchanges.toFixed(2)} ` +
      `round trips) = ${(mean(latencies) / exchanges / mean(rtts)).toFixed(1)}x the bare mean rtt`,
  )
  console.log(
    `counters invalid ${invalid}, rpc timeouts ${timeouts}, dropped ${JSON.stringify(dropped)}`,
  )
}

await main()
