/**
 * The Peer Graphing test vectors of docs/PROTOCOL.md ("Peer Graphing"), byte for byte: a record
 * and its digest, the Graph Info record, one message of each of the 13 graph message types, and
 * a two-message reconciliation plus the three-mode RECONCILE example of reconcile.ts.
 *
 * makeGraphVectors() builds them from fixed seeds (SeededRandom "peerinfra graph vector"; there
 * are no signatures in graph records, so the bytes never change unless the wire format does);
 * test/fixtures/graph-vectors.json holds its output. After a deliberate wire change, regenerate
 * the fixture and update docs/PROTOCOL.md:
 *
 *   GRAPH_VECTORS_WRITE=1 node --import tsx --test test/graph/vectors.test.ts
 *   npx prettier --write test/fixtures/graph-vectors.json
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { test } from 'node:test'
import { fromHex, toHex, utf8 } from '../../src/core/bytes.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { GRAPH_INFO_RECORD_TYPE } from '../../src/graph/constants.ts'
import {
  graphInfoRecord,
  graphInfoRecordId,
  propertiesFromGraphInfo,
} from '../../src/graph/graph-info.ts'
import {
  decodeGraphMessage,
  encodeGraphMessage,
  GRAPH_MESSAGE_TYPES,
  type GraphMessage,
  type GraphMessageType,
} from '../../src/graph/messages.ts'
import { createProperties } from '../../src/graph/properties.ts'
import {
  ArraySource,
  decodeReconcile,
  encodeReconcile,
  MAX_BOUND,
  Reconciler,
  type Item,
  type ReconcileMessage,
  type ReconcileRange,
} from '../../src/graph/reconcile.ts'
import { decodeRecord, digestOf, encodeRecord } from '../../src/graph/record-codec.ts'
import {
  newGuid,
  newRecordId,
  recordIdMatchesCreator,
  type GraphRecord,
} from '../../src/graph/records.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import { decodeCbor, encodeCbor } from '../../src/wire/cbor.ts'
import { annotatedHex } from '../helpers/protocol-doc.ts'

// ---- the JSON forms -------------------------------------------------------------------------

/** JSON of any decoded value: byte strings become `{ "hex": "..." }`, the rest stays. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

function toJson(value: unknown): Json {
  if (value instanceof Uint8Array) return { hex: toHex(value) }
  if (Array.isArray(value)) return value.map(toJson)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]))
  }
  return value as Json
}

function fromJson(json: Json): unknown {
  if (Array.isArray(json)) return json.map(fromJson)
  if (typeof json === 'object' && json !== null) {
    const keys = Object.keys(json)
    if (keys.length === 1 && keys[0] === 'hex') return hexBytes(json['hex'] as string)
    return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, fromJson(v)]))
  }
  return json
}

function hexBytes(hex: string): Uint8Array {
  const bytes = fromHex(hex)
  assert.ok(bytes, `"${hex.slice(0, 20)}..." is hex`)
  return bytes
}

interface RecordVector {
  /** GraphRecord with securityData and data as `{ hex }`. */
  fields: Json
  encoded: string
  digest: string
}

interface ReconcileVector {
  /** ReconcileMessage with digests and fingerprints as `{ hex }`. */
  message: Json
  /** reconcile.ts's bytes (the `b` of a RECONCILE message). */
  encoded: string
}

export interface GraphVectors {
  source: string
  note: string
  seed: string
  peers: { alice: string; bob: string; carol: string }
  record: RecordVector
  graphInfo: RecordVector & { properties: Json }
  messages: Record<GraphMessageType, { fields: Json; encoded: string }>
  reconcile: {
    /** Alice's first message: her two items, as one `items` range up to MAX_BOUND. */
    initiate: ReconcileVector
    /** Bob's answer: his one item; he needs the record, and Alice learns she has it. */
    reply: ReconcileVector & { bobNeed: Json; aliceHave: Json }
    /** The three-mode example of reconcile.ts's module comment. */
    example: ReconcileVector
  }
}

