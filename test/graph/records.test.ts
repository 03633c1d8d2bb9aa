import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { SeededRandom } from '../../src/core/random.ts'
import { formatAttributesXml, type RecordAttribute } from '../../src/graph/attributes.ts'
import {
  MAX_PEER_ID_CHARS,
  RECORD_FLAG_AUTOREFRESH,
  RECORD_FLAG_DELETED,
} from '../../src/graph/constants.ts'
import {
  checkRecordShape,
  compareRecords,
  guidFromBytes,
  isDeleted,
  isGuid,
  MAX_RECORD_TIME,
  MAX_RECORD_VERSION,
  newGuid,
  newRecordId,
  parseGuid,
  recordIdMatchesCreator,
  recordSize,
  type GraphRecord,
} from '../../src/graph/records.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

const TYPE = '11111111-2222-4333-8444-555555555555'
const T0 = Date.UTC(2026, 0, 1)
const HOUR = 3_600_000
const MAX_SIZE = 60 * 1024 * 1024

function record(overrides: Partial<GraphRecord> = {}): GraphRecord {
  const creator = overrides.creator ?? 'alice'
  return {
    type: TYPE,
    id: newRecordId(creator, new SeededRandom(`id/${creator}`)),
    version: 1,
    flags: 0,
    creator,
    modifiedBy: creator,
    createdAt: T0,
    expiresAt: T0 + HOUR,
    modifiedAt: T0,
    attributes: [],
    securityData: new Uint8Array(),
    data: new Uint8Array([1, 2, 3]),
    ...overrides,
  }
}

const sign = (n: number) => (n > 0 ? 1 : n < 0 ? -1 : 0)

describe('GUIDs', () => {
  test('parseGuid accepts braces and any case, and returns lowercase', () => {
    const g = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'
    assert.equal(parseGuid(g), g)
    assert.equal(parseGuid(g.toUpperCase()), g)
    assert.equal(parseGuid(`{${g}}`), g)
    assert.equal(parseGuid(`{${g.toUpperCase()}}`), g)
  })

  test('parseGuid refuses other forms with E_INVALIDARG', () => {
    const g = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'
    for (const bad of [
      '',
      g.replace(/-/g, ''),
      `{${g}`,
      `${g}}`,
      `{{${g}}}`,
      `(${g})`,
      ` ${g}`,
      `${g} `,
      g.slice(1),
      g + '0',
      g.replace('0f', 'gf'),
      '0f1e2d3c4b5a-6978-8796-a5b4c3d2e1f0-',
      '0f1e2d3c-4b5a6978-8796-a5b4-c3d2e1f0',
      `urn:uuid:${g}`,
    ]) {
      throwsPeerError(() => parseGuid(bad), 'E_INVALIDARG', JSON.stringify(bad))
    }
    throwsPeerError(() => parseGuid(5 as unknown as string), 'E_INVALIDARG')
    throwsPeerError(() => parseGuid('x', 'record type'), 'E_INVALIDARG', /^record type must be/)
  })

  test('isGuid takes only the canonical lowercase form', () => {
    assert.ok(isGuid(TYPE))
    assert.equal(isGuid('0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0'), false)
    assert.equal(isGuid(`{${TYPE}}`), false)
    assert.equal(isGuid(undefined), false)
  })

  test('guidFromBytes writes the 16 bytes in order', () => {
    const b = Uint8Array.from({ length: 16 }, (_, i) => i * 17)
    assert.equal(guidFromBytes(b), '00112233-4455-6677-8899-aabbccddeeff')
  })

  test('newGuid is a version 4, variant 1 GUID, reproducible from a seed', () => {
    const a = new SeededRandom('x')
    const b = new SeededRandom('x')
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const g = newGuid(a)
      assert.equal(newGuid(b), g)
      assert.match(g, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      seen.add(g)
    }
    assert.equal(seen.size, 200)
    assert.notEqual(newGuid(new SeededRandom('x')), newGuid(new SeededRandom('y')))
  })
})

