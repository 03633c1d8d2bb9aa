import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import {
  ArraySource,
  boundBetween,
  compareItems,
  decodeReconcile,
  encodeReconcile,
  fingerprintFromLanes,
  fingerprintItems,
  MAX_BOUND,
  MAX_ITEMS_PER_MESSAGE,
  MAX_RANGES_PER_MESSAGE,
  MIN_BOUND,
  Reconciler,
  validateReconcile,
  type Bound,
  type Item,
  type ReconcileMessage,
  type ReconcilerOptions,
} from '../../src/graph/reconcile.ts'
import { encodeCbor } from '../../src/wire/cbor.ts'
import { assertPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'

const BASE = Date.parse('2026-01-01T00:00:00Z')
const DAY = 86_400_000

function item(rng: SeededRandom, time: number): Item {
  return { time, digest: rng.bytes(16) }
}

function items(rng: SeededRandom, n: number, span = 30 * DAY, base = BASE): Item[] {
  return Array.from({ length: n }, () => item(rng, base + rng.int(span)))
}

const key = (i: Item): string => `${i.time}:${Buffer.from(i.digest).toString('hex')}`

/** Keys, sorted; duplicates kept so that a duplicate report shows. */
function keys(list: readonly Item[]): string[] {
  return [...list].sort(compareItems).map(key)
}

interface Outcome {
  aHave: Item[]
  aNeed: Item[]
  bHave: Item[]
  bNeed: Item[]
  /** Messages sent, both ways (the initiator's first one included). */
  messages: number
  bytes: number
}

/**
 * Runs a reconciliation between A (initiator) and B through the wire encoding, until a side
 * has nothing more to say; checks every message against the sender's limits.
 */
function reconcile(
  aItems: readonly Item[],
  bItems: readonly Item[],
  options: ReconcilerOptions = {},
  maxMessages = 1000,
): Outcome {
  const a = new Reconciler(new ArraySource(aItems), options)
  const b = new Reconciler(new ArraySource(bItems), options)
  const out: Outcome = { aHave: [], aNeed: [], bHave: [], bNeed: [], messages: 1, bytes: 0 }
  const maxRanges = options.maxRangesPerMessage ?? MAX_RANGES_PER_MESSAGE
  const maxItems = options.maxItemsPerMessage ?? MAX_ITEMS_PER_MESSAGE
  let message: ReconcileMessage = a.initiate()
  let toB = true
  for (;;) {
    assert.ok(message.ranges.length <= maxRanges, 'a message within the range limit')
    const sent = message.ranges.reduce((n, r) => n + (r.mode === 'items' ? r.items.length : 0), 0)
    assert.ok(sent <= maxItems, 'a message within the item limit')
    const wire = encodeReconcile(message)
    out.bytes += wire.length
    const result = (toB ? b : a).receive(decodeReconcile(wire))
    ;(toB ? out.bHave : out.aHave).push(...result.have)
    ;(toB ? out.bNeed : out.aNeed).push(...result.need)
    if (result.reply === undefined) return out
    message = result.reply
    out.messages++
    toB = !toB
    assert.ok(out.messages <= maxMessages, `more than ${maxMessages} messages`)
  }
}

/** Both sides know exactly what each lacks. */
function assertSettled(outcome: Outcome, onlyA: readonly Item[], onlyB: readonly Item[]): void {
  assert.deepEqual(keys(outcome.aHave), keys(onlyA), 'A.have = what B lacks')
  assert.deepEqual(keys(outcome.aNeed), keys(onlyB), 'A.need = what A lacks')
  assert.deepEqual(keys(outcome.bHave), keys(onlyB), 'B.have = what A lacks')
  assert.deepEqual(keys(outcome.bNeed), keys(onlyA), 'B.need = what B lacks')
}

/** `total` items per side... drawn so that `diffs` of them are on one side only. */
function withDifferences(
  seed: string,
  total: number,
  diffs: number,
): { a: Item[]; b: Item[]; onlyA: Item[]; onlyB: Item[] } {
  const rng = new SeededRandom(seed)
  const common = items(rng, total - Math.ceil(diffs / 2))
  const onlyA = items(rng, Math.ceil(diffs / 2))
  const onlyB = items(rng, Math.floor(diffs / 2))
  return { a: [...common, ...onlyA], b: [...common, ...onlyB], onlyA, onlyB }
}

describe('reconcile: order, bounds and fingerprints', () => {
  test('items order by time, then digest bytes; bounds compare zero-padded', () => {
    const d = (...bytes: number[]): Uint8Array =>
      Uint8Array.from({ length: 16 }, (_, i) => bytes[i] ?? 0)
    assert.ok(compareItems({ time: 1, digest: d(9) }, { time: 2, digest: d(0) }) < 0)
    assert.ok(compareItems({ time: 2, digest: d(1, 2) }, { time: 2, digest: d(1, 3) }) < 0)
    assert.equal(compareItems({ time: 2, digest: d(1) }, { time: 2, digest: Uint8Array.of(1) }), 0)
    assert.ok(compareItems(MIN_BOUND, { time: 0, digest: d() }) === 0)
    assert.ok(compareItems({ time: Number.MAX_SAFE_INTEGER - 1, digest: d(255) }, MAX_BOUND) < 0)
  })

  test('boundBetween is the shortest separating bound', () => {
    const d = (...bytes: number[]): Uint8Array =>
      Uint8Array.from({ length: 16 }, (_, i) => bytes[i] ?? 0)
    const a = { time: 5, digest: d(1, 2, 3) }
    const b = { time: 5, digest: d(1, 2, 7, 9) }
    const bound = boundBetween(a, b)
    assert.deepEqual([...bound.digest], [1, 2, 7])
    assert.ok(compareItems(a, bound) < 0 && compareItems(bound, b) <= 0)
    assert.equal(boundBetween(a, { time: 6, digest: d(0) }).digest.length, 0)
  })

  test('fingerprints are order-independent and match ArraySource ranges', () => {
    const rng = new SeededRandom('fp')
    const list = items(rng, 500)
    const source = new ArraySource(list)
    const shuffled = [...list].reverse()
    assert.deepEqual(fingerprintItems(shuffled), fingerprintItems(list))
    assert.deepEqual(source.fingerprint(MIN_BOUND, MAX_BOUND), fingerprintItems(list))
    const sorted = source.all
    const lower: Bound = sorted[100] as Item
    const upper: Bound = sorted[250] as Item
    assert.equal(source.count(lower, upper), 150)
    assert.deepEqual(source.fingerprint(lower, upper), fingerprintItems(sorted.slice(100, 250)))
    assert.deepEqual(fingerprintItems([]), fingerprintFromLanes([0, 0, 0, 0], 0))
    // Lane sums are taken mod 2^32, as a SQL SUM would need.
    assert.deepEqual(
      fingerprintFromLanes([2 ** 32 + 5, 0, 0, 0], 1),
      fingerprintFromLanes([5, 0, 0, 0], 1),
    )
    assert.notDeepEqual(fingerprintItems(list.slice(1)), fingerprintItems(list))
  })

  test('ArraySource refuses duplicates and bad items', () => {
    const rng = new SeededRandom('dup')
    const one = item(rng, BASE)
    throwsPeerError(() => new ArraySource([one, { ...one }]), 'E_INVALIDARG')
    throwsPeerError(() => new ArraySource([{ time: -1, digest: one.digest }]), 'E_INVALIDARG')
    throwsPeerError(
      () => new ArraySource([{ time: 1, digest: new Uint8Array(15) }]),
      'E_INVALIDARG',
    )
  })
})

describe('reconcile: API contracts', () => {
  test('limits out of range are E_INVALIDARG', () => {
    const source = new ArraySource([])
    for (const options of [
      { maxRangesPerMessage: 3 },
      { maxRangesPerMessage: MAX_RANGES_PER_MESSAGE + 1 },
      { maxItemsPerMessage: 0 },
      { itemsThreshold: MAX_ITEMS_PER_MESSAGE + 1 },
      { branching: 1 },
      { maxRangesPerMessage: 8, branching: 7 },
    ]) {
      throwsPeerError(
        () => new Reconciler(source, options),
        'E_INVALIDARG',
        JSON.stringify(options),
      )
    }
  })

  test('encoding a message that breaks a rule is E_INVALIDARG', () => {
    const bound = (time: number): Bound => ({ time, digest: new Uint8Array(0) })
    throwsPeerError(
      () =>
        encodeReconcile({
          ranges: [
            { upper: bound(5), mode: 'skip' },
            { upper: bound(5), mode: 'skip' },
          ],
        }),
      'E_INVALIDARG',
    )
  })

  test('the initiator lists a small set and fingerprints a large one', () => {
    const rng = new SeededRandom('initiate')
    const small = new Reconciler(new ArraySource(items(rng, 3))).initiate()
    assert.equal(small.ranges[0]?.mode, 'items')
    const large = new Reconciler(new ArraySource(items(rng, 300))).initiate()
    assert.equal(large.ranges[0]?.mode, 'fingerprint')
    assert.equal(large.ranges.length, 1)
  })
})

describe('reconcile: both sides learn exactly their have and need', () => {
  test('identical sets finish in one round trip', () => {
    const { a, b } = withDifferences('same', 20_000, 0)
    const outcome = reconcile(a, b)
    assertSettled(outcome, [], [])
    assert.equal(outcome.messages, 1)
  })

  test('both empty', () => {
    const outcome = reconcile([], [])
    assertSettled(outcome, [], [])
    assert.equal(outcome.messages, 1)
  })

  test('one side empty: a full sync, either way round', () => {
    const rng = new SeededRandom('full')
    const all = items(rng, 20_000)
    assertSettled(reconcile([], all), [], all)
    assertSettled(reconcile(all, []), all, [])
  })

  for (const diffs of [1, 10, 1000]) {
    test(`${diffs} differences among 20,000 items`, () => {
      const { a, b, onlyA, onlyB } = withDifferences(`diff-${diffs}`, 20_000, diffs)
      const outcome = reconcile(a, b)
      assertSettled(outcome, onlyA, onlyB)
      if (diffs === 10) assert.ok(outcome.messages <= 8, `${outcome.messages} messages`)
    })
  }

  test('the number of messages grows with the logarithm of the size', () => {
    for (const [n, bound] of [
      [1_000, 6],
      [20_000, 8],
      [100_000, 8],
    ] as const) {
      const { a, b, onlyA, onlyB } = withDifferences(`log-${n}`, n, 10)
      const outcome = reconcile(a, b)
      assertSettled(outcome, onlyA, onlyB)
      assert.ok(outcome.messages <= bound, `${n} items: ${outcome.messages} messages`)
    }
  })

  test('differences only at the ends of the key space', () => {
    const rng = new SeededRandom('ends')
    const common = items(rng, 20_000)
    const onlyA = [item(rng, 0), item(rng, BASE - DAY), item(rng, Number.MAX_SAFE_INTEGER - 1)]
    const onlyB = [
      item(rng, 1),
      item(rng, BASE + 400 * DAY),
      item(rng, Number.MAX_SAFE_INTEGER - 1),
    ]
    assertSettled(reconcile([...common, ...onlyA], [...common, ...onlyB]), onlyA, onlyB)
  })

  test('items with the same time and different digests', () => {
    const rng = new SeededRandom('same-time')
    const common = items(rng, 5_000, 3)
    const onlyA = items(rng, 40, 3)
    const onlyB = items(rng, 25, 3)
    // Digests that share long prefixes, so bounds need long prefixes to separate them.
    const close = Array.from({ length: 30 }, (_, i) => {
      const digest = new Uint8Array(16).fill(0xab)
      digest[15] = i
      return { time: BASE + 1, digest }
    })
    const a = [...common, ...onlyA, ...close.filter((_, i) => i % 3 !== 0)]
    const b = [...common, ...onlyB, ...close.filter((_, i) => i % 3 !== 1)]
    assertSettled(
      reconcile(a, b),
      [...onlyA, ...close.filter((_, i) => i % 3 === 1)],
      [...onlyB, ...close.filter((_, i) => i % 3 === 0)],
    )
  })

  test('many items on one side only, inside one narrow range', () => {
    const rng = new SeededRandom('one-range')
    const common = items(rng, 20_000)
    const onlyA = items(rng, 3_000, 1000, BASE + 10 * DAY)
    assertSettled(reconcile([...common, ...onlyA], common), onlyA, [])
    assertSettled(reconcile(common, [...common, ...onlyA]), [], onlyA)
  })

  test('random sets with random overlaps and random limits (20 seeds)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const rng = new SeededRandom(`random-${seed}`)
      const span = [10, 1000, 30 * DAY][rng.int(3)] as number
      const pool = items(rng, rng.int(3000), span)
      const a: Item[] = []
      const b: Item[] = []
      const onlyA: Item[] = []
      const onlyB: Item[] = []
      const pBoth = rng.float()
      for (const it of pool) {
        const x = rng.float()
        if (x < pBoth) {
          a.push(it)
          b.push(it)
        } else if (x < pBoth + (1 - pBoth) / 2) {
          a.push(it)
          onlyA.push(it)
        } else {
          b.push(it)
          onlyB.push(it)
        }
      }
      // Half the seeds run with small limits, so deferral and folding happen.
      const options: ReconcilerOptions =
        seed % 2 === 0
          ? {}
          : {
              maxRangesPerMessage: 4 + rng.int(20),
              maxItemsPerMessage: 1 + rng.int(40),
            }
      if (seed % 2 === 1) {
        options.itemsThreshold = 1 + rng.int(options.maxItemsPerMessage as number)
        options.branching = 2 + rng.int((options.maxRangesPerMessage as number) - 3)
      }
      assertSettled(reconcile(a, b, options, 20_000), onlyA, onlyB)
    }
  })

  test('tight limits still terminate with 1,000 differences among 5,000 items', () => {
    const { a, b, onlyA, onlyB } = withDifferences('tight', 5_000, 1000)
    const options = {
      maxRangesPerMessage: 4,
      maxItemsPerMessage: 8,
      itemsThreshold: 4,
      branching: 2,
    }
    assertSettled(reconcile(a, b, options, 20_000), onlyA, onlyB)
  })

  test('a peer with larger limits than mine', () => {
    const { a, b, onlyA, onlyB } = withDifferences('mixed', 20_000, 1000)
    const big = new Reconciler(new ArraySource(a))
    const small = new Reconciler(new ArraySource(b), {
      maxRangesPerMessage: 16,
      maxItemsPerMessage: 64,
      itemsThreshold: 8,
      branching: 4,
    })
    const got = {
      aHave: [] as Item[],
      aNeed: [] as Item[],
      bHave: [] as Item[],
      bNeed: [] as Item[],
    }
    let message: ReconcileMessage | undefined = big.initiate()
    let toSmall = true
    let messages = 0
    while (message !== undefined) {
      assert.ok(++messages < 5000)
      const r = (toSmall ? small : big).receive(decodeReconcile(encodeReconcile(message)))
      ;(toSmall ? got.bHave : got.aHave).push(...r.have)
      ;(toSmall ? got.bNeed : got.aNeed).push(...r.need)
      if (toSmall) assert.ok(r.reply === undefined || r.reply.ranges.length <= 16)
      message = r.reply
      toSmall = !toSmall
    }
    assertSettled({ ...got, messages, bytes: 0 }, onlyA, onlyB)
  })
})

