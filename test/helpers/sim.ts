/** Helpers for tests that drive the network simulator. */
import type { Sim } from '../../src/sim/index.ts'

/** Runs the sim until `promise` settles, then returns (or throws) its outcome. */
export async function settle<T>(sim: Sim, promise: Promise<T>, maxMs = 120_000): Promise<T> {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  await sim.runUntil(() => done, { maxMs, what: 'the promise settling' })
  return promise
}

/** True while a file operation started by the process has not completed. */
function fileIoPending(): boolean {
  return process
    .getActiveResourcesInfo()
    .some((r) => r.startsWith('FSReq') || r.endsWith('CloseReq'))
}

/**
 * Like settle, for work that also waits on real I/O (files). Virtual time only moves while no
 * file operation is pending, so the simulated events see the same order on every run.
 */
export async function drive<T>(sim: Sim, promise: Promise<T>, maxMs = 120_000): Promise<T> {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  const deadline = sim.clock.now() + maxMs
  while (!done) {
    if (fileIoPending()) {
      await new Promise((resolve) => setImmediate(resolve))
      continue
    }
    const left = deadline - sim.clock.now()
    if (left <= 0) break
    await sim.runUntil(() => done || fileIoPending(), { maxMs: left, throwOnTimeout: false })
    if (!done && !fileIoPending()) {
      // Nothing pending in the sim or on disk: give the event loop one turn, then stop.
      await new Promise((resolve) => setImmediate(resolve))
      if (!done && !fileIoPending() && sim.clock.now() >= deadline) break
    }
  }
  if (!done) {
    throw new Error(`drive: the promise did not settle within ${maxMs} ms of virtual time`)
  }
  return promise
}
