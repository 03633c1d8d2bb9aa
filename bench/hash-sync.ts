/**
 * MS-PPGRH Hash Sync (ms-protocols.md 2.4), simulated on two item sets: the baseline of
 * bench/reconcile.ts and bench/graph.ts. The initiator sends one SOLICIT_HASH entry per range
 * of 10 records (16-byte hash, 8-byte time and 16-byte id bound: 40 bytes); the responder
 * answers the ranges that differ with a 52-byte boundary entry plus a 20-byte (id, version)
 * abstract per record it holds there. Headers and the records themselves are left out.
 */
import {
  MAX_BOUND,
  MIN_BOUND,
  type ArraySource,
  type Bound,
  type Item,
} from '../src/graph/reconcile.ts'

export function hashSyncBytes(
  initiator: ArraySource,
  responder: ArraySource,
): { bytes: number; rangesDiffer: number } {
  const items = initiator.all
  const ranges = Math.max(1, Math.ceil(items.length / 10))
  let bytes = ranges * (16 + 8 + 16)
  let rangesDiffer = 0
  for (let r = 0; r < ranges; r++) {
    const lower: Bound = r === 0 ? MIN_BOUND : (items[r * 10] as Item)
    const upper: Bound = r === ranges - 1 ? MAX_BOUND : (items[r * 10 + 10] as Item)
    const mine = initiator.fingerprint(lower, upper)
    const theirs = responder.fingerprint(lower, upper)
    if (Buffer.from(mine).equals(Buffer.from(theirs))) continue
    bytes += 52 + 20 * responder.count(lower, upper)
    rangesDiffer++
  }
  return { bytes, rangesDiffer }
}
