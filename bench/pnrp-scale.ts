/**
 * PNRP at scale on the deterministic simulator (DESIGN.md section 7): for each N, a cloud of N
 * PnrpNodes is built on the in-memory network, every node registers one name, and resolves run
 * from random nodes for random names; then the same under churn (nodes crash or leave and new
 * ones join and register, 10% of the cloud per simulated minute, while resolves run).
 *
 * Everything goes through the real protocol: each joining node runs MS-PNRP's sync
 * conversation (SOLICIT, ADVERTISE, REQUEST, FLOODs) with two random nodes already in the cloud
 * and registers its node ID by resolving ID+1; nothing is injected into a cache. What makes
 * the build fast is only its schedule: joins start on the virtual clock at a rate that grows
 * with the cloud (JOIN_GROWTH per tick, at most MAX_JOINS_PER_TICK), so many run at once.
 *
 * Prints, per N and phase, the resolve success rate, mean and p99 hops, datagrams per resolve
 * (the resolving node's own LOOKUP/INQUIRE traffic, and all datagrams sent during the phase
 * less the background rate measured in an idle window just before it), and memory per node,
 * each against its goal with the ratio figure / goal; progress goes to stderr.
 *
 * The simulator is driven like Sim.runUntil, timer by timer, but with a microtask drain
 * instead of a macrotask turn between timers (see drive), and Node runs with a larger heap and
 * young generation (the script restarts itself with them).
 *
 * With --name-every K, only one node in K registers a name (the others only their node ID),
 * which cuts the registration phase and the churn's registrations by K: a 100,000-node run then
 * fits in one session (the build alone takes over an hour here).
 *
 *   npx tsx bench/pnrp-scale.ts [--n 1000,10000,100000] [--seed S] [--resolves 2000]
 *                               [--churn-minutes 2] [--name-every 1]
 */
import { setFlagsFromString, getHeapStatistics } from 'node:v8'
import { spawnSync } from 'node:child_process'
import { runInNewContext } from 'node:vm'
import { parseArgs } from 'node:util'
import { KeyPair } from '../src/identity/keys.ts'
import { PeerName } from '../src/identity/peer-name.ts'
import { resolverTarget, type PnrpId } from '../src/pnrp/ids.ts'
import { PnrpNode } from '../src/pnrp/node.ts'
import { createSim, type Sim, type SimNode } from '../src/sim/index.ts'

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000,10000' },
    seed: { type: 'string', default: 'bench:pnrp-scale' },
    resolves: { type: 'string', default: '2000' },
    'churn-minutes': { type: 'string', default: '2' },
    'name-every': { type: 'string', default: '1' },
    verbose: { type: 'boolean', default: false },
  },
})

const SIZES = values.n.split(',').map((s) => Number(s.trim()))
if (SIZES.some((n) => !Number.isInteger(n) || n < 10)) throw new Error('--n: integers >= 10')
const RESOLVES = Number(values.resolves)
const CHURN_MINUTES = Number(values['churn-minutes'])
if (!Number.isInteger(RESOLVES) || RESOLVES < 1) throw new Error('--resolves: an integer >= 1')
if (!(CHURN_MINUTES > 0)) throw new Error('--churn-minutes: a number > 0')
const NAME_EVERY = Number(values['name-every'])
if (!Number.isInteger(NAME_EVERY) || NAME_EVERY < 1)
  throw new Error('--name-every: an integer >= 1')

// A 100,000-node cloud needs more heap than Node's default: rerun with a larger one, and a
// larger young generation (fewer scavenges of a heap full of long-lived protocol state; about
// 13% faster at N = 3,000).
const HEAP_MB = 20_000
const SEMI_SPACE_MB = 64
if (getHeapStatistics().heap_size_limit < 8 * 2 ** 30 && !process.env['PNRP_SCALE_CHILD']) {
  const child = spawnSync(
    process.execPath,
    [
      ...process.execArgv,
      `--max-old-space-size=${HEAP_MB}`,
      `--max-semi-space-size=${SEMI_SPACE_MB}`,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, PNRP_SCALE_CHILD: '1' } },
  )
  process.exit(child.status ?? 1)
}
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const PORT = 3540
/** Microtask turns given to promise continuations after each simulator timer (see drive). */
const DRAIN_TICKS = 16
/** The build schedule: every TICK_MS of virtual time, JOIN_GROWTH x the cloud's size joins. */
const TICK_MS = 100
const JOIN_GROWTH = 0.01
const MAX_JOINS_PER_TICK = 100
/**
 * Registrations started per tick: MIN_REGISTRATIONS_PER_TICK, or one per REGISTRATION_SPREAD
 * nodes of the cloud if more (100 a tick at N = 100,000), so that the idle cloud's maintenance
 * does not outweigh the registrations in a large cloud (N <= 20,000 runs as before).
 */
