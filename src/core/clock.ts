/**
 * Time, injected. Protocol code never reads `Date.now()` or calls `setTimeout` itself: it takes
 * a Clock from its caller, so the same code runs on real time and on the simulator's virtual
 * time (DESIGN.md section 7).
 */
import { abortError } from './abort.ts'
import { PeerError } from './errors.ts'
import { MinHeap } from './heap.ts'

export interface Timer {
  /** Stops the timer; safe to call more than once and after it fired. */
  cancel(): void
}

export interface Clock {
  /** Milliseconds since the Unix epoch (UTC). */
  now(): number
  setTimeout(fn: () => void, ms: number): Timer
  setInterval(fn: () => void, ms: number): Timer
  /** Resolves after `ms`; rejects with PeerError E_ABORT when `signal` fires first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/**
 * `clock` read in whole milliseconds, as Date.now() gives them: what a PeerNode hands its
 * components, whose records, certificates and stores keep integer times while the
 * simulator's clock may stand at fractions (links with fractional latencies).
 */
export function wholeMilliseconds(clock: Clock): Clock {
  return {
    now: () => Math.floor(clock.now()),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    setInterval: (fn, ms) => clock.setInterval(fn, ms),
    sleep: (ms, signal) => clock.sleep(ms, signal),
  }
}

function checkDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new PeerError('E_INVALIDARG', `a timer delay must be a finite number >= 0, got ${ms}`)
  }
  return ms
}

/** Interval periods beyond Node's timer limit are refused, on real and virtual clocks alike. */
function checkPeriod(ms: number): number {
  if (checkDelay(ms) > MAX_NODE_TIMER_MS) {
    throw new PeerError(
      'E_INVALIDARG',
      `an interval period must be at most ${MAX_NODE_TIMER_MS} ms (about 24.8 days, ` +
        `MAX_NODE_TIMER_MS), got ${ms}; use a shorter period or chained setTimeout calls`,
    )
  }
  return ms
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal, 'sleep'))
    const onAbort = (): void => {
      timer.cancel()
      reject(abortError(signal as AbortSignal, 'sleep'))
    }
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Longest delay Node's timers hold (its TIMEOUT_MAX, the largest signed 32-bit number of ms,
 * about 24.8 days). Node fires a timer set for longer after 1 ms, with only a warning, so
 * SystemClock chains timeouts past it and refuses intervals above it.
 */
export const MAX_NODE_TIMER_MS = 2 ** 31 - 1

/** The host's timer functions, as SystemClock uses them; tests pass fakes. */
export interface TimerHost {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

/** Node's own timers. */
export const nodeTimerHost: TimerHost = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
}

/**
 * Calls `fn` once after `ms` (already checked to be finite and >= 0) using `host`'s timeouts,
 * none longer than `maxLink`: a longer delay is waited out as a chain of timeouts, one pending
 * at a time. Cancelling the returned Timer clears whichever link is pending.
 */
export function chainTimeout(
  host: Pick<TimerHost, 'setTimeout' | 'clearTimeout'>,
  fn: () => void,
  ms: number,
  maxLink: number = MAX_NODE_TIMER_MS,
): Timer {
  let remaining = ms
  let handle: unknown
  let done = false
  const link = (): void => {
    const wait = Math.min(remaining, maxLink)
    remaining -= wait
    handle = host.setTimeout(() => {
      if (done) return
      if (remaining > 0) {
        link()
      } else {
        done = true
        fn()
      }
    }, wait)
  }
  link()
  return {
    cancel: () => {
      if (done) return
      done = true
      host.clearTimeout(handle)
    },
  }
}

/** The real clock: wall time and Node's timers (or the `host` given, for tests). */
export class SystemClock implements Clock {
  constructor(private readonly host: TimerHost = nodeTimerHost) {}

  now(): number {
    return Date.now()
  }

  /** Delays longer than MAX_NODE_TIMER_MS are chained, so even 30 days fire on time. */
  setTimeout(fn: () => void, ms: number): Timer {
    return chainTimeout(this.host, fn, checkDelay(ms))
  }

  /** Periods longer than MAX_NODE_TIMER_MS are refused with E_INVALIDARG. */
  setInterval(fn: () => void, ms: number): Timer {
    checkPeriod(ms)
    const handle = this.host.setInterval(fn, ms)
    return { cancel: () => this.host.clearInterval(handle) }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }
}

export const systemClock: Clock = new SystemClock()

interface VirtualTimer {
  at: number
  seq: number
  fn: () => void
  every: number | undefined
  cancelled: boolean
}

/** 2026-01-01T00:00:00Z: where virtual time starts unless told otherwise. */
export const VIRTUAL_EPOCH = Date.UTC(2026, 0, 1)

/**
 * Virtual time for tests and the simulator. Time moves only when told to; timers due at the
 * same instant fire in the order they were set, so runs are exactly repeatable.
 */
export class VirtualClock implements Clock {
  private current: number
  private seq = 0
  private readonly queue = new MinHeap<VirtualTimer>((a, b) =>
    a.at === b.at ? a.seq < b.seq : a.at < b.at,
  )
  private live = 0

  constructor(start: number = VIRTUAL_EPOCH) {
    this.current = start
  }

  now(): number {
    return this.current
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.live
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, checkDelay(ms), undefined)
  }

  setInterval(fn: () => void, ms: number): Timer {
    // An interval of 0 would spin forever at one instant; virtual intervals need >= 1 ms.
    return this.schedule(fn, checkPeriod(ms), Math.max(1, ms))
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }

  /** The time of the next timer, or undefined when none is pending. */
  nextTimerAt(): number | undefined {
    this.dropCancelled()
    return this.queue.peek()?.at
  }

  /** Fires the next due timer (moving time to it); false when there is none. */
  runNext(): boolean {
    this.dropCancelled()
    const t = this.queue.pop()
    if (!t) return false
    this.fire(t)
    return true
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.current + checkDelay(ms)
    for (;;) {
      this.dropCancelled()
      const next = this.queue.peek()
      if (!next || next.at > until) break
      this.queue.pop()
      this.fire(next)
    }
    // A timer callback may have advanced the clock past `until`; time never goes back.
    this.current = Math.max(this.current, until)
  }

  /**
   * Like advance, but lets promise continuations run between timers, so async code waiting on
   * `sleep` makes progress as it would on real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const until = this.current + checkDelay(ms)
    await flushMicrotasks()
    for (;;) {
      this.dropCancelled()
      const next = this.queue.peek()
      if (!next || next.at > until) break
      this.queue.pop()
      this.fire(next)
      await flushMicrotasks()
    }
    // A timer callback or continuation may have advanced the clock past `until`.
    this.current = Math.max(this.current, until)
  }

  private schedule(fn: () => void, delay: number, every: number | undefined): Timer {
    const t: VirtualTimer = {
      at: this.current + delay,
      seq: this.seq++,
      fn,
      every,
      cancelled: false,
    }
    this.queue.push(t)
    this.live++
    return {
      cancel: () => {
        if (t.cancelled) return
        t.cancelled = true
        this.live--
      },
    }
  }

  private fire(t: VirtualTimer): void {
    this.current = Math.max(this.current, t.at)
    if (t.every !== undefined) {
      t.at = this.current + t.every
      t.seq = this.seq++
      this.queue.push(t)
    } else {
      t.cancelled = true
      this.live--
    }
    t.fn()
  }

  private dropCancelled(): void {
    while (this.queue.peek()?.cancelled) this.queue.pop()
  }
}

/** Lets queued promise continuations run (one macrotask turn). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
