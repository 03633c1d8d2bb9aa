import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import Database from 'better-sqlite3'

import { SeededRandom } from '../../src/core/random.ts'
import { attributesFromObject, type RecordAttributes } from '../../src/graph/attributes.ts'
import { RECORD_FLAG_AUTOREFRESH, RECORD_FLAG_DELETED } from '../../src/graph/constants.ts'
import { compareRecords, newRecordId, type GraphRecord } from '../../src/graph/records.ts'
import { compileSearch, type SearchQuery } from '../../src/graph/search.ts'
import { RecordStore, type PutOutcome } from '../../src/graph/store.ts'
import { rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'

const GRAPH = 'graph1'
const PEER = 'alice'
const TYPE_A = '11111111-2222-4333-8444-555555555555'
const TYPE_B = 'abcdef00-0000-4000-8000-0000000000bb'
const T0 = Date.UTC(2026, 0, 1)
const HOUR = 3_600_000

let dir: string
let fileNo = 0
const random = new SeededRandom('store.test')

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peerinfra-store-'))
})

after(async () => {
  await rm(dir, { recursive: true, force: true })
})

function newFile(): string {
  return join(dir, `graph-${++fileNo}.db`)
}

function openNew(file = newFile()): RecordStore {
  const { store, created } = RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: true })
  assert.equal(created, true)
  return store
}

function record(overrides: Partial<GraphRecord> & { attrs?: RecordAttributes } = {}): GraphRecord {
  const { attrs, ...rest } = overrides
  const creator = rest.creator ?? PEER
  return {
    type: TYPE_A,
    id: newRecordId(creator, random),
    version: 1,
    flags: 0,
    creator,
    modifiedBy: creator,
    createdAt: T0,
    expiresAt: T0 + HOUR,
    modifiedAt: T0,
    attributes: attrs ? attributesFromObject(attrs) : [],
    securityData: new Uint8Array(),
    data: new Uint8Array([1, 2, 3]),
    ...rest,
  }
}

/** The next version of `r`, modified by `by` at `at`. */
function bump(r: GraphRecord, changes: Partial<GraphRecord> = {}): GraphRecord {
  return { ...r, version: r.version + 1, modifiedAt: r.modifiedAt + 1, ...changes }
}

function search(store: RecordStore, query: SearchQuery): string[] {
  const { sql, params } = compileSearch(query)
  return store.search(sql, params).map((r) => r.id)
}

function ids(records: Iterable<GraphRecord>): string[] {
  return [...records].map((r) => r.id)
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs]
  return xs.flatMap((x, i) =>
    permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]),
  )
}

