/**
 * Range-based set reconciliation (src/graph/reconcile.ts) against MS-PPGRH Hash Sync
 * (ms-protocols.md section 2.4) on the same data: two sides of N items (default 100,000) that
 * differ in 0, 10 and 1,000 items (half only on one side, half only on the other).
 *
 * Ours: two Reconcilers over ArraySources exchange messages through encodeReconcile /
 * decodeReconcile until a side has nothing more to say; bytes are the encoded messages both
 * ways plus the empty message that tells the other side we are done; rounds are messages.
 *
 * Baseline, SIMULATED on the same items (not estimated): the initiator sorts its records,
 * cuts them into ranges of 10 and sends, per range, a 16-byte MD5-like hash and the range's
 * upper bound (8-byte time + 16-byte record ID): 40 bytes per range, SOLICIT_HASH. The
 * responder hashes its own records over the same bounds and answers, per range that differs,
 * a 52-byte boundary entry (ms-protocols.md, ADVERTISE) plus a 20-byte (ID, version) abstract
 * per record it holds in that range. Headers, REQUEST and the records themselves are left
 * out on both sides (the same records move either way).
 *
 * The goal (ours / baseline < 0.1 at 10 differences) is checked and printed. A second table
 * shows the tuning of ITEMS_THRESHOLD and BRANCHING at 10 differences.
 *
 *   npx tsx bench/reconcile.ts [--n 100000] [--seed S] [--no-tuning]
 */
import { parseArgs } from 'node:util'

import { SeededRandom } from '../src/core/random.ts'
import { hashSyncBytes } from './hash-sync.ts'
import {
  ArraySource,
  BRANCHING,
  decodeReconcile,
  encodeReconcile,
  ITEMS_THRESHOLD,
  Reconciler,
  type Item,
  type ReconcileMessage,
  type ReconcilerOptions,
} from '../src/graph/reconcile.ts'

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    seed: { type: 'string', default: 'bench-reconcile' },
    'no-tuning': { type: 'boolean', default: false },
  },
})
const N = Number(args.n)
const BASE = Date.parse('2026-01-01T00:00:00Z')
const SPAN = 365 * 86_400_000

/** Two sides of `n` items each with `diffs` differences. */
function sides(seed: string, n: number, diffs: number): { a: Item[]; b: Item[] } {
  const rng = new SeededRandom(seed)
  const gen = (count: number): Item[] =>
    Array.from({ length: count }, () => ({ time: BASE + rng.int(SPAN), digest: rng.bytes(16) }))
  const common = gen(n - Math.ceil(diffs / 2))
  return {
    a: [...common, ...gen(Math.ceil(diffs / 2))],
    b: [...common, ...gen(Math.floor(diffs / 2))],
  }
}

interface Run {
  bytes: number
  messages: number
  ms: number
  found: number
}

function ours(a: ArraySource, b: ArraySource, options: ReconcilerOptions = {}): Run {
  const start = process.hrtime.bigint()
  const sideA = new Reconciler(a, options)
  const sideB = new Reconciler(b, options)
  let message: ReconcileMessage | undefined = sideA.initiate()
  let toB = true
  let bytes = 0
  let messages = 0
  let found = 0
  while (message !== undefined) {
    const wire = encodeReconcile(message)
    bytes += wire.length
    messages++
    const result = (toB ? sideB : sideA).receive(decodeReconcile(wire))
    found += result.have.length + result.need.length
    message = result.reply
    toB = !toB
  }
  bytes += encodeReconcile({ ranges: [] }).length // "done"
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  return { bytes, messages, ms, found }
}

/** MS-PPGRH Hash Sync, simulated (bench/hash-sync.ts). */
function baseline(initiator: ArraySource, responder: ArraySource): Run {
  const start = process.hrtime.bigint()
  const { bytes, rangesDiffer } = hashSyncBytes(initiator, responder)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  return { bytes, messages: 2, ms, found: rangesDiffer }
}

const fmt = (n: number): string => n.toLocaleString('en-US')
const pad = (s: string, w: number): string => s.padStart(w)

console.log(
  `Set reconciliation, ${fmt(N)} items per side; ITEMS_THRESHOLD ${ITEMS_THRESHOLD}, BRANCHING ${BRANCHING}`,
)
console.log('Baseline: MS-PPGRH Hash Sync SIMULATED on the same data (ranges of 10 records).')
console.log('')
console.log(
  [
    pad('diffs', 6),
    pad('ours bytes', 12),
    pad('rounds', 7),
    pad('ours ms', 8),
    pad('baseline bytes', 15),
    pad('ranges differ', 14),
    pad('ours/baseline', 14),
    pad('goal', 8),
  ].join('  '),
)
let goalMet = true
for (const diffs of [0, 10, 1000]) {
  const { a, b } = sides(`${args.seed}/${diffs}`, N, diffs)
  const sa = new ArraySource(a)
  const sb = new ArraySource(b)
  const run = ours(sa, sb)
  if (run.found !== 2 * diffs) throw new Error(`found ${run.found} of ${2 * diffs} differences`)
  const base = baseline(sa, sb)
  const ratio = run.bytes / base.bytes
  const goal = diffs === 10 ? (ratio < 0.1 ? '< 0.1 ok' : '< 0.1 NO') : ''
  if (diffs === 10 && ratio >= 0.1) goalMet = false
  console.log(
    [
      pad(fmt(diffs), 6),
      pad(fmt(run.bytes), 12),
      pad(String(run.messages), 7),
      pad(run.ms.toFixed(0), 8),
      pad(fmt(base.bytes), 15),
      pad(fmt(base.found), 14),
      pad(ratio.toFixed(4), 14),
      pad(goal, 8),
    ].join('  '),
  )
}
console.log('')
console.log(goalMet ? 'Goal met: ours/baseline < 0.1 at 10 differences.' : 'Goal NOT met.')

if (!args['no-tuning']) {
  console.log('')
  console.log(`Tuning at 10 differences (${fmt(N)} items per side): bytes / rounds`)
  const thresholds = [8, 16, 32, 64]
  console.log(['branching'.padStart(9), ...thresholds.map((t) => pad(`thr ${t}`, 14))].join('  '))
  const { a, b } = sides(`${args.seed}/10`, N, 10)
  const sa = new ArraySource(a)
  const sb = new ArraySource(b)
  for (const branching of [4, 8, 16, 32]) {
    const cells = thresholds.map((itemsThreshold) => {
      const run = ours(sa, sb, { branching, itemsThreshold })
      return pad(`${fmt(run.bytes)} / ${run.messages}`, 14)
    })
    console.log([String(branching).padStart(9), ...cells].join('  '))
  }
}
