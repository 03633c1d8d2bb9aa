import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import { encodeCbor } from '../../src/wire/cbor.ts'
import * as s from '../../src/wire/schema.ts'
import {
  SchemaError,
  checkValue,
  decodeMessage,
  type Infer,
  type Schema,
} from '../../src/wire/schema.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

/** Checks that `schema` refuses `value` with a SchemaError at `path` whose message matches. */
function refuses(schema: Schema<unknown>, value: unknown, path: string, problem?: RegExp): void {
  assert.throws(
    () => schema.check(value),
    (err: unknown) => {
      assert.ok(err instanceof SchemaError, `expected SchemaError, got ${String(err)}`)
      assert.equal(err.path, path)
      assert.ok(err.message.startsWith(`${path || 'value'}: `), err.message)
      if (problem) assert.match(err.problem, problem)
      return true
    },
  )
}

describe('scalar schemas', () => {
  test('int accepts safe integers in range, refuses others', () => {
    const any = s.int()
    for (const v of [0, -1, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      assert.equal(any.check(v), v)
    }
    for (const v of [1.5, Number.NaN, Infinity, 2 ** 53, '1', null, undefined, 1n, true]) {
      refuses(any, v, '', /expected an integer/)
    }
    const ranged = s.int({ min: -5, max: 5 })
    assert.equal(ranged.check(-5), -5)
    assert.equal(ranged.check(5), 5)
    refuses(ranged, -6, '', /-6 is outside -5\.\.5/)
    refuses(ranged, 6, '', /6 is outside -5\.\.5/)
    assert.equal(ranged.description, 'integer -5..5')
  })

  test('uint is 0..max', () => {
    const u = s.uint(255)
    assert.equal(u.check(0), 0)
    assert.equal(u.check(255), 255)
    refuses(u, -1, '', /outside 0\.\.255/)
    refuses(u, 256, '', /outside 0\.\.255/)
    assert.equal(s.uint().check(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)
    refuses(s.uint(), -1, '')
  })

  test('bool accepts booleans only', () => {
    assert.equal(s.bool().check(true), true)
    assert.equal(s.bool().check(false), false)
    for (const v of [0, 1, 'true', null, undefined]) refuses(s.bool(), v, '', /expected a boolean/)
  })

  test('bytes with an exact length', () => {
    const key = s.bytes({ length: 4, max: 4 })
    const ok = new Uint8Array([1, 2, 3, 4])
    assert.equal(key.check(ok), ok)
    refuses(key, new Uint8Array(3), '', /expected 4 bytes, got 3/)
    refuses(key, new Uint8Array(5), '', /expected 4 bytes, got 5/)
    refuses(key, [1, 2, 3, 4], '', /expected bytes, got array/)
    refuses(key, 'abcd', '', /expected bytes, got string/)
    assert.equal(key.check(Buffer.from([9, 9, 9, 9])).length, 4)
  })

  test('bytes with min and max', () => {
    const blob = s.bytes({ min: 2, max: 4 })
    assert.equal(blob.check(new Uint8Array(2)).length, 2)
    assert.equal(blob.check(new Uint8Array(4)).length, 4)
    refuses(blob, new Uint8Array(1), '', /1 bytes is outside 2\.\.4/)
    refuses(blob, new Uint8Array(5), '', /5 bytes is outside 2\.\.4/)
    assert.equal(s.bytes({ max: 1 }).check(new Uint8Array(0)).length, 0)
  })

  test('text counts its size in UTF-8 bytes', () => {
    const t = s.text({ maxBytes: 4 })
    assert.equal(t.check('abcd'), 'abcd')
    assert.equal(t.check('aé'), 'aé') // 1 + 2 bytes
    assert.equal(t.check('😀'), '😀') // 4 bytes, 2 UTF-16 units
    assert.equal(t.check(''), '')
    refuses(t, 'abcde', '', /longer than 4 bytes/)
    refuses(t, 'ééé', '', /text of 6 bytes is outside 0\.\.4/) // length 3, 6 bytes
    refuses(t, 'a€€', '', /7 bytes/)
    refuses(t, '😀a', '', /5 bytes/)
    refuses(t, 42, '', /expected text, got number/)
    refuses(t, new Uint8Array(1), '', /expected text, got bytes/)
  })

  test('text minBytes and pattern', () => {
    const name = s.text({ minBytes: 2, maxBytes: 10, pattern: /^[a-z]+$/ })
    assert.equal(name.check('ab'), 'ab')
    refuses(name, 'a', '', /text of 1 bytes is outside 2\.\.10/)
    refuses(name, 'é', '', /does not match/) // 2 bytes: size passes, pattern fails
    refuses(name, 'AB', '', /does not match \/\^\[a-z\]\+\$\//)
    assert.equal(name.description, 'text of 2..10 bytes')
  })

  test('literal accepts exactly its value', () => {
    assert.equal(s.literal('peer').check('peer'), 'peer')
    assert.equal(s.literal(1).check(1), 1)
    assert.equal(s.literal(true).check(true), true)
    assert.equal(s.literal(null).check(null), null)
    refuses(s.literal('peer'), 'Peer', '', /expected "peer", got "Peer"/)
    refuses(s.literal(1), '1', '', /expected 1, got "1"/)
    refuses(s.literal(null), undefined, '', /expected null, got undefined/)
    refuses(s.literal(true), 1, '', /expected true, got 1/)
  })

  test('literal keeps its message short for large values', () => {
    const big = new Uint8Array(100_000)
    assert.throws(
      () => s.literal(1).check(big),
      (err: unknown) =>
        err instanceof SchemaError && err.message === 'value: expected 1, got bytes',
    )
    assert.throws(
      () => s.literal('a').check('x'.repeat(100_000)),
      (err: unknown) => err instanceof SchemaError && err.message.length < 100,
    )
    refuses(s.literal(1), [1], '', /got array/)
    refuses(s.literal(1), { a: 1 }, '', /got object/)
    refuses(s.literal(1), 1n, '', /got bigint/)
  })

  test('oneOf accepts one of its strings', () => {
    const kind = s.oneOf(['secure', 'unsecure'] as const)
    assert.equal(kind.check('secure'), 'secure')
    refuses(kind, 'other', '', /expected one of secure, unsecure/)
    refuses(kind, 1, '', /expected one of/)
    refuses(kind, 'toString', '')
  })
})

describe('compound schemas', () => {
  test('array checks bounds and every entry, naming the index', () => {
    const list = s.array(s.uint(9), { min: 1, max: 3 })
    assert.deepEqual(list.check([1, 2, 3]), [1, 2, 3])
    refuses(list, [], '', /0 entries is outside 1\.\.3/)
    refuses(list, [1, 2, 3, 4], '', /4 entries is outside 1\.\.3/)
    refuses(list, [1, 'x'], '[1]', /expected an integer/)
    refuses(list, [1, 2, 10], '[2]', /10 is outside 0\.\.9/)
    refuses(list, { length: 1, 0: 1 }, '', /expected an array, got object/)
    refuses(list, new Uint8Array(2), '', /expected an array, got bytes/)
  })

  test('array refuses an oversized array before checking entries', () => {
    let checked = 0
    const counting: Schema<unknown> = {
      description: 'counted',
      check: (v) => {
        checked++
        return v
      },
    }
    refuses(s.array(counting, { max: 2 }), [1, 2, 3], '', /outside/)
    assert.equal(checked, 0)
  })

  test('tuple checks length and each position', () => {
    const pair = s.tuple([s.text({ maxBytes: 40 }), s.uint(65535)])
    assert.deepEqual(pair.check(['::1', 3587]), ['::1', 3587])
    refuses(pair, ['::1'], '', /expected 2 entries, got 1/)
    refuses(pair, ['::1', 1, 2], '', /expected 2 entries, got 3/)
    refuses(pair, [1, 1], '[0]', /expected text/)
    refuses(pair, ['::1', 70000], '[1]', /outside 0\.\.65535/)
    refuses(pair, 'x', '', /expected an array, got string/)
  })

  test('optional allows undefined only', () => {
    const maybe = s.optional(s.uint())
    assert.equal(maybe.check(undefined), undefined)
    assert.equal(maybe.check(3), 3)
    refuses(maybe, null, '', /expected an integer, got null/)
    assert.equal(maybe.description, 'optional integer 0..9007199254740991')
  })

  const record = s.struct({
    v: s.literal(1),
    name: s.text({ maxBytes: 16 }),
    tags: s.array(s.text({ maxBytes: 8 }), { max: 4 }),
    inner: s.struct({
      b: s.array(s.uint(9), { max: 5 }),
      note: s.optional(s.text({ maxBytes: 8 })),
    }),
    extra: s.optional(s.bytes({ max: 4 })),
  })
  type RecordValue = Infer<typeof record>

  test('struct returns exactly the declared fields, typed', () => {
    const value: RecordValue = record.check({
      v: 1,
      name: 'alice',
      tags: ['a'],
      inner: { b: [1, 2] },
    })
    assert.deepEqual(value, { v: 1, name: 'alice', tags: ['a'], inner: { b: [1, 2] } })
    assert.ok(!('extra' in value), 'an omitted optional field stays absent')
    assert.ok(!('note' in value.inner))
    const withOptional = record.check({
      v: 1,
      name: 'bob',
      tags: [],
      inner: { b: [], note: 'hi' },
      extra: new Uint8Array([1]),
    })
    assert.equal(withOptional.inner.note, 'hi')
    assert.deepEqual(withOptional.extra, new Uint8Array([1]))
  })

  test('struct names the path of a nested failure', () => {
    const base = { v: 1, name: 'a', tags: [], inner: { b: [] } }
    refuses(record, { ...base, inner: { b: [1, 2, 10] } }, 'inner.b[2]', /10 is outside 0\.\.9/)
    refuses(record, { ...base, tags: ['ok', 'much too long'] }, 'tags[1]', /longer than 8 bytes/)
    refuses(record, { ...base, inner: { b: [], note: 5 } }, 'inner.note', /expected text/)
    refuses(record, { ...base, v: 2 }, 'v', /expected 1, got 2/)
    refuses(record, { ...base, extra: new Uint8Array(5) }, 'extra', /5 bytes is outside 0\.\.4/)

    const deep = s.struct({ a: s.struct({ b: s.array(s.struct({ c: s.bool() }), { max: 3 }) }) })
    refuses(deep, { a: { b: [{ c: true }, { c: false }, { c: 1 }] } }, 'a.b[2].c', /boolean/)
    refuses(deep, { a: { b: [{ c: true }, {}] } }, 'a.b[1].c', /^missing$/)
  })

  test('struct refuses unknown fields', () => {
    const base = { v: 1, name: 'a', tags: [], inner: { b: [] } }
    refuses(record, { ...base, admin: true }, '', /unknown field "admin"/)
    refuses(record, { ...base, inner: { b: [], x: 1 } }, 'inner', /unknown field "x"/)
    const proto: unknown = JSON.parse(
      '{"v":1,"name":"a","tags":[],"inner":{"b":[]},"__proto__":{}}',
    )
    refuses(record, proto, '', /unknown field "__proto__"/)
  })

  test('struct refuses missing required fields', () => {
    refuses(record, { v: 1, name: 'a', tags: [] }, 'inner', /^missing$/)
    refuses(record, { v: 1, tags: [], inner: { b: [] } }, 'name', /^missing$/)
    refuses(record, { v: 1, name: undefined, tags: [], inner: { b: [] } }, 'name', /missing/)
  })

  test('struct refuses values that are not maps', () => {
    for (const [value, type] of [
      [null, 'null'],
      [[], 'array'],
      [new Uint8Array(0), 'bytes'],
      ['x', 'string'],
      [1, 'number'],
    ] as const) {
      refuses(record, value, '', new RegExp(`expected a map, got ${type}`))
    }
  })

  test('struct does not read inherited properties', () => {
    const schema = s.struct({ toString: s.optional(s.text({ maxBytes: 4 })) })
    assert.deepEqual(schema.check({}), {})
  })
})

describe('decodeMessage and checkValue', () => {
  const message = s.struct({
    v: s.uint(),
    body: s.struct({ items: s.array(s.uint(100), { max: 4 }) }),
  })

  test('decodes and checks a valid message', () => {
    const bytes = encodeCbor({ v: 1, body: { items: [1, 2, 3] } })
    assert.deepEqual(decodeMessage(bytes, message, { what: 'test message', versions: [1, 2] }), {
      v: 1,
      body: { items: [1, 2, 3] },
    })
  })

  test('a schema failure becomes a PeerError with the default code and details.path', () => {
    const bytes = encodeCbor({ v: 1, body: { items: [1, 2, 300] } })
    const err = throwsPeerError(
      () => decodeMessage(bytes, message, { what: 'test message' }),
      'PEER_E_MALFORMED_MESSAGE',
      /^test message is invalid: body\.items\[2\]: 300 is outside 0\.\.100$/,
    )
    assert.deepEqual(err.details, { path: 'body.items[2]' })
  })

  test("a schema failure uses the caller's code", () => {
    const bytes = encodeCbor({ v: 1, body: { items: 'no' } })
    const err = throwsPeerError(
      () => decodeMessage(bytes, message, { what: 'record', code: 'PEER_E_INVALID_RECORD' }),
      'PEER_E_INVALID_RECORD',
      /record is invalid: body\.items: expected an array/,
    )
    assert.deepEqual(err.details, { path: 'body.items' })
  })

  test("malformed CBOR uses the caller's code too; oversize is PEER_E_TOO_LARGE", () => {
    throwsPeerError(
      () =>
        decodeMessage(new Uint8Array([0xc1, 0]), message, {
          what: 'x',
          code: 'PEER_E_INVALID_RECORD',
        }),
      'PEER_E_INVALID_RECORD',
      /^x is malformed: tag/,
    )
    const bytes = encodeCbor({ v: 1, body: { items: [] } })
    throwsPeerError(
      () => decodeMessage(bytes, message, { what: 'x', maxBytes: bytes.length - 1 }),
      'PEER_E_TOO_LARGE',
    )
    throwsPeerError(
      () =>
        decodeMessage(
          encodeCbor([[[1]]]),
          s.array(s.array(s.array(s.uint(), { max: 1 }), { max: 1 }), { max: 1 }),
          { what: 'x', maxDepth: 2 },
        ),
      'PEER_E_MALFORMED_MESSAGE',
      /nesting deeper than 2/,
    )
  })

  test('an unknown version is PEER_E_UNSUPPORTED_VERSION, before the schema check', () => {
    // The body is also invalid: the version is reported, not the schema failure.
    const bytes = encodeCbor({ v: 3, body: { items: 'no' }, unknown: true })
    const err = throwsPeerError(
      () => decodeMessage(bytes, message, { what: 'test message', versions: [1, 2] }),
      'PEER_E_UNSUPPORTED_VERSION',
      /^test message has version 3; this peerinfra understands 1, 2$/,
    )
    assert.deepEqual(err.details, { version: 3 })
    assert.equal(err.hresultHex, '0x80632090')
  })

  test('a missing, non-numeric or non-map version is unsupported', () => {
    const opts = { what: 'm', versions: [1] }
    for (const value of [
      { body: { items: [] } },
      { v: '1', body: { items: [] } },
      [1],
      1,
      null,
      'v',
    ]) {
      throwsPeerError(
        () => decodeMessage(encodeCbor(value), message, opts),
        'PEER_E_UNSUPPORTED_VERSION',
      )
    }
    const long = throwsPeerError(
      () => checkValue({ v: 'x'.repeat(100_000) }, message, opts),
      'PEER_E_UNSUPPORTED_VERSION',
    )
    assert.ok(long.message.length < 200, 'the message stays short')
  })

  test('without versions, v is just another field', () => {
    const bytes = encodeCbor({ v: 99, body: { items: [] } })
    assert.deepEqual(decodeMessage(bytes, message, { what: 'm' }), { v: 99, body: { items: [] } })
  })

  test('checkValue checks an already decoded value the same way', () => {
    assert.deepEqual(
      checkValue({ v: 2, body: { items: [] } }, message, { what: 'm', versions: [2] }),
      {
        v: 2,
        body: { items: [] },
      },
    )
    const err = throwsPeerError(
      () => checkValue({ v: 2 }, message, { what: 'm', code: 'PEER_E_INVALID_ATTRIBUTES' }),
      'PEER_E_INVALID_ATTRIBUTES',
      /body: missing/,
    )
    assert.deepEqual(err.details, { path: 'body' })
  })

  test('errors other than SchemaError pass through unchanged', () => {
    const boom = new RangeError('custom schema bug')
    const broken: Schema<never> = {
      description: 'broken',
      check: () => {
        throw boom
      },
    }
    assert.throws(
      () => checkValue(1, broken, { what: 'm' }),
      (err) => err === boom,
    )
  })
})
