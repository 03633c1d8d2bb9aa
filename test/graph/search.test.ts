import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'

import Database from 'better-sqlite3'

import type { PeerErrorCode } from '../../src/core/errors.ts'
import {
  MAX_ATTRIBUTE_NAME_CHARS,
  MAX_SEARCH_CLAUSES,
  MAX_SEARCH_DEPTH,
  MAX_SEARCH_XML_BYTES,
} from '../../src/graph/constants.ts'
import { SCHEMA_SQL } from '../../src/graph/schema.ts'
import {
  compileSearch,
  normalizeSearch,
  parseSearchXml,
  type SearchClause,
  type SearchNode,
  type SearchQuery,
} from '../../src/graph/search.ts'
import { escapeXmlAttribute, escapeXmlText } from '../../src/wire/xml.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

const TYPE_A = '11111111-2222-3333-4444-555555555555'
const TYPE_B = 'abcdef00-0000-0000-0000-0000000000bb'
const DAY = 86_400_000

function id(n: number): string {
  return `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`
}

function ms(text: string): number {
  return Date.parse(text)
}

type Attr = [name: string, type: 'string' | 'int' | 'date', value: string | number]

interface Fixture {
  n: number
  type: string
  creator: string
  modifiedBy?: string
  created: string
  flags?: number
  deferred?: number
  attrs: Attr[]
}

const INJECTION = "'; DROP TABLE records; --"

// Live records: 1-8, 11, 12. Record 9 is deleted (flags 2), record 10 is deferred.
const RECORDS: Fixture[] = [
  {
    n: 1,
    type: TYPE_A,
    creator: 'alice',
    created: '2024-01-01',
    attrs: [
      ['title', 'string', 'Hello World'],
      ['count', 'int', 5],
      ['due', 'date', ms('2024-01-15')],
      ['Name', 'string', 'upper'],
    ],
  },
  {
    n: 2,
    type: TYPE_A,
    creator: 'bob',
    modifiedBy: 'alice',
    created: '2024-02-01',
    attrs: [
      ['title', 'string', 'hello world'],
      ['count', 'int', 10],
      ['due', 'date', ms('2024-06-01')],
      ['name', 'string', 'lower'],
    ],
  },
  {
    n: 3,
    type: TYPE_B,
    creator: 'alice',
    created: '2024-03-01',
    attrs: [
      ['title', 'string', 'a*b'],
      ['count', 'int', -3],
      ['due', 'date', ms('2023-12-31T23:59:59Z')],
    ],
  },
  {
    n: 4,
    type: TYPE_B,
    creator: 'carol',
    created: '2024-04-01',
    attrs: [
      ['title', 'string', 'a?b'],
      ['count', 'int', 0],
      ['markup', 'string', '<and><clause/></and>'],
    ],
  },
  {
    n: 5,
    type: TYPE_A,
    creator: 'bob',
    created: '2024-05-01',
    attrs: [
      ['title', 'string', 'back\\slash'],
      ['count', 'int', 2147483647],
      ['due', 'date', ms('2030-01-01')],
    ],
  },
  {
    n: 6,
    type: TYPE_B,
    creator: 'alice',
    created: '2024-06-01',
    attrs: [
      ['title', 'string', `it's "quoted"`],
      ['count', 'string', '42'],
    ],
  },
  {
    n: 7,
    type: TYPE_A,
    creator: 'carol',
    created: '2024-07-01',
    attrs: [
      ['title', 'string', INJECTION],
      ['tag', 'string', 'x[y]z'],
    ],
  },
  {
    n: 8,
    type: TYPE_B,
    creator: 'bob',
    created: '2024-08-01',
    attrs: [
      ['count', 'int', 7],
      ['note', 'string', ''],
    ],
  },
  {
    n: 9,
    type: TYPE_A,
    creator: 'alice',
    created: '2024-09-01',
    flags: 2,
    attrs: [
      ['title', 'string', 'Hello World'],
      ['count', 'int', 5],
    ],
  },
  {
    n: 10,
    type: TYPE_A,
    creator: 'alice',
    created: '2024-10-01',
    deferred: 1,
    attrs: [
      ['title', 'string', 'Hello World'],
      ['count', 'int', 5],
    ],
  },
  {
    n: 11,
    type: TYPE_B,
    creator: 'carol',
    created: '2024-11-01',
    attrs: [
      ['title', 'string', 'ab'],
      ['count', 'int', 5],
    ],
  },
  {
    n: 12,
    type: TYPE_B,
    creator: 'carol',
    created: '2024-12-01',
    attrs: [
      ['title', 'string', 'axxb'],
      ['count', 'int', -2147483648],
    ],
  },
]

