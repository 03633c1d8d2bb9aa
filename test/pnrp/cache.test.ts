import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import { toHex } from '../../src/core/bytes.ts'
import { SeededRandom, type Random } from '../../src/core/random.ts'
import { cacheLevel, RouteCache, type CacheEntry } from '../../src/pnrp/cache.ts'
import { MAX_CACHE_LEVELS, MAX_LOCAL_IDS } from '../../src/pnrp/constants.ts'
import { addToId, clockwise, compareCloseness, RING, type PnrpId } from '../../src/pnrp/ids.ts'
import type { RouteEntry } from '../../src/pnrp/types.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

const HALF = RING >> 1n

function randomId(random: Random): PnrpId {
  return BigInt('0x' + toHex(random.bytes(32)))
}

function routeEntry(id: PnrpId, port = 3540): RouteEntry {
  return { id, endpoints: [{ address: `n${id % 1000n}`, port }] }
}

function ids(entries: readonly CacheEntry[]): PnrpId[] {
  return entries.map((e) => e.id)
}

/** The `side` nearest of `pool` below and above `localId`, nearest first, by brute force. */
function bruteLeafSet(
  localId: PnrpId,
  pool: Iterable<PnrpId>,
  side: number,
): { below: PnrpId[]; above: PnrpId[] } {
  const all = [...pool].filter((id) => id !== localId)
  const by = (f: (id: PnrpId) => bigint) =>
    [...all].sort((a, b) => (f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0)).slice(0, side)
  return {
    below: by((id) => clockwise(id, localId)),
    above: by((id) => clockwise(localId, id)),
  }
}

function assertLeafSets(cache: RouteCache, validatedPool: Iterable<PnrpId>, label: string): void {
  const pool = [...validatedPool]
  for (const localId of cache.localIds()) {
    const got = cache.leafSet(localId)
    const want = bruteLeafSet(localId, pool, cache.leafSide)
    assert.deepEqual(ids(got.below), want.below, `${label}: below`)
    assert.deepEqual(ids(got.above), want.above, `${label}: above`)
  }
  // Leaf membership agrees with the lists.
  const members = new Set(
    cache.localIds().flatMap((l) => {
      const s = cache.leafSet(l)
      return [...ids(s.below), ...ids(s.above)]
    }),
  )
  for (const e of cache.entries()) assert.equal(cache.inLeafSet(e.id), members.has(e.id), label)
}

/** Checks the per-level capacity invariant from the outside. */
function assertCapacity(cache: RouteCache): void {
  const perLevel = new Map<number, number>()
  for (const e of cache.entries()) {
    if (cache.inLeafSet(e.id)) continue
    const level = cache.levelOf(e.id)
    perLevel.set(level, (perLevel.get(level) ?? 0) + 1)
  }
  for (const [level, n] of perLevel) {
    assert.ok(n <= cache.capacity, `level ${level} holds ${n} > ${cache.capacity}`)
    assert.equal(cache.levelSizes()[level], n, `level ${level} count`)
  }
}

describe('cacheLevel', () => {
  test('level L holds distances up to 2^255 / 10^L', () => {
    assert.equal(cacheLevel(HALF), 0)
    assert.equal(cacheLevel(HALF / 10n), 1)
    assert.equal(cacheLevel(HALF / 10n + 1n), 0)
    assert.equal(cacheLevel(HALF / 1000n), 3)
    assert.equal(cacheLevel(HALF / 1000n + 1n), 2)
    assert.equal(cacheLevel(1n), 76)
    assert.equal(cacheLevel(0n), MAX_CACHE_LEVELS - 1)
  })
})

