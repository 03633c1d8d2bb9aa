import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError, type PeerErrorCode } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { decodeCbor, encodeCbor } from '../../src/wire/cbor.ts'
import {
  HASHED_NONCE_BYTES,
  MAX_ADDRESS_LENGTH,
  MAX_ADVERTISE_IDS,
  MAX_AUTHORITY_LEAVES,
  MAX_PATH,
  MAX_PNRP_DATAGRAM_BYTES,
  MAX_ROUTE_ENDPOINTS,
  NONCE_BYTES,
  PNRP_ID_BYTES,
  PNRP_MESSAGE_VERSION,
} from '../../src/pnrp/constants.ts'
import { RING, type PnrpId } from '../../src/pnrp/ids.ts'
import {
  LOOKUP_REASONS,
  MATCH_MODES,
  MESSAGE_TYPES,
  decodePnrpMessage,
  encodePnrpMessage,
  type PnrpMessage,
  type PnrpMessageOf,
} from '../../src/pnrp/messages.ts'
import type { Endpoint, RouteEntry } from '../../src/pnrp/types.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

// ---- helpers --------------------------------------------------------------------------------

const MAX_ID: PnrpId = RING - 1n
const MAX_MESSAGE_ID = 2 ** 32 - 1

type Wire = Record<string, unknown>

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  )
}

function filled(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte)
}

function ep(address: string, port: number): Endpoint {
  return { address, port }
}

/** `n` distinct endpoints with simulator names. */
function endpoints(n: number, prefix = 'node'): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ep(`${prefix}-${i}`, 1 + i))
}

/** An ID with every byte `byte`. */
function idOf(byte: number): PnrpId {
  return BigInt('0x' + byte.toString(16).padStart(2, '0').repeat(PNRP_ID_BYTES))
}

/** The decoded (untyped) CBOR map a message travels as. */
function wireOf(message: PnrpMessage): Wire {
  return decodeCbor(encodePnrpMessage(message)) as Wire
}

/** A datagram from a hand-built wire map. */
function datagram(wire: Wire): Uint8Array {
  return encodeCbor(wire)
}

function malformed(bytes: Uint8Array, label?: string): PeerError {
  return throwsPeerError(() => decodePnrpMessage(bytes), 'PEER_E_MALFORMED_MESSAGE', label)
}

function invalidArg(message: PnrpMessage, label?: string): PeerError {
  return throwsPeerError(() => encodePnrpMessage(message), 'E_INVALIDARG', label)
}

/** Encodes, decodes, and checks the decoded message deep-equals the original. */
function roundTrip(message: PnrpMessage): Uint8Array {
  const bytes = encodePnrpMessage(message)
  assert.deepEqual(decodePnrpMessage(bytes), message)
  return bytes
}

// ---- fixtures -------------------------------------------------------------------------------

const ENTRY: RouteEntry = {
  id: 0x1234n << 200n,
  endpoints: [ep('192.0.2.1', 3540), ep('fe80::1%eth0', 65_535), ep('node-17', 1)],
}
const ENTRY_MAX_ID: RouteEntry = {
  id: MAX_ID,
  endpoints: [
    ep('2001:db8::17', 1),
    ep('fe80::1%eth0', 65_535),
    ep('a'.repeat(MAX_ADDRESS_LENGTH), 3540),
    ep('node_17.sim', 2),
  ],
}
const ENTRY_ZERO_ID: RouteEntry = { id: 0n, endpoints: [ep('::1', 65_535)] }

const SOLICIT_FULL: PnrpMessageOf<'solicit'> = {
  type: 'solicit',
  id: 0,
  hashedNonce: filled(HASHED_NONCE_BYTES, 0xab),
  entry: ENTRY,
  localOnly: true,
}
const SOLICIT_BARE: PnrpMessageOf<'solicit'> = {
  type: 'solicit',
  id: MAX_MESSAGE_ID,
  hashedNonce: filled(HASHED_NONCE_BYTES, 0),
  localOnly: false,
}
const ADVERTISE_FULL: PnrpMessageOf<'advertise'> = {
  type: 'advertise',
  id: 17,
  replyTo: MAX_MESSAGE_ID,
  hashedNonce: filled(HASHED_NONCE_BYTES, 0xff),
  ids: [0n, MAX_ID, ...Array.from({ length: MAX_ADVERTISE_IDS - 2 }, (_, i) => idOf(i + 1))],
}
const ADVERTISE_EMPTY: PnrpMessageOf<'advertise'> = {
  type: 'advertise',
  id: 1,
  replyTo: 0,
  hashedNonce: filled(HASHED_NONCE_BYTES, 1),
  ids: [],
}
const REQUEST: PnrpMessageOf<'request'> = {
  type: 'request',
  id: 2,
  nonce: filled(NONCE_BYTES, 0x5a),
  ids: [MAX_ID, 0n, 1n],
}
const FLOOD_ENTRY: PnrpMessageOf<'flood'> = {
  type: 'flood',
  id: 3,
  validate: 0n,
  entry: ENTRY_MAX_ID,
  noAck: true,
  flooded: [ep('fe80::1%eth0', 65_535), ...endpoints(MAX_PATH - 1)],
}
const FLOOD_REVOKE: PnrpMessageOf<'flood'> = {
  type: 'flood',
  id: 4,
  validate: MAX_ID,
  revoke: Uint8Array.from([1, 2, 3, 0, 255]),
  noAck: false,
  flooded: [],
}
const INQUIRE_FULL: PnrpMessageOf<'inquire'> = {
  type: 'inquire',
  id: 5,
  target: MAX_ID,
  nonce: filled(NONCE_BYTES, 0x11),
  wantCpa: true,
}
const INQUIRE_BARE: PnrpMessageOf<'inquire'> = {
  type: 'inquire',
  id: 6,
  target: 0n,
  wantCpa: false,
}
const AUTHORITY_FULL: PnrpMessageOf<'authority'> = {
  type: 'authority',
  id: 7,
  replyTo: 6,
  target: MAX_ID,
  notHere: true,
  leafGap: true,
  busy: true,
  next: ENTRY_ZERO_ID,
  cpa: filled(300, 0xcd),
  leaves: [ENTRY, ENTRY_MAX_ID, ENTRY_ZERO_ID],
}
const AUTHORITY_BARE: PnrpMessageOf<'authority'> = {
  type: 'authority',
  id: 8,
  replyTo: 0,
  target: 0n,
  notHere: false,
  leafGap: false,
  busy: false,
  leaves: [],
}
const ACK: PnrpMessageOf<'ack'> = { type: 'ack', id: 9, replyTo: MAX_MESSAGE_ID, notHere: true }
const ACK_BARE: PnrpMessageOf<'ack'> = { type: 'ack', id: 0, replyTo: 0, notHere: false }
const LOOKUP_FULL: PnrpMessageOf<'lookup'> = {
  type: 'lookup',
  id: 10,
  target: MAX_ID,
  validate: 0n,
  mode: 'nearest64',
  reason: 'registration',
  acceptNotCloser: true,
  best: ENTRY_MAX_ID,
  path: [ep('fe80::1%eth0', 1), ep('node-17', 65_535), ...endpoints(MAX_PATH - 2, 'hop')],
  entry: ENTRY,
}
const LOOKUP_BARE: PnrpMessageOf<'lookup'> = {
  type: 'lookup',
  id: 11,
  target: 0n,
  validate: MAX_ID,
  mode: 'exact',
  reason: 'app',
  acceptNotCloser: false,
  path: [ep('192.0.2.1', 3540)],
}