describe('record ids', () => {
  test('the high half belongs to the creator, the low half is random', () => {
    const random = new SeededRandom('ids')
    const a1 = newRecordId('alice', random)
    const a2 = newRecordId('alice', random)
    const b1 = newRecordId('bob', random)
    assert.ok(isGuid(a1) && isGuid(a2) && isGuid(b1))
    assert.notEqual(a1, a2)
    assert.equal(a1.slice(0, 18), a2.slice(0, 18)) // 16 hex digits + 2 dashes
    assert.notEqual(a1.slice(0, 18), b1.slice(0, 18))
    assert.equal(newRecordId('alice', new SeededRandom('ids')), a1)
  })

  test('recordIdMatchesCreator is true for its own creator only', () => {
    const id = newRecordId('alice', new SeededRandom(1))
    assert.ok(recordIdMatchesCreator(id, 'alice'))
    assert.equal(recordIdMatchesCreator(id, 'bob'), false)
    assert.equal(recordIdMatchesCreator(id, 'Alice'), false)
    assert.equal(recordIdMatchesCreator(id, 'alice '), false)
    assert.equal(recordIdMatchesCreator(newGuid(new SeededRandom(1)), 'alice'), false)
    const unicode = newRecordId('ålice😀', new SeededRandom(2))
    assert.ok(recordIdMatchesCreator(unicode, 'ålice😀'))
  })

  test('isDeleted reads the DELETED flag', () => {
    assert.equal(isDeleted({ flags: 0 }), false)
    assert.equal(isDeleted({ flags: RECORD_FLAG_AUTOREFRESH }), false)
    assert.ok(isDeleted({ flags: RECORD_FLAG_DELETED }))
    assert.ok(isDeleted({ flags: RECORD_FLAG_DELETED | RECORD_FLAG_AUTOREFRESH }))
  })
})

describe('recordSize', () => {
  test('counts data, security data, attribute XML, creator and modifier in bytes', () => {
    const attributes: RecordAttribute[] = [{ name: 'n', type: 'string', value: 'é<' }]
    const xml = formatAttributesXml(attributes)!
    const r = record({
      creator: 'ålice', // 6 UTF-8 bytes
      modifiedBy: 'bob😀', // 7 UTF-8 bytes
      data: new Uint8Array(100),
      securityData: new Uint8Array(30),
      attributes,
    })
    assert.equal(recordSize(r), 100 + 30 + Buffer.byteLength(xml) + 6 + 7)
    assert.equal(recordSize(record({ data: new Uint8Array(), creator: 'a', modifiedBy: 'b' })), 2)
  })

  test('each part adds to the size', () => {
    const base = record()
    const size = recordSize(base)
    assert.equal(recordSize({ ...base, data: new Uint8Array(base.data.length + 5) }), size + 5)
    assert.equal(recordSize({ ...base, securityData: new Uint8Array(9) }), size + 9)
    assert.equal(recordSize({ ...base, modifiedBy: base.modifiedBy + 'xy' }), size + 2)
    assert.equal(recordSize({ ...base, creator: base.creator + 'xyz' }), size + 3)
    const withAttr = { ...base, attributes: [{ name: 'a', type: 'int', value: 1 }] as const }
    assert.equal(
      recordSize(withAttr),
      size + Buffer.byteLength(formatAttributesXml(withAttr.attributes)!),
    )
  })
})