describe('RouteCache levels', () => {
  test('2,000 candidates: at most perLevel per level plus leaf sets, denser near the local ID', () => {
    const random = new SeededRandom('cache-levels')
    const cache = new RouteCache({ random: random.fork('cache') })
    const local = randomId(random)
    cache.addLocalId(local)
    const offered = new Map<number, number>()
    const validated: PnrpId[] = []
    for (let i = 0; i < 2000; i++) {
      // A quarter of the candidates sit near the local ID, so the deep levels get some.
      const id =
        i % 4 === 0
          ? addToId(local, randomId(random) >> BigInt(8 + (i % 40) * 5))
          : randomId(random)
      const result = cache.add(routeEntry(id), i, { validated: true })
      validated.push(id)
      const level = cache.levelOf(id)
      offered.set(level, (offered.get(level) ?? 0) + 1)
      for (const e of result.evicted) assert.equal(cache.get(e.id), undefined)
      if (result.outcome === 'full') assert.equal(cache.get(id), undefined)
      else assert.ok(cache.get(id))
    }
    assertCapacity(cache)
    // Leaf sets hold exactly the nearest of everything validated that was offered.
    assertLeafSets(cache, validated, 'after 2,000 adds')
    let leafCount = 0
    for (const e of cache.entries()) if (cache.inLeafSet(e.id)) leafCount++
    assert.equal(leafCount, 10)

    const sizes = cache.levelSizes()
    assert.ok(cache.size <= sizes.length * 20 + 10)
    // Kept per decade of distance: the share of candidates kept grows towards the local ID.
    const kept = new Map<number, number>()
    for (const e of cache.entries()) {
      const level = cache.levelOf(e.id)
      kept.set(level, (kept.get(level) ?? 0) + 1)
    }
    assert.equal(kept.get(0), 20)
    assert.equal(kept.get(1), 20)
    let previousShare = 0
    for (let level = 0; level < 4; level++) {
      const share = (kept.get(level) ?? 0) / offered.get(level)!
      assert.ok(share >= previousShare, `level ${level}: share ${share} < ${previousShare}`)
      previousShare = share
    }
    assert.ok(previousShare > 0.5)
  })

  test('without local IDs every entry is level 0 with capacity perLevel * 4', () => {
    const random = new SeededRandom('resolve-only')
    const cache = new RouteCache({ random, perLevel: 5 })
    assert.equal(cache.capacity, 20)
    const outcomes = new Set<string>()
    for (let i = 0; i < 100; i++) {
      const r = cache.add(routeEntry(randomId(random)), i, { validated: true })
      outcomes.add(r.outcome)
      assert.deepEqual(r.joinedLeafSetsOf, [])
      if (r.outcome === 'added' && cache.size === 20 && i >= 20) assert.equal(r.evicted.length, 1)
    }
    assert.equal(cache.size, 20)
    assert.deepEqual(cache.levelSizes(), [20])
    assert.deepEqual([...outcomes].sort(), ['added', 'full'])
    assert.equal(cache.estimateCloudSize(), undefined)

    // The first local ID re-levels and trims level 0 to perLevel.
    const evicted = cache.addLocalId(randomId(random))
    assert.equal(cache.capacity, 5)
    assert.equal(cache.size + evicted.length, 20)
    assertCapacity(cache)
    for (const e of evicted) assert.equal(cache.get(e.id), undefined)
    // Removing it again restores the larger level 0.
    assert.deepEqual(cache.removeLocalId(cache.localIds()[0]!), [])
    assert.equal(cache.capacity, 20)
    assertCapacity(cache)
  })

  test('a full level keeps turning over with a fair draw', () => {
    const random = new SeededRandom('turnover')
    const cache = new RouteCache({ random, perLevel: 3 })
    cache.addLocalId(0n)
    let replaced = 0
    let refused = 0
    for (let i = 0; i < 200; i++) {
      // Level 0: farther than 2^255 / 10 from the local ID 0.
      const id = HALF - (randomId(random) >> 4n)
      assert.equal(cache.levelOf(id), 0)
      const r = cache.add(routeEntry(id), i)
      if (r.outcome === 'full') {
        refused++
        assert.deepEqual(r.evicted, [])
      } else if (r.evicted.length > 0) {
        replaced++
        assert.equal(r.evicted.length, 1)
        assert.equal(cache.levelOf(r.evicted[0]!.id), 0)
      }
      assert.ok(cache.size <= 3)
    }
    assert.ok(replaced > 60 && refused > 60, `replaced ${replaced}, refused ${refused}`)
  })
})