let db: Database.Database

before(() => {
  db = new Database(':memory:')
  db.exec(SCHEMA_SQL)
  const insertRecord = db.prepare(
    `INSERT INTO records (id, type, version, flags, creator, modified_by, created_at, expires_at,
       modified_at, security_data, data, deferred, received_at, digest)
     VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, x'', x'', ?, ?, ?)`,
  )
  const insertAttr = db.prepare(
    'INSERT INTO record_attributes (record, name, type, value) VALUES (?, ?, ?, ?)',
  )
  for (const r of RECORDS) {
    const created = ms(r.created)
    const { lastInsertRowid } = insertRecord.run(
      id(r.n),
      r.type,
      r.flags ?? 0,
      r.creator,
      r.modifiedBy ?? r.creator,
      created,
      created + 365 * DAY,
      created + DAY,
      r.deferred ?? 0,
      created,
      Buffer.from(id(r.n)),
    )
    for (const [name, type, value] of r.attrs) insertAttr.run(lastInsertRowid, name, type, value)
  }
})

after(() => db.close())

/** Runs a query the way the store does; returns the matching record numbers, sorted. */
function search(query: SearchQuery | string | SearchNode): number[] {
  const { sql, params } = compileSearch(query)
  assert.equal(params.length, sql.split('?').length - 1, 'one parameter per placeholder')
  const rows = db
    .prepare(
      `SELECT r.id FROM records r WHERE (r.flags & 2) = 0 AND r.deferred = 0 AND (${sql}) ORDER BY r.id`,
    )
    .all(...params) as { id: string }[]
  return rows.map((row) => Number(row.id.slice(-12)))
}

function inferredType(c: SearchClause): string {
  if (c.type) return c.type
  return typeof c.value === 'string' ? 'string' : typeof c.value === 'number' ? 'int' : 'date'
}

/** The Windows XML of an object-form query, so each table entry runs in both forms. */
function toXml(q: SearchQuery): string {
  const inner = (n: SearchQuery): string => {
    if ('and' in n) return `<and>${n.and.map(inner).join('')}</and>`
    if ('or' in n) return `<or>${n.or.map(inner).join('')}</or>`
    const text = n.value instanceof Date ? n.value.toISOString() : String(n.value)
    const compare = n.compare ? ` compare="${n.compare}"` : ''
    return (
      `<clause attrib="${escapeXmlAttribute(n.attribute)}" type="${inferredType(n)}"${compare}>` +
      `${escapeXmlText(text)}</clause>`
    )
  }
  return `<peersearch xmlns:xs="http://www.w3.org/2001/XMLSchema">${inner(q)}</peersearch>`
}

function c(
  attribute: string,
  compare: SearchClause['compare'],
  value: SearchClause['value'],
  type?: SearchClause['type'],
): SearchClause {
  return { attribute, value, ...(compare ? { compare } : {}), ...(type ? { type } : {}) }
}

const D = (text: string): Date => new Date(text)
const LIVE_TITLES = [1, 2, 3, 4, 5, 6, 7, 11, 12]

