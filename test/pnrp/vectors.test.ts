/**
 * The PNRP test vectors of docs/PROTOCOL.md ("PNRP"), byte for byte: PNRP IDs of a secured and
 * an unsecured name, a signed CPA, and one datagram of each of the 8 message types.
 *
 * makePnrpVectors() builds them from fixed seeds (SeededRandom "peerinfra pnrp vector"; Ed25519
 * signatures are deterministic, so the bytes never change unless the wire format does);
 * test/fixtures/pnrp-vectors.json holds its output. After a deliberate wire change, regenerate
 * the fixture and update docs/PROTOCOL.md:
 *
 *   PNRP_VECTORS_WRITE=1 node --import tsx --test test/pnrp/vectors.test.ts
 *   npx prettier --write test/fixtures/pnrp-vectors.json
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { test } from 'node:test'
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/bytes.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import {
  CPA_LIFETIME_MS,
  CPA_SIGNATURE_DOMAIN,
  DEFAULT_PNRP_PORT,
  NONCE_BYTES,
  PNRP_ID_BYTES,
  SERVICE_LOCATION_BYTES,
} from '../../src/pnrp/constants.ts'
import { Cpa, type CpaFields } from '../../src/pnrp/cpa.ts'
import {
  idFromBytes,
  idToHex,
  p2pIdOf,
  pnrpIdOf,
  resolverTarget,
  type PnrpId,
} from '../../src/pnrp/ids.ts'
import {
  decodePnrpMessage,
  encodePnrpMessage,
  MESSAGE_TYPES,
  type MessageTypeName,
  type PnrpMessage,
} from '../../src/pnrp/messages.ts'
import type { Endpoint, RouteEntry } from '../../src/pnrp/types.ts'
import { decodeCbor } from '../../src/wire/cbor.ts'
import { annotatedHex } from '../helpers/protocol-doc.ts'

// ---- the JSON form --------------------------------------------------------------------------

/** JSON of a route entry: the ID as 64 hex digits. */
interface JsonEntry {
  id: string
  endpoints: Endpoint[]
}

/** A message in JSON: PnrpMessage with IDs and bytes as lowercase hex. */
type JsonMessage = Record<string, unknown> & { type: MessageTypeName; id: number }

interface IdVector {
  peerName: string
  /** SHA-256 input of the P2P ID, hex. */
  hashInput: string
  p2pId: string
  resolverTarget: string
  serviceLocation?: string
  pnrpId?: string
}

export interface PnrpVectors {
  source: string
  note: string
  seed: string
  key: { seed: string; publicKey: string; authority: string }
  ids: { secured: IdVector; unsecured: IdVector }
  cpa: {
    fields: Record<string, unknown>
    verifyAt: number
    id: string
    tbs: string
    signature: string
    encoded: string
  }
  messages: Record<MessageTypeName, { fields: JsonMessage; encoded: string }>
}

const ID_KEYS = new Set(['target', 'validate'])
const ID_LIST_KEYS = new Set(['ids'])
const BYTES_KEYS = new Set(['hashedNonce', 'nonce', 'revoke', 'cpa'])
const ENTRY_KEYS = new Set(['entry', 'next', 'best'])
const ENTRY_LIST_KEYS = new Set(['leaves'])

const entryToJson = (e: RouteEntry): JsonEntry => ({ id: idToHex(e.id), endpoints: e.endpoints })
const entryFromJson = (e: JsonEntry): RouteEntry => ({ id: idOfHex(e.id), endpoints: e.endpoints })

function hexBytes(hex: string): Uint8Array {
  const bytes = fromHex(hex)
  assert.ok(bytes, `"${hex.slice(0, 20)}..." is hex`)
  return bytes
}

function idOfHex(hex: string): PnrpId {
  return idFromBytes(hexBytes(hex))
}

function messageToJson(message: PnrpMessage): JsonMessage {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(message)) {
    if (ID_KEYS.has(key)) out[key] = idToHex(value as PnrpId)
    else if (ID_LIST_KEYS.has(key)) out[key] = (value as PnrpId[]).map(idToHex)
    else if (BYTES_KEYS.has(key)) out[key] = toHex(value as Uint8Array)
    else if (ENTRY_KEYS.has(key)) out[key] = entryToJson(value as RouteEntry)
    else if (ENTRY_LIST_KEYS.has(key)) out[key] = (value as RouteEntry[]).map(entryToJson)
    else out[key] = value
  }
  return out as JsonMessage
}

function messageFromJson(json: JsonMessage): PnrpMessage {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(json)) {
    if (ID_KEYS.has(key)) out[key] = idOfHex(value as string)
    else if (ID_LIST_KEYS.has(key)) out[key] = (value as string[]).map(idOfHex)
    else if (BYTES_KEYS.has(key)) out[key] = hexBytes(value as string)
    else if (ENTRY_KEYS.has(key)) out[key] = entryFromJson(value as JsonEntry)
    else if (ENTRY_LIST_KEYS.has(key)) out[key] = (value as JsonEntry[]).map(entryFromJson)
    else out[key] = value
  }
  return out as unknown as PnrpMessage
}