describe('RouteCache leaf sets', () => {
  test('exactly the nearest validated on each side, after adds and removals, with 2 local IDs', () => {
    const random = new SeededRandom('leaf-sets')
    // A large level capacity so nothing is evicted and the brute force sees the same pool.
    const cache = new RouteCache({ random, perLevel: 1000 })
    const a = randomId(random)
    const b = addToId(a, RING / 1000n)
    cache.addLocalId(a)
    const pool = new Set<PnrpId>()
    const unvalidated = new Set<PnrpId>()
    for (let i = 0; i < 300; i++) {
      const near = i % 2 === 0
      const id = near ? addToId(a, (randomId(random) >> 236n) - (1n << 19n)) : randomId(random)
      const validated = i % 3 !== 0
      const wouldJoin = cache.wouldJoinLeafSet(id)
      const r = cache.add(routeEntry(id), i, { validated })
      if (validated) {
        pool.add(id)
        assert.equal(r.joinedLeafSetsOf.length > 0, wouldJoin, `entry ${i}`)
        assert.equal(cache.inLeafSet(id), wouldJoin)
      } else {
        unvalidated.add(id)
        assert.deepEqual(r.joinedLeafSetsOf, [])
        assert.equal(cache.inLeafSet(id), false)
      }
      assert.deepEqual(r.evicted, [])
    }
    assertLeafSets(cache, pool, 'one local ID')

    // A second local ID builds its leaf set from what is cached.
    assert.deepEqual(cache.addLocalId(b), [])
    assertLeafSets(cache, pool, 'two local IDs')

    // Removals repair the leaf sets from the remaining validated entries.
    for (let round = 0; round < 30; round++) {
      const locals = cache.localIds()
      const side = cache.leafSet(locals[round % locals.length]!)
      const victim = (round % 2 === 0 ? side.below : side.above)[round % 5]!
      assert.equal(cache.remove(victim.id)?.id, victim.id)
      pool.delete(victim.id)
      assertLeafSets(cache, pool, `after removal ${round}`)
    }
    for (const id of unvalidated) assert.equal(cache.inLeafSet(id), false)
    assertLeafSets(cache, pool, 'end')

    // Validating a cached entry later makes it join; invalidating it makes it leave.
    const nearest = [...unvalidated].sort((x, y) => compareCloseness(a, x, y))[0]!
    const result = cache.add(routeEntry(nearest), 1000, { validated: true })
    assert.equal(result.outcome, 'refreshed')
    assert.deepEqual(result.joinedLeafSetsOf, [a])
    pool.add(nearest)
    assertLeafSets(cache, pool, 'validated later')
    const again = cache.add(routeEntry(nearest), 1001, { validated: false })
    assert.equal(again.outcome, 'refreshed')
    assert.equal(cache.inLeafSet(nearest), false)
    pool.delete(nearest)
    assertLeafSets(cache, pool, 'validation withdrawn')

    // Removing a local ID drops its leaf set.
    cache.removeLocalId(a)
    assert.deepEqual(cache.localIds(), [b])
    assertLeafSets(cache, pool, 'after removeLocalId')
    assertCapacity(cache)
  })

  test('joinedLeafSetsOf and evicted on a small cache', () => {
    const random = new SeededRandom('small')
    const cache = new RouteCache({ random, perLevel: 1, leafSide: 2 })
    const L = HALF
    cache.addLocalId(L)
    const add = (offset: bigint, validated = true) =>
      cache.add(routeEntry(addToId(L, offset)), 0, { validated })

    // With few entries the ring wraps: the first entries are on both sides.
    assert.deepEqual(add(100n), { outcome: 'added', joinedLeafSetsOf: [L], evicted: [] })
    assert.deepEqual(ids(cache.leafSet(L).below), [L + 100n])
    assert.deepEqual(ids(cache.leafSet(L).above), [L + 100n])
    assert.deepEqual(add(200n).joinedLeafSetsOf, [L])
    assert.deepEqual(add(-100n).joinedLeafSetsOf, [L])
    assert.deepEqual(add(-200n).joinedLeafSetsOf, [L])
    assert.deepEqual(ids(cache.leafSet(L).below), [L - 100n, L - 200n])
    assert.deepEqual(ids(cache.leafSet(L).above), [L + 100n, L + 200n])
    assert.equal(cache.size, 4)
    assert.deepEqual(cache.levelSizes(), [])

    // L+50 pushes L+200 out; its level (74) has room, so it stays as a normal entry.
    assert.equal(cache.levelOf(L + 200n), 74)
    assert.equal(cache.levelOf(L + 100n), 74)
    assert.deepEqual(add(50n), { outcome: 'added', joinedLeafSetsOf: [L], evicted: [] })
    assert.equal(cache.inLeafSet(L + 200n), false)
    assert.ok(cache.get(L + 200n))
    assert.equal(cache.levelSizes()[74], 1)

    // L+25 pushes L+100 out into the now full level 74: it is evicted.
    const r = add(25n)
    assert.deepEqual(r.joinedLeafSetsOf, [L])
    assert.deepEqual(ids(r.evicted), [L + 100n])
    assert.equal(cache.get(L + 100n), undefined)
    assert.deepEqual(ids(cache.leafSet(L).above), [L + 25n, L + 50n])

    // An unvalidated nearer entry does not join; it is a normal entry of level 75.
    assert.equal(cache.wouldJoinLeafSet(L + 10n), true)
    assert.deepEqual(add(10n, false), { outcome: 'added', joinedLeafSetsOf: [], evicted: [] })
    assert.equal(cache.inLeafSet(L + 10n), false)
    assert.equal(cache.levelSizes()[75], 1)
    // Level 75 is full now: the next normal entry there is kept or not by a draw.
    const drawn = add(11n, false)
    assert.equal(drawn.evicted.length, drawn.outcome === 'added' ? 1 : 0)
    assert.equal(cache.levelSizes()[75], 1)

    // Removing a leaf entry refills from the cache (L+200 is the next validated above).
    cache.remove(L + 25n)
    assert.deepEqual(ids(cache.leafSet(L).above), [L + 50n, L + 200n])
    assert.deepEqual(cache.levelSizes().slice(74), [0, 1])
  })

  test('local IDs are never stored as entries', () => {
    const random = new SeededRandom('locals')
    const cache = new RouteCache({ random })
    const local = randomId(random)
    const other = randomId(random)
    cache.add(routeEntry(other), 0, { validated: true })
    cache.addLocalId(local)
    assert.equal(cache.isLocal(local), true)
    assert.deepEqual(cache.add(routeEntry(local), 1, { validated: true }), {
      outcome: 'ignored',
      joinedLeafSetsOf: [],
      evicted: [],
    })
    assert.equal(cache.get(local), undefined)
    assert.equal(cache.wouldJoinLeafSet(local), false)
    // Making a cached ID local drops the entry.
    assert.deepEqual(ids(cache.addLocalId(other)), [other])
    assert.equal(cache.get(other), undefined)
    assert.equal(cache.size, 0)
    assert.deepEqual(cache.localIds(), [local, other])
    assert.deepEqual(cache.addLocalId(local), [])
    throwsPeerError(() => cache.leafSet(1n), 'E_INVALIDARG')
    throwsPeerError(() => cache.add(routeEntry(RING), 0), 'E_INVALIDARG')
    throwsPeerError(() => cache.addLocalId(-1n), 'E_INVALIDARG')
    for (let i = cache.localIds().length; i < MAX_LOCAL_IDS; i++) cache.addLocalId(BigInt(i))
    throwsPeerError(() => cache.addLocalId(randomId(random)), 'E_INVALIDARG')
    throwsPeerError(() => new RouteCache({ random, perLevel: 0 }), 'E_INVALIDARG')
  })

  test('add copies the entry; refresh updates endpoints and lastSeen', () => {
    const random = new SeededRandom('copy')
    const cache = new RouteCache({ random })
    cache.addLocalId(0n)
    const entry = routeEntry(12345n)
    assert.equal(cache.add(entry, 10, { validated: true }).outcome, 'added')
    entry.endpoints[0]!.port = 1
    assert.equal(cache.get(12345n)!.endpoints[0]!.port, 3540)
    const { id, endpoints, lastSeen, validated } = cache.get(12345n)!
    assert.deepEqual(
      { id, endpoints, lastSeen, validated },
      { ...routeEntry(12345n), lastSeen: 10, validated: true },
    )
    // Equal endpoint lists are one shared, frozen object (a node sits in many caches).
    const other = new RouteCache({ random })
    other.add(routeEntry(12345n), 10)
    assert.equal(other.get(12345n)!.endpoints, endpoints)
    assert.ok(Object.isFrozen(endpoints) && Object.isFrozen(endpoints[0]))
    // Same endpoints: validation is kept.
    assert.equal(cache.add(routeEntry(12345n), 20).outcome, 'refreshed')
    assert.equal(cache.get(12345n)!.validated, true)
    cache.touch(12345n, 15)
    assert.equal(cache.get(12345n)!.lastSeen, 20)
    cache.touch(12345n, 30)
    assert.deepEqual(ids(cache.staleEntries(31)), [12345n])
    assert.deepEqual(cache.staleEntries(30), [])
    // New endpoints: the old validation no longer covers them.
    assert.equal(cache.add(routeEntry(12345n, 4000), 40).outcome, 'refreshed')
    assert.equal(cache.get(12345n)!.validated, false)
    assert.equal(cache.get(12345n)!.endpoints[0]!.port, 4000)
    assert.equal(cache.inLeafSet(12345n), false)
  })
})

