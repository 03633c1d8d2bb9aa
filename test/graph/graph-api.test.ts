/**
 * node.graphs and PeerGraph, one node, no network: the Windows rules of windows-api.md section 1
 * that hold locally (lifecycle, properties, record calls, expiry and AUTOREFRESH, the security
 * provider, events, search, export and import), on a virtual clock.
 */
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { VirtualClock } from '../../src/core/clock.ts'
import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import type { PeerGraph } from '../../src/graph/graph.ts'
import type { GraphEvents } from '../../src/graph/events.ts'
import type { GraphSecurityProvider, Validation } from '../../src/graph/security.ts'
import { PeerNode } from '../../src/node/peer-node.ts'
import { assertPeerError, rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const OTHER = '0dd0d0d0-1111-4222-8333-444455556666'
const MINUTE = 60_000

const root = tempRoot('peerinfra-graph-api-')

let counter = 0
async function startNode(
  name = `n${counter++}`,
): Promise<{ node: PeerNode; clock: VirtualClock; peerId: string }> {
  const clock = new VirtualClock()
  const node = await PeerNode.start({
    dataDir: join(root.path, name),
    clock,
    random: new SeededRandom(`graph-api/${name}`),
  })
  const id = await node.identities.create({ classifier: name })
  return { node, clock, peerId: id.peerName }
}

function inMinutes(clock: VirtualClock, minutes: number): Date {
  return new Date(clock.now() + minutes * MINUTE)
}

/** Collects the graph's events of one type. */
function collect<K extends keyof GraphEvents>(graph: PeerGraph, type: K): GraphEvents[K][] {
  const seen: GraphEvents[K][] = []
  graph.on(type, (e) => seen.push(e))
  return seen
}

describe('graph lifecycle', () => {
  test('create: synchronized at once, defaults filled, one database per graph and peer', async () => {
    const { node, peerId } = await startNode()
    const g = await node.graphs.create({ graphId: 'chat', friendlyName: 'Chat' })
    assert.deepEqual(g.status, { listening: false, hasConnections: false, synchronized: true })
    assert.equal(g.dataCreated, false)
    assert.deepEqual(g.properties, {
      graphId: 'chat',
      creatorId: peerId,
      friendlyName: 'Chat',
      comment: '',
      scope: 'global',
      maxRecordSize: 60 * 1024 * 1024,
      presenceLifetime: 300,
      presenceMax: -1,
      deferExpiration: false,
    })
    await rejectsPeerError(node.graphs.create({ graphId: 'chat' }), 'PEER_E_DUPLICATE_GRAPH')
    await rejectsPeerError(node.graphs.open('chat'), 'PEER_E_DUPLICATE_GRAPH')
    await g.close()
    await rejectsPeerError(
      node.graphs.create({ graphId: 'chat' }),
      'PEER_E_DATABASE_ALREADY_PRESENT',
    )
    // Another peer id on the same node has its own database.
    const g2 = await node.graphs.create({ graphId: 'chat', peerId: 'someone.else' })
    assert.equal(g2.peerId, 'someone.else')
    await node.stop()
    assert.equal(g2.isClosed, true, 'node.stop closes its graphs')
  })

  test('create refuses properties out of range with E_INVALIDARG', async () => {
    const { node } = await startNode()
    const bad = [
      { graphId: '' },
      { graphId: 'x'.repeat(256) },
      { graphId: 'g', maxRecordSize: 1023 },
      { graphId: 'g', maxRecordSize: 60 * 1024 * 1024 + 1 },
      { graphId: 'g', presenceLifetime: 299 },
      { graphId: 'g', presenceMax: -2 },
      { graphId: 'g', presenceMax: 1.5 },
      { graphId: 'g', friendlyName: 'f'.repeat(256) },
      { graphId: 'g', comment: 'c'.repeat(512) },
      { graphId: 'g', scope: 'galactic' as never },
    ]
    for (const props of bad) {
      await rejectsPeerError(node.graphs.create(props), 'E_INVALIDARG', JSON.stringify(props))
    }
    const ok = await node.graphs.create({
      graphId: 'g',
      maxRecordSize: 1024,
      comment: 'c'.repeat(511),
    })
    assert.equal(ok.properties.maxRecordSize, 1024)
    await node.stop()
  })

  test('open: an existing database is ready with its records; a new one is not ready until sync', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'chat' })
    const id = await g.addRecord({
      type: CHAT,
      data: Buffer.from('hi'),
      expiresAt: inMinutes(clock, 60),
    })
    await g.close()

    const again = await node.graphs.open('chat')
    assert.equal(again.dataCreated, false)
    assert.equal(again.status.synchronized, true)
    assert.deepEqual(Buffer.from(again.getRecord(id)!.data).toString(), 'hi')
    await again.close()

    const fresh = await node.graphs.open('never-seen')
    assert.equal(fresh.dataCreated, true, "Windows' PEER_S_GRAPH_DATA_CREATED")
    assert.equal(fresh.status.synchronized, false)
    await rejectsPeerError(
      fresh.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 5) }),
      'PEER_E_GRAPH_NOT_READY',
    )
    throwsPeerError(() => fresh.getRecord(id), 'PEER_E_GRAPH_NOT_READY')
    throwsPeerError(() => [...fresh.records()], 'PEER_E_GRAPH_NOT_READY')
    throwsPeerError(() => fresh.search({ attribute: 'a', value: 'b' }), 'PEER_E_GRAPH_NOT_READY')
    throwsPeerError(() => fresh.properties, 'PEER_E_GRAPH_NOT_READY')
    await node.stop()
  })

  test('the security provider must match the one the graph was created with', async () => {
    const { node } = await startNode()
    const provider: GraphSecurityProvider = {
      name: 'test-provider',
      secureRecord: () => new Uint8Array([1]),
      validateRecord: () => 'accept',
    }
    const g = await node.graphs.create({ graphId: 'secure', security: provider })
    await g.close()
    await rejectsPeerError(node.graphs.open('secure'), 'E_INVALIDARG', /test-provider/)
    await rejectsPeerError(
      node.graphs.open('secure', { security: { ...provider, name: 'other' } }),
      'E_INVALIDARG',
    )
    const ok = await node.graphs.open('secure', { security: provider })
    assert.equal(ok.status.synchronized, true)
    await node.stop()
  })

  test('delete needs the graph closed, then removes its database', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'gone' })
    await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 10) })
    await rejectsPeerError(node.graphs.delete('gone'), 'PEER_E_GRAPH_IN_USE')
    await g.close()
    await node.graphs.delete('gone')
    await rejectsPeerError(node.graphs.delete('gone'), 'PEER_E_DATABASE_NOT_PRESENT')
    const reopened = await node.graphs.open('gone')
    assert.equal(reopened.dataCreated, true)
    await node.stop()
  })

  test('calls on a closed graph fail with PEER_E_INVALID_GRAPH', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'closed' })
    await g.close()
    await g.close()
    await rejectsPeerError(
      g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 10) }),
      'PEER_E_INVALID_GRAPH',
    )
    throwsPeerError(() => g.properties, 'PEER_E_INVALID_GRAPH')
    await node.stop()
  })
})

