import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { decode as cborgDecode, encode as cborgEncode, rfc8949EncodeOptions } from 'cborg'
import { decodeCbor, encodeCbor, scanCbor } from '../../src/wire/cbor.ts'
import { encodeSubset } from '../../src/wire/cbor-encoder.ts'
import { MAX_CBOR_BYTES, MAX_CBOR_DEPTH, MAX_CBOR_ITEMS } from '../../src/wire/constants.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

/** Hex (spaces allowed) to bytes. */
function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'))
}

function toHexString(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/** A short test name for a value. */
function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `bytes of ${value.length}`
  if (typeof value === 'string' && value.length > 40) return `text of ${value.length}`
  const json = JSON.stringify(value)
  return json.length > 60 ? `${json.slice(0, 57)}...` : json
}

function malformed(bytes: Uint8Array, message?: RegExp): PeerError {
  return throwsPeerError(() => decodeCbor(bytes), 'PEER_E_MALFORMED_MESSAGE', message)
}

describe('encodeCbor', () => {
  test('matches the RFC 8949 appendix A vectors of our subset', () => {
    const vectors: Array<[unknown, string]> = [
      [0, '00'],
      [1, '01'],
      [10, '0a'],
      [23, '17'],
      [24, '1818'],
      [25, '1819'],
      [100, '1864'],
      [1000, '1903e8'],
      [1000000, '1a000f4240'],
      [1000000000000, '1b000000e8d4a51000'],
      [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
      [-1, '20'],
      [-10, '29'],
      [-100, '3863'],
      [-1000, '3903e7'],
      [false, 'f4'],
      [true, 'f5'],
      [null, 'f6'],
      [new Uint8Array(0), '40'],
      [new Uint8Array([1, 2, 3, 4]), '4401020304'],
      ['', '60'],
      ['a', '6161'],
      ['IETF', '6449455446'],
      ['"\\', '62225c'],
      ['\u00fc', '62c3bc'],
      ['\u6c34', '63e6b0b4'],
      ['\u{10151}', '64f0908591'],
      [[], '80'],
      [[1, 2, 3], '83010203'],
      [[1, [2, 3], [4, 5]], '8301820203820405'],
      [
        Array.from({ length: 25 }, (_, i) => i + 1),
        '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
      ],
      [{}, 'a0'],
      [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
      [['a', { b: 'c' }], '826161a161626163'],
      [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
    ]
    for (const [value, expected] of vectors) {
      assert.equal(toHexString(encodeCbor(value)), expected, JSON.stringify(value))
    }
  })

  test('map key order does not depend on insertion order', () => {
    const a = encodeCbor({ b: 1, a: 2, aa: 3, z: 4, '': 5 })
    const b = encodeCbor({ '': 5, z: 4, aa: 3, a: 2, b: 1 })
    const c = encodeCbor(
      Object.fromEntries([
        ['aa', 3],
        ['z', 4],
        ['a', 2],
        ['', 5],
        ['b', 1],
      ]),
    )
    assert.deepEqual(a, b)
    assert.deepEqual(a, c)
    // Bytewise order of the encoded keys: shorter keys first, then by their bytes.
    assert.equal(toHexString(a), 'a5' + '6005' + '616102' + '616201' + '617a04' + '62616103')
  })

  test('nested maps are ordered too', () => {
    const one = encodeCbor({ outer: { y: [{ q: 1, p: 2 }], x: true }, a: null })
    const two = encodeCbor({ a: null, outer: { x: true, y: [{ p: 2, q: 1 }] } })
    assert.deepEqual(one, two)
  })

  test('the same value always gives the same bytes', () => {
    const value = { list: [1, -2, 'three', new Uint8Array([4])], flag: false }
    assert.deepEqual(encodeCbor(value), encodeCbor(structuredClone(value)))
  })
})

describe('decodeCbor round trips', () => {
  const values: unknown[] = [
    0,
    1,
    23,
    24,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    -1,
    -24,
    -25,
    -256,
    -257,
    -(2 ** 32),
    -(2 ** 32) - 1,
    Number.MIN_SAFE_INTEGER,
    true,
    false,
    null,
    new Uint8Array(0),
    new Uint8Array([0, 255, 128]),
    new Uint8Array(300).fill(7),
    '',
    'peer',
    'héllo wörld ✓ 😀',
    'x'.repeat(70_000),
    [],
    [1, 'two', [3, [4, [5]]]],
    {},
    { a: 1 },
    { name: 'alice', key: new Uint8Array([1, 2]), tags: ['x', 'y'], nested: { ok: true, n: null } },
    [{ a: [] }, { b: {} }, [new Uint8Array([9])]],
    Array.from({ length: 1000 }, (_, i) => i * 1000),
  ]

  for (const value of values) {
    test(`round trips ${describeValue(value)}`, () => {
      const bytes = encodeCbor(value)
      assert.deepEqual(decodeCbor(bytes), value)
      assert.equal(scanCbor(bytes), undefined)
    })
  }

  test('accepts a Buffer and a view into a larger buffer', () => {
    assert.equal(decodeCbor(Buffer.from([0x18, 0x64])), 100)
    const big = hex('ff ff 82 01 02 ff')
    assert.deepEqual(decodeCbor(big.subarray(2, 5)), [1, 2])
  })

  test('decoded bytes do not alias the input', () => {
    const input = encodeCbor({ k: new Uint8Array([1, 2, 3]) })
    const value = decodeCbor(input) as { k: Uint8Array }
    input.fill(0)
    assert.deepEqual(value.k, new Uint8Array([1, 2, 3]))
  })

  test('integers at the safe limits decode; one beyond does not', () => {
    assert.equal(decodeCbor(hex('1b 001fffffffffffff')), Number.MAX_SAFE_INTEGER)
    assert.equal(decodeCbor(hex('3b 001ffffffffffffe')), Number.MIN_SAFE_INTEGER)
    malformed(hex('1b 0020000000000000'))
    malformed(hex('1b ffffffffffffffff'))
    malformed(hex('3b 001fffffffffffff'))
    malformed(hex('3b ffffffffffffffff'))
  })

  test('a custom code and description are used', () => {
    const err = throwsPeerError(
      () => decodeCbor(hex('c1 00'), { code: 'PEER_E_INVALID_RECORD', what: 'graph record' }),
      'PEER_E_INVALID_RECORD',
      /^graph record is malformed: tag/,
    )
    assert.equal(err.hresultHex, '0x80632010')
  })
})

describe('decodeCbor refuses input outside the subset', () => {
  test('tags', () => {
    malformed(hex('c1 00'), /tag/)
    malformed(hex('c0 6131'), /tag/)
    malformed(hex('d8 20 6161'), /tag/)
    malformed(hex('82 01 c2 41 01'), /tag/)
  })

  test('indefinite lengths', () => {
    malformed(hex('9f 01 02 ff'), /indefinite/)
    malformed(hex('bf 6161 01 ff'), /indefinite/)
    malformed(hex('5f 41 01 ff'), /indefinite/)
    malformed(hex('7f 61 61 ff'), /indefinite/)
    malformed(hex('ff'))
  })

  test('floats, undefined and other simple values', () => {
    for (const bytes of [
      'f9 3c00',
      'fa 3f800000',
      'fb 3ff0000000000000',
      'f9 7e00',
      'f9 7c00',
      'f7',
      'f0',
      'f8 20',
      'f8 14',
      '81 fb 0000000000000000',
    ]) {
      // A 64-bit float may be refused for its size before its type; either way it is refused.
      malformed(hex(bytes), /simple value or float|beyond 2\^53-1/)
    }
  })

  test('reserved additional information values', () => {
    for (const bytes of ['1c', '3d', '5e', 'fc']) malformed(hex(bytes), /reserved/)
  })

  test('map keys that are not text', () => {
    malformed(hex('a1 01 02'), /not text/)
    malformed(hex('a1 20 02'), /not text/)
    malformed(hex('a1 41 61 02'), /not text/)
    malformed(hex('a1 80 02'), /not text/)
    malformed(hex('a1 f6 02'), /not text/)
    malformed(hex('a2 6161 01 02 03'), /not text/)
  })

  test('duplicate map keys', () => {
    malformed(hex('a2 6161 01 6161 02'))
    malformed(hex('a3 6161 01 6162 02 6161 03'))
  })

  test('non-minimal integer and length encodings', () => {
    for (const bytes of [
      '18 17',
      '19 0017',
      '19 00ff',
      '1a 0000ffff',
      '1b 00000000ffffffff',
      '38 00',
      '39 0000',
      '58 01 00',
      '78 01 61',
      '98 01 00',
      'b8 01 6161 00',
      '5900 01 00',
      'a1 78 01 61 00',
    ]) {
      malformed(hex(bytes))
    }
  })

  test('map keys out of canonical order', () => {
    // {"b": 1, "a": 2}: must be a before b.
    malformed(hex('a2 6162 01 6161 02'), /deterministic/)
    // {"aa": 1, "b": 2}: the shorter key comes first.
    malformed(hex('a2 626161 01 6162 02'), /deterministic/)
    // Nested map out of order.
    malformed(hex('81 a2 6162 01 6161 02'), /deterministic/)
    // The same maps in order are fine.
    assert.deepEqual(decodeCbor(hex('a2 6161 02 6162 01')), { a: 2, b: 1 })
    assert.deepEqual(decodeCbor(hex('a2 6162 02 626161 01')), { b: 2, aa: 1 })
  })

  test('invalid UTF-8 in text', () => {
    malformed(hex('62 fffe'))
    malformed(hex('61 80'))
    malformed(hex('63 eda080'))
  })

  test('trailing bytes', () => {
    malformed(hex('01 00'), /trailing/)
    malformed(hex('82 01 02 03'), /trailing/)
    malformed(hex('a0 a0'), /trailing/)
  })

  test('truncated input', () => {
    for (const bytes of [
      '',
      '18',
      '19 01',
      '1a 0000',
      '1b 00000000000000',
      '62 61',
      '44 0102',
      '82 01',
      '81',
      'a1 6161',
      'a1',
      'a2 6161 01 6162',
      '83 01 82 02',
    ]) {
      malformed(hex(bytes), /truncated|overruns/)
    }
  })

  test('a byte string longer than the input fails before allocating', () => {
    // 0x5a declares 2^32 - 1 bytes; only 3 follow. Decoding must not try to allocate 4 GB.
    const heapBefore = process.memoryUsage().arrayBuffers
    for (const bytes of [
      '5a ffffffff 010203',
      '7a ffffffff 616161',
      '5b 0000000100000000 01',
      '5b 001fffffffffffff 01',
      '5b ffffffffffffffff 01',
      '82 01 5a ffffffff 01',
      'a1 7a ffffffff 61',
    ]) {
      malformed(hex(bytes), /overruns|beyond/)
    }
    assert.ok(process.memoryUsage().arrayBuffers - heapBefore < 64 * 1024 * 1024)
  })

  test('an array or map count beyond the input fails before allocating', () => {
    malformed(hex('9a ffffffff 01 02'), /overruns/)
    malformed(hex('9b 001fffffffffffff 01'), /overruns/)
    malformed(hex('ba ffffffff 6161 01'), /overruns/)
    malformed(hex('99 ffff'), /overruns/)
    // A map of n entries needs 2n items: one entry with one byte left is short.
    malformed(hex('a1 60'), /overruns|truncated/)
  })

  test('nesting up to MAX_CBOR_DEPTH is accepted, deeper is refused', () => {
    assert.equal(MAX_CBOR_DEPTH, 16)
    const nested = (depth: number): Uint8Array => hex('81'.repeat(depth - 1) + '80')
    let expected: unknown = []
    for (let i = 1; i < MAX_CBOR_DEPTH; i++) expected = [expected]
    assert.deepEqual(decodeCbor(nested(MAX_CBOR_DEPTH)), expected)
    malformed(nested(MAX_CBOR_DEPTH + 1), /nesting deeper than 16/)
    malformed(nested(10_000), /nesting deeper than 16/)
    // Maps count too.
    const maps = (depth: number): Uint8Array => hex('a1 6161'.repeat(depth - 1) + 'a0')
    assert.ok(decodeCbor(maps(MAX_CBOR_DEPTH)))
    malformed(maps(MAX_CBOR_DEPTH + 1), /nesting/)
  })

  test('a custom maxDepth is honoured', () => {
    assert.deepEqual(decodeCbor(hex('82 01 02'), { maxDepth: 1 }), [1, 2])
    assert.equal(decodeCbor(hex('01'), { maxDepth: 0 }), 1)
    throwsPeerError(
      () => decodeCbor(hex('81 80'), { maxDepth: 1 }),
      'PEER_E_MALFORMED_MESSAGE',
      /nesting deeper than 1/,
    )
    throwsPeerError(() => decodeCbor(hex('80'), { maxDepth: 0 }), 'PEER_E_MALFORMED_MESSAGE')
  })

  test('more than maxItems items', () => {
    // An array of 10 is 11 items (the array and its entries).
    const ten = encodeCbor(Array.from({ length: 10 }, (_, i) => i))
    assert.equal((decodeCbor(ten, { maxItems: 11 }) as unknown[]).length, 10)
    throwsPeerError(
      () => decodeCbor(ten, { maxItems: 10 }),
      'PEER_E_MALFORMED_MESSAGE',
      /more than 10 items/,
    )
    // Map keys count as items too: {a: 1} is 3 items.
    assert.deepEqual(decodeCbor(encodeCbor({ a: 1 }), { maxItems: 3 }), { a: 1 })
    throwsPeerError(
      () => decodeCbor(encodeCbor({ a: 1 }), { maxItems: 2 }),
      'PEER_E_MALFORMED_MESSAGE',
    )
    // The default limit.
    const many = encodeCbor(new Array<number>(MAX_CBOR_ITEMS).fill(0))
    malformed(many, /more than 100000 items/)
    assert.equal(
      (decodeCbor(encodeCbor(new Array<number>(MAX_CBOR_ITEMS - 1).fill(0))) as unknown[]).length,
      MAX_CBOR_ITEMS - 1,
    )
  })

  test('input above maxBytes is PEER_E_TOO_LARGE, with size and limit', () => {
    const bytes = encodeCbor('x'.repeat(100))
    assert.equal(decodeCbor(bytes, { maxBytes: bytes.length }), 'x'.repeat(100))
    const err = throwsPeerError(
      () => decodeCbor(bytes, { maxBytes: bytes.length - 1, what: 'PNRP message' }),
      'PEER_E_TOO_LARGE',
      /^PNRP message is 102 bytes; the limit is 101/,
    )
    assert.deepEqual(err.details, { size: 102, limit: 101 })
    assert.equal(MAX_CBOR_BYTES, 16 * 1024 * 1024)
    throwsPeerError(() => decodeCbor(new Uint8Array(MAX_CBOR_BYTES + 1)), 'PEER_E_TOO_LARGE')
  })

  test('input that is not a Uint8Array', () => {
    const notBytes: unknown[] = [
      'a1',
      [0x01],
      null,
      undefined,
      42,
      new ArrayBuffer(1),
      new Uint16Array(1),
      new DataView(new ArrayBuffer(1)),
      { length: 1, 0: 1 },
    ]
    for (const value of notBytes) {
      throwsPeerError(
        () => decodeCbor(value as Uint8Array),
        'PEER_E_MALFORMED_MESSAGE',
        /expected bytes/,
      )
    }
  })
})

describe('decodeCbor fuzz', () => {
  /** Valid encodings that mutations start from. */
  const seeds: Uint8Array[] = [
    0,
    24,
    1000,
    -500,
    2 ** 40,
    'text',
    'ünïcødé',
    new Uint8Array([1, 2, 3, 4, 5]),
    [1, [2, [3, [4]]]],
    { a: 1, bb: [true, false, null], c: { d: new Uint8Array(3), e: '' } },
    {
      v: 1,
      name: 'peer',
      addrs: [
        ['::1', 3587],
        ['fe80::1', 3540],
      ],
    },
  ].map(encodeCbor)

  function mutate(random: SeededRandom, input: Uint8Array): Uint8Array {
    const out = Array.from(input)
    const count = 1 + random.int(3)
    for (let k = 0; k < count; k++) {
      const op = random.int(3)
      const at = random.int(out.length + 1)
      if (op === 0 && at < out.length) out[at] = (out[at] ?? 0) ^ (1 << random.int(8))
      else if (op === 1) out.splice(at, 0, random.int(256))
      else out.splice(at, 1)
    }
    return new Uint8Array(out)
  }

  /** Decodes 1,000 random and 1,000 mutated inputs; returns how many were accepted. */
  function run(seed: string): { accepted: number; rejected: number } {
    const random = new SeededRandom(seed)
    const inputs: Uint8Array[] = []
    for (let i = 0; i < 1000; i++) inputs.push(random.bytes(random.int(65)))
    for (let i = 0; i < 1000; i++) {
      inputs.push(mutate(random, seeds[random.int(seeds.length)] ?? new Uint8Array(0)))
    }
    let accepted = 0
    let rejected = 0
    for (const input of inputs) {
      let value: unknown
      try {
        value = decodeCbor(input, { maxItems: 1000 })
      } catch (err) {
        if (!(err instanceof PeerError)) {
          assert.fail(`input ${toHexString(input)} threw ${String(err)}, not a PeerError`)
        }
        assert.ok(
          err.code === 'PEER_E_MALFORMED_MESSAGE',
          `input ${toHexString(input)} gave ${err.code}`,
        )
        rejected++
        continue
      }
      // Whatever is accepted is canonical: it encodes back to exactly the input.
      assert.equal(toHexString(encodeCbor(value)), toHexString(input))
      accepted++
    }
    return { accepted, rejected }
  }

  test('random and mutated inputs give a value or a PeerError, deterministically', () => {
    const first = run('cbor-fuzz')
    const second = run('cbor-fuzz')
    assert.equal(first.accepted + first.rejected, 2000)
    assert.equal(second.accepted, first.accepted)
    assert.equal(second.rejected, first.rejected)
    // Both kinds of outcome occur, so the fuzz exercises the decoder and the scanner.
    assert.ok(first.accepted > 0 && first.rejected > 0, JSON.stringify(first))
  })
})

describe('encodeCbor refuses what decoders would refuse', () => {
  test('floats, undefined and integers beyond 2^53-1', () => {
    throwsPeerError(() => encodeCbor(1.5), 'E_INVALIDARG', /outside the CBOR subset/)
    throwsPeerError(() => encodeCbor([undefined]), 'E_INVALIDARG', /outside the CBOR subset/)
    throwsPeerError(() => encodeCbor(2 ** 53), 'E_INVALIDARG', /outside the CBOR subset/)
  })

  test('an 8-byte float is named as a float, not as a big integer', () => {
    const float64 = new Uint8Array([0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0])
    assert.match(scanCbor(float64) ?? '', /float/)
  })
})

/** A random value of the subset, with the edge cases of headers, keys and text. */
function randomSubsetValue(r: SeededRandom, depth: number): unknown {
  const texts = [
    '',
    'a',
    'b',
    'aa',
    'ab',
    'ba',
    'é',
    '日本',
    '😀',
    '\u0000',
    '__proto__',
    'x'.repeat(30),
  ]
  const ints = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]
  switch (r.int(depth > 3 ? 5 : 8)) {
    case 0: {
      const n = ints[r.int(ints.length)]!
      return r.int(2) === 0 ? n : -n - (n < 2 ** 53 - 1 ? r.int(2) : 0)
    }
    case 1:
      return texts[r.int(texts.length)]! + (r.int(3) === 0 ? String(r.int(1000)) : '')
    case 2:
      return r.bytes(r.int(4) === 0 ? r.int(70_000) : r.int(30))
    case 3:
      return [true, false, null][r.int(3)]
    case 4:
      return Buffer.from(r.bytes(r.int(10)))
    case 5:
    case 6:
      return Array.from({ length: r.int(6) }, () => randomSubsetValue(r, depth + 1))
    default: {
      const map: Record<string, unknown> = {}
      for (let i = r.int(6); i > 0; i--) {
        // Defined, not assigned: "__proto__" is a key like any other.
        const key = texts[r.int(texts.length)]! + (r.int(2) === 0 ? String(r.int(40)) : '')
        Object.defineProperty(map, key, {
          value: randomSubsetValue(r, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        })
      }
      return map
    }
  }
}

describe('the direct encoder', () => {
  test("gives cborg's deterministic bytes for 5,000 random values", () => {
    const r = new SeededRandom('cbor-direct-encoder')
    for (let i = 0; i < 5_000; i++) {
      const value = randomSubsetValue(r, 0)
      const direct = encodeSubset(value)
      assert.ok(direct, `inside the subset: ${describeValue(value)}`)
      assert.equal(
        toHexString(direct),
        toHexString(cborgEncode(value, rfc8949EncodeOptions)),
        describeValue(value),
      )
    }
  })

  test('leaves everything else to cborg: floats, -2^53, undefined, Maps, bigints', () => {
    for (const value of [1.5, -(2 ** 53), NaN, undefined, { a: undefined }]) {
      assert.equal(encodeSubset(value), undefined)
      throwsPeerError(() => encodeCbor(value), 'E_INVALIDARG')
    }
    assert.equal(encodeSubset(new Map([['a', 1]])), undefined)
    assert.equal(toHexString(encodeCbor(new Map([['a', 1]]))), 'a1616101')
    assert.equal(encodeSubset(10n), undefined)
    assert.equal(toHexString(encodeCbor(10n)), '0a')
    assert.equal(encodeSubset(new Uint16Array(2)), undefined)
    assert.equal(encodeSubset(new Date(0)), undefined)
  })

  test('an empty map and a map with the empty key are different shapes', () => {
    assert.equal(toHexString(encodeCbor([{}, { '': 1 }, {}])), '83a0a16001a0')
  })
})

describe('the direct decoder', () => {
  const CBORG_OPTIONS = {
    strict: true,
    allowIndefinite: false,
    allowUndefined: false,
    allowInfinity: false,
    allowNaN: false,
    allowBigInt: false,
    rejectDuplicateMapKeys: true,
    useMaps: false,
  } as const

  test("gives cborg's values for 3,000 random and mutated documents", () => {
    const r = new SeededRandom('cbor-direct-decoder')
    let decoded = 0
    for (let i = 0; i < 3_000; i++) {
      const bytes = new Uint8Array(encodeCbor(randomSubsetValue(r, 0)))
      if (i % 2 === 1)
        for (let k = 1 + r.int(3); k > 0; k--) bytes[r.int(bytes.length)] = r.int(256)
      if (scanCbor(bytes)) continue
      const theirs: unknown = cborgDecode(bytes, CBORG_OPTIONS)
      assert.deepStrictEqual(decodeCbor(bytes), theirs, toHexString(bytes))
      decoded++
    }
    assert.ok(decoded > 1_500, `${decoded} documents decoded`)
  })

  test('byte strings are plain copies, also when the input is a Buffer', () => {
    const input = Buffer.from(hex('81 43 010203'))
    const [bytes] = decodeCbor(input) as [Uint8Array]
    assert.equal(bytes.constructor, Uint8Array)
    input[2] = 9
    assert.deepEqual([...bytes], [1, 2, 3])
  })

  test('-2^53 is refused, as cborg refuses it; "__proto__" is an own key', () => {
    malformed(hex('3b 001fffffffffffff'), /beyond 2\^53-1/)
    assert.equal(decodeCbor(hex('3b 001ffffffffffffe')), -(2 ** 53 - 1))
    const value = decodeCbor(hex('a1 69 5f5f70726f746f5f5f 01')) as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
    assert.deepEqual(Object.keys(value), ['__proto__'])
  })
})