const FIXED_CASES: Array<[string, PnrpMessage]> = [
  ['solicit with entry and localOnly', SOLICIT_FULL],
  ['solicit bare', SOLICIT_BARE],
  ['advertise with 16 ids', ADVERTISE_FULL],
  ['advertise with no ids', ADVERTISE_EMPTY],
  ['request', REQUEST],
  ['flood with entry', FLOOD_ENTRY],
  ['flood with revoke', FLOOD_REVOKE],
  ['inquire with nonce and wantCpa', INQUIRE_FULL],
  ['inquire bare', INQUIRE_BARE],
  ['authority with all flags, next, cpa, leaves', AUTHORITY_FULL],
  ['authority with nothing', AUTHORITY_BARE],
  ['ack notHere', ACK],
  ['ack bare', ACK_BARE],
  ['lookup with all optional fields', LOOKUP_FULL],
  ['lookup bare', LOOKUP_BARE],
]

// ---- random messages ------------------------------------------------------------------------

const ADDRESS_CHARS = '0123456789abcdefABCDEFxyz.:%_-'
const KNOWN_ADDRESSES = ['192.0.2.1', '::1', 'fe80::1%eth0', '2001:db8::17', 'node-17', 'n_0']

function pick<T>(r: SeededRandom, items: readonly T[]): T {
  return items[r.int(items.length)] as T
}

function randomId(r: SeededRandom): PnrpId {
  const k = r.int(8)
  if (k === 0) return 0n
  if (k === 1) return MAX_ID
  return BigInt('0x' + hex(r.bytes(PNRP_ID_BYTES)))
}

function randomAddress(r: SeededRandom): string {
  if (r.int(2) === 0) return pick(r, KNOWN_ADDRESSES)
  const length = r.int(4) === 0 ? MAX_ADDRESS_LENGTH : 1 + r.int(MAX_ADDRESS_LENGTH)
  let out = ''
  for (let i = 0; i < length; i++) out += ADDRESS_CHARS[r.int(ADDRESS_CHARS.length)] as string
  return out
}

function randomPort(r: SeededRandom): number {
  const k = r.int(4)
  return k === 0 ? 1 : k === 1 ? 65_535 : 1 + r.int(65_535)
}

function randomEndpoints(r: SeededRandom, min: number, max: number): Endpoint[] {
  return Array.from({ length: min + r.int(max - min + 1) }, () =>
    ep(randomAddress(r), randomPort(r)),
  )
}

function randomEntry(r: SeededRandom): RouteEntry {
  return { id: randomId(r), endpoints: randomEndpoints(r, 1, MAX_ROUTE_ENDPOINTS) }
}

function randomMessageId(r: SeededRandom): number {
  const k = r.int(4)
  return k === 0 ? 0 : k === 1 ? MAX_MESSAGE_ID : r.int(2 ** 32)
}

function randomFlag(r: SeededRandom): boolean {
  return r.int(2) === 0
}