function cpaFieldsToJson(f: CpaFields): Record<string, unknown> {
  return {
    peerName: f.peerName,
    serviceLocation: toHex(f.serviceLocation),
    endpoints: f.endpoints,
    payload: toHex(f.payload),
    comment: f.comment,
    notAfter: f.notAfter,
    nonce: toHex(f.nonce),
    revoke: f.revoke,
  }
}

function cpaFieldsFromJson(json: Record<string, unknown>): CpaFields {
  return {
    peerName: json['peerName'] as string,
    serviceLocation: hexBytes(json['serviceLocation'] as string),
    endpoints: json['endpoints'] as Endpoint[],
    payload: hexBytes(json['payload'] as string),
    comment: json['comment'] as string,
    notAfter: json['notAfter'] as number,
    nonce: hexBytes(json['nonce'] as string),
    revoke: json['revoke'] as boolean,
  }
}

// ---- the generator --------------------------------------------------------------------------

const SEED = 'peerinfra pnrp vector'
/** 2026-01-01T00:00:00Z: the time the CPA is signed and verified at. */
const T0 = Date.UTC(2026, 0, 1)
const P2P_ID_DOMAIN = 'peerinfra/pnrp/p2p-id/v1'

/** The documented P2P ID hash input: domain || 0x00 || authority || 0x00 || classifier. */
function p2pHashInput(peerName: string): Uint8Array {
  const dot = peerName.indexOf('.')
  return concatBytes(
    utf8(P2P_ID_DOMAIN),
    new Uint8Array([0]),
    utf8(peerName.slice(0, dot)),
    new Uint8Array([0]),
    utf8(peerName.slice(dot + 1)),
  )
}

function idVector(peerName: string): IdVector {
  return {
    peerName,
    hashInput: toHex(p2pHashInput(peerName)),
    p2pId: toHex(p2pIdOf(peerName)),
    resolverTarget: idToHex(resolverTarget(peerName)),
  }
}

const ep = (address: string, port = DEFAULT_PNRP_PORT): Endpoint => ({ address, port })