// ---- the generator --------------------------------------------------------------------------

const SEED = 'peerinfra graph vector'
/** 2026-01-01T00:00:00Z: peer time of the story. */
const T0 = Date.UTC(2026, 0, 1)
const DAY = 86_400_000
const GRAPH_PORT = 3587
const DIGEST_DOMAIN = 'peerinfra/v1/graph-record'

function recordVector(record: GraphRecord): RecordVector {
  const encoded = encodeRecord(record)
  return { fields: toJson(record), encoded: toHex(encoded), digest: toHex(digestOf(encoded)) }
}

function reconcileVector(message: ReconcileMessage): ReconcileVector {
  return { message: toJson(message), encoded: toHex(encodeReconcile(message)) }
}

/** Builds every vector from SEED. */
export function makeGraphVectors(): GraphVectors {
  const random = new SeededRandom(SEED)
  const peer = (classifier: string): string =>
    `${KeyPair.generate(random).publicKey.authority}.${classifier}`
  const alice = peer('alice')
  const bob = peer('bob')
  const carol = peer('carol')
  const aliceNode = random.bytes(8)
  const bobNode = random.bytes(8)
  const recordType = newGuid(random)
  const dataType = newGuid(random)

  // Alice's record: three attributes (sorted by name), a small payload, one day to live.
  const record: GraphRecord = {
    type: recordType,
    id: newRecordId(alice, random),
    version: 1,
    flags: 0,
    creator: alice,
    modifiedBy: alice,
    createdAt: T0,
    modifiedAt: T0,
    expiresAt: T0 + DAY,
    attributes: [
      { name: 'colour', type: 'string', value: 'blue' },
      { name: 'due', type: 'date', value: T0 + 7 * DAY },
      { name: 'size', type: 'int', value: 42 },
    ],
    securityData: new Uint8Array(0),
    data: utf8('hello, graph'),
  }
  const recordBytes = encodeRecord(record)
  const digest = digestOf(recordBytes)

  // The graph "chat", created by Alice at T0.
  const properties = createProperties({ graphId: 'chat', friendlyName: 'Chat' }, alice)
  const info = graphInfoRecord(properties, alice, T0, undefined)
  const infoDigest = digestOf(encodeRecord(info))

  const referral = (name: string, host: string): [string, string, number] => [
    name,
    host,
    GRAPH_PORT,
  ]

  // Reconciliation: Alice holds the Graph Info record and her record, Bob only the first.
  const aliceItems: Item[] = [
    { time: info.modifiedAt, digest: infoDigest },
    { time: record.modifiedAt, digest },
  ]
  const bobItems: Item[] = [{ time: info.modifiedAt, digest: infoDigest }]
  const aliceSide = new Reconciler(new ArraySource(aliceItems))
  const bobSide = new Reconciler(new ArraySource(bobItems))
  const initiate = aliceSide.initiate()
  const bobResult = bobSide.receive(initiate)
  assert.ok(bobResult.reply, 'Bob answers')
  const aliceResult = aliceSide.receive(bobResult.reply)
  assert.equal(aliceResult.reply, undefined, 'Alice has nothing more to say')
  const example: ReconcileMessage = {
    ranges: [
      { upper: { time: 1000, digest: new Uint8Array([0xab]) }, mode: 'skip' },
      {
        upper: { time: 1300, digest: new Uint8Array(0) },
        mode: 'fingerprint',
        fingerprint: new Uint8Array(16).fill(0xff),
      },
      {
        upper: MAX_BOUND,
        mode: 'items',
        items: [
          { time: 1300, digest: new Uint8Array(16).fill(0x01) },
          { time: 1305, digest: new Uint8Array(16).fill(0x02) },
        ],
      },
    ],
  }

  const all: GraphMessage[] = [
    { type: 'connect', n: aliceNode, a: [['192.0.2.10', GRAPH_PORT]] },
    {
      type: 'welcome',
      n: bobNode,
      pt: T0 + 1234,
      r: [referral(carol, '2001:db8::c')],
    },
    { type: 'refuse', why: 'busy', r: [referral(carol, '2001:db8::c')] },
    { type: 'disconnect', why: 'least-useful', r: [] },
    { type: 'solicit-new', ty: [hexBytes(recordType.replace(/-/g, ''))] },
    { type: 'solicit-time', since: T0 - 5 * 60_000, ty: [] },
    { type: 'reconcile', b: encodeReconcile(initiate) },
    { type: 'request', d: [digest] },
    { type: 'flood', r: recordBytes },
    { type: 'announce', d: digest, i: hexBytes(record.id.replace(/-/g, '')), sz: 4_000_000 },
    { type: 'chunk', d: digest, x: 0, n: 2, b: utf8('first piece'), s: true },
    { type: 'sync-end', ty: hexBytes(recordType.replace(/-/g, '')) },
    { type: 'ack', d: [[digest, true]] },
    { type: 'data', ty: hexBytes(dataType.replace(/-/g, '')), b: utf8('ping') },
  ]
  const messages = Object.fromEntries(
    all.map((m) => [m.type, { fields: toJson(m), encoded: toHex(encodeGraphMessage(m)) }]),
  ) as GraphVectors['messages']

  return {
    source: 'docs/PROTOCOL.md, "Peer Graphing"; checked by test/graph/vectors.test.ts',
    note:
      `Made by makeGraphVectors() in test/graph/vectors.test.ts: SeededRandom("${SEED}") gives, ` +
      'in this order, the Ed25519 keys of alice, bob and carol (their authorities name them), ' +
      "alice's and bob's node ids, the record type, the data type, then the record id's random " +
      'half. Times are peer time from 2026-01-01T00:00:00Z. Byte strings are {"hex": ...}. ' +
      'Regenerate with GRAPH_VECTORS_WRITE=1 (see the test).',
    seed: SEED,
    peers: { alice, bob, carol },
    record: recordVector(record),
    graphInfo: { ...recordVector(info), properties: toJson(properties) },
    messages,
    reconcile: {
      initiate: reconcileVector(initiate),
      reply: {
        ...reconcileVector(bobResult.reply),
        bobNeed: toJson(bobResult.need),
        aliceHave: toJson(aliceResult.have),
      },
      example: reconcileVector(example),
    },
  }
}