/** A random valid message of a random type, optional fields present or not. */
function randomMessage(r: SeededRandom): PnrpMessage {
  const id = randomMessageId(r)
  switch (pick(r, Object.keys(MESSAGE_TYPES) as Array<keyof typeof MESSAGE_TYPES>)) {
    case 'solicit':
      return {
        type: 'solicit',
        id,
        hashedNonce: r.bytes(HASHED_NONCE_BYTES),
        ...(randomFlag(r) ? { entry: randomEntry(r) } : {}),
        localOnly: randomFlag(r),
      }
    case 'advertise':
      return {
        type: 'advertise',
        id,
        replyTo: randomMessageId(r),
        hashedNonce: r.bytes(HASHED_NONCE_BYTES),
        ids: Array.from({ length: r.int(MAX_ADVERTISE_IDS + 1) }, () => randomId(r)),
      }
    case 'request':
      return {
        type: 'request',
        id,
        nonce: r.bytes(NONCE_BYTES),
        ids: Array.from({ length: 1 + r.int(MAX_ADVERTISE_IDS) }, () => randomId(r)),
      }
    case 'flood':
      return {
        type: 'flood',
        id,
        validate: randomId(r),
        ...(randomFlag(r) ? { entry: randomEntry(r) } : { revoke: r.bytes(1 + r.int(600)) }),
        noAck: randomFlag(r),
        flooded: randomEndpoints(r, 0, MAX_PATH),
      }
    case 'inquire':
      return {
        type: 'inquire',
        id,
        target: randomId(r),
        ...(randomFlag(r) ? { nonce: r.bytes(NONCE_BYTES) } : {}),
        wantCpa: randomFlag(r),
      }
    case 'authority':
      return {
        type: 'authority',
        id,
        replyTo: randomMessageId(r),
        target: randomId(r),
        notHere: randomFlag(r),
        leafGap: randomFlag(r),
        busy: randomFlag(r),
        ...(randomFlag(r) ? { next: randomEntry(r) } : {}),
        ...(randomFlag(r) ? { cpa: r.bytes(1 + r.int(2000)) } : {}),
        leaves: Array.from({ length: r.int(MAX_AUTHORITY_LEAVES + 1) }, () => randomEntry(r)),
      }
    case 'ack':
      return { type: 'ack', id, replyTo: randomMessageId(r), notHere: randomFlag(r) }
    case 'lookup':
      return {
        type: 'lookup',
        id,
        target: randomId(r),
        validate: randomId(r),
        mode: pick(r, MATCH_MODES),
        reason: pick(r, LOOKUP_REASONS),
        acceptNotCloser: randomFlag(r),
        ...(randomFlag(r) ? { best: randomEntry(r) } : {}),
        path: randomEndpoints(r, 1, MAX_PATH),
        ...(randomFlag(r) ? { entry: randomEntry(r) } : {}),
      }
  }
}

// ---- round trips ----------------------------------------------------------------------------

describe('PNRP messages: round trips', () => {
  for (const [name, message] of FIXED_CASES) {
    test(`${name} decodes to the message it was encoded from`, () => {
      const bytes = roundTrip(message)
      assert.ok(bytes.length <= MAX_PNRP_DATAGRAM_BYTES)
      // The envelope: { v, t, m, ... }.
      const wire = decodeCbor(bytes) as Wire
      assert.equal(wire['v'], PNRP_MESSAGE_VERSION)
      assert.equal(wire['t'], MESSAGE_TYPES[message.type])
      assert.equal(wire['m'], message.id)
    })
  }

  test('every AUTHORITY flag travels on its own', () => {
    for (const flag of ['notHere', 'leafGap', 'busy'] as const) {
      const message = { ...AUTHORITY_BARE, [flag]: true }
      roundTrip(message)
      const f = wireOf(message)['f']
      assert.equal(f, { notHere: 0x001, busy: 0x008, leafGap: 0x200 }[flag], flag)
    }
  })

  test('every lookup mode and reason round trips', () => {
    for (const mode of MATCH_MODES) {
      for (const reason of LOOKUP_REASONS) roundTrip({ ...LOOKUP_BARE, mode, reason })
    }
  })

  test('the largest AUTHORITY: 10 leaves of 4 long endpoints, next, and a cpa filling 8192 bytes', () => {
    const longEndpoints = (tag: number): Endpoint[] =>
      Array.from({ length: MAX_ROUTE_ENDPOINTS }, (_, i) =>
        ep(`${tag}-${i}-`.padEnd(MAX_ADDRESS_LENGTH, 'x'), 65_535),
      )
    const base: PnrpMessageOf<'authority'> = {
      ...AUTHORITY_FULL,
      next: { id: MAX_ID, endpoints: longEndpoints(99) },
      leaves: Array.from({ length: MAX_AUTHORITY_LEAVES }, (_, i) => ({
        id: idOf(i),
        endpoints: longEndpoints(i),
      })),
    }
    // Size the cpa so the datagram is exactly the limit.
    const probe = encodePnrpMessage({ ...base, cpa: filled(1000, 1) }).length
    const cpaLength = 1000 + MAX_PNRP_DATAGRAM_BYTES - probe
    const fits = { ...base, cpa: filled(cpaLength, 7) }
    const bytes = roundTrip(fits)
    assert.equal(bytes.length, MAX_PNRP_DATAGRAM_BYTES)

    // One more cpa byte and our own encoder refuses it.
    throwsPeerError(
      () => encodePnrpMessage({ ...base, cpa: filled(cpaLength + 1, 7) }),
      'PEER_E_TOO_LARGE',
      /exceeds MAX_PNRP_DATAGRAM_BYTES/,
    )
  })

  test('300 random messages round trip', () => {
    const r = new SeededRandom('pnrp-messages/random-round-trip')
    const seen = new Set<string>()
    for (let i = 0; i < 300; i++) {
      const message = randomMessage(r)
      seen.add(message.type)
      roundTrip(message)
    }
    assert.equal(seen.size, Object.keys(MESSAGE_TYPES).length)
  })

  test('decoded byte fields are copies, not views of the datagram', () => {
    const bytes = encodePnrpMessage(SOLICIT_FULL)
    const message = decodePnrpMessage(bytes) as PnrpMessageOf<'solicit'>
    bytes.fill(0)
    assert.deepEqual(message.hashedNonce, SOLICIT_FULL.hashedNonce)
    assert.equal(Object.getPrototypeOf(message.hashedNonce), Uint8Array.prototype)
    // A Buffer datagram too.
    const fromBuffer = decodePnrpMessage(Buffer.from(encodePnrpMessage(FLOOD_REVOKE)))
    assert.deepEqual(fromBuffer, FLOOD_REVOKE)
  })

  test('an ACK matches the hand-written deterministic CBOR', () => {
    // { m: 1, t: 9, v: 1, re: 1 }: keys sorted by their encodings (length first).
    const expected = 'a4' + '616d01' + '617409' + '617601' + '62726501'
    assert.equal(hex(encodePnrpMessage({ ...ACK_BARE, id: 1, replyTo: 1 })), expected)
    assert.equal(
      hex(encodePnrpMessage({ ...ACK_BARE, id: 1, replyTo: 1, notHere: true })),
      'a5' + '616d01' + '617409' + '617601' + '626e68f5' + '62726501',
    )
  })
})

