import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import {
  MAX_NODE_TIMER_MS,
  SystemClock,
  VIRTUAL_EPOCH,
  VirtualClock,
  chainTimeout,
  flushMicrotasks,
  type Timer,
  type TimerHost,
} from '../../src/core/clock.ts'
import { PeerError } from '../../src/core/errors.ts'
import { assertPeerError, rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'

describe('VirtualClock', () => {
  test('starts at the virtual epoch or the given time, and stands still', () => {
    assert.equal(new VirtualClock().now(), VIRTUAL_EPOCH)
    assert.equal(VIRTUAL_EPOCH, Date.parse('2026-01-01T00:00:00Z'))
    const clock = new VirtualClock(1000)
    assert.equal(clock.now(), 1000)
    assert.equal(clock.now(), 1000)
    assert.equal(clock.pendingTimers, 0)
    assert.equal(clock.nextTimerAt(), undefined)
    assert.equal(clock.runNext(), false)
  })

  test('fires timers in time order, and same-instant timers in the order set', () => {
    const clock = new VirtualClock(0)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('c@30'), 30)
    clock.setTimeout(() => fired.push('a@10'), 10)
    clock.setTimeout(() => fired.push('b1@20'), 20)
    clock.setTimeout(() => fired.push('b2@20'), 20)
    clock.setTimeout(() => fired.push('z@0'), 0)
    clock.setTimeout(() => fired.push('b3@20'), 20)
    assert.equal(clock.pendingTimers, 6)
    clock.advance(100)
    assert.deepEqual(fired, ['z@0', 'a@10', 'b1@20', 'b2@20', 'b3@20', 'c@30'])
    assert.equal(clock.now(), 100)
    assert.equal(clock.pendingTimers, 0)
  })

  test('many same-instant timers keep their order', () => {
    const clock = new VirtualClock(0)
    const fired: number[] = []
    for (let i = 0; i < 200; i++) clock.setTimeout(() => fired.push(i), 5)
    clock.advance(5)
    assert.deepEqual(
      fired,
      Array.from({ length: 200 }, (_, i) => i),
    )
  })

  test('advance fires only what falls due, with now() at each timer time', () => {
    const clock = new VirtualClock(0)
    const seen: number[] = []
    clock.setTimeout(() => seen.push(clock.now()), 10)
    clock.setTimeout(() => seen.push(clock.now()), 25)
    clock.advance(9)
    assert.deepEqual(seen, [])
    assert.equal(clock.now(), 9)
    clock.advance(1)
    assert.deepEqual(seen, [10])
    clock.advance(14)
    assert.deepEqual(seen, [10])
    assert.equal(clock.now(), 24)
    clock.advance(1)
    assert.deepEqual(seen, [10, 25])
    clock.advance(0)
    assert.equal(clock.now(), 25)
  })

  test('a timer set by a firing timer fires in the same advance when due', () => {
    const clock = new VirtualClock(0)
    const seen: number[] = []
    clock.setTimeout(() => {
      seen.push(clock.now())
      clock.setTimeout(() => seen.push(clock.now()), 5)
      clock.setTimeout(() => seen.push(clock.now()), 0)
    }, 10)
    clock.advance(15)
    assert.deepEqual(seen, [10, 10, 15])
  })

  test('runNext jumps to the next timer; nextTimerAt reports it', () => {
    const clock = new VirtualClock(100)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('late'), 500)
    clock.setTimeout(() => fired.push('early'), 50)
    assert.equal(clock.nextTimerAt(), 150)
    assert.equal(clock.runNext(), true)
    assert.deepEqual(fired, ['early'])
    assert.equal(clock.now(), 150)
    assert.equal(clock.nextTimerAt(), 600)
    assert.equal(clock.runNext(), true)
    assert.equal(clock.now(), 600)
    assert.deepEqual(fired, ['early', 'late'])
    assert.equal(clock.nextTimerAt(), undefined)
    assert.equal(clock.runNext(), false)
    assert.equal(clock.now(), 600)
  })

  test('cancel before firing: never fires, leaves the count, idempotent', () => {
    const clock = new VirtualClock(0)
    const fired: string[] = []
    const a = clock.setTimeout(() => fired.push('a'), 10)
    clock.setTimeout(() => fired.push('b'), 20)
    assert.equal(clock.pendingTimers, 2)
    a.cancel()
    a.cancel()
    assert.equal(clock.pendingTimers, 1)
    assert.equal(clock.nextTimerAt(), 20)
    clock.advance(30)
    assert.deepEqual(fired, ['b'])
    assert.equal(clock.pendingTimers, 0)
  })

  test('cancel after firing and inside its own callback is harmless', () => {
    const clock = new VirtualClock(0)
    let count = 0
    const self = clock.setTimeout(() => {
      count++
      self.cancel()
    }, 10)
    const other = clock.setTimeout(() => count++, 10)
    clock.advance(10)
    assert.equal(count, 2)
    assert.equal(clock.pendingTimers, 0)
    other.cancel()
    self.cancel()
    assert.equal(clock.pendingTimers, 0)
  })

  test('a callback can cancel a later timer due at the same instant', () => {
    const clock = new VirtualClock(0)
    const fired: string[] = []
    let second = { cancel: (): void => {} }
    clock.setTimeout(() => {
      fired.push('first')
      second.cancel()
    }, 10)
    second = clock.setTimeout(() => fired.push('second'), 10)
    clock.setTimeout(() => fired.push('third'), 10)
    clock.advance(10)
    assert.deepEqual(fired, ['first', 'third'])
    assert.equal(clock.pendingTimers, 0)
  })

  test('setInterval repeats at its period until cancelled', () => {
    const clock = new VirtualClock(0)
    const times: number[] = []
    const interval = clock.setInterval(() => times.push(clock.now()), 10)
    assert.equal(clock.pendingTimers, 1)
    clock.advance(35)
    assert.deepEqual(times, [10, 20, 30])
    assert.equal(clock.pendingTimers, 1)
    assert.equal(clock.nextTimerAt(), 40)
    interval.cancel()
    assert.equal(clock.pendingTimers, 0)
    assert.equal(clock.nextTimerAt(), undefined)
    clock.advance(100)
    assert.deepEqual(times, [10, 20, 30])
  })

  test('setInterval cancelled inside its callback stops', () => {
    const clock = new VirtualClock(0)
    let runs = 0
    const interval = clock.setInterval(() => {
      if (++runs === 3) interval.cancel()
    }, 7)
    clock.advance(1000)
    assert.equal(runs, 3)
    assert.equal(clock.pendingTimers, 0)
    assert.equal(clock.nextTimerAt(), undefined)
  })

  test('setInterval of 0 ms does not spin: it repeats every 1 ms', () => {
    const clock = new VirtualClock(0)
    const times: number[] = []
    const interval = clock.setInterval(() => times.push(clock.now()), 0)
    clock.advance(3)
    interval.cancel()
    assert.deepEqual(times, [0, 1, 2, 3])
  })

  test('intervals and timeouts interleave by time, then by order set', () => {
    const clock = new VirtualClock(0)
    const fired: string[] = []
    const interval = clock.setInterval(() => fired.push(`i${clock.now()}`), 10)
    clock.setTimeout(() => fired.push('t20'), 20)
    clock.advance(30)
    interval.cancel()
    // The interval's second run was rescheduled (at 10) after t20 was set, so t20 goes first.
    assert.deepEqual(fired, ['i10', 't20', 'i20', 'i30'])
  })

  test('a callback that advances the clock further is not undone by the outer advance', () => {
    const clock = new VirtualClock(0)
    const seen: number[] = []
    clock.setTimeout(() => {
      clock.advance(100)
      seen.push(clock.now())
    }, 10)
    clock.setTimeout(() => seen.push(clock.now()), 50)
    clock.advance(20)
    // The inner advance ran to 110, firing the timer at 50 on the way; time stays at 110.
    assert.deepEqual(seen, [50, 110])
    assert.equal(clock.now(), 110)
    clock.advance(0)
    assert.equal(clock.now(), 110)
  })

  test('advanceAsync never moves time backwards either', async () => {
    const clock = new VirtualClock(0)
    clock.setTimeout(() => clock.advance(1000), 5)
    await clock.advanceAsync(10)
    assert.equal(clock.now(), 1005)

    const nested = new VirtualClock(0)
    let inner: Promise<void> | undefined
    nested.setTimeout(() => {
      inner = nested.advanceAsync(500)
    }, 1)
    await nested.advanceAsync(2)
    await inner
    assert.equal(nested.now(), 501)
  })

  test('rejects negative, NaN and infinite delays with E_INVALIDARG', () => {
    const clock = new VirtualClock(0)
    for (const bad of [-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      throwsPeerError(() => clock.setTimeout(() => {}, bad), 'E_INVALIDARG', /delay/)
      throwsPeerError(() => clock.setInterval(() => {}, bad), 'E_INVALIDARG')
      throwsPeerError(() => clock.advance(bad), 'E_INVALIDARG')
    }
    assert.equal(clock.pendingTimers, 0)
    assert.equal(clock.now(), 0)
  })

  test('sleep rejects a bad delay with E_INVALIDARG', async () => {
    const clock = new VirtualClock(0)
    await rejectsPeerError(clock.sleep(-5), 'E_INVALIDARG')
    await rejectsPeerError(clock.sleep(Number.NaN), 'E_INVALIDARG')
  })

  test('sleep resolves when advanceAsync reaches it, not before', async () => {
    const clock = new VirtualClock(0)
    let done = false
    const sleeping = clock.sleep(100).then(() => {
      done = true
    })
    await clock.advanceAsync(99)
    assert.equal(done, false)
    await clock.advanceAsync(1)
    assert.equal(done, true)
    await sleeping
    assert.equal(clock.pendingTimers, 0)
  })

  test('advanceAsync lets a chain of sleeps progress in one call', async () => {
    const clock = new VirtualClock(0)
    const woke: number[] = []
    const task = (async () => {
      for (let i = 0; i < 5; i++) {
        await clock.sleep(10)
        woke.push(clock.now())
      }
    })()
    await clock.advanceAsync(45)
    assert.deepEqual(woke, [10, 20, 30, 40])
    await clock.advanceAsync(5)
    await task
    assert.deepEqual(woke, [10, 20, 30, 40, 50])
  })

  test('sleep with an already-aborted signal rejects with E_ABORT and sets no timer', async () => {
    const clock = new VirtualClock(0)
    const controller = new AbortController()
    controller.abort()
    const err = await rejectsPeerError(clock.sleep(10, controller.signal), 'E_ABORT', /sleep/)
    assert.ok(err.cause instanceof DOMException)
    assert.equal(clock.pendingTimers, 0)
  })

  test('sleep aborted later rejects with E_ABORT and cancels its timer', async () => {
    const clock = new VirtualClock(0)
    const controller = new AbortController()
    const sleeping = clock.sleep(1000, controller.signal)
    assert.equal(clock.pendingTimers, 1)
    await clock.advanceAsync(10)
    controller.abort(new Error('user gave up'))
    const err = await rejectsPeerError(sleeping, 'E_ABORT')
    assert.equal((err.cause as Error).message, 'user gave up')
    assert.equal(clock.pendingTimers, 0)
    assert.equal(clock.nextTimerAt(), undefined)
  })

  test('an abort reason that is a PeerError is passed through as it is', async () => {
    const clock = new VirtualClock(0)
    const controller = new AbortController()
    const reason = new PeerError('PEER_E_TIMEOUT', 'deadline passed')
    const sleeping = clock.sleep(1000, controller.signal)
    controller.abort(reason)
    await assert.rejects(sleeping, (err) => err === reason)
  })

  test('a signal aborted after the sleep ended changes nothing', async () => {
    const clock = new VirtualClock(0)
    const controller = new AbortController()
    const sleeping = clock.sleep(10, controller.signal)
    await clock.advanceAsync(10)
    await sleeping
    controller.abort()
    await flushMicrotasks()
    assert.equal(clock.pendingTimers, 0)
  })
})