describe('reconcile: malformed messages', () => {
  const rng = new SeededRandom('malformed')
  const sample = withDifferences('sample', 3000, 40)
  const a = new Reconciler(new ArraySource(sample.a))
  const first = a.initiate()
  const reply = new Reconciler(new ArraySource(sample.b)).receive(first).reply as ReconcileMessage
  const valid = encodeReconcile(reply)

  const malformed = (bytes: Uint8Array, label: string): void => {
    throwsPeerError(() => decodeReconcile(bytes), 'PEER_E_MALFORMED_MESSAGE', label)
  }
  const wire = (r: unknown[], v: unknown = 1): Uint8Array => encodeCbor({ v, r })
  const fp = new Uint8Array(16).fill(7)

  test('a valid message round-trips', () => {
    assert.ok(reply.ranges.length > 1)
    const back = decodeReconcile(valid)
    assert.deepEqual(encodeReconcile(back), valid)
    assert.deepEqual(decodeReconcile(wire([])), { ranges: [] })
  })

  test('ranges out of order, empty or not canonical', () => {
    malformed(
      wire([
        [10, new Uint8Array(0), 0],
        [0, new Uint8Array(0), 0],
      ]),
      'equal bounds',
    )
    malformed(
      wire([
        [10, Uint8Array.of(5), 0],
        [0, Uint8Array.of(4), 0],
      ]),
      'descending prefix',
    )
    malformed(wire([[0, new Uint8Array(0), 0]]), 'a first range ending at MIN_BOUND')
    malformed(wire([[10, Uint8Array.of(5, 0), 0]]), 'a prefix ending in zero')
    malformed(wire([[10, new Uint8Array(17), 0]]), 'a 17-byte prefix')
    malformed(
      wire([[Number.MAX_SAFE_INTEGER, Uint8Array.of(1), 0]]),
      'a prefix at the maximum time',
    )
    malformed(
      wire([
        [Number.MAX_SAFE_INTEGER, new Uint8Array(0), 0],
        [1, new Uint8Array(0), 0],
      ]),
      'a range beyond MAX_BOUND',
    )
    // The same through receive(), for messages that never touched the wire.
    const bound = (time: number): Bound => ({ time, digest: new Uint8Array(0) })
    throwsPeerError(
      () =>
        a.receive({
          ranges: [
            { upper: bound(20), mode: 'skip' },
            { upper: bound(10), mode: 'skip' },
          ],
        }),
      'PEER_E_MALFORMED_MESSAGE',
    )
  })

  test('short digests and fingerprints', () => {
    malformed(wire([[10, new Uint8Array(0), 1, new Uint8Array(15)]]), 'a 15-byte fingerprint')
    malformed(wire([[10, new Uint8Array(0), 2, [1, 1], new Uint8Array(31)]]), 'digests of 31 bytes')
    malformed(wire([[10, new Uint8Array(0), 2, [1], new Uint8Array(0)]]), 'one time, no digest')
    throwsPeerError(
      () =>
        a.receive({
          ranges: [
            { upper: MAX_BOUND, mode: 'items', items: [{ time: 1, digest: new Uint8Array(8) }] },
          ],
        }),
      'PEER_E_MALFORMED_MESSAGE',
    )
  })

  test('items out of order or outside their range', () => {
    const d = new Uint8Array(32).fill(1)
    malformed(wire([[10, new Uint8Array(0), 2, [5, 0], d]]), 'two equal items')
    malformed(
      wire([[10, new Uint8Array(0), 2, [10], d.subarray(16)]]),
      'an item at the upper bound',
    )
    malformed(wire([[10, new Uint8Array(0), 2, [20], d.subarray(16)]]), 'an item above the range')
    malformed(
      wire([
        [Number.MAX_SAFE_INTEGER, new Uint8Array(0), 2, [Number.MAX_SAFE_INTEGER], d.subarray(16)],
      ]),
      'an item time beyond MAX_ITEM_TIME',
    )
  })

  test('huge counts are refused before anything is built', () => {
    const many = Array.from({ length: MAX_RANGES_PER_MESSAGE + 1 }, () => [1, new Uint8Array(0), 0])
    malformed(wire(many), 'too many ranges')
    const n = 1100
    const half = Array.from({ length: n }, () => 1)
    const digests = new Uint8Array(16 * n)
    malformed(
      wire([
        [n + 1, new Uint8Array(0), 2, half, digests],
        [n + 1, new Uint8Array(0), 2, half, digests],
      ]),
      'too many items',
    )
    // A header that claims 2^32 ranges in a few bytes.
    malformed(
      Uint8Array.of(0xa2, 0x61, 0x72, 0x9a, 0xff, 0xff, 0xff, 0xff, 0x61, 0x76, 0x01),
      'a lying count',
    )
    // A byte string that claims 2^32 bytes.
    malformed(
      Uint8Array.of(0xa2, 0x61, 0x72, 0x81, 0x84, 0x01, 0x40, 0x01, 0x5a, 0xff, 0xff, 0xff, 0xff),
      'a lying length',
    )
  })

  test('wrong types', () => {
    const cases: Array<[unknown, string]> = [
      [[1, 2], 'an array'],
      ['text', 'text'],
      [{ v: 1 }, 'no ranges'],
      [{ r: [] }, 'no version'],
      [{ v: '1', r: [] }, 'a text version'],
      [{ v: 1, r: {} }, 'ranges as a map'],
      [{ v: 1, r: [], x: 1 }, 'an unknown key'],
      [{ v: 1, r: [[10, 'ab', 0]] }, 'a text prefix'],
      [{ v: 1, r: [[-1, new Uint8Array(0), 0]] }, 'a negative time'],
      [{ v: 1, r: [[10, new Uint8Array(0), 3]] }, 'an unknown mode'],
      [{ v: 1, r: [[10, new Uint8Array(0), 0, fp]] }, 'a skip with a fingerprint'],
      [{ v: 1, r: [[10, new Uint8Array(0), 1]] }, 'a fingerprint without one'],
      [{ v: 1, r: [[10, new Uint8Array(0), 2, fp, fp]] }, 'item times as bytes'],
      [{ v: 1, r: [[10, new Uint8Array(0), 2, ['x'], fp]] }, 'an item time as text'],
      [{ v: 1, r: [[true, new Uint8Array(0), 0]] }, 'a boolean time'],
      [{ v: 1, r: [null] }, 'a null range'],
      [{ v: 1, r: [[10, new Uint8Array(0), { m: 0 }]] }, 'a map mode'],
    ]
    for (const [value, label] of cases) malformed(encodeCbor(value), label)
    throwsPeerError(() => decodeReconcile(wire([], 2)), 'PEER_E_UNSUPPORTED_VERSION')
    for (const bad of [
      null,
      1,
      {},
      { ranges: 'x' },
      { ranges: [{ upper: MAX_BOUND, mode: 'nope' }] },
    ]) {
      throwsPeerError(() => validateReconcile(bad), 'PEER_E_MALFORMED_MESSAGE')
    }
  })

  test('truncated encodings', () => {
    for (let n = 0; n < valid.length; n++) malformed(valid.subarray(0, n), `truncated to ${n}`)
  })

  test('a seeded fuzz of 1,000 random inputs throws nothing but PEER_E_MALFORMED_MESSAGE', () => {
    let refused = 0
    for (let i = 0; i < 1000; i++) {
      const bytes = rng.bytes(rng.int(300))
      try {
        validateReconcile(decodeReconcile(bytes))
      } catch (err) {
        assertPeerError(err, 'PEER_E_MALFORMED_MESSAGE', `input ${i}`)
        refused++
      }
    }
    assert.equal(refused, 1000)
  })

  test('a seeded fuzz of 1,000 mutated valid messages never throws anything unexpected', () => {
    const receiver = new Reconciler(new ArraySource(sample.a))
    for (let i = 0; i < 1000; i++) {
      const bytes = new Uint8Array(valid)
      for (let k = 1 + rng.int(4); k > 0; k--) bytes[rng.int(bytes.length)] = rng.int(256)
      let message: ReconcileMessage
      try {
        message = decodeReconcile(bytes)
      } catch (err) {
        assert.ok(err instanceof PeerError, `input ${i}: ${String(err)}`)
        assert.ok(
          err.code === 'PEER_E_MALFORMED_MESSAGE' || err.code === 'PEER_E_UNSUPPORTED_VERSION',
          `input ${i}: ${err.code}`,
        )
        continue
      }
      // What decodes is well-formed, and a reconciler answers it within its limits.
      const r = receiver.receive(message)
      assert.ok((r.reply?.ranges.length ?? 0) <= MAX_RANGES_PER_MESSAGE)
    }
  })
})