// ---- encoding -------------------------------------------------------------------------------

describe('PNRP messages: encoding', () => {
  test('is deterministic: equal messages give equal bytes, whatever the property order', () => {
    for (const [name, message] of FIXED_CASES) {
      const once = encodePnrpMessage(message)
      assert.ok(sameBytes(once, encodePnrpMessage(message)), name)
      assert.ok(sameBytes(once, encodePnrpMessage(structuredClone(message))), name)
      const reversed = Object.fromEntries(Object.entries(message).reverse()) as PnrpMessage
      assert.ok(sameBytes(once, encodePnrpMessage(reversed)), name)
    }
    const r = new SeededRandom('pnrp-messages/deterministic')
    for (let i = 0; i < 50; i++) {
      const message = randomMessage(r)
      assert.ok(sameBytes(encodePnrpMessage(message), encodePnrpMessage(structuredClone(message))))
    }
  })

  test('refuses paths and lists beyond their limits', () => {
    invalidArg({ ...LOOKUP_BARE, path: endpoints(MAX_PATH + 1) }, 'lookup path of 23')
    invalidArg({ ...LOOKUP_BARE, path: [] }, 'lookup path of 0')
    roundTrip({ ...LOOKUP_BARE, path: endpoints(MAX_PATH) })
    invalidArg({ ...FLOOD_REVOKE, flooded: endpoints(MAX_PATH + 1) }, 'flooded list of 23')
    const ids17 = Array.from({ length: MAX_ADVERTISE_IDS + 1 }, (_, i) => BigInt(i))
    invalidArg({ ...ADVERTISE_FULL, ids: ids17 }, '17 advertise ids')
    invalidArg({ ...REQUEST, ids: ids17 }, '17 request ids')
    invalidArg({ ...REQUEST, ids: [] }, '0 request ids')
    const leaves = Array.from({ length: MAX_AUTHORITY_LEAVES + 1 }, () => ENTRY)
    invalidArg({ ...AUTHORITY_BARE, leaves }, '11 leaves')
  })

  test('refuses route entries with 0 or 5 endpoints, wherever they are', () => {
    const five: RouteEntry = { id: 1n, endpoints: endpoints(MAX_ROUTE_ENDPOINTS + 1) }
    const none: RouteEntry = { id: 1n, endpoints: [] }
    for (const entry of [five, none]) {
      const label = `${entry.endpoints.length} endpoints`
      invalidArg({ ...SOLICIT_BARE, entry }, `solicit entry, ${label}`)
      invalidArg({ ...FLOOD_ENTRY, entry }, `flood entry, ${label}`)
      invalidArg({ ...AUTHORITY_BARE, next: entry }, `authority next, ${label}`)
      invalidArg({ ...AUTHORITY_BARE, leaves: [ENTRY, entry] }, `authority leaf, ${label}`)
      invalidArg({ ...LOOKUP_BARE, best: entry }, `lookup best, ${label}`)
      invalidArg({ ...LOOKUP_BARE, entry }, `lookup entry, ${label}`)
    }
  })

  test('refuses bad addresses and ports', () => {
    const bad: Array<[string, Endpoint]> = [
      ['address with a space', ep('fe80::1 eth0', 3540)],
      ['empty address', ep('', 3540)],
      ['address of 65 characters', ep('a'.repeat(MAX_ADDRESS_LENGTH + 1), 3540)],
      ['non-ASCII address', ep('nöde', 3540)],
      ['address with a slash', ep('192.0.2.0/24', 3540)],
      ['address with a newline', ep('node-1\n', 3540)],
      ['port 0', ep('node-1', 0)],
      ['port 65536', ep('node-1', 65_536)],
      ['port -1', ep('node-1', -1)],
      ['port 1.5', ep('node-1', 1.5)],
    ]
    for (const [label, endpoint] of bad) {
      invalidArg({ ...LOOKUP_BARE, path: [endpoint] }, `lookup path: ${label}`)
      invalidArg({ ...FLOOD_REVOKE, flooded: [endpoint] }, `flooded: ${label}`)
      invalidArg({ ...SOLICIT_BARE, entry: { id: 1n, endpoints: [endpoint] } }, `entry: ${label}`)
    }
    roundTrip({ ...LOOKUP_BARE, path: [ep('a'.repeat(MAX_ADDRESS_LENGTH), 1)] })
  })

  test('refuses out-of-range IDs, message ids and wrong-sized nonces', () => {
    for (const id of [-1n, RING]) {
      invalidArg({ ...INQUIRE_BARE, target: id }, `target ${id}`)
      invalidArg({ ...ADVERTISE_EMPTY, ids: [id] }, `advertise id ${id}`)
      invalidArg({ ...SOLICIT_BARE, entry: { ...ENTRY, id } }, `entry id ${id}`)
    }
    for (const id of [-1, 2 ** 32, 1.5, Number.NaN]) {
      invalidArg({ ...ACK_BARE, id }, `message id ${id}`)
      invalidArg({ ...ACK_BARE, replyTo: id }, `replyTo ${id}`)
    }
    invalidArg({ ...SOLICIT_BARE, hashedNonce: filled(HASHED_NONCE_BYTES - 1, 0) }, 'hn of 31')
    invalidArg({ ...REQUEST, nonce: filled(NONCE_BYTES + 1, 0) }, 'nonce of 17')
    invalidArg({ ...INQUIRE_FULL, nonce: filled(NONCE_BYTES - 1, 0) }, 'inquire nonce of 15')
    invalidArg({ ...FLOOD_REVOKE, revoke: new Uint8Array(0) }, 'empty revoke')
    invalidArg({ ...AUTHORITY_BARE, cpa: new Uint8Array(0) }, 'empty cpa')
  })

  test('refuses unknown modes, reasons and types', () => {
    invalidArg({ ...LOOKUP_BARE, mode: 'closest' as 'exact' }, 'mode')
    invalidArg({ ...LOOKUP_BARE, reason: 'curiosity' as 'app' }, 'reason')
    invalidArg({ ...ACK_BARE, type: 'nack' } as unknown as PnrpMessage, 'type')
  })

  test('refuses an AUTHORITY whose cpa makes the datagram too large', () => {
    throwsPeerError(
      () => encodePnrpMessage({ ...AUTHORITY_BARE, cpa: filled(MAX_PNRP_DATAGRAM_BYTES - 20, 1) }),
      'PEER_E_TOO_LARGE',
    )
    // A cpa longer than a datagram breaks the field's own limit first.
    invalidArg({ ...AUTHORITY_BARE, cpa: filled(MAX_PNRP_DATAGRAM_BYTES + 1, 1) }, 'cpa of 8193')
  })

  test('refuses a FLOOD with both entry and revoke, or neither', () => {
    invalidArg({ ...FLOOD_ENTRY, revoke: Uint8Array.from([1]) }, 'both')
    const { entry: _entry, ...neither } = FLOOD_ENTRY
    invalidArg(neither, 'neither')
  })
})