describe('RecordStore.open', () => {
  test('creates a database, and reopening finds its records', () => {
    const file = newFile()
    const store = openNew(file)
    assert.ok(existsSync(file))
    assert.equal(store.file, file)
    assert.equal(store.count(), 0)
    assert.equal(store.getMeta('graphId'), GRAPH)
    assert.equal(store.getMeta('peerId'), PEER)
    const r = record()
    store.put(r, { receivedAt: T0 })
    store.close()
    const again = RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: false })
    assert.equal(again.created, false)
    assert.deepEqual(again.store.get(r.id), r)
    again.store.close()
    const withCreate = RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: true })
    assert.equal(withCreate.created, false)
    assert.equal(withCreate.store.count(), 1)
    withCreate.store.close()
  })

  test('another graph or peer is PEER_E_INVALID_DATABASE, and the file stays usable', () => {
    const file = newFile()
    openNew(file).close()
    for (const [graphId, peerId] of [
      ['graph2', PEER],
      [GRAPH, 'bob'],
      ['Graph1', PEER],
      [GRAPH, 'Alice'],
    ] as const) {
      throwsPeerError(
        () => RecordStore.open(file, { graphId, peerId, create: true }),
        'PEER_E_INVALID_DATABASE',
        /belongs to graph/,
      )
    }
    const { store } = RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: false })
    assert.equal(store.getMeta('graphId'), GRAPH)
    store.close()
  })

  test('a file that is not SQLite is PEER_E_INVALID_DATABASE', async () => {
    const file = newFile()
    await writeFile(
      file,
      Buffer.from('this is not an SQLite database, just junk bytes\0\x01\x02'.repeat(200)),
    )
    for (const create of [true, false]) {
      throwsPeerError(
        () => RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create }),
        'PEER_E_INVALID_DATABASE',
      )
    }
  })

  test('a missing file without create is PEER_E_DATABASE_NOT_PRESENT, and is not created', () => {
    const file = newFile()
    throwsPeerError(
      () => RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: false }),
      'PEER_E_DATABASE_NOT_PRESENT',
    )
    assert.equal(existsSync(file), false)
  })

  test('a file in a missing directory without create is PEER_E_DATABASE_NOT_PRESENT', () => {
    const file = join(dir, 'no-such-dir', 'graph.db')
    throwsPeerError(
      () => RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: false }),
      'PEER_E_DATABASE_NOT_PRESENT',
    )
  })

  test('another schema version is PEER_E_INVALID_DATABASE', () => {
    const file = newFile()
    const store = openNew(file)
    store.put(record(), { receivedAt: T0 })
    store.close()
    const db = new Database(file)
    db.pragma('user_version = 99')
    db.close()
    throwsPeerError(
      () => RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: false }),
      'PEER_E_INVALID_DATABASE',
      /schema version 99/,
    )
  })

  test('a database claiming our schema version without our tables is PEER_E_INVALID_DATABASE', () => {
    const file = newFile()
    const db = new Database(file)
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)')
    db.pragma('user_version = 1')
    db.close()
    throwsPeerError(
      () => RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: true }),
      'PEER_E_INVALID_DATABASE',
    )
  })

  test('an SQLite database of another application is PEER_E_INVALID_DATABASE', () => {
    const file = newFile()
    const db = new Database(file)
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)')
    db.close()
    throwsPeerError(
      () => RecordStore.open(file, { graphId: GRAPH, peerId: PEER, create: true }),
      'PEER_E_INVALID_DATABASE',
    )
  })
})

