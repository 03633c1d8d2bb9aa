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