// ---- decoding errors ------------------------------------------------------------------------

describe('PNRP messages: decoding errors', () => {
  test('a datagram over MAX_PNRP_DATAGRAM_BYTES is PEER_E_TOO_LARGE before any parsing', () => {
    throwsPeerError(
      () => decodePnrpMessage(new Uint8Array(MAX_PNRP_DATAGRAM_BYTES + 1)),
      'PEER_E_TOO_LARGE',
    )
    // Even one that is well-formed CBOR with a (too long) valid-looking AUTHORITY.
    const wire = { ...wireOf(AUTHORITY_BARE), cpa: filled(MAX_PNRP_DATAGRAM_BYTES, 1) }
    const big = datagram(wire)
    assert.ok(big.length > MAX_PNRP_DATAGRAM_BYTES)
    throwsPeerError(() => decodePnrpMessage(big), 'PEER_E_TOO_LARGE')
  })

  test('another version is PEER_E_UNSUPPORTED_VERSION, checked before the type and the fields', () => {
    for (const [name, message] of FIXED_CASES) {
      for (const v of [0, 2, 255, '1', null]) {
        throwsPeerError(
          () => decodePnrpMessage(datagram({ ...wireOf(message), v })),
          'PEER_E_UNSUPPORTED_VERSION',
          `${name}, v ${String(v)}`,
        )
      }
      const { v: _v, ...noVersion } = wireOf(message)
      throwsPeerError(
        () => decodePnrpMessage(datagram(noVersion)),
        'PEER_E_UNSUPPORTED_VERSION',
        `${name} without v`,
      )
    }
    // A newer peer's unknown type, or its unknown fields, read as a version problem.
    throwsPeerError(
      () => decodePnrpMessage(datagram({ v: 2, t: 0x05, m: 1 })),
      'PEER_E_UNSUPPORTED_VERSION',
    )
    throwsPeerError(
      () => decodePnrpMessage(datagram({ ...wireOf(ACK), v: 2, future: [1, 2] })),
      'PEER_E_UNSUPPORTED_VERSION',
    )
  })

  test('an unknown or missing type is PEER_E_MALFORMED_MESSAGE', () => {
    for (const t of [0x00, 0x05, 0x06, 0x0a, 0x0c, 0xff, 0x100, 0x101, -1, '1', null, true]) {
      malformed(datagram({ v: 1, t, m: 1 }), `t ${String(t)}`)
      malformed(datagram({ ...wireOf(ACK), t }), `ack fields, t ${String(t)}`)
    }
    malformed(datagram({ v: 1, m: 1, re: 1 }), 'no t')
    // The right fields under another type's number.
    malformed(datagram({ ...wireOf(ACK), t: MESSAGE_TYPES.inquire }), 'ack as inquire')
  })

  test('an unknown extra field is PEER_E_MALFORMED_MESSAGE, in every type', () => {
    for (const [name, message] of FIXED_CASES) {
      malformed(datagram({ ...wireOf(message), x: 1 }), `${name} + x`)
      malformed(datagram({ ...wireOf(message), '': null }), `${name} + empty key`)
      malformed(datagram({ ...wireOf(message), V: 1 }), `${name} + V`)
    }
    // A field that belongs to another type.
    malformed(datagram({ ...wireOf(ACK), tgt: filled(PNRP_ID_BYTES, 1) }), 'ack + tgt')
    malformed(datagram({ ...wireOf(INQUIRE_BARE), lo: true }), 'inquire + lo')
  })

  test('a missing required field is PEER_E_MALFORMED_MESSAGE, in every type', () => {
    for (const [name, message] of FIXED_CASES) {
      const wire = wireOf(message)
      for (const key of Object.keys(wire)) {
        if (key === 'v') continue
        const rest = { ...wire }
        delete rest[key]
        let decoded: PnrpMessage | undefined
        try {
          decoded = decodePnrpMessage(datagram(rest))
        } catch (err) {
          assert.ok(err instanceof PeerError)
          assert.equal(err.code, 'PEER_E_MALFORMED_MESSAGE', `${name} without ${key}`)
          continue
        }
        // Only optional fields may go; then it is simply another valid message.
        const optional = ['e', 'lo', 'rv', 'd', 'n', 'a', 'next', 'cpa', 'lv', 'nh', 'best']
        assert.ok(optional.includes(key), `${name} decoded without ${key}`)
        assert.ok(sameBytes(encodePnrpMessage(decoded), datagram(rest)))
      }
    }
  })

  test('a FLOOD with both an entry and a revocation, or neither, is PEER_E_MALFORMED_MESSAGE', () => {
    const withEntry = wireOf(FLOOD_ENTRY)
    malformed(datagram({ ...withEntry, rv: Uint8Array.from([1]) }), 'both')
    const { e: _e, ...neither } = withEntry
    malformed(datagram(neither), 'neither')
    const { rv: _rv, ...neither2 } = wireOf(FLOOD_REVOKE)
    malformed(datagram(neither2), 'neither (from revoke)')
  })

  test('an AUTHORITY with unknown flag bits is PEER_E_MALFORMED_MESSAGE', () => {
    const wire = wireOf(AUTHORITY_FULL)
    for (const f of [0x002, 0x004, 0x010, 0x100, 0x400, 0x800, 0x209 | 0x002, 0xfff]) {
      malformed(datagram({ ...wire, f }), `f 0x${f.toString(16)}`)
    }
    for (const f of [0x1000, 0xffff, -1, '1', true]) {
      malformed(datagram({ ...wire, f }), `f ${String(f)}`)
    }
    // All known flags at once are fine.
    assert.deepEqual(decodePnrpMessage(datagram({ ...wire, f: 0x209 })), AUTHORITY_FULL)
  })

  test('an ID of 31 or 33 bytes is PEER_E_MALFORMED_MESSAGE, wherever it is', () => {
    for (const size of [0, 1, PNRP_ID_BYTES - 1, PNRP_ID_BYTES + 1]) {
      const id = filled(size, 0x42)
      const badEntry = [id, [['node-1', 1]]]
      malformed(datagram({ ...wireOf(INQUIRE_BARE), tgt: id }), `inquire tgt ${size}`)
      malformed(datagram({ ...wireOf(LOOKUP_BARE), val: id }), `lookup val ${size}`)
      malformed(datagram({ ...wireOf(FLOOD_REVOKE), val: id }), `flood val ${size}`)
      malformed(datagram({ ...wireOf(ADVERTISE_EMPTY), ids: [id] }), `advertise ids ${size}`)
      malformed(datagram({ ...wireOf(REQUEST), ids: [id] }), `request ids ${size}`)
      malformed(datagram({ ...wireOf(SOLICIT_BARE), e: badEntry }), `solicit e ${size}`)
      malformed(datagram({ ...wireOf(AUTHORITY_BARE), lv: [badEntry] }), `leaf ${size}`)
    }
    // An ID as an integer or text is wrong too.
    malformed(datagram({ ...wireOf(INQUIRE_BARE), tgt: 5 }), 'integer id')
    malformed(datagram({ ...wireOf(INQUIRE_BARE), tgt: 'ab'.repeat(32) }), 'text id')
  })

  test('a message id or replyTo outside uint32 is PEER_E_MALFORMED_MESSAGE', () => {
    for (const value of [2 ** 32, 2 ** 53 - 1, -1, -(2 ** 32), 'x']) {
      malformed(datagram({ ...wireOf(ACK), m: value }), `m ${value}`)
      malformed(datagram({ ...wireOf(ACK), re: value }), `re ${value}`)
    }
    assert.equal(decodePnrpMessage(datagram({ ...wireOf(ACK), m: 2 ** 32 - 1 })).id, 2 ** 32 - 1)
  })

  test('a flag present as false, or as anything but true, is PEER_E_MALFORMED_MESSAGE', () => {
    const cases: Array<[PnrpMessage, string]> = [
      [SOLICIT_BARE, 'lo'],
      [FLOOD_REVOKE, 'd'],
      [INQUIRE_BARE, 'a'],
      [ACK_BARE, 'nh'],
      [LOOKUP_BARE, 'a'],
    ]
    for (const [message, key] of cases) {
      for (const value of [false, 1, 0, null, 'true']) {
        malformed(
          datagram({ ...wireOf(message), [key]: value }),
          `${message.type}.${key} ${String(value)}`,
        )
      }
    }
    // An empty leaf list is written by leaving it out.
    malformed(datagram({ ...wireOf(AUTHORITY_BARE), lv: [] }), 'lv []')
  })

  test('bad lookup fields, endpoints and limits are PEER_E_MALFORMED_MESSAGE', () => {
    const lookup = wireOf(LOOKUP_BARE)
    malformed(datagram({ ...lookup, why: LOOKUP_REASONS.length }), 'why 4')
    malformed(datagram({ ...lookup, mode: 'Exact' }), 'mode Exact')
    malformed(datagram({ ...lookup, mode: 0 }), 'mode 0')
    malformed(datagram({ ...lookup, path: [] }), 'path []')
    const path23 = Array.from({ length: MAX_PATH + 1 }, (_, i) => [`n-${i}`, 1])
    malformed(datagram({ ...lookup, path: path23 }), 'path of 23')
    malformed(datagram({ ...lookup, path: [['node 1', 1]] }), 'address with a space')
    malformed(datagram({ ...lookup, path: [['node-1', 0]] }), 'port 0')
    malformed(datagram({ ...lookup, path: [['node-1', 65_536]] }), 'port 65536')
    malformed(datagram({ ...lookup, path: [['node-1']] }), 'endpoint of 1')
    malformed(datagram({ ...lookup, path: [['node-1', 1, 2]] }), 'endpoint of 3')
    malformed(datagram({ ...lookup, path: [{ a: 'node-1', p: 1 }] }), 'endpoint as a map')
    const fiveEndpoints = Array.from({ length: 5 }, (_, i) => [`n-${i}`, 1])
    malformed(datagram({ ...lookup, best: [filled(32, 0), fiveEndpoints] }), '5 endpoints')
    malformed(datagram({ ...lookup, best: [filled(32, 0), []] }), '0 endpoints')
    const ids17 = Array.from({ length: 17 }, () => filled(32, 0))
    malformed(datagram({ ...wireOf(ADVERTISE_EMPTY), ids: ids17 }), '17 ids')
    malformed(datagram({ ...wireOf(REQUEST), ids: [] }), 'request of 0 ids')
    malformed(datagram({ ...wireOf(SOLICIT_BARE), hn: filled(31, 0) }), 'hn of 31')
    malformed(datagram({ ...wireOf(REQUEST), n: filled(15, 0) }), 'nonce of 15')
    malformed(datagram({ ...wireOf(FLOOD_REVOKE), rv: new Uint8Array(0) }), 'empty rv')
  })

  test('non-deterministic or non-CBOR bytes are PEER_E_MALFORMED_MESSAGE', () => {
    const canonical = 'a4616d0161740961760162726501' // { m: 1, t: 9, v: 1, re: 1 }
    assert.deepEqual(decodePnrpMessage(Buffer.from(canonical, 'hex')), {
      type: 'ack',
      id: 1,
      replyTo: 1,
      notHere: false,
    })
    const bad = [
      'a4617409616d0161760162726501', // keys out of order
      'a4616d180161740961760162726501', // m in a non-shortest form
      'a4616d0161740961760162726501ff', // trailing byte
      'bf616d0161740961760162726501ff', // indefinite-length map
      'a5616d01617409617601627265016172f7', // undefined
      'a5616d016174096176016272650161786120', // an unknown key "x", out of order too
      'a4616d01617409617601627265fb3ff0000000000000', // re as a float
      'a4616d0161740961760162726501'.slice(0, -2), // truncated
      'c0a4616d0161740961760162726501', // tagged
      '', // nothing
    ]
    for (const input of bad) malformed(Buffer.from(input, 'hex'), input)
    // A duplicate key.
    malformed(Buffer.from('a4616d01616d0161740961760162726501'.replace('a4', 'a5'), 'hex'))
  })

  test('a "__proto__" key is an unknown field, not a prototype', () => {
    const wire: Wire = { ...wireOf(ACK_BARE) }
    Object.defineProperty(wire, '__proto__', {
      value: { nh: true },
      enumerable: true,
      configurable: true,
      writable: true,
    })
    malformed(datagram(wire))
  })

  test('a datagram that is not a map is PEER_E_MALFORMED_MESSAGE, not a version problem', () => {
    for (const value of [0, 1, -1, 'ack', [1, 9, 1], Uint8Array.from([1]), null, true, {}]) {
      malformed(encodeCbor(value), JSON.stringify(value))
    }
  })
})