describe('RecordStore.put', () => {
  test('added, unchanged, updated and older, with the previous copy', () => {
    const store = openNew()
    const v1 = record({ attrs: { color: 'red' } })
    const v2 = bump(v1, { data: new Uint8Array([9]) })
    let result = store.put(v1, { receivedAt: T0 })
    assert.deepEqual(result, { outcome: 'added', previous: undefined })
    result = store.put({ ...v1, data: new Uint8Array(v1.data) }, { receivedAt: T0 + 1 })
    assert.equal(result.outcome, 'unchanged')
    assert.deepEqual(result.previous, v1)
    result = store.put(v2, { receivedAt: T0 + 2 })
    assert.equal(result.outcome, 'updated')
    assert.deepEqual(result.previous, v1)
    result = store.put(v1, { receivedAt: T0 + 3 })
    assert.equal(result.outcome, 'older')
    assert.deepEqual(result.previous, v2)
    assert.deepEqual(store.get(v1.id), v2)
    assert.equal(store.count(), 1)
    store.close()
  })

  test('keeps the same winner whatever order four copies arrive in', () => {
    const store = openNew()
    const v1 = record({ attrs: { n: 1 } })
    const copies: GraphRecord[] = [
      v1,
      bump(v1, { modifiedBy: 'alice', modifiedAt: T0 + 50, attributes: [] }),
      bump(v1, { modifiedBy: 'bob', modifiedAt: T0 + 10, data: new Uint8Array([7]) }),
      bump(v1, { modifiedBy: 'bob', modifiedAt: T0 + 10, securityData: new Uint8Array([1]) }),
    ]
    const winner = copies.reduce((a, b) => (compareRecords(a, b) >= 0 ? a : b))
    assert.equal(winner, copies[3])
    const orders = permutations([0, 1, 2, 3])
    assert.equal(orders.length, 24)
    for (const order of orders) {
      store.remove(v1.id)
      let best: GraphRecord | undefined
      for (const i of order) {
        const copy = copies[i]!
        const { outcome } = store.put(copy, { receivedAt: T0 })
        const expected: PutOutcome =
          best === undefined
            ? 'added'
            : compareRecords(copy, best) > 0
              ? 'updated'
              : compareRecords(copy, best) < 0
                ? 'older'
                : 'unchanged'
        assert.equal(outcome, expected, `order ${order.join('')}, copy ${i}`)
        if (best === undefined || compareRecords(copy, best) > 0) best = copy
      }
      assert.deepEqual(store.getEntry(v1.id), { record: winner, deferred: false }, order.join(''))
    }
    store.close()
  })

  test("an update replaces the record's attribute rows", () => {
    const store = openNew()
    const v1 = record({ attrs: { color: 'red', size: 3 } })
    store.put(v1, { receivedAt: T0 })
    assert.deepEqual(search(store, { attribute: 'color', value: 'red' }), [v1.id])
    assert.deepEqual(search(store, { attribute: 'size', value: 3 }), [v1.id])
    const v2 = bump(v1, { attributes: attributesFromObject({ color: 'blue' }) })
    assert.equal(store.put(v2, { receivedAt: T0 }).outcome, 'updated')
    assert.deepEqual(search(store, { attribute: 'color', value: 'red' }), [])
    assert.deepEqual(search(store, { attribute: 'size', value: 3 }), [])
    assert.deepEqual(search(store, { attribute: 'color', value: 'blue' }), [v1.id])
    assert.deepEqual(store.get(v1.id)!.attributes, [
      { name: 'color', type: 'string', value: 'blue' },
    ])
    // An older copy arriving later does not bring the old rows back.
    assert.equal(store.put(v1, { receivedAt: T0 }).outcome, 'older')
    assert.deepEqual(search(store, { attribute: 'color', value: 'red' }), [])
    const v3 = bump(v2, { attributes: [] })
    store.put(v3, { receivedAt: T0 })
    assert.deepEqual(search(store, { attribute: 'color', value: 'blue' }), [])
    assert.deepEqual(store.get(v1.id)!.attributes, [])
    store.close()
  })

  test('a deferred copy replaces a valid one and is hidden; the same copy made valid shows', () => {
    const store = openNew()
    const v1 = record({ attrs: { color: 'red' } })
    store.put(v1, { receivedAt: T0 })
    const v2 = bump(v1)
    assert.equal(store.put(v2, { receivedAt: T0, deferred: true }).outcome, 'updated')
    assert.equal(store.get(v1.id), undefined)
    assert.deepEqual(store.getEntry(v1.id), { record: v2, deferred: true })
    assert.deepEqual(search(store, { attribute: 'color', value: 'red' }), [])
    assert.equal(store.put(v2, { receivedAt: T0, deferred: true }).outcome, 'unchanged')
    assert.equal(store.put(v2, { receivedAt: T0 }).outcome, 'updated')
    assert.deepEqual(store.get(v1.id), v2)
    assert.deepEqual(search(store, { attribute: 'color', value: 'red' }), [v1.id])
    store.close()
  })

  test('remove deletes the record and its attribute rows', () => {
    const store = openNew()
    const r = record({ attrs: { color: 'red' } })
    store.put(r, { receivedAt: T0 })
    assert.equal(store.remove(r.id), true)
    assert.equal(store.getEntry(r.id), undefined)
    assert.deepEqual(search(store, { attribute: 'color', value: 'red' }), [])
    assert.equal(store.remove(r.id), false)
    // It can come back, as a new record.
    assert.equal(store.put(r, { receivedAt: T0 }).outcome, 'added')
    assert.deepEqual(search(store, { attribute: 'color', value: 'red' }), [r.id])
    store.close()
  })

  test('a transaction that throws leaves nothing behind', () => {
    const store = openNew()
    const r = record()
    assert.throws(
      () =>
        store.transaction(() => {
          store.put(r, { receivedAt: T0 })
          store.setMeta('k', 'v')
          throw new Error('boom')
        }),
      /boom/,
    )
    assert.equal(store.getEntry(r.id), undefined)
    assert.equal(store.getMeta('k'), undefined)
    assert.equal(
      store.transaction(() => store.put(r, { receivedAt: T0 }).outcome),
      'added',
    )
    store.close()
  })
})