const MATCHES: { name: string; query: SearchQuery | string; expect: number[] }[] = [
  // string x six comparisons (binary order: "'" < "H" < "a*b" < "a?b" < "ab" < "axxb" < "b" < "h" < "i")
  { name: 'string equal', query: c('title', 'equal', 'Hello World'), expect: [1] },
  {
    name: 'string notequal (record 8 has no title)',
    query: c('title', 'notequal', 'Hello World'),
    expect: [2, 3, 4, 5, 6, 7, 11, 12],
  },
  { name: 'string less', query: c('title', 'less', 'ab'), expect: [1, 3, 4, 7] },
  { name: 'string greater', query: c('title', 'greater', 'ab'), expect: [2, 5, 6, 12] },
  { name: 'string lessorequal', query: c('title', 'lessorequal', 'ab'), expect: [1, 3, 4, 7, 11] },
  {
    name: 'string greaterorequal',
    query: c('title', 'greaterorequal', 'ab'),
    expect: [2, 5, 6, 11, 12],
  },
  // int x six
  { name: 'int equal', query: c('count', 'equal', 5), expect: [1, 11] },
  {
    name: 'int notequal (a string "count" never matches)',
    query: c('count', 'notequal', 5),
    expect: [2, 3, 4, 5, 8, 12],
  },
  { name: 'int less', query: c('count', 'less', 0), expect: [3, 12] },
  { name: 'int greater', query: c('count', 'greater', 7), expect: [2, 5] },
  { name: 'int lessorequal', query: c('count', 'lessorequal', 0), expect: [3, 4, 12] },
  { name: 'int greaterorequal', query: c('count', 'greaterorequal', 7), expect: [2, 5, 8] },
  { name: 'int minimum', query: c('count', 'equal', -2147483648), expect: [12] },
  { name: 'int given as text', query: c('count', 'equal', '2147483647', 'int'), expect: [5] },
  // date x six
  { name: 'date equal', query: c('due', 'equal', D('2024-01-15')), expect: [1] },
  { name: 'date notequal', query: c('due', 'notequal', D('2024-01-15')), expect: [2, 3, 5] },
  { name: 'date less', query: c('due', 'less', D('2024-01-01')), expect: [3] },
  { name: 'date greater', query: c('due', 'greater', D('2024-01-15')), expect: [2, 5] },
  { name: 'date lessorequal', query: c('due', 'lessorequal', D('2024-01-15')), expect: [1, 3] },
  {
    name: 'date greaterorequal',
    query: c('due', 'greaterorequal', D('2024-01-15')),
    expect: [1, 2, 5],
  },
  { name: 'date given as text', query: c('due', 'equal', '2030-01-01', 'date'), expect: [5] },
  // wildcards and escapes
  { name: '* matches 0..n', query: c('title', 'equal', 'a*b'), expect: [3, 4, 11, 12] },
  { name: '\\* is a literal star', query: c('title', 'equal', 'a\\*b'), expect: [3] },
  { name: '? matches exactly one', query: c('title', 'equal', 'a?b'), expect: [3, 4] },
  { name: '\\? is a literal question mark', query: c('title', 'equal', 'a\\?b'), expect: [4] },
  { name: '\\\\ is a backslash', query: c('title', 'equal', 'back\\\\slash'), expect: [5] },
  { name: 'wildcards around \\\\', query: c('title', 'equal', '*\\\\*'), expect: [5] },
  { name: 'notequal with *', query: c('title', 'notequal', 'a*'), expect: [1, 2, 5, 6, 7] },
  { name: 'wildcards are case-sensitive', query: c('title', 'equal', '*world'), expect: [2] },
  { name: 'two ?', query: c('title', 'equal', '?ello ?orld'), expect: [1, 2] },
  { name: '* alone: has the attribute', query: c('title', 'equal', '*'), expect: LIVE_TITLES },
  { name: '[ is literal without wildcards', query: c('tag', 'equal', 'x[y]z'), expect: [7] },
  { name: '[ is literal with wildcards', query: c('tag', 'equal', 'x[y]*'), expect: [7] },
  { name: 'ordered: * is literal', query: c('title', 'less', 'a*c'), expect: [1, 3, 7] },
  { name: 'ordered: \\* decoded', query: c('title', 'lessorequal', 'a\\*b'), expect: [1, 3, 7] },
  { name: 'empty string value', query: c('note', 'equal', ''), expect: [8] },
  { name: '* matches an empty value', query: c('note', 'equal', '*'), expect: [8] },
  { name: 'quotes', query: c('title', 'equal', `it's "quoted"`), expect: [6] },
  { name: 'SQL in a value is data', query: c('title', 'equal', INJECTION), expect: [7] },
  // case sensitivity of names and values, types
  { name: 'values are case-sensitive', query: c('title', 'equal', 'hello world'), expect: [2] },
  { name: 'names are case-sensitive (name)', query: c('name', 'equal', '*'), expect: [2] },
  { name: 'names are case-sensitive (Name)', query: c('Name', 'equal', '*'), expect: [1] },
  { name: 'no attribute TITLE', query: c('TITLE', 'equal', '*'), expect: [] },
  { name: 'type must match: string 42', query: c('count', 'equal', '42'), expect: [6] },
  { name: 'type must match: int 42', query: c('count', 'equal', 42), expect: [] },
  // missing attribute never matches, not even notequal
  { name: 'notequal needs the attribute', query: c('tag', 'notequal', 'nothing'), expect: [7] },
  { name: 'absent attribute, notequal', query: c('absent', 'notequal', 'x'), expect: [] },
  // reserved attributes
  { name: 'peerrecordid', query: c('peerrecordid', 'equal', id(3)), expect: [3] },
  {
    name: 'peerrecordtype, braced upper-case GUID',
    query: c('peerrecordtype', 'equal', '{ABCDEF00-0000-0000-0000-0000000000BB}'),
    expect: [3, 4, 6, 8, 11, 12],
  },
  {
    name: 'peerrecordtype notequal',
    query: c('peerrecordtype', 'notequal', TYPE_B),
    expect: [1, 2, 5, 7],
  },
  {
    name: 'peerrecordid wildcard (10 is deferred)',
    query: c('peerrecordid', 'equal', '*-00000000001?'),
    expect: [11, 12],
  },
  {
    name: 'a GUID pattern is not lower-cased',
    query: c('peerrecordtype', 'equal', 'ABCDEF00*'),
    expect: [],
  },
  {
    name: 'peerrecordtype pattern',
    query: c('peerrecordtype', 'equal', 'abcdef00*'),
    expect: [3, 4, 6, 8, 11, 12],
  },
  { name: 'peercreatorid', query: c('peercreatorid', 'equal', 'alice'), expect: [1, 3, 6] },
  {
    name: 'reserved names in any case',
    query: c('PeerCreatorId', 'equal', 'carol'),
    expect: [4, 7, 11, 12],
  },
  {
    name: 'peerlastmodifiedby',
    query: c('peerlastmodifiedby', 'equal', 'alice'),
    expect: [1, 2, 3, 6],
  },
  {
    name: 'peercreationtime less',
    query: c('peercreationtime', 'less', D('2024-03-01')),
    expect: [1, 2],
  },
  {
    name: 'peercreationtime greaterorequal',
    query: c('peercreationtime', 'greaterorequal', D('2024-11-01')),
    expect: [11, 12],
  },
  {
    name: 'peerlastmodificationtime',
    query: c('peerlastmodificationtime', 'equal', D('2024-01-02')),
    expect: [1],
  },
  // deleted and deferred records are never found
  { name: 'deleted record', query: c('peerrecordid', 'equal', id(9)), expect: [] },
  { name: 'deferred record', query: c('peerrecordid', 'equal', id(10)), expect: [] },
  // nesting
  {
    name: 'and',
    query: { and: [c('title', 'equal', 'a*'), c('count', 'greaterorequal', 0)] },
    expect: [4, 11],
  },
  {
    name: 'or',
    query: { or: [c('count', 'equal', 10), c('title', 'equal', 'ab')] },
    expect: [2, 11],
  },
  { name: 'and with one child', query: { and: [c('count', 'equal', 7)] }, expect: [8] },
  {
    name: 'reserved and plain attributes together',
    query: { and: [c('peerrecordtype', 'equal', TYPE_A), c('count', 'greater', 0)] },
    expect: [1, 2, 5],
  },
  {
    name: 'three deep',
    query: {
      or: [
        {
          and: [
            c('peercreatorid', 'equal', 'carol'),
            { or: [c('count', 'less', 0), c('tag', 'equal', '*')] },
          ],
        },
        c('title', 'equal', 'Hello World'),
      ],
    },
    expect: [1, 7, 12],
  },
  // XML only
  {
    name: 'XML: int with a sign',
    query:
      '<peersearch><clause attrib="count" type="int" compare="greaterorequal">+7</clause></peersearch>',
    expect: [2, 5, 8],
  },
  {
    name: 'XML: date with a zone',
    query:
      '<peersearch><clause attrib="due" type="date">2024-01-15T01:00:00+01:00</clause></peersearch>',
    expect: [1],
  },
  {
    name: 'XML: date with a year only',
    query: '<peersearch><clause attrib="due" type="date" compare="less">2024</clause></peersearch>',
    expect: [3],
  },
  {
    name: 'XML: compare defaults to equal',
    query: '<peersearch><clause attrib="title" type="string">ab</clause></peersearch>',
    expect: [11],
  },
  {
    name: 'XML: CDATA value',
    query: `<peersearch><clause attrib="title" type="string"><![CDATA[${INJECTION}]]></clause></peersearch>`,
    expect: [7],
  },
  {
    name: 'XML: <and> as text inside a clause is literal',
    query:
      '<peersearch><clause attrib="markup" type="string">&lt;and&gt;&lt;clause/&gt;&lt;/and&gt;</clause></peersearch>',
    expect: [4],
  },
  {
    name: 'XML: literal markup with a wildcard',
    query: '<peersearch><clause attrib="markup" type="string">&lt;and&gt;*</clause></peersearch>',
    expect: [4],
  },
  {
    name: 'XML: entities in a value',
    query:
      '<peersearch><clause attrib="title" type="string">it&apos;s &quot;quoted&quot;</clause></peersearch>',
    expect: [6],
  },
  {
    name: 'XML: whitespace between elements, comments',
    query: `<?xml version="1.0"?>
      <peersearch xmlns:xs="http://www.w3.org/2001/XMLSchema">
        <!-- two clauses -->
        <or>
          <clause attrib="count" type="int" compare="equal">10</clause>
          <and>
            <clause attrib="peercreatorid" type="string">bob</clause>
            <clause attrib="due" type="date" compare="greater">2025-01-01T00:00:00Z</clause>
          </and>
        </or>
      </peersearch>`,
    expect: [2, 5],
  },
]