describe('compareRecords', () => {
  // Both are "modified" (modifiedAt > createdAt) unless a row says otherwise.
  const base = record({ version: 3, modifiedAt: T0 + 10, modifiedBy: 'bob' })
  const bytes = (...b: number[]) => new Uint8Array(b)

  // Each row: a winner and a loser that first differ at one step, where the loser is ahead at
  // every later step, so only the right step can make the winner win.
  const table: [string, Partial<GraphRecord>, Partial<GraphRecord>][] = [
    [
      'higher version',
      { version: 4 },
      { version: 3, modifiedBy: 'zed', modifiedAt: T0 + 99, securityData: bytes(9, 9) },
    ],
    [
      'modified beats unmodified at equal version',
      { modifiedAt: T0 + 1, modifiedBy: 'aaa' },
      { modifiedAt: T0, modifiedBy: 'zzz', securityData: bytes(9, 9, 9) },
    ],
    [
      'lexically greater modifier',
      { modifiedBy: 'carol', modifiedAt: T0 + 1 },
      { modifiedBy: 'bob', modifiedAt: T0 + 50, securityData: bytes(9) },
    ],
    [
      'greater modifier by code unit order (lowercase after uppercase)',
      { modifiedBy: 'a' },
      { modifiedBy: 'Z', modifiedAt: T0 + 50 },
    ],
    [
      'later modification',
      { modifiedAt: T0 + 20 },
      { modifiedAt: T0 + 10, securityData: bytes(1, 2, 3) },
    ],
    [
      'longer security data',
      { securityData: bytes(0, 0) },
      { securityData: bytes(255), data: bytes(255, 255, 255, 255) },
    ],
    [
      'greater security data bytes',
      { securityData: bytes(1, 2) },
      { securityData: bytes(1, 1), data: bytes(255) },
    ],
    [
      'greater data',
      { data: bytes(1, 2, 4) },
      { data: bytes(1, 2, 3, 255), attributes: [{ name: 'z', type: 'int', value: 1 }] },
    ],
    [
      'longer data with an equal prefix',
      { data: bytes(1, 2, 3, 0) },
      { data: bytes(1, 2, 3), expiresAt: T0 + 2 * HOUR },
    ],
    [
      'greater attribute XML',
      { attributes: [{ name: 'a', type: 'int', value: 2 }] },
      { attributes: [{ name: 'a', type: 'int', value: 1 }], expiresAt: T0 + 2 * HOUR },
    ],
    [
      'some attributes over none',
      { attributes: [{ name: 'a', type: 'int', value: 1 }] },
      { attributes: [], expiresAt: T0 + 2 * HOUR },
    ],
    [
      'later expiry',
      { expiresAt: T0 + 2 * HOUR },
      { expiresAt: T0 + HOUR, createdAt: T0 + 5, flags: RECORD_FLAG_DELETED },
    ],
    [
      'later creation',
      { createdAt: T0 + 5 },
      { createdAt: T0, flags: RECORD_FLAG_DELETED, creator: 'zzz' },
    ],
    [
      'greater flags',
      { flags: RECORD_FLAG_DELETED },
      { flags: 0, creator: 'zzz', type: 'f' + TYPE.slice(1) },
    ],
    ['greater creator', { creator: 'carol' }, { creator: 'bob', type: 'f' + TYPE.slice(1) }],
    ['greater type', { type: 'f' + TYPE.slice(1) }, {}],
  ]

  for (const [name, win, lose] of table) {
    test(`${name} wins`, () => {
      const a = { ...base, ...win }
      const b = { ...base, ...lose }
      assert.ok(compareRecords(a, b) > 0, `${name}: a should win`)
      assert.ok(compareRecords(b, a) < 0, `${name}: b should lose`)
    })
  }

  test('identical records compare equal; the id plays no part', () => {
    assert.equal(compareRecords(base, { ...base }), 0)
    const copy = {
      ...base,
      data: new Uint8Array(base.data),
      securityData: new Uint8Array(base.securityData),
      attributes: base.attributes.map((a) => ({ ...a })),
    }
    assert.equal(compareRecords(base, copy), 0)
    assert.equal(compareRecords(base, { ...base, id: newGuid(new SeededRandom(3)) }), 0)
  })

  /** A record varying over small domains, so that many fields tie. */
  function mutated(random: SeededRandom): GraphRecord {
    const pick = <T>(xs: readonly T[]): T => xs[random.int(xs.length)]!
    const createdAt = T0 + pick([0, 1])
    return record({
      version: pick([1, 2]),
      createdAt,
      modifiedAt: createdAt + pick([0, 0, 1, 2]),
      expiresAt: createdAt + pick([HOUR, 2 * HOUR]),
      modifiedBy: pick(['alice', 'bob', 'Bob']),
      creator: pick(['alice', 'bob']),
      flags: pick([0, 1, 2, 3]),
      type: pick([TYPE, 'f' + TYPE.slice(1)]),
      securityData: pick([bytes(), bytes(1), bytes(2), bytes(1, 0), bytes(0, 255)]),
      data: pick([bytes(), bytes(0), bytes(1), bytes(0, 0), bytes(1, 2, 3)]),
      attributes: pick<RecordAttribute[]>([
        [],
        [{ name: 'a', type: 'int', value: 1 }],
        [{ name: 'a', type: 'string', value: '1' }],
        [
          { name: 'a', type: 'int', value: 1 },
          { name: 'b', type: 'date', value: T0 },
        ],
      ]),
    })
  }

  test('is antisymmetric, and 0 only for records equal in every field but the id', () => {
    const random = new SeededRandom('compare/pairs')
    let ties = 0
    for (let i = 0; i < 500; i++) {
      const a = mutated(random)
      const b = random.int(4) === 0 ? { ...a } : mutated(random)
      const ab = compareRecords(a, b)
      assert.equal(sign(ab) + sign(compareRecords(b, a)), 0, `pair ${i}`)
      assert.equal(compareRecords(a, a), 0)
      const { id: _ia, ...ra } = a
      const { id: _ib, ...rb } = b
      const same = (() => {
        try {
          assert.deepEqual(ra, rb)
          return true
        } catch {
          return false
        }
      })()
      assert.equal(ab === 0, same, `pair ${i}`)
      if (ab === 0) ties++
    }
    assert.ok(ties > 50, 'the generator should produce ties')
  })

  test('is transitive over random triples, and sorting agrees pairwise', () => {
    const random = new SeededRandom('compare/triples')
    for (let i = 0; i < 500; i++) {
      const [a, b, c] = [mutated(random), mutated(random), mutated(random)]
      const ab = sign(compareRecords(a, b))
      const bc = sign(compareRecords(b, c))
      const ac = sign(compareRecords(a, c))
      if (ab >= 0 && bc >= 0) assert.ok(ac >= 0, `triple ${i}`)
      if (ab > 0 && bc >= 0) assert.equal(ac, 1, `triple ${i}`)
      if (ab >= 0 && bc > 0) assert.equal(ac, 1, `triple ${i}`)
      if (ab === 0 && bc === 0) assert.equal(ac, 0, `triple ${i}`)
    }
    const list = Array.from({ length: 60 }, () => mutated(random))
    list.sort(compareRecords)
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        assert.ok(compareRecords(list[i]!, list[j]!) <= 0, `${i} <= ${j}`)
      }
    }
  })
})