/** Builds every vector from SEED. */
export function makePnrpVectors(): PnrpVectors {
  const random = new SeededRandom(SEED)
  const key = KeyPair.generate(random)
  const peerName = `${key.publicKey.authority}.chat`
  const serviceLocation = random.bytes(SERVICE_LOCATION_BYTES)
  const aliceId = pnrpIdOf(p2pIdOf(peerName), serviceLocation)
  // Alice's node listens for PNRP on these; her application on port 8000 of the same hosts.
  const aliceNode = [ep('2001:db8::a'), ep('192.0.2.10')]
  const aliceApp = [ep('2001:db8::a', 8000), ep('192.0.2.10', 8000)]
  const nodeId = (): PnrpId => idFromBytes(random.bytes(PNRP_ID_BYTES))
  const messageId = (): number => random.int(2 ** 32)

  // Nodes of the story: J joins from seed S; N1 and N2 are cached entries; R resolves.
  const joiner: RouteEntry = { id: nodeId(), endpoints: [ep('192.0.2.1')] }
  const seed: RouteEntry = { id: nodeId(), endpoints: [ep('192.0.2.2')] }
  const n1: RouteEntry = { id: nodeId(), endpoints: [ep('2001:db8::11')] }
  const n2: RouteEntry = { id: nodeId(), endpoints: [ep('2001:db8::12'), ep('192.0.2.12')] }
  const resolver = ep('2001:db8::5', 49152)
  const syncNonce = random.bytes(NONCE_BYTES)
  const inquireNonce = random.bytes(NONCE_BYTES)

  // The CPA alice's node returns to R's INQUIRE: R's nonce signed in.
  const fields: CpaFields = {
    peerName,
    serviceLocation,
    endpoints: aliceApp,
    payload: utf8('hi'),
    comment: 'Alice',
    notAfter: T0 + CPA_LIFETIME_MS,
    nonce: inquireNonce,
    revoke: false,
  }
  const cpa = Cpa.sign(fields, key)

  const solicit: PnrpMessage = {
    type: 'solicit',
    id: messageId(),
    hashedNonce: new Uint8Array(createHash('sha256').update(syncNonce).digest()),
    entry: joiner,
    localOnly: false,
  }
  const advertise: PnrpMessage = {
    type: 'advertise',
    id: messageId(),
    replyTo: solicit.id,
    hashedNonce: solicit.hashedNonce,
    ids: [n1.id, n2.id, seed.id],
  }
  const request: PnrpMessage = {
    type: 'request',
    id: messageId(),
    nonce: syncNonce,
    ids: [n1.id, n2.id, seed.id],
  }
  const ack: PnrpMessage = { type: 'ack', id: messageId(), replyTo: request.id, notHere: false }
  // Leaf-set flooding: S admitted alice's entry into a leaf set and floods it on to N2.
  const flood: PnrpMessage = {
    type: 'flood',
    id: messageId(),
    validate: n2.id,
    entry: { id: aliceId, endpoints: aliceNode },
    noAck: false,
    flooded: [ep('192.0.2.2'), ep('2001:db8::12')],
  }
  const lookup: PnrpMessage = {
    type: 'lookup',
    id: messageId(),
    target: resolverTarget(peerName),
    validate: n1.id,
    mode: 'any-peer-name',
    reason: 'app',
    acceptNotCloser: true,
    best: n2,
    path: [resolver, ep('2001:db8::11')],
  }
  const inquire: PnrpMessage = {
    type: 'inquire',
    id: messageId(),
    target: aliceId,
    nonce: inquireNonce,
    wantCpa: true,
  }
  const authority: PnrpMessage = {
    type: 'authority',
    id: messageId(),
    replyTo: inquire.id,
    target: aliceId,
    notHere: false,
    leafGap: false,
    busy: false,
    cpa: cpa.bytes,
    leaves: [],
  }
  const all = [solicit, advertise, request, flood, inquire, authority, ack, lookup]
  const messages = Object.fromEntries(
    all.map((m) => [m.type, { fields: messageToJson(m), encoded: toHex(encodePnrpMessage(m)) }]),
  ) as PnrpVectors['messages']

  return {
    source: 'docs/PROTOCOL.md, "PNRP test vectors"; checked by test/pnrp/vectors.test.ts',
    note:
      `Made by makePnrpVectors() in test/pnrp/vectors.test.ts: SeededRandom("${SEED}") gives, in ` +
      'this order, the Ed25519 seed, the service location, the node IDs of J, S, N1 and N2, the ' +
      'SOLICIT nonce, the INQUIRE nonce, then each message id (random.int(2^32)). The CPA is ' +
      'signed at 2026-01-01T00:00:00Z. Regenerate with PNRP_VECTORS_WRITE=1 (see the test).',
    seed: SEED,
    key: {
      seed: toHex(key.exportSeed()),
      publicKey: toHex(key.publicKey.bytes),
      authority: key.publicKey.authority,
    },
    ids: {
      secured: {
        ...idVector(peerName),
        serviceLocation: toHex(serviceLocation),
        pnrpId: idToHex(aliceId),
      },
      unsecured: idVector('0.printer'),
    },
    cpa: {
      fields: cpaFieldsToJson(fields),
      verifyAt: T0,
      id: idToHex(cpa.id),
      tbs: toHex(cpa.tbs),
      signature: toHex(cpa.signature),
      encoded: toHex(cpa.bytes),
    },
    messages,
  }
}

// ---- the checks -----------------------------------------------------------------------------

const FIXTURE = new URL('../fixtures/pnrp-vectors.json', import.meta.url)

if (process.env['PNRP_VECTORS_WRITE'] === '1') {
  writeFileSync(FIXTURE, JSON.stringify(makePnrpVectors(), null, 2) + '\n')
}

const vectors = JSON.parse(readFileSync(FIXTURE, 'utf8')) as PnrpVectors

test('the seeded generator reproduces the fixture exactly', () => {
  assert.deepEqual(makePnrpVectors(), vectors)
})

test('PNRP IDs follow the documented derivation', () => {
  for (const v of [vectors.ids.secured, vectors.ids.unsecured]) {
    // The hash input is domain || 0 || authority || 0 || classifier ...
    const [authority, ...rest] = v.peerName.split('.')
    const input = concatBytes(
      utf8('peerinfra/pnrp/p2p-id/v1\u0000'),
      utf8(`${authority as string}\u0000${rest.join('.')}`),
    )
    assert.equal(toHex(input), v.hashInput, v.peerName)
    // ... the P2P ID its first 16 bytes of SHA-256 ...
    const digest = createHash('sha256').update(input).digest()
    assert.equal(toHex(digest.subarray(0, 16)), v.p2pId, v.peerName)
    assert.equal(toHex(p2pIdOf(v.peerName)), v.p2pId, v.peerName)
    // ... and a resolver aims at P2P ID || 80 00 .. 00.
    assert.equal(v.resolverTarget, v.p2pId + '80' + '00'.repeat(15))
    assert.equal(idToHex(resolverTarget(v.peerName)), v.resolverTarget)
  }
  const secured = vectors.ids.secured
  assert.equal(secured.pnrpId, `${secured.p2pId}${secured.serviceLocation as string}`)
  assert.equal(secured.peerName, `${vectors.key.authority}.chat`)
})