describe('search: queries against a store', () => {
  test('the table has at least 40 queries', () => {
    assert.ok(MATCHES.length >= 40)
  })

  for (const { name, query, expect } of MATCHES) {
    test(name, () => {
      assert.deepEqual(search(query), expect, typeof query === 'string' ? query : toXml(query))
      if (typeof query !== 'string') {
        assert.deepEqual(search(toXml(query)), expect, `XML form: ${toXml(query)}`)
      }
    })
  }

  test('values are parameters; the injection left the table in place', () => {
    const { sql, params } = compileSearch(c('title', 'equal', INJECTION))
    assert.ok(!sql.includes('DROP'))
    assert.deepEqual(params, ['title', 'string', INJECTION])
    const row = db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }
    assert.equal(row.n, RECORDS.length)
  })
})

describe('search: compiled SQL', () => {
  test('a clause is an EXISTS over record_attributes', () => {
    assert.deepEqual(compileSearch(c('count', 'less', 3)), {
      sql:
        'EXISTS (SELECT 1 FROM record_attributes a WHERE a.record = r.seq' +
        ' AND a.name = ? AND a.type = ? AND a.value < ?)',
      params: ['count', 'int', 3],
    })
  })

  test('wildcards compile to GLOB with [*] [?] [[] for literals', () => {
    const { sql, params } = compileSearch({
      or: [c('t', 'equal', 'a\\*[?*'), c('t', 'notequal', '\\?x?'), c('t', 'equal', 'a\\*[')],
    })
    assert.match(sql, /a\.value GLOB \?\) OR .*a\.value NOT GLOB \?\) OR .*a\.value = \?\)\)$/)
    assert.deepEqual(params, [
      't',
      'string',
      'a[*][[]?*',
      't',
      'string',
      '[?]x?',
      't',
      'string',
      'a*[',
    ])
  })

  test('reserved attributes compile to record columns', () => {
    assert.deepEqual(
      compileSearch({
        and: [
          c('peerrecordid', 'equal', '{00000000-0000-0000-0000-00000000000A}'),
          c('peercreationtime', 'greater', new Date(1000)),
        ],
      }),
      { sql: '(r.id = ? AND r.created_at > ?)', params: [id(0).slice(0, -1) + 'a', 1000] },
    )
  })

  test('the same query in XML and object form gives the same tree and SQL', () => {
    const object: SearchQuery = {
      and: [c('title', undefined, 'a*'), c('due', 'less', D('2024-01-01T00:00:00Z'))],
    }
    const xml =
      '<peersearch><and><clause attrib="title" type="string">a*</clause>' +
      '<clause attrib="due" type="date" compare="less">2024-01-01</clause></and></peersearch>'
    const tree: SearchNode = {
      kind: 'and',
      children: [
        {
          kind: 'clause',
          attribute: 'title',
          type: 'string',
          compare: 'equal',
          value: { type: 'string', value: 'a*' },
        },
        {
          kind: 'clause',
          attribute: 'due',
          type: 'date',
          compare: 'less',
          value: { type: 'date', value: ms('2024-01-01') },
        },
      ],
    }
    assert.deepEqual(normalizeSearch(object), tree)
    assert.deepEqual(parseSearchXml(xml), tree)
    assert.deepEqual(normalizeSearch(xml), tree)
    assert.deepEqual(compileSearch(xml), compileSearch(object))
  })

  test('a normalised tree normalises to itself and compiles', () => {
    for (const { query } of MATCHES) {
      const tree = normalizeSearch(query)
      assert.deepEqual(normalizeSearch(tree), tree)
      assert.deepEqual(compileSearch(tree), compileSearch(query))
    }
  })

  test('a hand-built tree is checked again', () => {
    const bad = {
      kind: 'clause',
      attribute: 'x',
      type: 'int',
      compare: 'equal',
      value: { type: 'int', value: 1.5 },
    } as const satisfies SearchNode
    throwsPeerError(() => compileSearch(bad), 'PEER_E_INVALID_SEARCH', /not an int/)
    const empty: SearchNode = { kind: 'or', children: [] }
    throwsPeerError(() => compileSearch(empty), 'PEER_E_INVALID_SEARCH', /empty/)
  })

  test(`exactly ${MAX_SEARCH_CLAUSES} clauses and ${MAX_SEARCH_DEPTH} levels are allowed`, () => {
    const many = {
      or: Array.from({ length: MAX_SEARCH_CLAUSES }, (_, i) => c('count', 'equal', i)),
    }
    assert.deepEqual(search(many), [1, 2, 4, 8, 11])
    assert.deepEqual(search(toXml(many)), [1, 2, 4, 8, 11])
    assert.deepEqual(search(deep(MAX_SEARCH_DEPTH)), [8])
    assert.deepEqual(search(toXml(deep(MAX_SEARCH_DEPTH))), [8])
  })
})