const MIN_REGISTRATIONS_PER_TICK = 20
const REGISTRATION_SPREAD = 1000
/** Resolves started per tick. */
const RESOLVES_PER_TICK = 10
/** A resolve gives up after this long (PeerPnrpResolve's default timeout). */
const RESOLVE_TIMEOUT_MS = 30_000
/** Churn: this share of the cloud leaves (half crash, half stop) and as many join, per minute. */
const CHURN_PER_MINUTE = 0.1
/** Virtual time before measuring: floods and admissions settle. */
const SETTLE_MS = 30_000
/** The idle window that measures background (maintenance) traffic. */
const IDLE_MS = 60_000

interface Member {
  index: number
  simNode: SimNode
  node: PnrpNode
  alive: boolean
  /** The name it registered, once registered. */
  name?: string
}

interface ResolveStats {
  attempts: number
  succeeded: number
  /** Resolves whose target's owner died while they ran (not counted). */
  excluded: number
  hops: number[]
  /** Per resolve: the resolving node's LOOKUPs and INQUIREs (with retransmissions) and the
   * AUTHORITY replies it got, while the resolve ran. */
  own: number[]
  /** All datagrams sent in the phase, less the idle background rate over its duration. */
  datagrams: number
  seconds: number
}

interface World {
  sim: Sim
  nextIndex: number
  members: Member[]
  alive: Member[]
  named: Member[]
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function datagramsSent(world: World): number {
  return world.sim.network.counters.datagram.sent
}

/** PNRP messages sent by type, over every node ever started (for --verbose). */
function byType(world: World): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of world.members) {
    for (const [type, count] of Object.entries(m.node.rpc.counters.sentByType)) {
      out[type] = (out[type] ?? 0) + count
    }
  }
  return out
}

function logTypes(world: World, what: string, before: Record<string, number>): void {
  if (!values.verbose) return
  const now = byType(world)
  const diff = Object.entries(now).map(([k, v]) => `${k} ${v - (before[k] ?? 0)}`)
  console.log(`  [${what}] ${diff.join(', ')}`)
}

function pickAlive(world: World, except?: Member): Member {
  for (;;) {
    const m = world.alive[world.sim.random.int(world.alive.length)]!
    if (m !== except || world.alive.length === 1) return m
  }
}

function removeFrom(list: Member[], m: Member): void {
  const at = list.indexOf(m)
  if (at >= 0) {
    list[at] = list[list.length - 1]!
    list.pop()
  }
}

/** Whether this node registers a name (--name-every). */
const hasName = (m: Member): boolean => m.index % NAME_EVERY === 0

/** Adds a node and starts it, bootstrapping from two random nodes of the cloud. */
async function join(world: World): Promise<Member> {
  const { sim } = world
  const index = world.nextIndex++
  const simNode = sim.addNode(`n${index}`)
  const socket = await simNode.datagrams.bind({ port: PORT })
  const seeds =
    world.alive.length === 0
      ? []
      : [...new Set([pickAlive(world).simNode.name, pickAlive(world).simNode.name])]
  const node = new PnrpNode({
    socket,
    clock: sim.clock,
    random: sim.random.fork(`pnrp/n${index}`),
    seeds: seeds.map((address) => ({ address, port: PORT })),
  })
  const member: Member = { index, simNode, node, alive: true }
  world.members.push(member)
  await node.start()
  if (member.alive) world.alive.push(member)
  return member
}

async function register(world: World, m: Member): Promise<void> {
  const key = KeyPair.generate(world.sim.random.fork(`key/${m.index}`))
  const name = PeerName.fromParts(key.publicKey.authority, `svc${m.index}`).toString()
  await m.node.register(
    {
      peerName: name,
      endpoints: [{ address: m.simNode.name, port: 7000 }],
      payload: new Uint8Array(0),
      comment: '',
    },
    key,
  )
  m.name = name
  if (m.alive) world.named.push(m)
}