test('the key comes from the documented seed', () => {
  const key = KeyPair.fromSeed(hexBytes(vectors.key.seed))
  assert.equal(toHex(key.publicKey.bytes), vectors.key.publicKey)
  assert.equal(key.publicKey.authority, vectors.key.authority)
})

test('signing the documented CPA fields gives the fixture bytes', () => {
  const key = KeyPair.fromSeed(hexBytes(vectors.key.seed))
  const cpa = Cpa.sign(cpaFieldsFromJson(vectors.cpa.fields), key)
  assert.equal(toHex(cpa.tbs), vectors.cpa.tbs)
  assert.equal(toHex(cpa.signature), vectors.cpa.signature)
  assert.equal(toHex(cpa.bytes), vectors.cpa.encoded)
  assert.equal(idToHex(cpa.id), vectors.cpa.id)
  assert.equal(vectors.cpa.id, vectors.ids.secured.pnrpId)
})

test('the fixture CPA decodes to its fields and verifies', () => {
  const cpa = Cpa.decode(hexBytes(vectors.cpa.encoded))
  assert.deepEqual(cpaFieldsToJson(cpa.toFields()), vectors.cpa.fields)
  assert.equal(toHex(cpa.publicKey), vectors.key.publicKey)
  assert.equal(toHex(cpa.tbs), vectors.cpa.tbs)
  cpa.verify({
    now: vectors.cpa.verifyAt,
    nonce: hexBytes(vectors.cpa.fields['nonce'] as string),
    id: idOfHex(vectors.cpa.id),
  })
  // The envelope is [tbs, signature]; the signature covers the domain, a NUL and tbs.
  assert.deepEqual(decodeCbor(cpa.bytes), [cpa.tbs, cpa.signature])
  const key = KeyPair.fromSeed(hexBytes(vectors.key.seed))
  assert.ok(key.publicKey.verify(CPA_SIGNATURE_DOMAIN, cpa.tbs, cpa.signature))
  // Another nonce is a replay.
  assert.throws(
    () => cpa.verify({ now: vectors.cpa.verifyAt, nonce: new Uint8Array(NONCE_BYTES) }),
    /does not echo our nonce/,
  )
})

test('every message type has one vector', () => {
  assert.deepEqual(Object.keys(vectors.messages).sort(), Object.keys(MESSAGE_TYPES).sort())
})

for (const type of Object.keys(MESSAGE_TYPES) as MessageTypeName[]) {
  test(`${type}: encoding the documented fields gives the fixture bytes, and back`, () => {
    const v = vectors.messages[type]
    assert.equal(v.fields.type, type)
    const message = messageFromJson(v.fields)
    assert.equal(toHex(encodePnrpMessage(message)), v.encoded)
    const decoded = decodePnrpMessage(hexBytes(v.encoded))
    assert.deepEqual(messageToJson(decoded), v.fields)
    // The envelope: v 1, t the MS-PNRP type number, m the message id.
    const wire = decodeCbor(hexBytes(v.encoded)) as Record<string, unknown>
    assert.equal(wire['v'], 1)
    assert.equal(wire['t'], MESSAGE_TYPES[type])
    assert.equal(wire['m'], v.fields.id)
  })
}

test('the AUTHORITY carries the CPA that answers the INQUIRE', () => {
  const inquire = vectors.messages.inquire.fields
  const authority = vectors.messages.authority.fields
  assert.equal(authority['replyTo'], inquire.id)
  assert.equal(authority['cpa'], vectors.cpa.encoded)
  assert.equal(inquire['nonce'], vectors.cpa.fields['nonce'])
  assert.equal(inquire['target'], vectors.cpa.id)
})

// ---- the annotated hex of docs/PROTOCOL.md --------------------------------------------------

test('the annotated hex in docs/PROTOCOL.md is the fixture', () => {
  const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  assert.equal(annotatedHex(doc, 'pnrp', 'cpa'), vectors.cpa.encoded)
  assert.equal(annotatedHex(doc, 'pnrp', 'inquire'), vectors.messages.inquire.encoded)
  assert.equal(annotatedHex(doc, 'pnrp', 'lookup'), vectors.messages.lookup.encoded)
  // Every other message is quoted whole.
  const flat = doc.replace(/\s+/g, '')
  for (const [name, v] of Object.entries(vectors.messages)) {
    if (name === 'inquire' || name === 'lookup') continue
    assert.ok(flat.includes(v.encoded), `docs/PROTOCOL.md quotes the ${name} vector`)
  }
  for (const v of [vectors.ids.secured, vectors.ids.unsecured]) {
    assert.ok(doc.includes(v.p2pId) && doc.includes(v.resolverTarget), v.peerName)
  }
})