function deep(levels: number): SearchQuery {
  let q: SearchQuery = c('count', 'equal', 7)
  for (let i = 0; i < levels; i++) q = i % 2 === 0 ? { and: [q] } : { or: [q] }
  return q
}

const cl = (attrs: string, value: string): string => `<clause ${attrs}>${value}</clause>`
const ps = (inner: string): string => `<peersearch>${inner}</peersearch>`
const OK = cl('attrib="a" type="string"', 'x')

const INVALID: { name: string; query: unknown; code: PeerErrorCode; message?: RegExp }[] = [
  // structure (XML)
  {
    name: 'two top-level children',
    query: ps(OK + OK),
    code: 'PEER_E_INVALID_SEARCH',
    message: /exactly one.*not 2/,
  },
  {
    name: 'empty peersearch',
    query: '<peersearch/>',
    code: 'PEER_E_INVALID_SEARCH',
    message: /exactly one/,
  },
  {
    name: 'text in peersearch',
    query: ps('hello'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /unexpected text/,
  },
  {
    name: 'text beside a clause',
    query: ps(OK + 'x'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /unexpected text/,
  },
  {
    name: 'another root',
    query: `<search>${OK}</search>`,
    code: 'PEER_E_INVALID_SEARCH',
    message: /<search>/,
  },
  {
    name: 'upper-case root',
    query: `<PEERSEARCH>${OK}</PEERSEARCH>`,
    code: 'PEER_E_INVALID_SEARCH',
  },
  { name: 'malformed XML', query: '<peersearch><clause>', code: 'PEER_E_INVALID_SEARCH' },
  {
    name: 'empty and',
    query: ps('<and></and>'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /<and> at \/peersearch\/and has no children/,
  },
  {
    name: 'empty or (self-closed)',
    query: ps(`<and>${OK}<or/></and>`),
    code: 'PEER_E_INVALID_SEARCH',
    message: /\/peersearch\/and\/or\[2\] has no children/,
  },
  {
    name: 'unknown element',
    query: ps('<not>' + OK + '</not>'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /unknown element <not>/,
  },
  {
    name: 'upper-case element',
    query: ps(`<AND>${OK}</AND>`),
    code: 'PEER_E_INVALID_SEARCH',
    message: /<AND>/,
  },
  {
    name: 'prefixed element',
    query: ps(`<xs:clause attrib="a" type="string">x</xs:clause>`),
    code: 'PEER_E_INVALID_SEARCH',
  },
  {
    name: 'unknown attribute on peersearch',
    query: `<peersearch version="1">${OK}</peersearch>`,
    code: 'PEER_E_INVALID_SEARCH',
    message: /"version" on <peersearch>/,
  },
  {
    name: 'default namespace on peersearch',
    query: `<peersearch xmlns="urn:x">${OK}</peersearch>`,
    code: 'PEER_E_INVALID_SEARCH',
    message: /"xmlns"/,
  },
  {
    name: 'unknown attribute on and',
    query: ps(`<and x="1">${OK}</and>`),
    code: 'PEER_E_INVALID_SEARCH',
    message: /"x" on <and>/,
  },
  {
    name: 'unknown attribute on clause',
    query: ps(cl('attrib="a" type="string" case="x"', 'v')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /clause 1 .*"case"/,
  },
  {
    name: 'element inside a clause',
    query: ps(cl('attrib="a" type="string"', '<and/>')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /<and> inside <clause>/,
  },
  // clause fields (XML)
  {
    name: 'missing attrib',
    query: ps(cl('type="string"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /"attrib" attribute is missing/,
  },
  {
    name: 'missing type in XML',
    query: ps(cl('attrib="a"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /"type" attribute is missing/,
  },
  {
    name: 'bad type, third clause',
    query: ps(`<or>${OK}${OK}${cl('attrib="a" type="float"', '1')}</or>`),
    code: 'PEER_E_INVALID_SEARCH',
    message: /clause 3 \(\/peersearch\/or\/clause\[3\]\): type "float" is not string, int or date/,
  },
  {
    name: 'upper-case type',
    query: ps(cl('attrib="a" type="String"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
  },
  {
    name: 'bad compare',
    query: ps(cl('attrib="a" type="string" compare="like"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /compare "like" is not one of/,
  },
  {
    name: 'non-alnum name (-)',
    query: ps(cl('attrib="my-name" type="string"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not alphanumeric/,
  },
  {
    name: 'non-alnum name (_)',
    query: ps(cl('attrib="my_name" type="string"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not alphanumeric/,
  },
  {
    name: 'empty name',
    query: ps(cl('attrib="" type="string"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not alphanumeric/,
  },
  {
    name: 'bad int',
    query: ps(cl('attrib="a" type="int"', 'abc')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not an int/,
  },
  {
    name: 'int out of range',
    query: ps(cl('attrib="a" type="int"', '2147483648')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not an int/,
  },
  {
    name: 'empty int',
    query: ps(cl('attrib="a" type="int"', '')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not an int/,
  },
  {
    name: 'bad date',
    query: ps(cl('attrib="a" type="date"', '2024-02-30')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not a date/,
  },
  {
    name: 'date text',
    query: ps(cl('attrib="a" type="date"', 'yesterday')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not a date/,
  },
  {
    name: 'reserved attribute as int',
    query: ps(cl('attrib="peerrecordid" type="int"', '1')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /reserved string attribute/,
  },
  {
    name: 'reserved date as string',
    query: ps(cl('attrib="peercreationtime" type="string"', 'x')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /reserved date attribute/,
  },
  // escapes: E_INVALIDARG, as Windows
  {
    name: 'bad escape \\n',
    query: ps(cl('attrib="a" type="string"', 'a\\nb')),
    code: 'E_INVALIDARG',
    message: /"\\n" is not an escape/,
  },
  {
    name: 'trailing backslash',
    query: ps(cl('attrib="a" type="string"', 'abc\\')),
    code: 'E_INVALIDARG',
    message: /trailing/,
  },
  { name: 'bad escape, ordered compare', query: c('a', 'less', '\\a'), code: 'E_INVALIDARG' },
  {
    name: 'bad escape, reserved',
    query: c('peercreatorid', 'equal', 'x\\y'),
    code: 'E_INVALIDARG',
  },
  // limits
  {
    name: 'too many clauses',
    query: { or: Array.from({ length: MAX_SEARCH_CLAUSES + 1 }, () => c('a', 'equal', 'x')) },
    code: 'PEER_E_INVALID_SEARCH',
    message: /more than 64 clauses/,
  },
  {
    name: 'too many clauses (XML)',
    query: ps(`<or>${OK.repeat(MAX_SEARCH_CLAUSES + 1)}</or>`),
    code: 'PEER_E_INVALID_SEARCH',
    message: /more than 64 clauses/,
  },
  {
    name: 'too deep',
    query: deep(MAX_SEARCH_DEPTH + 1),
    code: 'PEER_E_INVALID_SEARCH',
    message: /deeper than 8/,
  },
  {
    name: 'too deep (XML)',
    query: toXml(deep(MAX_SEARCH_DEPTH + 1)),
    code: 'PEER_E_INVALID_SEARCH',
    message: /deeper than 8/,
  },
  {
    name: 'oversize XML',
    query: ps(cl('attrib="a" type="string"', 'x'.repeat(MAX_SEARCH_XML_BYTES))),
    code: 'PEER_E_TOO_LARGE',
  },
  {
    name: 'oversize string value',
    query: c('a', 'equal', 'é'.repeat(MAX_SEARCH_XML_BYTES / 2 + 1)),
    code: 'PEER_E_TOO_LARGE',
  },
  {
    name: 'name too long',
    query: c('a'.repeat(MAX_ATTRIBUTE_NAME_CHARS + 1), 'equal', 'x'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /longer than 64/,
  },
  // typed object form
  { name: 'null', query: null, code: 'PEER_E_INVALID_SEARCH' },
  { name: 'a number', query: 42, code: 'PEER_E_INVALID_SEARCH' },
  { name: 'an array', query: [c('a', 'equal', 'x')], code: 'PEER_E_INVALID_SEARCH' },
  {
    name: 'empty and array',
    query: { and: [] },
    code: 'PEER_E_INVALID_SEARCH',
    message: /query\.and is empty/,
  },
  {
    name: 'empty or array',
    query: { or: [] },
    code: 'PEER_E_INVALID_SEARCH',
    message: /query\.or is empty/,
  },
  {
    name: 'and is not an array',
    query: { and: c('a', 'equal', 'x') },
    code: 'PEER_E_INVALID_SEARCH',
    message: /not an array/,
  },
  {
    name: 'and and or together',
    query: { and: [OK], or: [OK] },
    code: 'PEER_E_INVALID_SEARCH',
    message: /mixes/,
  },
  {
    name: 'null child',
    query: { and: [c('a', 'equal', 'x'), null] },
    code: 'PEER_E_INVALID_SEARCH',
    message: /query\.and\[1\] is not a clause/,
  },
  {
    name: 'unknown key',
    query: { attribute: 'a', value: 'x', case: true },
    code: 'PEER_E_INVALID_SEARCH',
    message: /unknown key "case"/,
  },
  {
    name: 'missing value',
    query: { attribute: 'a' },
    code: 'PEER_E_INVALID_SEARCH',
    message: /"value" is missing/,
  },
  {
    name: 'missing attribute',
    query: { value: 'x' },
    code: 'PEER_E_INVALID_SEARCH',
    message: /"attribute" is missing/,
  },
  {
    name: 'bad compare (object)',
    query: c('a', 'Equal' as 'equal', 'x'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /compare "Equal"/,
  },
  {
    name: 'bad type (object)',
    query: c('a', 'equal', 'x', 'float' as 'int'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /type "float"/,
  },
  {
    name: 'non-integer number',
    query: c('a', 'equal', 1.5),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not an integer/,
  },
  { name: 'NaN', query: c('a', 'equal', Number.NaN), code: 'PEER_E_INVALID_SEARCH' },
  {
    name: 'int out of range (object)',
    query: c('a', 'equal', 2 ** 31),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not an int/,
  },
  {
    name: 'invalid Date',
    query: c('a', 'equal', new Date('nope')),
    code: 'PEER_E_INVALID_SEARCH',
    message: /Invalid Date/,
  },
  {
    name: 'int type, text not a number',
    query: c('a', 'equal', 'x', 'int'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /not an int/,
  },
  {
    name: 'string type, number value',
    query: c('a', 'equal', 5, 'string'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /needs a string value/,
  },
  {
    name: 'date type, number value',
    query: c('a', 'equal', 5, 'date'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /needs a Date/,
  },
  {
    name: 'int type, Date value',
    query: c('a', 'equal', new Date(0), 'int'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /needs an integer/,
  },
  {
    name: 'boolean value',
    query: c('a', 'equal', true as unknown as string),
    code: 'PEER_E_INVALID_SEARCH',
  },
  {
    name: 'control character',
    query: c('a', 'equal', 'a\u0000b'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /control character/,
  },
  {
    name: 'reserved date inferred as string',
    query: c('peercreationtime', 'less', '2024-01-01'),
    code: 'PEER_E_INVALID_SEARCH',
    message: /reserved date attribute/,
  },
  {
    name: 'reserved, any case, wrong type',
    query: c('PEERRECORDTYPE', 'equal', 5),
    code: 'PEER_E_INVALID_SEARCH',
    message: /"peerrecordtype" is a reserved string/,
  },
]

describe('search: invalid queries', () => {
  for (const { name, query, code, message } of INVALID) {
    test(name, () => {
      throwsPeerError(() => normalizeSearch(query as SearchQuery), code, message ?? name)
      throwsPeerError(() => compileSearch(query as SearchQuery), code, message ?? name)
    })
  }

  test('parseSearchXml refuses what is not text', () => {
    throwsPeerError(() => parseSearchXml(5 as unknown as string), 'PEER_E_INVALID_SEARCH')
  })
})