/**
 * Fires the simulator's timers in order, for at most `ms` of virtual time or until `done()`,
 * letting promise continuations run after each timer: Sim.runUntil's loop, except that between
 * timers it drains the microtask queue with a chain of DRAIN_TICKS awaits instead of a
 * macrotask turn (setImmediate), which costs an event-loop turn per simulated event. Runs stay
 * deterministic: a continuation longer than the chain runs after the next timer, the same way
 * in every run.
 */
async function drive(sim: Sim, ms: number, done: () => boolean = () => false): Promise<void> {
  const clock = sim.clock
  const until = clock.now() + ms
  await flushMacrotask()
  while (!done()) {
    const next = clock.nextTimerAt()
    if (next === undefined || next > until) break
    clock.runNext()
    for (let i = 0; i < DRAIN_TICKS; i++) await Promise.resolve()
  }
  if (!done() && clock.now() < until) clock.advance(until - clock.now())
  await flushMacrotask()
}

const flushMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function runFor(sim: Sim, ms: number): Promise<void> {
  await drive(sim, ms)
}

/** Runs the simulator until `done()` holds (an hour of virtual time at most). */
async function runUntil(sim: Sim, done: () => boolean, what: string): Promise<void> {
  await drive(sim, 3_600_000, done)
  if (!done()) throw new Error(`${what} did not happen within an hour of virtual time`)
}

async function build(world: World, n: number, wall0: number): Promise<void> {
  let started = 0
  let finished = 0
  let reported = 0
  const start = (): void => {
    started++
    void join(world).then(() => finished++)
  }
  start()
  await runUntil(world.sim, () => finished === 1, 'the first node starting')
  while (started < n) {
    const batch = Math.min(
      n - started,
      MAX_JOINS_PER_TICK,
      Math.max(1, Math.floor(world.alive.length * JOIN_GROWTH)),
    )
    for (let i = 0; i < batch; i++) start()
    await runFor(world.sim, TICK_MS)
    if (n >= 10_000 && finished >= reported + n / 10) {
      reported = finished
      progress(wall0, world.sim, `${finished} of ${n} nodes joined`)
    }
  }
  await runUntil(world.sim, () => finished === n, 'every node joining')
}

async function registerAll(world: World): Promise<void> {
  let done = 0
  const todo = world.alive.filter(hasName)
  const perTick = Math.max(
    MIN_REGISTRATIONS_PER_TICK,
    Math.round(world.alive.length / REGISTRATION_SPREAD),
  )
  for (let i = 0; i < todo.length; i += perTick) {
    for (const m of todo.slice(i, i + perTick)) {
      void register(world, m).then(() => done++)
    }
    await runFor(world.sim, TICK_MS)
  }
  await runUntil(world.sim, () => done === todo.length, 'every registration')
}

/** One resolve of a random living name from a random other node, with a virtual timeout. */
async function resolveOnce(world: World, stats: ResolveStats): Promise<void> {
  const target = world.named[world.sim.random.int(world.named.length)]!
  const from = pickAlive(world, target)
  const controller = new AbortController()
  const timer = world.sim.clock.setTimeout(() => controller.abort(), RESOLVE_TIMEOUT_MS)
  let ok = false
  let hops = 0
  const counters = from.node.rpc.counters
  const before = requestsAndReplies(counters)
  try {
    const outcome = await from.node.resolve({
      target: resolverTarget(target.name!),
      mode: 'any-peer-name',
      max: 1,
      signal: controller.signal,
    })
    const cpa = outcome.results[0]
    hops = outcome.hops
    if (values.verbose && !cpa && target.alive && from.alive) {
      // Why it failed: the walk never met the name, or met it and no CPA validated.
      const p2p = resolverTarget(target.name!) >> 128n
      const why = controller.signal.aborted
        ? 'timeout'
        : outcome.met.some((e) => e.id >> 128n === p2p)
          ? 'met, not validated'
          : 'not met'
      failures[why] = (failures[why] ?? 0) + 1
    }
    ok =
      cpa !== undefined &&
      cpa.peerName === target.name &&
      cpa.endpoints[0]?.address === target.simNode.name &&
      cpa.endpoints[0]?.port === 7000
  } catch {
    // Aborted or refused: a failure (ok stays false).
  } finally {
    timer.cancel()
  }
  const datagrams = requestsAndReplies(counters) - before
  if (!target.alive || !from.alive) {
    stats.excluded++
    return
  }
  stats.attempts++
  if (ok) stats.succeeded++
  stats.hops.push(hops)
  stats.own.push(datagrams)
}