// ---- the checks -----------------------------------------------------------------------------

const FIXTURE = new URL('../fixtures/graph-vectors.json', import.meta.url)

if (process.env['GRAPH_VECTORS_WRITE'] === '1') {
  writeFileSync(FIXTURE, JSON.stringify(makeGraphVectors(), null, 2) + '\n')
}

const vectors = JSON.parse(readFileSync(FIXTURE, 'utf8')) as GraphVectors

const recordOf = (v: RecordVector): GraphRecord => fromJson(v.fields) as GraphRecord
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

test('the seeded generator reproduces the fixture exactly', () => {
  assert.deepEqual(makeGraphVectors(), vectors)
})

for (const name of ['record', 'graphInfo'] as const) {
  test(`${name}: encoding the documented fields gives the fixture bytes, and back`, () => {
    const v = vectors[name]
    const record = recordOf(v)
    assert.equal(toHex(encodeRecord(record)), v.encoded)
    const decoded = decodeRecord(hexBytes(v.encoded), 60 * 1024 * 1024)
    assert.deepEqual(toJson(decoded), v.fields)
    // The digest: the first 16 bytes of SHA-256("peerinfra/v1/graph-record" || 0x00 || bytes).
    const expected = sha256(utf8(DIGEST_DOMAIN), new Uint8Array([0]), hexBytes(v.encoded))
    assert.equal(toHex(expected.subarray(0, 16)), v.digest)
    assert.equal(toHex(digestOf(hexBytes(v.encoded))), v.digest)
    // The id's high half is the first 8 bytes of SHA-256(UTF-8 creator).
    const high = toHex(sha256(utf8(record.creator)).subarray(0, 8))
    assert.equal(record.id.replace(/-/g, '').slice(0, 16), high)
    assert.ok(recordIdMatchesCreator(record.id, record.creator))
    // The wire map has the 13 documented keys, and `v` 1.
    const wire = decodeCbor(hexBytes(v.encoded)) as Record<string, unknown>
    assert.deepEqual(Object.keys(wire).sort(), [
      'a',
      'c',
      'ct',
      'd',
      'et',
      'f',
      'i',
      'm',
      'mt',
      'n',
      's',
      't',
      'v',
    ])
    assert.equal(wire['v'], 1)
  })
}