describe('checkRecordShape', () => {
  test('a well-formed record passes', () => {
    checkRecordShape(record(), MAX_SIZE)
    checkRecordShape(
      record({
        version: MAX_RECORD_VERSION,
        flags: RECORD_FLAG_AUTOREFRESH | RECORD_FLAG_DELETED,
        modifiedBy: 'bob',
        modifiedAt: T0 + 5,
        expiresAt: MAX_RECORD_TIME,
        creator: 'x'.repeat(MAX_PEER_ID_CHARS),
      }),
      MAX_SIZE,
    )
    checkRecordShape(record({ createdAt: 0, modifiedAt: 0, expiresAt: 1 }), MAX_SIZE)
  })

  const bad: [string, Partial<GraphRecord>][] = [
    ['type not a GUID', { type: 'not-a-guid' }],
    ['type in upper case', { type: 'ABCDEF00-2222-4333-8444-555555555555' }],
    ['type in braces', { type: `{${TYPE}}` }],
    ['id not a GUID', { id: 'x' }],
    ['id in upper case', { id: newRecordId('alice', new SeededRandom('id/alice')).toUpperCase() }],
    ['version 0', { version: 0 }],
    ['version -1', { version: -1 }],
    ['version 1.5', { version: 1.5 }],
    ['version 2^32', { version: 2 ** 32 }],
    ['version NaN', { version: NaN }],
    ['flag bit 4', { flags: 4 }],
    ['flags 0xff', { flags: 0xff }],
    ['flags -1', { flags: -1 }],
    ['flags 2^31', { flags: 2 ** 31 }],
    ['flags 2^32 (zero in 32 bits)', { flags: 2 ** 32 }],
    ['flags 2^32 + 1 (AUTOREFRESH in 32 bits)', { flags: 2 ** 32 + 1 }],
    ['flags 0.5', { flags: 0.5 }],
    ['empty modifier', { modifiedBy: '' }],
    ['overlong modifier', { modifiedBy: 'x'.repeat(MAX_PEER_ID_CHARS + 1) }],
    ['modifier not a string', { modifiedBy: 5 as unknown as string }],
    ['negative creation time', { createdAt: -1 }],
    ['fractional creation time', { createdAt: T0 + 0.5 }],
    ['NaN modification time', { modifiedAt: NaN }],
    ['expiry past year 9999', { expiresAt: MAX_RECORD_TIME + 1 }],
    ['infinite expiry', { expiresAt: Infinity }],
    ['modified before created', { modifiedAt: T0 - 1 }],
    ['expiry at creation', { expiresAt: T0 }],
    ['expiry before creation', { expiresAt: T0 - 1 }],
    ['id of another creator', { id: newRecordId('bob', new SeededRandom(1)) }],
    ['a random id', { id: newGuid(new SeededRandom(1)) }],
  ]
  for (const [name, overrides] of bad) {
    test(`refuses ${name} with PEER_E_INVALID_RECORD`, () => {
      throwsPeerError(() => checkRecordShape(record(overrides), MAX_SIZE), 'PEER_E_INVALID_RECORD')
    })
  }

  test('refuses an empty, overlong or foreign creator', () => {
    const random = new SeededRandom('creator')
    for (const creator of ['', 'x'.repeat(MAX_PEER_ID_CHARS + 1)]) {
      const r = { ...record(), creator, id: newRecordId(creator, random) }
      throwsPeerError(() => checkRecordShape(r, MAX_SIZE), 'PEER_E_INVALID_RECORD', /creator/)
    }
    const stolen = { ...record(), creator: 'mallory' }
    throwsPeerError(() => checkRecordShape(stolen, MAX_SIZE), 'PEER_E_INVALID_RECORD', /creator/)
  })

  test('a record over the maximum size is PEER_E_MAX_RECORD_SIZE_EXCEEDED with details', () => {
    const r = record({ data: new Uint8Array(1000) })
    const size = recordSize(r)
    checkRecordShape(r, size)
    const err = throwsPeerError(
      () => checkRecordShape(r, size - 1),
      'PEER_E_MAX_RECORD_SIZE_EXCEEDED',
    )
    assert.deepEqual(err.details, { size, maxRecordSize: size - 1 })
    // Security data and attributes count as well.
    const withSecurity = { ...r, securityData: new Uint8Array(1) }
    throwsPeerError(() => checkRecordShape(withSecurity, size), 'PEER_E_MAX_RECORD_SIZE_EXCEEDED')
    const withAttrs: GraphRecord = { ...r, attributes: [{ name: 'a', type: 'int', value: 1 }] }
    throwsPeerError(() => checkRecordShape(withAttrs, size), 'PEER_E_MAX_RECORD_SIZE_EXCEEDED')
  })

  test('shape problems are reported before size', () => {
    const r = record({ version: 0, data: new Uint8Array(5000) })
    throwsPeerError(() => checkRecordShape(r, 1024), 'PEER_E_INVALID_RECORD')
  })
})