/** Failed resolves by cause (--verbose). */
const failures: Record<string, number> = {}

function requestsAndReplies(c: PnrpNode['rpc']['counters']): number {
  return (
    (c.sentByType.lookup ?? 0) +
    (c.sentByType.inquire ?? 0) +
    c.retransmits +
    (c.receivedByType.authority ?? 0)
  )
}

/** Background datagrams per virtual second over an idle window. */
async function backgroundRate(world: World): Promise<number> {
  const before = datagramsSent(world)
  await runFor(world.sim, IDLE_MS)
  return (datagramsSent(world) - before) / (IDLE_MS / 1000)
}

/**
 * `count` resolves, RESOLVES_PER_TICK started per tick; with `churn`, each tick also crashes
 * or stops that tick's share of CHURN_PER_MINUTE of the cloud, and starts as many new nodes,
 * which register a name once joined.
 */
async function resolvePhase(
  world: World,
  count: number,
  churn: boolean,
  background: number,
): Promise<ResolveStats> {
  const stats: ResolveStats = {
    attempts: 0,
    succeeded: 0,
    excluded: 0,
    hops: [],
    own: [],
    datagrams: 0,
    seconds: 0,
  }
  const { sim } = world
  const sent = datagramsSent(world)
  const t0 = sim.clock.now()
  const size = world.alive.length
  const churnTicks = (CHURN_MINUTES * 60_000) / TICK_MS
  const perTick = (size * CHURN_PER_MINUTE * TICK_MS) / 60_000
  let owed = 0
  let launched = 0
  let finished = 0
  let tick = 0
  let pending = 0
  while (launched < count || (churn && tick < churnTicks)) {
    const batch = churn
      ? Math.min(count - launched, Math.ceil((count * (tick + 1)) / churnTicks) - launched)
      : Math.min(count - launched, RESOLVES_PER_TICK)
    for (let i = 0; i < batch; i++) {
      launched++
      void resolveOnce(world, stats).then(() => finished++)
    }
    if (churn && tick < churnTicks) {
      owed += perTick
      for (; owed >= 1; owed--) {
        const victim = pickAlive(world)
        victim.alive = false
        removeFrom(world.alive, victim)
        removeFrom(world.named, victim)
        if (sim.random.int(2) === 0) {
          // A crash: gone at once, nothing sent; then free its timers (its socket is gone).
          victim.simNode.crash()
        }
        void victim.node.stop()
        pending++
        void join(world)
          .then((m) => (hasName(m) ? register(world, m) : undefined))
          .then(
            () => pending--,
            () => pending--,
          )
      }
    }
    tick++
    await runFor(sim, TICK_MS)
  }
  await runUntil(sim, () => finished === launched, 'the resolves finishing')
  stats.seconds = (sim.clock.now() - t0) / 1000
  stats.datagrams = datagramsSent(world) - sent - background * stats.seconds
  if (churn) await runUntil(sim, () => pending === 0, 'the joins of the churn finishing')
  return stats
}

/**
 * Share of the true ring neighbours (the 5 nearest live IDs on each side, other than the node's
 * own) present in the leaf sets of every live ID.
 */
function leafAccuracy(world: World): number {
  const all: PnrpId[] = []
  for (const m of world.alive) for (const r of m.node.registrations.all()) all.push(r.id)
  all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const n = all.length
  const at = new Map(all.map((id, i) => [id, i]))
  let have = 0
  let want = 0
  for (const m of world.alive) {
    for (const r of m.node.registrations.all()) {
      const i = at.get(r.id)!
      // The 5 nearest on each side, other than the node's own IDs (never in its cache).
      const below = new Set<PnrpId>()
      const above = new Set<PnrpId>()
      for (let k = 1; below.size < 5 && k < n; k++) {
        const id = all[(i - k + n) % n]!
        if (!m.node.registrations.has(id)) below.add(id)
      }
      for (let k = 1; above.size < 5 && k < n; k++) {
        const id = all[(i + k) % n]!
        if (!m.node.registrations.has(id)) above.add(id)
      }
      const leaves = m.node.cache.leafSet(r.id)
      have += leaves.below.filter((e) => below.has(e.id)).length
      have += leaves.above.filter((e) => above.has(e.id)).length
      want += below.size + above.size
    }
  }
  return have / want
}