describe('properties', () => {
  test('setProperties changes only the four mutable fields, persists, and fires property-changed', async () => {
    const { node } = await startNode()
    const g = await node.graphs.create({ graphId: 'props', maxRecordSize: 4096 })
    const events = collect(g, 'property-changed')
    await g.setProperties({
      friendlyName: 'New',
      comment: 'c',
      presenceLifetime: 600,
      presenceMax: 3,
      // Windows ignores the fields that cannot change.
      ...({ graphId: 'other', maxRecordSize: 9999 } as object),
    })
    assert.equal(events.length, 1)
    const p = g.properties
    assert.deepEqual(
      [p.graphId, p.friendlyName, p.comment, p.presenceLifetime, p.presenceMax, p.maxRecordSize],
      ['props', 'New', 'c', 600, 3, 4096],
    )
    await rejectsPeerError(g.setProperties({ presenceLifetime: 10 }), 'E_INVALIDARG')
    await g.close()
    const again = await node.graphs.open('props')
    assert.equal(again.properties.friendlyName, 'New')
    await node.stop()
  })
})

describe('records', () => {
  test('add: the infrastructure sets id, version, creator and times', async () => {
    const { node, clock, peerId } = await startNode()
    const g = await node.graphs.create({ graphId: 'rec' })
    const added = collect(g, 'record-changed')
    clock.advance(1234)
    const id = await g.addRecord({
      type: CHAT.toUpperCase(),
      attributes: { text: 'hello', n: 7, when: new Date(Date.UTC(2026, 0, 2)) },
      data: new Uint8Array([1, 2, 3]),
      expiresAt: inMinutes(clock, 30),
    })
    const r = g.getRecord(id)!
    assert.equal(r.type, CHAT, 'the type GUID is stored lowercase')
    assert.equal(r.version, 1)
    assert.equal(r.creatorId, peerId)
    assert.equal(r.modifiedById, peerId)
    assert.equal(r.createdAt.getTime(), clock.now())
    assert.equal(r.modifiedAt.getTime(), clock.now())
    assert.deepEqual(r.attributes, { n: 7, text: 'hello', when: new Date(Date.UTC(2026, 0, 2)) })
    assert.match(r.attributesXml!, /^<attributes><attribute name="n" type="int">7<\/attribute>/)
    assert.deepEqual([...r.data], [1, 2, 3])
    assert.equal(r.flags, 0)
    assert.deepEqual(added, [{ change: 'added', recordId: id, recordType: CHAT }])
    assert.equal(g.recordCount, 1)
    await node.stop()
  })

  test('add refuses a past expiration, an oversize record, a bad type and bad attributes', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'rules', maxRecordSize: 1024 })
    await rejectsPeerError(
      g.addRecord({ type: CHAT, expiresAt: new Date(clock.now()) }),
      'PEER_E_INVALID_RECORD_EXPIRATION',
    )
    await rejectsPeerError(
      g.addRecord({ type: CHAT, data: new Uint8Array(1025), expiresAt: inMinutes(clock, 1) }),
      'PEER_E_MAX_RECORD_SIZE_EXCEEDED',
    )
    await rejectsPeerError(
      g.addRecord({ type: 'chat', expiresAt: inMinutes(clock, 1) }),
      'E_INVALIDARG',
    )
    await rejectsPeerError(
      g.addRecord({ type: CHAT, attributes: { 'bad-name': 1 }, expiresAt: inMinutes(clock, 1) }),
      'PEER_E_INVALID_ATTRIBUTES',
    )
    await rejectsPeerError(
      g.addRecord({
        type: CHAT,
        attributes: { peerrecordid: 'x' },
        expiresAt: inMinutes(clock, 1),
      }),
      'PEER_E_INVALID_ATTRIBUTES',
    )
    await rejectsPeerError(
      g.addRecord({ type: CHAT, autoRefresh: true, expiresAt: inMinutes(clock, 3) }),
      'PEER_E_INVALID_RECORD_EXPIRATION',
    )
    await rejectsPeerError(
      g.addRecord({ type: CHAT, data: 'text' as never, expiresAt: inMinutes(clock, 1) }),
      'E_INVALIDARG',
    )
    assert.equal(g.recordCount, 0, 'nothing refused was stored')
    await node.stop()
  })

  test('update bumps the version, keeps what is left out, and never shortens the expiration', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'upd' })
    const id = await g.addRecord({
      type: CHAT,
      attributes: { a: 'one' },
      data: Buffer.from('v1'),
      expiresAt: inMinutes(clock, 30),
    })
    const changes = collect(g, 'record-changed')
    clock.advance(MINUTE)
    await g.updateRecord(id, { data: Buffer.from('v2') })
    let r = g.getRecord(id)!
    assert.equal(r.version, 2)
    assert.equal(Buffer.from(r.data).toString(), 'v2')
    assert.deepEqual(r.attributes, { a: 'one' })
    assert.equal(r.modifiedAt.getTime(), clock.now())
    assert.ok(r.modifiedAt > r.createdAt)
    await rejectsPeerError(
      g.updateRecord(id, { expiresAt: inMinutes(clock, 10) }),
      'PEER_E_INVALID_RECORD_EXPIRATION',
    )
    await g.updateRecord(id, { expiresAt: inMinutes(clock, 90), attributes: '<attributes/>' })
    r = g.getRecord(id)!
    assert.equal(r.version, 3)
    assert.deepEqual(r.attributes, {})
    assert.equal(r.expiresAt.getTime(), inMinutes(clock, 90).getTime())
    await rejectsPeerError(
      g.updateRecord('00000000-0000-4000-8000-000000000000', { data: new Uint8Array() }),
      'PEER_E_RECORD_NOT_FOUND',
    )
    assert.deepEqual(
      changes.map((c) => c.change),
      ['updated', 'updated'],
    )
    await node.stop()
  })

  test('concurrent updates build on each other: no version is lost', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'serial' })
    const id = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) })
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => g.updateRecord(id, { data: new Uint8Array([i]) })),
    )
    const r = g.getRecord(id)!
    assert.equal(r.version, 11)
    assert.deepEqual([...r.data], [9])
    await node.stop()
  })

  test('delete: graph-wide leaves a tombstone; local removes it here; both hide it from Get and Enum', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'del' })
    const a = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) })
    const b = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) })
    const changes = collect(g, 'record-changed')
    await g.deleteRecord(a)
    await g.deleteRecord(b, { local: true })
    assert.equal(g.getRecord(a), undefined)
    assert.equal(g.getRecord(b), undefined)
    assert.deepEqual([...g.records()], [])
    assert.deepEqual(
      changes.map((c) => [c.change, c.recordId]),
      [
        ['deleted', a],
        ['deleted', b],
      ],
    )
    await rejectsPeerError(g.deleteRecord(a), 'PEER_E_RECORD_NOT_FOUND')
    await rejectsPeerError(g.updateRecord(a, { data: new Uint8Array() }), 'PEER_E_RECORD_NOT_FOUND')
    await node.stop()
  })

  test('records() filters by type and creator, ANDed', async () => {
    const { node, clock, peerId } = await startNode()
    const g = await node.graphs.create({ graphId: 'enum' })
    const chat = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) })
    const other = await g.addRecord({ type: OTHER, expiresAt: inMinutes(clock, 30) })
    assert.deepEqual(
      [...g.records({ type: CHAT })].map((r) => r.id),
      [chat],
    )
    assert.deepEqual(
      [...g.records({ type: OTHER, creator: peerId })].map((r) => r.id),
      [other],
    )
    assert.deepEqual([...g.records({ type: OTHER, creator: 'nobody' })], [])
    assert.deepEqual(
      [...g.records()].map((r) => r.id),
      [chat, other],
    )
    await node.stop()
  })

  test('search runs XML and typed queries; an invalid query throws from the call', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'search' })
    const alice = await g.addRecord({
      type: CHAT,
      attributes: { author: 'alice', likes: 5 },
      expiresAt: inMinutes(clock, 30),
    })
    await g.addRecord({
      type: CHAT,
      attributes: { author: 'bob', likes: 1 },
      expiresAt: inMinutes(clock, 30),
    })
    const xml =
      '<peersearch><and><clause attrib="author" type="string">al*</clause>' +
      '<clause attrib="likes" type="int" compare="greater">2</clause></and></peersearch>'
    assert.deepEqual(
      g.search(xml).map((r) => r.id),
      [alice],
    )
    assert.deepEqual(
      g.search({ attribute: 'peerrecordid', value: alice.toUpperCase() }).map((r) => r.id),
      [alice],
    )
    throwsPeerError(() => g.search('<peersearch/>'), 'PEER_E_INVALID_SEARCH')
    await g.deleteRecord(alice)
    assert.deepEqual(g.search(xml), [], 'a tombstone is never found')
    await node.stop()
  })
})

