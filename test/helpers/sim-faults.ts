/** Faults the convergence tests inject into the simulated network. */
import type { Sim } from '../../src/sim/index.ts'

/**
 * A connection that breaks: cuts two members picked with `pick` apart for 40 s, longer than the
 * stream timeout, then heals the cut.
 */
export function cutRandomLink<M extends { name: string }>(
  sim: Sim,
  members: readonly M[],
  pick: (xs: readonly M[]) => M,
): void {
  const a = pick(members)
  const b = pick(members.filter((x) => x !== a))
  const id = sim.network.partition([a.name], [b.name])
  sim.clock.setTimeout(() => sim.network.heal(id), 40_000)
}