test('a record whose attributes are not sorted by name is refused', () => {
  const wire = decodeCbor(hexBytes(vectors.record.encoded)) as Record<string, unknown>
  const unsorted = encodeCbor({ ...wire, a: [...(wire['a'] as unknown[])].reverse() })
  assert.throws(() => decodeRecord(unsorted, 1024), /not sorted by name/)
})

test('the Graph Info record has the fixed id and carries the properties', () => {
  const info = recordOf(vectors.graphInfo)
  assert.equal(info.type, GRAPH_INFO_RECORD_TYPE)
  assert.equal(info.id, graphInfoRecordId(vectors.peers.alice))
  assert.equal(info.id.replace(/-/g, '').slice(16), '6c79676800000000')
  assert.deepEqual(decodeCbor(info.data), fromJson(vectors.graphInfo.properties))
  assert.deepEqual(
    toJson(propertiesFromGraphInfo(info, 'chat', undefined)),
    vectors.graphInfo.properties,
  )
})

test('every message type has one vector', () => {
  assert.deepEqual(Object.keys(vectors.messages).sort(), Object.keys(GRAPH_MESSAGE_TYPES).sort())
})

for (const type of Object.keys(GRAPH_MESSAGE_TYPES) as GraphMessageType[]) {
  test(`${type}: encoding the documented fields gives the fixture bytes, and back`, () => {
    const v = vectors.messages[type]
    const message = fromJson(v.fields) as GraphMessage
    assert.equal(message.type, type)
    assert.equal(toHex(encodeGraphMessage(message)), v.encoded)
    assert.deepEqual(toJson(decodeGraphMessage(hexBytes(v.encoded))), v.fields)
    // The envelope: v 1, t the MS-PPGRH type number (or ours, 0x10 and up).
    const wire = decodeCbor(hexBytes(v.encoded)) as Record<string, unknown>
    assert.equal(wire['v'], 1)
    assert.equal(wire['t'], GRAPH_MESSAGE_TYPES[type])
  })
}

test('the messages carry the record, its digest and the reconcile bytes', () => {
  const m = vectors.messages
  assert.deepEqual(m.flood.fields, { type: 'flood', r: { hex: vectors.record.encoded } })
  assert.deepEqual(m.request.fields, { type: 'request', d: [{ hex: vectors.record.digest }] })
  assert.deepEqual((m.announce.fields as Record<string, Json>)['d'], { hex: vectors.record.digest })
  assert.deepEqual((m.reconcile.fields as Record<string, Json>)['b'], {
    hex: vectors.reconcile.initiate.encoded,
  })
})

for (const name of ['initiate', 'reply', 'example'] as const) {
  test(`reconcile ${name}: encoding gives the fixture bytes, and back`, () => {
    const v = vectors.reconcile[name]
    const message = fromJson(v.message) as ReconcileMessage
    assert.equal(toHex(encodeReconcile(message)), v.encoded)
    assert.deepEqual(toJson(decodeReconcile(hexBytes(v.encoded))), v.message)
  })
}