describe('expiry and AUTOREFRESH', () => {
  test('a record expires at its time: EXPIRED fires and it is gone', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'exp' })
    const short = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 2) })
    const long = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 60) })
    const changes = collect(g, 'record-changed')
    await clock.advanceAsync(MINUTE)
    assert.ok(g.getRecord(short))
    await clock.advanceAsync(2 * MINUTE)
    assert.equal(g.getRecord(short), undefined)
    assert.ok(g.getRecord(long))
    assert.deepEqual(changes, [{ change: 'expired', recordId: short, recordType: CHAT }])
    await node.stop()
  })

  test('a tombstone is kept until its expiry, then removed without an event', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'tomb' })
    const id = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 5) })
    await g.deleteRecord(id)
    const changes = collect(g, 'record-changed')
    await clock.advanceAsync(10 * MINUTE)
    assert.deepEqual(changes, [])
    assert.equal(clock.pendingTimers, 0, 'nothing left to expire: no timer')
    await node.stop()
  })

  test('DEFER_EXPIRATION holds expiry while the graph has never connected', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'defer', deferExpiration: true })
    const id = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 2) })
    await clock.advanceAsync(60 * MINUTE)
    assert.ok(g.getRecord(id), 'not expired')
    await node.stop()
  })

  test('AUTOREFRESH keeps a record alive for the same lifetime while the node is up', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'refresh' })
    const id = await g.addRecord({ type: CHAT, autoRefresh: true, expiresAt: inMinutes(clock, 5) })
    const plain = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 5) })
    await clock.advanceAsync(60 * MINUTE)
    const r = g.getRecord(id)!
    assert.ok(r, 'still alive after 12 lifetimes')
    assert.ok(r.autoRefresh)
    assert.ok(r.version >= 12, `refreshed ${r.version - 1} times`)
    assert.ok(r.expiresAt.getTime() > clock.now())
    assert.equal(r.expiresAt.getTime() - r.modifiedAt.getTime(), 5 * MINUTE)
    assert.equal(g.getRecord(plain), undefined)
    await node.stop()
  })
})