function heapUsed(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

interface Row {
  figure: string
  calm: string
  churn: string
  goal: string
  ratio: string
}

function row(figure: string, calm: string, churn: string, goal = '', ratio = ''): Row {
  return { figure, calm, churn, goal, ratio }
}

function printTable(rows: Row[]): void {
  const headers: Row = {
    figure: 'figure',
    calm: 'no churn',
    churn: `churn ${CHURN_PER_MINUTE * 100}%/min`,
    goal: 'goal',
    ratio: 'ratio (no churn / churn)',
  }
  const all = [headers, ...rows]
  const width = (k: keyof Row): number => Math.max(...all.map((r) => r[k].length))
  const keys: (keyof Row)[] = ['figure', 'calm', 'churn', 'goal', 'ratio']
  for (const r of all) console.log(keys.map((k) => r[k].padEnd(width(k))).join('  '))
}

/** A progress line on stderr: wall seconds since the start of this N, and what is done. */
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`

function progress(wall0: number, sim: Sim, what: string): void {
  const wall = ((performance.now() - wall0) / 1000).toFixed(0)
  const heap = (process.memoryUsage().heapUsed / 2 ** 30).toFixed(2)
  process.stderr.write(
    `  [${wall} s wall, ${(sim.elapsedMs / 1000).toFixed(0)} s virtual, heap ${heap} GiB] ${what}\n`,
  )
}

async function runSize(n: number): Promise<void> {
  const seed = `${values.seed}/${n}`
  const wall0 = performance.now()
  const heap0 = heapUsed()
  const sim = createSim('pnrp-scale', seed)
  const world: World = { sim, nextIndex: 0, members: [], alive: [], named: [] }

  await build(world, n, wall0)
  progress(wall0, sim, `${n} nodes joined`)
  logTypes(world, 'build', {})
  const types1 = byType(world)
  const buildWall = (performance.now() - wall0) / 1000
  const buildVirtual = sim.elapsedMs / 1000
  const buildDatagrams = datagramsSent(world)
  await runFor(sim, SETTLE_MS)
  const leafAfterBuild = leafAccuracy(world)
  // Interim figures as they come (a 100,000-node run takes hours; a cut run still tells these).
  progress(
    wall0,
    sim,
    `built in ${buildWall.toFixed(0)} s: ${Math.round(buildDatagrams / n)} datagrams per join, ` +
      `leaf sets ${pct(leafAfterBuild)}, heap per node ${((heapUsed() - heap0) / n / 1024).toFixed(1)} KB`,
  )

  const reg0 = performance.now()
  const regDatagrams0 = datagramsSent(world)
  await registerAll(world)
  const regWall = (performance.now() - reg0) / 1000
  logTypes(world, 'register', types1)
  const names = world.named.length
  progress(wall0, sim, `${names} names registered`)
  const regDatagrams = datagramsSent(world) - regDatagrams0
  await runFor(sim, SETTLE_MS)
  const leafAfterRegister = leafAccuracy(world)
  const heapPerNode = (heapUsed() - heap0) / n
  progress(
    wall0,
    sim,
    `registered in ${regWall.toFixed(0)} s: ${Math.round(regDatagrams / names)} datagrams per ` +
      `registration, leaf sets ${pct(leafAfterRegister)}, memory per node ${(heapPerNode / 1024).toFixed(1)} KB`,
  )

  const background = await backgroundRate(world)
  const res0 = performance.now()
  const calm = await resolvePhase(world, RESOLVES, false, background)
  const calmWall = (performance.now() - res0) / 1000
  progress(wall0, sim, `${RESOLVES} resolves without churn`)

  const churn0 = performance.now()
  const churned = await resolvePhase(world, RESOLVES, true, background)
  const churnWall = (performance.now() - churn0) / 1000
  progress(wall0, sim, `${RESOLVES} resolves under churn`)
  if (values.verbose) console.log(`  [failures] ${JSON.stringify(failures)}`)
  await runFor(sim, SETTLE_MS)
  const leafAfterChurn = leafAccuracy(world)
  const total = (performance.now() - wall0) / 1000

  const rate = (s: ResolveStats): number => s.succeeded / s.attempts
  const hopsGoal = Math.log10(n) + 2
  const sorted = (s: ResolveStats): number[] => [...s.hops].sort((a, b) => a - b)
  const perResolve = (s: ResolveStats): number => s.datagrams / (s.attempts + s.excluded)

  console.log(`\n== N = ${n}  (seed ${seed})`)
  console.log(
    `build: ${buildWall.toFixed(1)} s wall, ${buildVirtual.toFixed(0)} s virtual, ` +
      `${buildDatagrams} datagrams (${(buildDatagrams / n).toFixed(0)} per join); ` +
      `registering ${names} names: ${regWall.toFixed(1)} s wall, ` +
      `${(regDatagrams / names).toFixed(0)} datagrams per registration`,
  )
  console.log(
    `resolves: ${calm.attempts} without churn (${calmWall.toFixed(1)} s wall), ` +
      `${churned.attempts} under churn over ${CHURN_MINUTES} simulated min ` +
      `(${churnWall.toFixed(1)} s wall; ${churned.excluded} left out: target or resolver ` +
      `left while it ran); background ${background.toFixed(0)} datagrams/s ` +
      `(${((background * 1000) / n).toFixed(1)} per node per 1000 s); total ${total.toFixed(1)} s wall`,
  )
  console.log(
    `leaf sets (share of true 5+5 ring neighbours present): after build ${pct(leafAfterBuild)}, ` +
      `after registering ${pct(leafAfterRegister)}, after churn ${pct(leafAfterChurn)}`,
  )
  const successGoal = n >= 10_000 ? '>= 99.5% / 99%' : ''
  printTable([
    row(
      'resolve success',
      pct(rate(calm)),
      pct(rate(churned)),
      successGoal,
      successGoal
        ? `${(rate(calm) / 0.995).toFixed(3)} / ${(rate(churned) / 0.99).toFixed(3)}`
        : '',
    ),
    row(
      'mean hops',
      mean(calm.hops).toFixed(2),
      mean(churned.hops).toFixed(2),
      `<= ${hopsGoal.toFixed(2)}`,
      `${(mean(calm.hops) / hopsGoal).toFixed(2)} / ${(mean(churned.hops) / hopsGoal).toFixed(2)}`,
    ),
    row('p99 hops', String(quantile(sorted(calm), 0.99)), String(quantile(sorted(churned), 0.99))),
    row(
      "datagrams per resolve (resolver's own)",
      mean(calm.own).toFixed(1),
      mean(churned.own).toFixed(1),
    ),
    row(
      'datagrams per resolve (whole cloud)',
      perResolve(calm).toFixed(1),
      perResolve(churned).toFixed(1),
    ),
    row(
      'memory per node',
      `${(heapPerNode / 1024).toFixed(1)} KB`,
      '',
      '<= 50 KB',
      (heapPerNode / 1024 / 50).toFixed(2),
    ),
  ])
  console.log(
    "datagrams per resolve: (resolver's own) = the LOOKUPs and INQUIREs the resolving node sent " +
      '(with retransmissions) and the AUTHORITY replies it received while the resolve ran; ' +
      '(whole cloud) = every datagram sent during the phase, less the idle background rate ' +
      'measured over an equal time before it, per resolve: under churn it includes the joins, ' +
      'registrations and departures of the churn itself.',
  )
  console.log(
    'memory per node: (V8 heap used after 2 forced GCs with the cloud built and every name ' +
      'registered - heap used before the cloud) / N (with --name-every K, one node in K has a name); it includes the simulator node and socket ' +
      'and the harness record of each node, and excludes key material outside the V8 heap.',
  )
  // Nothing of this cloud is needed any more: drop it before the next size.
  world.members.length = 0
  world.alive.length = 0
  world.named.length = 0
}

console.log(
  `pnrp-scale: N = ${SIZES.join(', ')}; ${RESOLVES} resolves per phase; churn ` +
    `${CHURN_PER_MINUTE * 100}% per simulated minute for ${CHURN_MINUTES} min; ` +
    `${NAME_EVERY === 1 ? 'every node registers a name' : `one node in ${NAME_EVERY} registers a name`}; ` +
    `node ${process.version}`,
)
for (const n of SIZES) await runSize(n)
process.exit(0)
