import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import { SeededRandom, SystemRandom, type Random } from '../../src/core/random.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

function draw(r: Random): { bytes: number[]; ints: number[]; floats: number[] } {
  return {
    bytes: Array.from(r.bytes(37)),
    ints: Array.from({ length: 50 }, (_, i) => r.int(i + 1)),
    floats: Array.from({ length: 50 }, () => r.float()),
  }
}

/** Pearson's chi-square statistic of `counts` against a uniform expectation. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0)
  const expected = total / counts.length
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0)
}

describe('SeededRandom', () => {
  test('is deterministic and reports so', () => {
    const r = new SeededRandom(1)
    assert.equal(r.deterministic, true)
    assert.equal(r.seed, '1')
    assert.equal(new SeededRandom('abc').seed, 'abc')
  })

  test('the same seed gives the same bytes, ints and floats', () => {
    assert.deepEqual(draw(new SeededRandom(42)), draw(new SeededRandom(42)))
    assert.deepEqual(draw(new SeededRandom('seed')), draw(new SeededRandom('seed')))
    // A number seed and its string form are the same seed.
    assert.deepEqual(draw(new SeededRandom(7)), draw(new SeededRandom('7')))
  })

  test('different seeds give different streams', () => {
    const a = draw(new SeededRandom(1))
    const b = draw(new SeededRandom(2))
    const c = draw(new SeededRandom('1 '))
    assert.notDeepEqual(a.bytes, b.bytes)
    assert.notDeepEqual(a.floats, b.floats)
    assert.notDeepEqual(a.bytes, c.bytes)
    assert.notDeepEqual(draw(new SeededRandom(0)).bytes, draw(new SeededRandom('')).bytes)
  })

  test('a seed of 0 and an empty seed still give non-degenerate output', () => {
    for (const seed of [0, '']) {
      const r = new SeededRandom(seed)
      const words = Array.from({ length: 8 }, () => r.next32())
      assert.ok(words.some((w) => w !== 0))
      assert.ok(new Set(words).size > 1)
      for (const w of words) assert.ok(Number.isInteger(w) && w >= 0 && w < 2 ** 32)
    }
  })

  test('fork is deterministic, and independent of the parent and of its later use', () => {
    const parent = new SeededRandom('p')
    const child1 = parent.fork('net')
    assert.equal(child1.seed, 'p/net')
    const first = draw(child1)

    // Using the parent (before or after forking) does not change the child's stream.
    const parent2 = new SeededRandom('p')
    parent2.bytes(1000)
    parent2.int(10)
    const child2 = parent2.fork('net')
    parent2.float()
    assert.deepEqual(draw(child2), first)

    // The parent's own stream is not disturbed by forking or by the child's use.
    const plain = new SeededRandom('p')
    const forking = new SeededRandom('p')
    draw(forking.fork('a'))
    assert.deepEqual(draw(forking), draw(plain))

    // Different labels give different streams, and none equals the parent's.
    assert.notDeepEqual(draw(parent.fork('a')).bytes, draw(parent.fork('b')).bytes)
    assert.notDeepEqual(
      draw(new SeededRandom('p').fork('net')).bytes,
      draw(new SeededRandom('p')).bytes,
    )
  })

  test('bytes handles 0, odd and word-sized lengths, consistently with the stream', () => {
    const r = new SeededRandom('bytes')
    assert.deepEqual(r.bytes(0), new Uint8Array(0))
    for (const n of [1, 2, 3, 4, 5, 7, 8, 33]) {
      const out = r.bytes(n)
      assert.ok(out instanceof Uint8Array)
      assert.equal(out.length, n)
    }
    // bytes(0) consumes nothing: the stream after it is unchanged.
    const a = new SeededRandom('x')
    const b = new SeededRandom('x')
    a.bytes(0)
    assert.deepEqual(a.bytes(16), b.bytes(16))
    // A prefix of a longer draw equals a shorter draw from the same state.
    assert.deepEqual(new SeededRandom('y').bytes(5), new SeededRandom('y').bytes(8).subarray(0, 5))
  })

  test('bytes are roughly uniform', () => {
    const r = new SeededRandom('uniform bytes')
    const counts = new Array<number>(256).fill(0)
    const data = r.bytes(256 * 200)
    for (const b of data) counts[b] = (counts[b] ?? 0) + 1
    // 255 degrees of freedom: mean 255, sd ~22.6; 400 is over 6 sd away.
    assert.ok(chiSquare(counts) < 400, `chi-square ${chiSquare(counts)}`)
  })

  test('int(1) is always 0', () => {
    const r = new SeededRandom('one')
    for (let i = 0; i < 100; i++) assert.equal(r.int(1), 0)
  })

  test('int stays in range, including ranges beyond 2^32', () => {
    const r = new SeededRandom('range')
    for (const max of [2, 3, 7, 10, 255, 256, 1000, 2 ** 31, 2 ** 32 - 1, 2 ** 32]) {
      for (let i = 0; i < 200; i++) {
        const v = r.int(max)
        assert.ok(Number.isInteger(v) && v >= 0 && v < max, `${v} not in [0, ${max})`)
      }
    }
    let sawHigh = false
    for (const max of [2 ** 32 + 1, 3 * 2 ** 40 + 5, 2 ** 48]) {
      for (let i = 0; i < 200; i++) {
        const v = r.int(max)
        assert.ok(Number.isSafeInteger(v) && v >= 0 && v < max, `${v} not in [0, ${max})`)
        if (v >= 2 ** 32) sawHigh = true
      }
    }
    assert.ok(sawHigh, 'large ranges reach values above 2^32')
  })

  test('int is roughly uniform (chi-square)', () => {
    const r = new SeededRandom('uniform')
    for (const buckets of [2, 6, 10, 37]) {
      const counts = new Array<number>(buckets).fill(0)
      const n = buckets * 1000
      for (let i = 0; i < n; i++) {
        const v = r.int(buckets)
        counts[v] = (counts[v] ?? 0) + 1
      }
      // Critical values at p = 1e-6 are far below these bounds for every df used here.
      const bound = buckets - 1 + 10 * Math.sqrt(2 * (buckets - 1)) + 20
      const x2 = chiSquare(counts)
      assert.ok(x2 < bound, `chi-square ${x2} for ${buckets} buckets, bound ${bound}`)
    }
  })

  test('int over a range that does not divide 2^32 is not biased to low values', () => {
    // 3 * 2^30: without rejection sampling, the lower third would be drawn twice as often.
    const r = new SeededRandom('bias')
    const max = 3 * 2 ** 30
    const counts = [0, 0, 0]
    for (let i = 0; i < 6000; i++) {
      const third = Math.floor(r.int(max) / 2 ** 30)
      counts[third] = (counts[third] ?? 0) + 1
    }
    assert.ok(chiSquare(counts) < 30, `thirds ${counts.join(', ')}`)
  })

  test('float is in [0, 1) and roughly uniform', () => {
    const r = new SeededRandom('float')
    const counts = new Array<number>(10).fill(0)
    for (let i = 0; i < 10_000; i++) {
      const f = r.float()
      assert.ok(f >= 0 && f < 1, `${f}`)
      const bucket = Math.floor(f * 10)
      counts[bucket] = (counts[bucket] ?? 0) + 1
    }
    assert.ok(chiSquare(counts) < 60, `deciles ${counts.join(', ')}`)
  })

  test('bad ranges and lengths throw E_INVALIDARG', () => {
    const r = new SeededRandom('bad')
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 48 + 1, 2 ** 53]) {
      throwsPeerError(() => r.int(bad), 'E_INVALIDARG', /random\.int/)
    }
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 30 + 1]) {
      throwsPeerError(() => r.bytes(bad), 'E_INVALIDARG', /random\.bytes/)
    }
  })
})

describe('SystemRandom', () => {
  const r = new SystemRandom()

  test('is not deterministic', () => {
    assert.equal(r.deterministic, false)
  })

  test('bytes gives the requested length, and differs between calls', () => {
    for (const n of [0, 1, 3, 16, 33]) {
      const out = r.bytes(n)
      assert.ok(out instanceof Uint8Array)
      assert.equal(out.length, n)
    }
    assert.notDeepEqual(r.bytes(32), r.bytes(32))
  })

  test('int stays in range, for small, large and the full 48-bit range', () => {
    assert.equal(r.int(1), 0)
    for (const max of [2, 10, 2 ** 32, 2 ** 47 + 3, 2 ** 48 - 1, 2 ** 48]) {
      for (let i = 0; i < 50; i++) {
        const v = r.int(max)
        assert.ok(Number.isSafeInteger(v) && v >= 0 && v < max, `${v} not in [0, ${max})`)
      }
    }
  })

  test('float is in [0, 1)', () => {
    const values = Array.from({ length: 200 }, () => r.float())
    for (const f of values) assert.ok(f >= 0 && f < 1, `${f}`)
    assert.ok(new Set(values).size > 190)
  })

  test('bad ranges and lengths throw E_INVALIDARG', () => {
    throwsPeerError(() => r.int(0), 'E_INVALIDARG')
    throwsPeerError(() => r.int(2 ** 48 + 1), 'E_INVALIDARG')
    throwsPeerError(() => r.int(2.5), 'E_INVALIDARG')
    throwsPeerError(() => r.bytes(-1), 'E_INVALIDARG')
  })
})