// ---- fuzz -----------------------------------------------------------------------------------

const DECODE_ERROR_CODES: ReadonlySet<PeerErrorCode> = new Set<PeerErrorCode>([
  'PEER_E_MALFORMED_MESSAGE',
  'PEER_E_UNSUPPORTED_VERSION',
  'PEER_E_TOO_LARGE',
])

interface FuzzStats {
  inputs: number
  decoded: number
  codes: Map<string, number>
}

function newStats(): FuzzStats {
  return { inputs: 0, decoded: 0, codes: new Map() }
}

/**
 * The fuzz property: decoding returns a message or throws a PeerError with a decoding code,
 * and a message that decodes re-encodes to exactly the input (one encoding per message).
 */
function checkInput(bytes: Uint8Array, stats: FuzzStats, label: string): PnrpMessage | undefined {
  stats.inputs++
  let message: PnrpMessage
  try {
    message = decodePnrpMessage(bytes)
  } catch (err) {
    if (!(err instanceof PeerError)) {
      assert.fail(`${label}: ${hex(bytes)} threw a non-PeerError: ${String(err)}`)
    }
    assert.ok(DECODE_ERROR_CODES.has(err.code), `${label}: ${hex(bytes)} threw ${err.code}`)
    stats.codes.set(err.code, (stats.codes.get(err.code) ?? 0) + 1)
    return undefined
  }
  stats.decoded++
  let again: Uint8Array
  try {
    again = encodePnrpMessage(message)
  } catch (err) {
    return assert.fail(`${label}: ${hex(bytes)} decoded but does not re-encode: ${String(err)}`)
  }
  if (!sameBytes(again, bytes)) {
    assert.fail(`${label}: ${hex(bytes)} decoded and re-encoded to ${hex(again)}`)
  }
  return message
}