describe('SystemClock', () => {
  const timeouts = (): number =>
    process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

  test('now() follows wall time', () => {
    const before = Date.now()
    const now = new SystemClock().now()
    assert.ok(now >= before && now <= Date.now())
  })

  test('sleep of a few ms resolves', async () => {
    const clock = new SystemClock()
    await clock.sleep(2)
    await clock.sleep(0)
  })

  test('setTimeout and setInterval fire and cancel', async () => {
    const clock = new SystemClock()
    let fired = 0
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 1))
    await new Promise<void>((resolve) => {
      const interval = clock.setInterval(() => {
        if (++fired === 2) {
          interval.cancel()
          resolve()
        }
      }, 1)
    })
    assert.equal(fired, 2)
    const never = clock.setTimeout(() => assert.fail('cancelled timer fired'), 1)
    never.cancel()
    never.cancel()
    throwsPeerError(() => clock.setTimeout(() => {}, -1), 'E_INVALIDARG')
    throwsPeerError(() => clock.setInterval(() => {}, Number.NaN), 'E_INVALIDARG')
  })

  test('an aborted sleep rejects with E_ABORT and leaves no active timer', async () => {
    const clock = new SystemClock()
    const before = timeouts()
    const controller = new AbortController()
    const sleeping = clock.sleep(60_000, controller.signal)
    assert.equal(timeouts(), before + 1)
    controller.abort()
    await rejectsPeerError(sleeping, 'E_ABORT')
    assert.equal(timeouts(), before)

    const aborted = new AbortController()
    aborted.abort()
    try {
      await clock.sleep(60_000, aborted.signal)
      assert.fail('expected a rejection')
    } catch (err) {
      assertPeerError(err, 'E_ABORT')
    }
    assert.equal(timeouts(), before)
  })
})

