/**
 * Scenarios: one seeded, virtual-time run of the simulated network. runScenario prints
 * `scenario <name> seed=<seed>`, runs the body and, when it fails, rethrows with the seed and
 * how to replay it; PEERINFRA_SEED overrides the seed (DESIGN.md section 7).
 */
import { VirtualClock, flushMicrotasks } from '../core/clock.ts'
import { PeerError, isPeerError } from '../core/errors.ts'
import { SeededRandom } from '../core/random.ts'
import { messageOf } from '../transport/failures.ts'
import { DEFAULT_RUN_UNTIL_MS, SEED_ENV_VAR } from './constants.ts'
import { SimNetwork, type SimNetworkOptions, type SimNode } from './network.ts'

export interface RunUntilOptions {
  /** Virtual time limit, ms (default DEFAULT_RUN_UNTIL_MS). */
  maxMs?: number
  /** Let promise continuations run after each timer (default true); off, runs faster. */
  flush?: boolean
  /** At the limit: throw PEER_E_TIMEOUT (default true) or resolve false. */
  throwOnTimeout?: boolean
  /** Names the condition in the timeout error. */
  what?: string
}

export interface SimOptions extends Omit<SimNetworkOptions, 'clock' | 'random'> {
  /** Where virtual time starts (default VIRTUAL_EPOCH). */
  start?: number
}

export interface ScenarioOptions extends SimOptions {
  /** Receives the `scenario <name> seed=<seed>` line (default: stderr). */
  log?: (line: string) => void
  /** Where PEERINFRA_SEED is read (default process.env). */
  env?: Record<string, string | undefined>
  /** Fail the scenario when a network handler threw, even if the body passed (default true). */
  failOnHandlerError?: boolean
}

/** One simulated world: a clock, a seeded random source and the network on them. */
export class Sim {
  private readonly start: number

  constructor(
    readonly name: string,
    readonly seed: string,
    readonly clock: VirtualClock,
    /** The scenario's own randomness; the network draws from forks of it, not from it. */
    readonly random: SeededRandom,
    readonly network: SimNetwork,
  ) {
    this.start = clock.now()
  }

  addNode(name: string): SimNode {
    return this.network.addNode(name)
  }

  node(name: string): SimNode {
    return this.network.node(name)
  }

  /** Virtual ms since the sim was created. */
  get elapsedMs(): number {
    return this.clock.now() - this.start
  }

  /** Advances virtual time by `ms`, letting promise continuations run between timers. */
  run(ms: number): Promise<void> {
    return this.clock.advanceAsync(ms)
  }

  /**
   * Fires timers one by one (promise continuations run after each, unless `flush` is off)
   * until `condition()` holds, checking it before each; true when it holds. When nothing is
   * due before the limit, time jumps to it and the condition is checked a last time; then
   * PEER_E_TIMEOUT is thrown (or false returned, with throwOnTimeout: false).
   */
  async runUntil(condition: () => boolean, options: RunUntilOptions = {}): Promise<boolean> {
    const maxMs = options.maxMs ?? DEFAULT_RUN_UNTIL_MS
    if (typeof maxMs !== 'number' || !(maxMs >= 0)) {
      throw new PeerError('E_INVALIDARG', `maxMs must be a number >= 0, got ${String(maxMs)}`)
    }
    const flush = options.flush ?? true
    const clock = this.clock
    const deadline = clock.now() + maxMs
    if (flush) await flushMicrotasks()
    for (;;) {
      if (condition()) return true
      const next = clock.nextTimerAt()
      if (next === undefined || next > deadline) break
      clock.runNext()
      if (flush) await flushMicrotasks()
    }
    if (clock.now() < deadline) clock.advance(deadline - clock.now())
    if (flush) await flushMicrotasks()
    if (condition()) return true
    if (options.throwOnTimeout === false) return false
    throw new PeerError(
      'PEER_E_TIMEOUT',
      `${options.what ?? 'the condition'} did not hold within ${maxMs} ms of virtual time ` +
        `(now +${this.elapsedMs} ms, ${clock.pendingTimers} timers pending)`,
      { details: { maxMs, elapsedMs: this.elapsedMs, pendingTimers: clock.pendingTimers } },
    )
  }