const WIRE_KEYS = [
  'v',
  't',
  'm',
  'hn',
  'e',
  'lo',
  're',
  'ids',
  'n',
  'val',
  'rv',
  'd',
  'af',
  'tgt',
  'a',
  'f',
  'next',
  'cpa',
  'lv',
  'nh',
  'mode',
  'why',
  'best',
  'path',
]
const INTERESTING_INTS = [
  0,
  1,
  2,
  9,
  23,
  24,
  255,
  256,
  0x209,
  0xfff,
  0x1000,
  65_535,
  65_536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  -1,
  -24,
  -25,
  -(2 ** 53 - 1),
]
const TEXT_CHARS = 'abcmtvexyz019.:%_- é\u00ff\u4e2d'

function randomText(r: SeededRandom): string {
  if (r.int(3) === 0) return pick(r, [...WIRE_KEYS, ...MATCH_MODES, ...KNOWN_ADDRESSES])
  let out = ''
  const length = r.int(12)
  for (let i = 0; i < length; i++) out += TEXT_CHARS[r.int(TEXT_CHARS.length)] as string
  return out
}

function randomInt(r: SeededRandom): number {
  switch (r.int(3)) {
    case 0:
      return pick(r, INTERESTING_INTS)
    case 1:
      return r.int(30)
    default:
      return r.int(2 ** 40) - 2 ** 39
  }
}

/** A random value in our CBOR subset: maps, arrays, bytes, ints, text, booleans, null. */
function randomCbor(r: SeededRandom, depth: number): unknown {
  const kind = r.int(depth >= 4 ? 5 : 8)
  switch (kind) {
    case 0:
      return randomInt(r)
    case 1:
      return r.bytes(pick(r, [0, 1, 15, 16, 17, 31, 32, 33, r.int(80)]))
    case 2:
      return randomText(r)
    case 3:
      return pick(r, [true, false, null])
    case 4:
      return r.int(2) === 0 ? r.bytes(32) : randomInt(r)
    case 5:
    case 6:
      return Array.from({ length: r.int(6) }, () => randomCbor(r, depth + 1))
    default: {
      const map: Wire = {}
      const size = r.int(7)
      for (let i = 0; i < size; i++) map[randomText(r)] = randomCbor(r, depth + 1)
      return map
    }
  }
}

