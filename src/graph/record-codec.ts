/**
 * A record on the wire (docs/PROTOCOL.md, "Graph records"): one deterministic CBOR map,
 *
 *   { v: 1, t: type (16 bytes), i: id (16 bytes), n: version, f: flags, c: creator,
 *     m: modified-by, ct: created, et: expires, mt: modified (ms, peer time),
 *     a: [[name, 0 string | 1 int | 2 date, value], ...], s: security data, d: data }
 *
 * and its digest, the first 16 bytes of SHA-256("peerinfra/v1/graph-record" 0x00 || bytes),
 * which names one exact copy of a record (id and version and content) in sync and flooding.
 * Decoding checks sizes and types before it builds anything (wire/schema.ts).
 */
import { createHash } from 'node:crypto'
import { fromHex, toHex } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import { decodeMessage, encodeCbor, s, SchemaError, type Schema } from '../wire/index.ts'
import { checkAttributeList, type RecordAttribute } from './attributes.ts'
import {
  MAX_ATTRIBUTE_NAME_CHARS,
  MAX_MAX_RECORD_SIZE,
  MAX_PEER_ID_CHARS,
  MAX_RECORD_ATTRIBUTES,
} from './constants.ts'
import { guidFromBytes, MAX_RECORD_TIME, MAX_RECORD_VERSION, type GraphRecord } from './records.ts'
import type { ValueType } from './values.ts'

export const RECORD_WIRE_VERSION = 1
export const DIGEST_BYTES = 16
const DIGEST_DOMAIN = Buffer.from('peerinfra/v1/graph-record\u0000')
/** Fixed fields and CBOR framing on top of the record's variable parts (a generous bound). */
export const RECORD_OVERHEAD_BYTES = 4096

const VALUE_TYPES: readonly ValueType[] = ['string', 'int', 'date']
const guid = s.bytes({ length: 16, max: 16 })
const time = s.int({ min: 0, max: MAX_RECORD_TIME })
const peerId = s.text({ minBytes: 1, maxBytes: MAX_PEER_ID_CHARS * 4 })
/** A string or int or date attribute value; decodeAttribute checks it against its type. */
const attributeValue: Schema<string | number> = {
  description: 'text or an integer',
  check(v, path = '') {
    if (typeof v === 'string' || typeof v === 'number') return v
    throw new SchemaError(path, 'expected text or an integer')
  },
}
const attribute = s.tuple([
  s.text({ minBytes: 1, maxBytes: MAX_ATTRIBUTE_NAME_CHARS }),
  s.uint(2),
  attributeValue,
])

const recordSchema = s.struct({
  v: s.literal(RECORD_WIRE_VERSION),
  t: guid,
  i: guid,
  n: s.int({ min: 1, max: MAX_RECORD_VERSION }),
  f: s.uint(0xff),
  c: peerId,
  m: peerId,
  ct: time,
  et: time,
  mt: time,
  a: s.array(attribute, { max: MAX_RECORD_ATTRIBUTES }),
  s: s.bytes({ max: MAX_MAX_RECORD_SIZE }),
  d: s.bytes({ max: MAX_MAX_RECORD_SIZE }),
})

function guidBytes(g: string): Uint8Array {
  return fromHex(g.replace(/-/g, ''))!
}

export function encodeRecord(r: GraphRecord): Uint8Array {
  return encodeCbor({
    v: RECORD_WIRE_VERSION,
    t: guidBytes(r.type),
    i: guidBytes(r.id),
    n: r.version,
    f: r.flags,
    c: r.creator,
    m: r.modifiedBy,
    ct: r.createdAt,
    et: r.expiresAt,
    mt: r.modifiedAt,
    a: r.attributes.map((a) => [a.name, VALUE_TYPES.indexOf(a.type), a.value]),
    s: r.securityData,
    d: r.data,
  })
}

function badRecord(problem: string): PeerError {
  return new PeerError('PEER_E_MALFORMED_MESSAGE', `graph record: ${problem}`)
}

/**
 * Bytes to a record: the bytes must be the record's canonical encoding (so every node computes
 * the same digest). Structural checks only: checkRecordShape (records.ts) and the graph's
 * own rules come after. `maxBytes` bounds the input (the graph's maximum record size plus
 * the fixed overhead).
 */
export function decodeRecord(bytes: Uint8Array, maxRecordSize: number): GraphRecord {
  const w = decodeMessage(bytes, recordSchema, {
    what: 'graph record',
    maxBytes: maxRecordSize + RECORD_OVERHEAD_BYTES,
    versions: [RECORD_WIRE_VERSION],
  })
  let attributes: RecordAttribute[]
  try {
    attributes = checkAttributeList(
      w.a.map(([name, t, value]) => ({ name, type: VALUE_TYPES[t]!, value }) as RecordAttribute),
    )
  } catch (err) {
    throw badRecord((err as Error).message)
  }
  const record: GraphRecord = {
    type: guidFromBytes(w.t),
    id: guidFromBytes(w.i),
    version: w.n,
    flags: w.f,
    creator: w.c,
    modifiedBy: w.m,
    createdAt: w.ct,
    expiresAt: w.et,
    modifiedAt: w.mt,
    attributes,
    securityData: w.s,
    data: w.d,
  }
  if (Buffer.compare(encodeRecord(record), bytes) !== 0) {
    throw badRecord('not in canonical form')
  }
  return record
}

/** The digest of a record's exact wire bytes. */
export function digestOf(encoded: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHash('sha256').update(DIGEST_DOMAIN).update(encoded).digest().subarray(0, DIGEST_BYTES),
  )
}

export function recordDigest(r: GraphRecord): Uint8Array {
  return digestOf(encodeRecord(r))
}

export function digestHex(d: Uint8Array): string {
  return toHex(d)
}