describe('RecordStore reads', () => {
  let store: RecordStore
  const live = record({ type: TYPE_A, creator: 'alice', attrs: { k: 'v' } })
  const otherType = record({ type: TYPE_B, creator: 'alice', expiresAt: T0 + 3 * HOUR })
  const bobs = record({ type: TYPE_A, creator: 'bob', expiresAt: T0 + 2 * HOUR })
  const tomb = record({
    type: TYPE_A,
    creator: 'alice',
    flags: RECORD_FLAG_DELETED,
    version: 2,
    modifiedAt: T0 + 1,
    expiresAt: T0 + HOUR / 2,
    attrs: { k: 'v' },
  })
  const deferred = record({
    type: TYPE_B,
    creator: 'bob',
    expiresAt: T0 + 4 * HOUR,
    attrs: { k: 'v' },
  })

  before(() => {
    store = openNew()
    for (const r of [live, otherType, bobs, tomb]) store.put(r, { receivedAt: T0 })
    store.put(deferred, { receivedAt: T0, deferred: true })
  })
  after(() => store.close())

  test('get hides tombstones and deferred records; getEntry shows them', () => {
    assert.deepEqual(store.get(live.id), live)
    assert.equal(store.get(tomb.id), undefined)
    assert.equal(store.get(deferred.id), undefined)
    assert.equal(store.get('00000000-0000-0000-0000-000000000000'), undefined)
    assert.deepEqual(store.getEntry(tomb.id), { record: tomb, deferred: false })
    assert.deepEqual(store.getEntry(deferred.id), { record: deferred, deferred: true })
    assert.equal(store.getEntry('00000000-0000-0000-0000-000000000000'), undefined)
  })

  test('search sees live records only', () => {
    assert.deepEqual(search(store, { attribute: 'k', value: 'v' }), [live.id])
  })

  test('list filters by type and creator (ANDed), in arrival order', () => {
    assert.deepEqual(ids(store.list()), [live.id, otherType.id, bobs.id])
    assert.deepEqual(ids(store.list({ type: TYPE_A })), [live.id, bobs.id])
    assert.deepEqual(ids(store.list({ creator: 'alice' })), [live.id, otherType.id])
    assert.deepEqual(ids(store.list({ type: TYPE_A, creator: 'bob' })), [bobs.id])
    assert.deepEqual(ids(store.list({ type: TYPE_B, creator: 'bob' })), [])
    assert.deepEqual(ids(store.list({ creator: 'carol' })), [])
  })

  test('list includes tombstones and deferred records on request', () => {
    assert.deepEqual(ids(store.list({ includeDeleted: true })), [
      live.id,
      otherType.id,
      bobs.id,
      tomb.id,
    ])
    assert.deepEqual(ids(store.list({ includeDeferred: true })), [
      live.id,
      otherType.id,
      bobs.id,
      deferred.id,
    ])
    assert.deepEqual(
      ids(store.list({ includeDeleted: true, includeDeferred: true, type: TYPE_B })),
      [otherType.id, deferred.id],
    )
    assert.deepEqual(ids(store.list({ includeDeleted: true, creator: 'alice', type: TYPE_A })), [
      live.id,
      tomb.id,
    ])
  })

  test('count counts live records', () => {
    assert.equal(store.count(), 3)
  })

  test('expired returns records of every kind by expiry, up to the limit', () => {
    assert.deepEqual(ids(store.expired(T0, 10)), [])
    assert.deepEqual(ids(store.expired(T0 + HOUR / 2 - 1, 10)), [])
    assert.deepEqual(ids(store.expired(T0 + HOUR / 2, 10)), [tomb.id])
    assert.deepEqual(ids(store.expired(T0 + HOUR, 10)), [tomb.id, live.id])
    assert.deepEqual(ids(store.expired(T0 + 10 * HOUR, 10)), [
      tomb.id,
      live.id,
      bobs.id,
      otherType.id,
      deferred.id,
    ])
    assert.deepEqual(ids(store.expired(T0 + 10 * HOUR, 2)), [tomb.id, live.id])
    assert.deepEqual(store.expired(T0 + 10 * HOUR, 1)[0], tomb)
  })

  test('nextExpiry is the earliest expiry of any stored record', () => {
    assert.equal(store.nextExpiry(), T0 + HOUR / 2)
    const empty = openNew()
    assert.equal(empty.nextExpiry(), undefined)
    empty.close()
  })

  test('deferred lists deferred records; setDeferred moves them', () => {
    const s = openNew()
    const a = record()
    const b = record()
    s.put(a, { receivedAt: T0, deferred: true })
    s.put(b, { receivedAt: T0 })
    assert.deepEqual(s.deferred(), [a])
    assert.equal(s.count(), 1)
    s.setDeferred(a.id, false)
    assert.deepEqual(s.deferred(), [])
    assert.deepEqual(s.get(a.id), a)
    assert.equal(s.count(), 2)
    s.setDeferred(b.id, true)
    assert.deepEqual(ids(s.deferred()), [b.id])
    assert.equal(s.get(b.id), undefined)
    assert.equal(s.count(), 1)
    s.close()
  })
})