/** A top-level random value, usually a map with a plausible envelope. */
function randomTopLevel(r: SeededRandom): unknown {
  if (r.int(5) === 0) return randomCbor(r, 0)
  const map: Wire = {}
  if (r.int(8) !== 0) map['v'] = r.int(6) === 0 ? randomInt(r) : PNRP_MESSAGE_VERSION
  if (r.int(8) !== 0)
    map['t'] = r.int(4) === 0 ? randomInt(r) : pick(r, Object.values(MESSAGE_TYPES))
  if (r.int(8) !== 0) map['m'] = randomInt(r)
  const size = r.int(7)
  for (let i = 0; i < size; i++) {
    map[r.int(5) === 0 ? randomText(r) : pick(r, WIRE_KEYS)] = randomCbor(r, 1)
  }
  return map
}

/** A valid wire map with 1-3 structural mutations, fields often borrowed from other messages. */
function mutatedWire(r: SeededRandom, corpus: readonly Wire[]): Wire {
  const out: Wire = { ...pick(r, corpus) }
  const n = 1 + r.int(3)
  for (let i = 0; i < n; i++) {
    const keys = Object.keys(out)
    switch (r.int(6)) {
      case 0:
        if (keys.length > 0) delete out[pick(r, keys)]
        break
      case 1: {
        // Another message's field, valid in its own place.
        const donor = pick(r, corpus)
        const key = pick(r, Object.keys(donor))
        out[key] = donor[key]
        break
      }
      case 2:
        if (keys.length > 0) out[pick(r, keys)] = randomCbor(r, 1)
        break
      case 3:
        out['t'] = r.int(4) === 0 ? randomInt(r) : pick(r, Object.values(MESSAGE_TYPES))
        break
      case 4:
        out[pick(r, WIRE_KEYS)] = randomCbor(r, 1)
        break
      default:
        out['v'] = pick(r, [1, 1, 1, 2, 0])
    }
  }
  return out
}

describe('PNRP messages: fuzz', () => {
  test('10,000 hostile inputs: a message (that re-encodes to the same bytes) or a PeerError', (t) => {
    const r = new SeededRandom('pnrp-messages/fuzz')
    const messages = [
      ...FIXED_CASES.map(([, m]) => m),
      ...Array.from({ length: 40 }, () => randomMessage(r)),
    ]
    const encodings = messages.map(encodePnrpMessage)
    const corpus = encodings.map((bytes) => decodeCbor(bytes) as Wire)
    const all = newStats()

    // 1. Random byte strings, often starting with a map header.
    const randomBytes = newStats()
    for (let i = 0; i < 2000; i++) {
      const bytes = r.bytes(r.int(r.int(4) === 0 ? 300 : 40))
      if (bytes.length > 0 && r.int(2) === 0) bytes[0] = 0xa0 | r.int(8)
      checkInput(bytes, randomBytes, 'random bytes')
    }

    // 2. Valid encodings with one byte changed.
    const flipped = newStats()
    for (let i = 0; i < 2500; i++) {
      const bytes = Uint8Array.from(pick(r, encodings))
      const at = r.int(bytes.length)
      bytes[at] = (bytes[at] as number) ^ (r.int(2) === 0 ? 1 << r.int(8) : 1 + r.int(255))
      checkInput(bytes, flipped, `byte ${at} changed`)
    }

    // 3. Valid encodings cut short at every length: always malformed.
    const truncated = newStats()
    for (const message of [SOLICIT_FULL, FLOOD_ENTRY, AUTHORITY_FULL, LOOKUP_FULL, ACK]) {
      const bytes = encodePnrpMessage(message)
      for (let length = 0; length < bytes.length; length++) {
        const cut = bytes.subarray(0, length)
        assert.equal(checkInput(cut, truncated, `${message.type} cut at ${length}`), undefined)
      }
    }
    assert.equal(truncated.decoded, 0)
    assert.deepEqual([...truncated.codes.keys()], ['PEER_E_MALFORMED_MESSAGE'])

    // 4. Random CBOR values, and valid wire maps with structural mutations.
    const structured = newStats()
    const remaining = 10_000 - randomBytes.inputs - flipped.inputs - truncated.inputs
    assert.ok(remaining >= 3000, `only ${remaining} inputs left for structured fuzzing`)
    for (let i = 0; i < remaining; i++) {
      const value = i % 2 === 0 ? randomTopLevel(r) : mutatedWire(r, corpus)
      const bytes = encodeCbor(value)
      checkInput(bytes, structured, i % 2 === 0 ? 'random CBOR' : 'mutated wire map')
    }

    for (const stats of [randomBytes, flipped, truncated, structured]) {
      all.inputs += stats.inputs
      all.decoded += stats.decoded
      for (const [code, n] of stats.codes) all.codes.set(code, (all.codes.get(code) ?? 0) + n)
    }
    assert.equal(all.inputs, 10_000)
    t.diagnostic(
      `decoded: ${randomBytes.decoded} random, ${flipped.decoded} flipped, ` +
        `${structured.decoded} structured; errors: ${JSON.stringify(Object.fromEntries(all.codes))}`,
    )
    // The fuzz reaches past the CBOR layer: some inputs decode, each decoder error occurs.
    assert.ok(flipped.decoded > 100, `only ${flipped.decoded} flipped inputs decoded`)
    assert.ok(structured.decoded > 100, `only ${structured.decoded} structured inputs decoded`)
    assert.ok((all.codes.get('PEER_E_UNSUPPORTED_VERSION') ?? 0) > 0)
    assert.ok((all.codes.get('PEER_E_MALFORMED_MESSAGE') ?? 0) > 0)
  })
})