describe('security provider', () => {
  test('secures every local change and validates it: accept, reject, defer, re-validate', async () => {
    const { node, clock } = await startNode()
    let verdict: Validation = 'accept'
    const seen: string[] = []
    const provider: GraphSecurityProvider = {
      name: 'test',
      secureRecord: (r, change) => {
        if (r.type === CHAT) seen.push(`secure ${change} v${r.version}`)
        return Buffer.from(`sig:${r.version}`)
      },
      validateRecord: (r, change) => {
        if (r.type !== CHAT) return 'accept'
        seen.push(`validate ${change} v${r.version}`)
        return verdict
      },
    }
    const g = await node.graphs.create({ graphId: 'sec', security: provider })
    const id = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) })
    assert.equal(Buffer.from(g.getRecord(id)!.securityData).toString(), 'sig:1')
    await g.updateRecord(id, { data: new Uint8Array([1]) })
    assert.deepEqual(seen, [
      'secure added v1',
      'validate added v1',
      'secure updated v2',
      'validate updated v2',
    ])

    verdict = 'reject'
    await rejectsPeerError(
      g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) }),
      'PEER_E_INVALID_RECORD',
    )
    assert.equal(g.recordCount, 1)

    verdict = 'defer'
    const changes = collect(g, 'record-changed')
    const parked = await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) })
    assert.equal(g.getRecord(parked), undefined, 'a deferred record is not shown')
    assert.deepEqual(changes, [])
    assert.equal(await g.validateDeferredRecords(), 0, 'still deferred')
    verdict = 'accept'
    // By id: another id (a GUID, not deferred) passes over it; a non-GUID is an error.
    assert.equal(await g.validateDeferredRecords([id]), 0)
    await rejectsPeerError(g.validateDeferredRecords(['nope']), 'E_INVALIDARG')
    assert.equal(await g.validateDeferredRecords([parked.toUpperCase()]), 1)
    assert.ok(g.getRecord(parked))
    assert.deepEqual(changes, [{ change: 'added', recordId: parked, recordType: CHAT }])
    await node.stop()
  })

  test('secureRecord may refuse with PEER_E_NOT_AUTHORIZED; a throwing validator rejects', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({
      graphId: 'refuse',
      security: {
        name: 'refuser',
        secureRecord: (r) => {
          if (r.type !== CHAT) return new Uint8Array()
          throw new PeerError('PEER_E_NOT_AUTHORIZED', 'members may not add chat records')
        },
        validateRecord: () => 'accept',
      },
    })
    await rejectsPeerError(
      g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) }),
      'PEER_E_NOT_AUTHORIZED',
    )
    const h = await node.graphs.create({
      graphId: 'throws',
      security: {
        name: 'broken',
        secureRecord: () => new Uint8Array(),
        validateRecord: (r) => {
          if (r.type !== CHAT) return 'accept'
          throw new Error('bug in the provider')
        },
      },
    })
    await rejectsPeerError(
      h.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) }),
      'PEER_E_INVALID_RECORD',
    )
    await node.stop()
  })
})