describe('RecordStore autorefresh', () => {
  test("only the creator's live, valid AUTOREFRESH records are due", () => {
    const store = openNew()
    const A = RECORD_FLAG_AUTOREFRESH
    const mine1 = record({ flags: A, expiresAt: T0 + 3 * HOUR })
    const mine2 = record({ flags: A, expiresAt: T0 + 5 * HOUR })
    const plain = record({ flags: 0, expiresAt: T0 + HOUR })
    const deleted = record({ flags: A | RECORD_FLAG_DELETED, expiresAt: T0 + HOUR })
    const deferredRec = record({ flags: A, expiresAt: T0 + HOUR })
    const bobs = record({ flags: A, creator: 'bob', expiresAt: T0 + HOUR })
    for (const r of [mine2, plain, deleted, mine1, bobs]) store.put(r, { receivedAt: T0 })
    store.put(deferredRec, { receivedAt: T0, deferred: true })

    assert.equal(store.nextAutoRefresh('alice'), T0 + 3 * HOUR)
    assert.equal(store.nextAutoRefresh('bob'), T0 + HOUR)
    assert.equal(store.nextAutoRefresh('carol'), undefined)
    assert.deepEqual(store.autoRefreshDue('alice', T0 + 2 * HOUR, 10), [])
    assert.deepEqual(ids(store.autoRefreshDue('alice', T0 + 3 * HOUR, 10)), [mine1.id])
    assert.deepEqual(ids(store.autoRefreshDue('alice', T0 + 9 * HOUR, 10)), [mine1.id, mine2.id])
    assert.deepEqual(ids(store.autoRefreshDue('alice', T0 + 9 * HOUR, 1)), [mine1.id])
    assert.deepEqual(ids(store.autoRefreshDue('bob', T0 + 9 * HOUR, 10)), [bobs.id])

    // Once deleted, a record is no longer refreshed.
    store.put(bump(mine1, { flags: A | RECORD_FLAG_DELETED }), { receivedAt: T0 })
    assert.equal(store.nextAutoRefresh('alice'), T0 + 5 * HOUR)
    // A validated deferred record is.
    store.setDeferred(deferredRec.id, false)
    assert.equal(store.nextAutoRefresh('alice'), T0 + HOUR)
    store.close()
  })
})