  /** Runs until no timer is pending (everything delivered and settled), within `maxMs`. */
  runUntilIdle(options: RunUntilOptions = {}): Promise<boolean> {
    return this.runUntil(() => this.clock.pendingTimers === 0, {
      what: 'the network going idle',
      ...options,
    })
  }
}

/** A Sim without the runner's printing and error wrapping. */
export function createSim(name: string, seed: number | string, options: SimOptions = {}): Sim {
  const clock = new VirtualClock(options.start)
  const random = new SeededRandom(seed)
  const network = new SimNetwork({
    clock,
    random,
    link: options.link,
    classify: options.classify,
    trace: options.trace,
    onHandlerError: options.onHandlerError,
    streamHighWaterBytes: options.streamHighWaterBytes,
    streamPartitionTimeoutMs: options.streamPartitionTimeoutMs,
  })
  return new Sim(name, String(seed), clock, random, network)
}

/** The seed a scenario runs with: PEERINFRA_SEED when set and not empty, else `seed`. */
export function scenarioSeed(
  seed: number | string,
  env: Record<string, string | undefined> = process.env,
): string {
  const override = env[SEED_ENV_VAR]
  return override !== undefined && override.trim() !== '' ? override.trim() : String(seed)
}

/**
 * Runs `body` on a fresh Sim seeded with `seed` (or PEERINFRA_SEED), after printing
 * `scenario <name> seed=<seed>`. Returns what the body returns. When the body throws (or a
 * network handler threw, unless failOnHandlerError is false) the error is rethrown as a
 * PeerError, with the same code when it was one (else E_UNEXPECTED), the seed and a replay
 * hint in its message, and the original as `cause`.
 */
export async function runScenario<T>(
  name: string,
  seed: number | string,
  body: (sim: Sim) => Promise<T> | T,
  options: ScenarioOptions = {},
): Promise<T> {
  const effective = scenarioSeed(seed, options.env)
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`))
  log(`scenario ${name} seed=${effective}`)
  const sim = createSim(name, effective, options)
  try {
    const result = await body(sim)
    const net = sim.network
    if (net.handlerErrors > 0 && options.failOnHandlerError !== false) {
      const last = net.lastHandlerError
      throw new PeerError(
        'E_UNEXPECTED',
        `${net.handlerErrors} network handler call(s) threw; the last: ${messageOf(last)}`,
        { cause: last },
      )
    }
    return result
  } catch (err) {
    throw scenarioFailure(sim, err)
  }
}

function seedLiteral(seed: string): string {
  return /^-?\d{1,15}$/.test(seed) ? seed : JSON.stringify(seed)
}

function scenarioFailure(sim: Sim, err: unknown): PeerError {
  const replay = `runScenario(${JSON.stringify(sim.name)}, ${seedLiteral(sim.seed)}, ...) or ${SEED_ENV_VAR}=${sim.seed}`
  const why = messageOf(err)
  const failure = new PeerError(
    isPeerError(err) ? err.code : 'E_UNEXPECTED',
    `scenario ${sim.name} failed at +${sim.elapsedMs} ms (seed=${sim.seed}): ${why}\n` +
      `  replay: ${replay}`,
    {
      cause: err,
      details: {
        ...(isPeerError(err) ? err.details : {}),
        scenario: sim.name,
        seed: sim.seed,
        elapsedMs: sim.elapsedMs,
        replay,
      },
    },
  )
  // Keep the frames of the original error, so the failing line is the one reported.
  const frames = err instanceof Error ? err.stack?.split('\n').filter((l) => /^\s+at /.test(l)) : []
  if (frames && frames.length > 0) {
    failure.stack = `${failure.name}: ${failure.message}\n${frames.join('\n')}`
  }
  return failure
}