describe('events', () => {
  test('the iterator filters by event type and by record type', async () => {
    const { node, clock } = await startNode()
    const g = await node.graphs.create({ graphId: 'events' })
    const ac = new AbortController()
    const it = g.events({ types: ['record-changed'], recordTypes: [OTHER], signal: ac.signal })
    await g.addRecord({ type: CHAT, expiresAt: inMinutes(clock, 30) })
    await g.setProperties({ comment: 'not a record event' })
    const wanted = await g.addRecord({ type: OTHER, expiresAt: inMinutes(clock, 30) })
    const first = await it.next()
    assert.deepEqual(first.value, {
      type: 'record-changed',
      data: { change: 'added', recordId: wanted, recordType: OTHER },
    })
    ac.abort()
    await assert.rejects(it.next(), (err) => assertPeerError(err, 'E_ABORT') !== undefined)
    await node.stop()
  })
})

describe('export and import', () => {
  test('export writes a copy; import merges it into an opened graph before it goes online', async () => {
    const a = await startNode()
    const g = await a.node.graphs.create({ graphId: 'shared', peerId: 'peer.one', comment: 'x' })
    const ids = [
      await g.addRecord({
        type: CHAT,
        data: Buffer.from('one'),
        expiresAt: inMinutes(a.clock, 30),
      }),
      await g.addRecord({
        type: OTHER,
        data: Buffer.from('two'),
        expiresAt: inMinutes(a.clock, 30),
      }),
    ]
    await g.deleteRecord(ids[1]!)
    const file = join(root.path, 'export.sqlite3')
    await g.exportDatabase(file)
    await g.exportDatabase(file) // overwrites
    assert.ok((await stat(file)).size > 0)
    await rejectsPeerError(g.importDatabase(file), 'PEER_E_GRAPH_IN_USE', 'created, not opened')

    const b = await startNode()
    const mismatch = await b.node.graphs.open('shared', { peerId: 'peer.two' })
    await rejectsPeerError(mismatch.importDatabase(file), 'PEER_E_INVALID_DATABASE')
    await rejectsPeerError(
      mismatch.importDatabase(join(root.path, 'no-such-file')),
      'PEER_E_DATABASE_NOT_PRESENT',
    )
    const copy = await b.node.graphs.open('shared', { peerId: 'peer.one' })
    assert.equal(copy.status.synchronized, false)
    const statuses = collect(copy, 'status-changed')
    await copy.importDatabase(file)
    assert.equal(copy.status.synchronized, true)
    assert.equal(statuses.length, 1)
    assert.equal(copy.properties.comment, 'x')
    assert.equal(Buffer.from(copy.getRecord(ids[0]!)!.data).toString(), 'one')
    assert.equal(copy.getRecord(ids[1]!), undefined, 'the tombstone came along')
    await a.node.stop()
    await b.node.stop()
  })
})
