/**
 * Handle hygiene for the real-socket transport tests: every test must leave no socket, request
 * or timer behind, and a failing test must not hang the run.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach } from 'node:test'

/** One turn of the event loop (no timer involved, so it leaves no Timeout behind). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Waits until `check` holds, failing after `ms` of wall time. */
export async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await turn()
  }
}

export interface HandleWatch {
  /** How many of each watched kind (`process.getActiveResourcesInfo()` names) are active now. */
  counts(): Record<string, number>
  /** Runs `close` after the current test, even when the test fails midway. */
  cleanup(close: () => Promise<void>): void
}

/**
 * Watches `kinds` of handles and requests around every test of the file: snapshots their counts
 * before the test; after it, runs the test's cleanups (last first), waits up to 2 s for the counts
 * to be back and fails the test if they are not.
 */
export function watchHandles(kinds: readonly string[]): HandleWatch {
  const counts = (): Record<string, number> => {
    const found: Record<string, number> = Object.fromEntries(kinds.map((n) => [n, 0]))
    for (const name of process.getActiveResourcesInfo()) {
      if (name in found) found[name] = (found[name] ?? 0) + 1
    }
    return found
  }
  const cleanups: (() => Promise<void>)[] = []
  let baseline: Record<string, number> = {}
  beforeEach(() => {
    baseline = counts()
  })
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    const same = (): boolean => JSON.stringify(counts()) === JSON.stringify(baseline)
    await until(same, 'sockets and timers to be released', 2000).catch(() => undefined)
    assert.deepEqual(counts(), baseline, 'a socket, request or timer was left behind')
  })
  return { counts, cleanup: (close) => void cleanups.push(close) }
}