describe('RecordStore meta, backup, close', () => {
  test('setMeta and getMeta', () => {
    const store = openNew()
    assert.equal(store.getMeta('missing'), undefined)
    store.setMeta('leftAt', '123')
    assert.equal(store.getMeta('leftAt'), '123')
    store.setMeta('leftAt', '456')
    assert.equal(store.getMeta('leftAt'), '456')
    store.setMeta('empty', '')
    assert.equal(store.getMeta('empty'), '')
    store.close()
  })

  test('backup writes a database RecordStore.open reads with the same records', async () => {
    const store = openNew()
    const records = [
      record({ attrs: { a: 'x', n: 5, d: new Date(T0) } }),
      record({ flags: RECORD_FLAG_DELETED, version: 2, modifiedAt: T0 + 1 }),
      record({ creator: 'bob', data: new Uint8Array(70_000).fill(7) }),
    ]
    for (const r of records) store.put(r, { receivedAt: T0 })
    const held = record()
    store.put(held, { receivedAt: T0, deferred: true })
    store.setMeta('leftAt', '99')
    const copy = newFile()
    await store.backup(copy)
    // Overwrites an existing file.
    store.put(record(), { receivedAt: T0 })
    await store.backup(copy)
    const all = [...store.list({ includeDeleted: true, includeDeferred: true })]
    assert.equal(all.length, 5)
    store.close()

    throwsPeerError(
      () => RecordStore.open(copy, { graphId: 'other', peerId: PEER, create: false }),
      'PEER_E_INVALID_DATABASE',
    )
    const { store: restored, created } = RecordStore.open(copy, {
      graphId: GRAPH,
      peerId: PEER,
      create: false,
    })
    assert.equal(created, false)
    assert.deepEqual([...restored.list({ includeDeleted: true, includeDeferred: true })], all)
    assert.deepEqual(restored.deferred(), [held])
    assert.equal(restored.getMeta('leftAt'), '99')
    const { sql, params } = compileSearch({ attribute: 'n', value: 5 })
    assert.deepEqual(ids(restored.search(sql, params)), [records[0]!.id])
    restored.close()
  })

  test('every call after close is PEER_E_INVALID_GRAPH; close twice is fine', async () => {
    const store = openNew()
    const r = record()
    store.put(r, { receivedAt: T0 })
    store.close()
    store.close()
    const calls: [string, () => unknown][] = [
      ['get', () => store.get(r.id)],
      ['getEntry', () => store.getEntry(r.id)],
      ['put', () => store.put(r, { receivedAt: T0 })],
      ['remove', () => store.remove(r.id)],
      ['setDeferred', () => store.setDeferred(r.id, true)],
      ['list', () => [...store.list()]],
      ['search', () => store.search('1', [])],
      ['expired', () => store.expired(T0, 1)],
      ['nextExpiry', () => store.nextExpiry()],
      ['nextAutoRefresh', () => store.nextAutoRefresh(PEER)],
      ['autoRefreshDue', () => store.autoRefreshDue(PEER, T0, 1)],
      ['deferred', () => store.deferred()],
      ['count', () => store.count()],
      ['getMeta', () => store.getMeta('graphId')],
      ['setMeta', () => store.setMeta('a', 'b')],
      ['transaction', () => store.transaction(() => 1)],
    ]
    for (const [name, call] of calls) throwsPeerError(call, 'PEER_E_INVALID_GRAPH', name)
    await rejectsPeerError(store.backup(newFile()), 'PEER_E_INVALID_GRAPH')
  })

  test('records survive a close and reopen byte for byte', () => {
    const file = newFile()
    const store = openNew(file)
    const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    const records = [
      record({
        data: allBytes,
        securityData: allBytes.slice().reverse(),
        attrs: {
          text: 'héllo 😀 世界 <&> "q" \'a\'',
          spaces: '  \t\n ',
          crlf: 'a\r\nb',
          empty: '',
          looksNumeric: '42',
          min: -2147483648,
          max: 2147483647,
          zero: 0,
          before1970: new Date(-86_400_001),
          year99: new Date(new Date(0).setUTCFullYear(99, 11, 31)),
          precise: new Date(T0 + 999),
        },
      }),
      record({ data: new Uint8Array(), securityData: new Uint8Array() }),
      record({ data: new Uint8Array([0]), securityData: new Uint8Array([0, 0]) }),
      record({
        creator: 'bób 😀',
        modifiedBy: 'çarol',
        version: 2 ** 32 - 1,
        flags: RECORD_FLAG_AUTOREFRESH | RECORD_FLAG_DELETED,
        createdAt: 0,
        modifiedAt: 1,
        expiresAt: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
        data: new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff),
      }),
    ]
    for (const r of records) store.put(r, { receivedAt: T0 })
    store.close()
    const { store: reopened } = RecordStore.open(file, {
      graphId: GRAPH,
      peerId: PEER,
      create: false,
    })
    for (const r of records) {
      const back = reopened.getEntry(r.id)!.record
      assert.deepEqual(back, r)
      assert.ok(back.data instanceof Uint8Array && back.securityData instanceof Uint8Array)
      assert.ok(Buffer.from(back.data).equals(Buffer.from(r.data)))
      assert.equal(compareRecords(back, r), 0)
    }
    // The typed values are typed: an int is a number, a numeric-looking string a string.
    const attrs = reopened.getEntry(records[0]!.id)!.record.attributes
    assert.equal(attrs.find((a) => a.name === 'looksNumeric')!.value, '42')
    assert.equal(attrs.find((a) => a.name === 'min')!.value, -2147483648)
    assert.deepEqual(
      attrs.map((a) => a.name),
      [...attrs.map((a) => a.name)].sort(),
    )
    reopened.close()
  })
})