describe('RouteCache queries', () => {
  test('closest matches brute force, with skip', () => {
    const random = new SeededRandom('closest')
    const cache = new RouteCache({ random, perLevel: 100 })
    const all: PnrpId[] = []
    for (let i = 0; i < 300; i++) {
      const id = randomId(random)
      if (cache.add(routeEntry(id), i).outcome !== 'full') all.push(id)
    }
    assert.equal(cache.size, all.length)
    const skip = (e: CacheEntry) => e.id % 3n === 0n
    for (let t = 0; t < 20; t++) {
      const target = t === 0 ? all[0]! : randomId(random)
      const want = [...all].sort((x, y) => compareCloseness(target, x, y))
      assert.deepEqual(ids(cache.closest(target, 7)), want.slice(0, 7))
      assert.deepEqual(
        ids(cache.closest(target, 5, skip)),
        want.filter((id) => id % 3n !== 0n).slice(0, 5),
      )
    }
    assert.deepEqual(cache.closest(0n, 0), [])
    assert.equal(cache.closest(0n, 1000).length, all.length)
    // Equal distance on both sides: the one above wins.
    const tie = new RouteCache({ random })
    tie.add(routeEntry(90n), 0)
    tie.add(routeEntry(110n), 0)
    assert.deepEqual(ids(tie.closest(100n, 2)), [110n, 90n])
  })

  test('neighbours wrap around 0 / 2^256', () => {
    const cache = new RouteCache({ random: new SeededRandom('neighbours') })
    assert.deepEqual(cache.neighbours(5n), {})
    for (const id of [5n, 100n, RING - 10n]) cache.add(routeEntry(id), 0)
    const at = (id: PnrpId) => {
      const n = cache.neighbours(id)
      return [n.below?.id, n.above?.id]
    }
    assert.deepEqual(at(0n), [RING - 10n, 5n])
    assert.deepEqual(at(5n), [RING - 10n, 100n])
    assert.deepEqual(at(100n), [5n, RING - 10n])
    assert.deepEqual(at(RING - 5n), [RING - 10n, 5n])
    assert.deepEqual(at(RING - 10n), [100n, 5n])
    assert.deepEqual(at(50n), [5n, 100n])
    // Skipping, and a single candidate on both sides.
    const n = cache.neighbours(0n, (e) => e.id !== 100n)
    assert.equal(n.below?.id, 100n)
    assert.equal(n.above?.id, 100n)
  })

  test('spread picks entries from different parts of the ring', () => {
    const random = new SeededRandom('spread')
    const cache = new RouteCache({ random, perLevel: 250 })
    for (let i = 0; i < 1000; i++) cache.add(routeEntry(randomId(random)), i)
    assert.equal(cache.size, 1000)
    const picked = ids(cache.spread(5)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
    assert.equal(new Set(picked).size, 5)
    for (let i = 0; i < picked.length; i++) {
      const gap = clockwise(picked[i]!, picked[(i + 1) % picked.length]!)
      assert.ok(gap > RING / 10n && gap < (RING * 3n) / 10n, `gap ${i}`)
    }
    assert.deepEqual(cache.spread(0), [])
    const small = new RouteCache({ random })
    for (const id of [30n, 10n, 20n]) small.add(routeEntry(id), 0)
    assert.deepEqual(ids(small.spread(5)), [10n, 20n, 30n])
  })

  test('largestGap over cached and local IDs', () => {
    const cache = new RouteCache({ random: new SeededRandom('gap') })
    assert.equal(cache.largestGap(), undefined)
    cache.add(routeEntry(0n), 0)
    assert.equal(cache.largestGap(), undefined)
    cache.add(routeEntry(HALF), 0)
    cache.add(routeEntry((RING * 5n) / 8n), 0)
    assert.deepEqual(cache.largestGap(), { from: 0n, to: HALF })
    // A local ID splits that gap; the widest is now the wrap from 5/8 back to 0.
    cache.addLocalId(RING / 4n)
    assert.deepEqual(cache.largestGap(), { from: (RING * 5n) / 8n, to: 0n })
  })

  test('estimateCloudSize is within a factor of 3 with the true leaf sets of 10,000 IDs', () => {
    const random = new SeededRandom('cloud-size')
    const N = 10_000
    const ring = Array.from({ length: N }, () => randomId(random)).sort((x, y) =>
      x < y ? -1 : x > y ? 1 : 0,
    )
    const nodeWith = (localIndices: number[]): RouteCache => {
      const cache = new RouteCache({ random: random.fork('node') })
      for (const i of localIndices) cache.addLocalId(ring[i]!)
      for (const i of localIndices) {
        for (let k = 1; k <= 5; k++) {
          for (const j of [i - k, i + k]) {
            const id = ring[(j + N) % N]!
            if (!cache.isLocal(id)) cache.add(routeEntry(id), 0, { validated: true })
          }
        }
      }
      return cache
    }
    // One node with 4 registrations spread over the ring.
    const estimate = nodeWith([17, 2600, 5100, 7700]).estimateCloudSize()!
    assert.ok(estimate > N / 3 && estimate < N * 3, `estimate ${estimate}`)
    // Across many single-ID nodes the median is close.
    const estimates = Array.from({ length: 101 }, (_, k) =>
      nodeWith([k * 97]).estimateCloudSize()!,
    ).sort((x, y) => x - y)
    const median = estimates[50]!
    assert.ok(median > N / 1.5 && median < N * 1.5, `median ${median}`)
    // Two nodes: each is the other's only neighbour.
    const pair = new RouteCache({ random })
    pair.addLocalId(1n)
    pair.add(routeEntry(HALF), 0, { validated: true })
    assert.equal(pair.estimateCloudSize(), 2)
  })

  test('the same seed gives the same cache', () => {
    const run = () => {
      const random = new SeededRandom('determinism')
      const cache = new RouteCache({ random: random.fork('cache'), perLevel: 4 })
      cache.addLocalId(randomId(random))
      const outcomes: string[] = []
      for (let i = 0; i < 500; i++) {
        outcomes.push(
          cache.add(routeEntry(randomId(random)), i, { validated: i % 2 === 0 }).outcome,
        )
      }
      cache.addLocalId(randomId(random))
      return { outcomes, entries: [...cache.entries()], spread: ids(cache.spread(5)) }
    }
    const first = run()
    assert.deepEqual(run(), first)
    assert.ok(first.outcomes.includes('full'))
  })
})

describe('RouteCache: the sorted ring and the admission helpers', () => {
  test('closest and neighbours match brute force through adds, evictions, removals and local IDs', () => {
    const random = new SeededRandom('ring-consistency')
    const cache = new RouteCache({ random, perLevel: 6 })
    const brute = (target: PnrpId, count: number): PnrpId[] =>
      [...cache.entries()]
        .map((e) => e.id)
        .sort((x, y) => compareCloseness(target, x, y))
        .slice(0, count)
    const check = (label: string): void => {
      for (let t = 0; t < 10; t++) {
        const target = randomId(random)
        assert.deepEqual(ids(cache.closest(target, 8)), brute(target, 8), `${label}: closest`)
        const all = [...cache.entries()].map((e) => e.id).filter((id) => id !== target)
        const below = [...all].sort((x, y) =>
          clockwise(x, target) < clockwise(y, target) ? -1 : 1,
        )
        const above = [...all].sort((x, y) =>
          clockwise(target, x) < clockwise(target, y) ? -1 : 1,
        )
        const n = cache.neighbours(target)
        assert.equal(n.below?.id, below[0], `${label}: below`)
        assert.equal(n.above?.id, above[0], `${label}: above`)
      }
    }
    for (let i = 0; i < 400; i++) {
      cache.add(routeEntry(randomId(random)), i, { validated: i % 2 === 0 })
      if (i === 100) cache.addLocalId(randomId(random))
      if (i === 250) cache.addLocalId(randomId(random))
      if (i % 7 === 0) {
        const victim = [...cache.entries()][random.int(cache.size)]
        if (victim) cache.remove(victim.id)
      }
      if (i % 50 === 0) check(`after ${i}`)
    }
    cache.removeLocalId(cache.localIds()[0]!)
    check('after removeLocalId')
    assertCapacity(cache)
  })

  test('leafCandidates: the nearest on each side among the candidates and the current leaves', () => {
    const random = new SeededRandom('leaf-candidates')
    const cache = new RouteCache({ random, leafSide: 2 })
    const L = HALF
    cache.addLocalId(L)
    cache.add(routeEntry(L + 10n), 0, { validated: true })
    cache.add(routeEntry(L - 10n), 0, { validated: true })
    const candidates = [L + 5n, L + 20n, L + 30n, L - 5n, L - 40n, L]
    // Above: L+5 and L+10 (leaf) beat L+20; below: L-5 and L-10 (leaf) beat L-40. L is local.
    assert.deepEqual([...cache.leafCandidates(candidates)].sort(), [L - 5n, L + 5n].sort())
    assert.equal(cache.leafCandidates([]).size, 0)
  })

  test('wouldKeep: always for leaf candidates and levels with room; a fair draw at a full level', () => {
    const random = new SeededRandom('would-keep')
    const cache = new RouteCache({ random, perLevel: 3 })
    cache.addLocalId(0n)
    // Far from 0 (level 0); while the leaf set has room every validated entry would join it.
    const far = (): PnrpId => HALF - (randomId(random) >> 4n)
    assert.equal(cache.wouldKeep(far()), true)
    // Fill the leaf set with close entries, then level 0 with normal (unvalidated) ones.
    for (let i = 1n; i <= 5n; i++) {
      cache.add(routeEntry(i), 0, { validated: true })
      cache.add(routeEntry(RING - i), 0, { validated: true })
    }
    for (let i = 0; i < 3; i++) assert.equal(cache.add(routeEntry(far()), i).outcome, 'added')
    assert.deepEqual(cache.levelSizes(), [3])
    let kept = 0
    for (let i = 0; i < 400; i++) if (cache.wouldKeep(far())) kept++
    assert.ok(kept > 140 && kept < 260, `kept ${kept} of 400`)
    // A newcomer that won the draw takes a random normal entry's place.
    const r = cache.add(routeEntry(far()), 100, { replace: true })
    assert.equal(r.outcome, 'added')
    assert.equal(r.evicted.length, 1)
    assert.deepEqual(cache.levelSizes(), [3])
    assert.equal(cache.wouldKeep(0n), false) // a local ID
    assert.equal(cache.wouldKeep(3n), true) // cached already
  })

  test('balancePoint: a point in a level that the cloud should fill, none once it is full', () => {
    const random = new SeededRandom('balance')
    const cache = new RouteCache({ random, perLevel: 4 })
    assert.equal(cache.balancePoint(1000), undefined) // no local ID
    const L = randomId(random)
    cache.addLocalId(L)
    // A cloud of 3 puts fewer than perLevel nodes into level 0: nothing to balance.
    assert.equal(cache.balancePoint(3), undefined)
    // 1,000 nodes: level 0 is empty, so the point lies in its band.
    const point = cache.balancePoint(1000)!
    assert.equal(cache.levelOf(point), 0)
    // Two entries in the middle of the bands of levels 0 and 1 (half of perLevel each).
    for (const level of [0, 1]) {
      for (const k of [1n, 2n]) {
        const d = HALF / 10n ** BigInt(level) / 2n + k
        const id = addToId(L, k === 1n ? d : -d)
        assert.equal(cache.levelOf(id), level)
        assert.equal(cache.add(routeEntry(id), 0).outcome, 'added')
      }
    }
    assert.deepEqual(cache.levelSizes(), [2, 2])
    // Levels 0 and 1 are half full. With 1,000 nodes level 2 (0.9% of the ring: about 9
    // nodes) should hold perLevel and is empty, so its band is next; with 100 nodes (about 1
    // node there) nothing is left to balance.
    assert.equal(cache.levelOf(cache.balancePoint(1000)!), 2)
    assert.equal(cache.balancePoint(100), undefined)
  })
})