test('the reconciliation replays: Bob needs the record, Alice has it', () => {
  const info = hexBytes(vectors.graphInfo.digest)
  const record = hexBytes(vectors.record.digest)
  const t = recordOf(vectors.record).modifiedAt
  const alice = new Reconciler(
    new ArraySource([
      { time: t, digest: info },
      { time: t, digest: record },
    ]),
  )
  const bob = new Reconciler(new ArraySource([{ time: t, digest: info }]))
  const first = alice.initiate()
  assert.equal(toHex(encodeReconcile(first)), vectors.reconcile.initiate.encoded)
  const answer = bob.receive(decodeReconcile(hexBytes(vectors.reconcile.initiate.encoded)))
  assert.ok(answer.reply)
  assert.equal(toHex(encodeReconcile(answer.reply)), vectors.reconcile.reply.encoded)
  assert.deepEqual(toJson(answer.need), vectors.reconcile.reply.bobNeed)
  assert.deepEqual(answer.have, [])
  const end = alice.receive(decodeReconcile(hexBytes(vectors.reconcile.reply.encoded)))
  assert.equal(end.reply, undefined)
  assert.deepEqual(toJson(end.have), vectors.reconcile.reply.aliceHave)
  assert.deepEqual(toJson(end.have), [{ time: t, digest: { hex: vectors.record.digest } }])
})

test('the reconcile example is the one in reconcile.ts', () => {
  const source = readFileSync(new URL('../../src/graph/reconcile.ts', import.meta.url), 'utf8')
  const start = source.indexOf(' *   a2 61 72 83')
  const end = source.indexOf('"v": 1', start)
  assert.ok(start > 0 && end > start, 'reconcile.ts has its byte-by-byte example')
  // Each line's hex (before the two-space gap of its comment); `xx..xx` stands for 16 bytes.
  const hex = source
    .slice(start, source.indexOf('\n', end))
    .split('\n')
    .map(
      (line) =>
        line
          .replace(/^ \*/, '')
          .trim()
          .split(/\s{2,}/)[0] as string,
    )
    .filter((part) => /^[0-9a-f]{2}( |$)/.test(part))
    .join(' ')
    .replace(/\b([0-9a-f]{2})\.\.\1\b/g, (_, byte: string) => byte.repeat(16))
    .replace(/\s+/g, '')
  assert.equal(hex, vectors.reconcile.example.encoded)
  const ranges = (fromJson(vectors.reconcile.example.message) as ReconcileMessage).ranges
  assert.deepEqual(
    ranges.map((r: ReconcileRange) => r.mode),
    ['skip', 'fingerprint', 'items'],
  )
  assert.deepEqual((ranges[2] as ReconcileRange).upper, {
    time: MAX_BOUND.time,
    digest: new Uint8Array(0),
  })
})

// ---- the annotated hex of docs/PROTOCOL.md --------------------------------------------------

const ANNOTATED = ['connect', 'welcome', 'reconcile']

test('the annotated hex in docs/PROTOCOL.md is the fixture', () => {
  const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  assert.equal(annotatedHex(doc, 'graph', 'record'), vectors.record.encoded)
  assert.equal(annotatedHex(doc, 'graph', 'connect'), vectors.messages.connect.encoded)
  assert.equal(annotatedHex(doc, 'graph', 'welcome'), vectors.messages.welcome.encoded)
  assert.equal(annotatedHex(doc, 'graph', 'reconcile'), vectors.messages.reconcile.encoded)
  assert.equal(annotatedHex(doc, 'graph', 'reconcile-reply'), vectors.reconcile.reply.encoded)
  // Everything else is quoted whole.
  const flat = doc.replace(/\s+/g, '')
  const quoted: Array<[string, string]> = [
    ['record digest', vectors.record.digest],
    ['graph info record', vectors.graphInfo.encoded],
    ['graph info digest', vectors.graphInfo.digest],
    ['reconcile example', vectors.reconcile.example.encoded],
    ...Object.entries(vectors.messages)
      .filter(([name]) => !ANNOTATED.includes(name))
      .map(([name, v]): [string, string] => [name, v.encoded]),
  ]
  for (const [name, hex] of quoted) {
    assert.ok(flat.includes(hex), `docs/PROTOCOL.md quotes the ${name} vector`)
  }
})