/** Timer functions backed by a VirtualClock, recording the delay of every timeout set. */
function virtualHost(clock: VirtualClock): TimerHost & {
  delays: number[]
  intervals: number[]
  cleared: number
} {
  const host = {
    delays: [] as number[],
    intervals: [] as number[],
    cleared: 0,
    setTimeout: (fn: () => void, ms: number): unknown => {
      host.delays.push(ms)
      return clock.setTimeout(fn, ms)
    },
    clearTimeout: (handle: unknown): void => {
      host.cleared++
      ;(handle as Timer).cancel()
    },
    setInterval: (fn: () => void, ms: number): unknown => {
      host.intervals.push(ms)
      return clock.setInterval(fn, ms)
    },
    clearInterval: (handle: unknown): void => (handle as Timer).cancel(),
  }
  return host
}

const DAY = 24 * 60 * 60 * 1000

describe('timeouts longer than Node allows', () => {
  test('MAX_NODE_TIMER_MS is the largest signed 32-bit number', () => {
    assert.equal(MAX_NODE_TIMER_MS, 2_147_483_647)
  })

  test('chainTimeout waits out 30 days as links no longer than the maximum', () => {
    const clock = new VirtualClock(0)
    const host = virtualHost(clock)
    let firedAt: number | undefined
    chainTimeout(host, () => (firedAt = clock.now()), 30 * DAY)
    assert.deepEqual(host.delays, [MAX_NODE_TIMER_MS])
    clock.advance(30 * DAY - 1)
    assert.equal(firedAt, undefined)
    assert.deepEqual(host.delays, [MAX_NODE_TIMER_MS, 30 * DAY - MAX_NODE_TIMER_MS])
    clock.advance(1)
    assert.equal(firedAt, 30 * DAY)
    assert.equal(clock.pendingTimers, 0)
    for (const d of host.delays) assert.ok(d <= MAX_NODE_TIMER_MS)
  })

  test('chainTimeout with a small link size chains as often as needed', () => {
    const clock = new VirtualClock(0)
    const host = virtualHost(clock)
    let fired = 0
    chainTimeout(host, () => fired++, 25, 10)
    clock.advance(100)
    assert.deepEqual(host.delays, [10, 10, 5])
    assert.equal(fired, 1)
    assert.equal(clock.now(), 100)
  })

  test('delays up to the maximum take one timeout', () => {
    for (const ms of [0, 1, 1000, MAX_NODE_TIMER_MS]) {
      const clock = new VirtualClock(0)
      const host = virtualHost(clock)
      let firedAt: number | undefined
      chainTimeout(host, () => (firedAt = clock.now()), ms)
      clock.advance(MAX_NODE_TIMER_MS)
      assert.deepEqual(host.delays, [ms])
      assert.equal(firedAt, ms)
    }
  })

  test('cancel clears whichever link is pending; the callback never runs', () => {
    const clock = new VirtualClock(0)
    const host = virtualHost(clock)
    const early = chainTimeout(host, () => assert.fail('cancelled timer fired'), 30 * DAY)
    early.cancel()
    assert.equal(host.cleared, 1)
    assert.equal(clock.pendingTimers, 0)

    const late = chainTimeout(host, () => assert.fail('cancelled timer fired'), 30 * DAY)
    clock.advance(MAX_NODE_TIMER_MS + 1)
    // The first link fired; the second is the one pending.
    assert.equal(clock.pendingTimers, 1)
    late.cancel()
    late.cancel()
    assert.equal(host.cleared, 2)
    assert.equal(clock.pendingTimers, 0)
    clock.advance(60 * DAY)
  })

  test('cancel after the callback ran is harmless', () => {
    const clock = new VirtualClock(0)
    const host = virtualHost(clock)
    let fired = 0
    const timer = chainTimeout(host, () => fired++, 3 * MAX_NODE_TIMER_MS)
    clock.advance(3 * MAX_NODE_TIMER_MS)
    assert.equal(fired, 1)
    timer.cancel()
    assert.equal(host.cleared, 0)
  })

  test('SystemClock.setTimeout chains through the timer functions it is given', () => {
    const clock = new VirtualClock(0)
    const host = virtualHost(clock)
    const system = new SystemClock(host)
    let firedAt: number | undefined
    system.setTimeout(() => (firedAt = clock.now()), 30 * DAY)
    clock.advance(30 * DAY - 1)
    assert.equal(firedAt, undefined)
    clock.advance(1)
    assert.equal(firedAt, 30 * DAY)

    const cancelled = system.setTimeout(() => assert.fail('cancelled timer fired'), 30 * DAY)
    clock.advance(25 * DAY)
    cancelled.cancel()
    assert.equal(clock.pendingTimers, 0)
    throwsPeerError(() => system.setTimeout(() => {}, Infinity), 'E_INVALIDARG')
  })

  test('SystemClock.setInterval refuses a period above the maximum', () => {
    const clock = new VirtualClock(0)
    const host = virtualHost(clock)
    const system = new SystemClock(host)
    throwsPeerError(
      () => system.setInterval(() => {}, MAX_NODE_TIMER_MS + 1),
      'E_INVALIDARG',
      /interval period must be at most 2147483647 ms/,
    )
    throwsPeerError(() => system.setInterval(() => {}, 30 * DAY), 'E_INVALIDARG', /got 2592000000/)
    assert.deepEqual(host.intervals, [])
    let fired = 0
    const interval = system.setInterval(() => fired++, MAX_NODE_TIMER_MS)
    assert.deepEqual(host.intervals, [MAX_NODE_TIMER_MS])
    clock.advance(2 * MAX_NODE_TIMER_MS)
    assert.equal(fired, 2)
    interval.cancel()
    assert.equal(clock.pendingTimers, 0)
  })

  test('on Node, a 30-day timeout is one pending timer, with no overflow warning', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error): void => {
      warnings.push(w.name)
    }
    process.on('warning', onWarning)
    try {
      const active = (): number =>
        process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
      const before = active()
      const timer = new SystemClock().setTimeout(() => assert.fail('fired early'), 30 * DAY)
      assert.equal(active(), before + 1)
      await flushMicrotasks()
      timer.cancel()
      assert.equal(active(), before)
      await flushMicrotasks()
      assert.ok(!warnings.includes('TimeoutOverflowWarning'), warnings.join(', '))
    } finally {
      process.off('warning', onWarning)
    }
  })
})

test('VirtualClock refuses interval periods SystemClock would refuse', () => {
  const clock = new VirtualClock()
  assert.throws(() => clock.setInterval(() => {}, MAX_NODE_TIMER_MS + 1), { code: 'E_INVALIDARG' })
  clock.setInterval(() => {}, MAX_NODE_TIMER_MS).cancel()
})
