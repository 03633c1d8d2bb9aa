/**
 * Graph messages (MS-PPGRH 2.2) on a secure channel: one deterministic CBOR map each,
 *
 *   { v: 1, t: <type>, ...fields }
 *
 * MS-PPGRH's vocabulary and numbers are kept where they exist. AUTH_INFO is gone: the Noise
 * handshake names the graph (prologue `graph:<id>`) and both peers. SOLICIT_HASH and ADVERTISE
 * are replaced by RECONCILE (range-based set reconciliation, reconcile.ts). ANNOUNCE (ours)
 * offers a large record by digest so that a node pulls each payload about once.
 * docs/PROTOCOL.md ("Graph messages") gives every field.
 */
import { PeerError } from '../core/errors.ts'
import { checkValue, decodeCbor, encodeCbor, s, type Infer, type Schema } from '../wire/index.ts'
import {
  MAX_ACK_ITEMS,
  MAX_GRAPH_MESSAGE_BYTES,
  MAX_MAX_RECORD_SIZE,
  RECORD_CHUNK_BYTES,
  MAX_NODE_ADDRESSES,
  MAX_REFERRALS,
  MAX_REQUEST_ITEMS,
  NODE_ID_BYTES,
} from './constants.ts'
import { DIGEST_BYTES, RECORD_OVERHEAD_BYTES } from './record-codec.ts'
import { MAX_RECORD_TIME } from './records.ts'

export const GRAPH_MESSAGE_VERSION = 1
/** Pieces of the largest record (60 MB plus its framing) in RECORD_CHUNK_BYTES. */
export const MAX_RECORD_CHUNKS = Math.ceil(
  (MAX_MAX_RECORD_SIZE + RECORD_OVERHEAD_BYTES) / RECORD_CHUNK_BYTES,
)

/** MS-PPGRH 2.2 message types, and ours (0x10 and up). */
export const GRAPH_MESSAGE_TYPES = {
  connect: 0x02,
  welcome: 0x03,
  refuse: 0x04,
  disconnect: 0x05,
  'solicit-new': 0x06,
  'solicit-time': 0x07,
  request: 0x0a,
  flood: 0x0b,
  'sync-end': 0x0c,
  data: 0x0d,
  ack: 0x0e,
  reconcile: 0x10,
  announce: 0x11,
  chunk: 0x12,
} as const
export type GraphMessageType = keyof typeof GRAPH_MESSAGE_TYPES

/** MS-PPGRH 2.2 REFUSE reasons. */
export const REFUSE_REASONS = ['busy', 'already-connected', 'duplicate', 'no-direct'] as const
export type RefuseReason = (typeof REFUSE_REASONS)[number]
/** MS-PPGRH 2.2 DISCONNECT reasons. */
export const DISCONNECT_REASONS = ['leaving', 'least-useful', 'application'] as const
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number]

/** A node another may try instead (MS-PPGRH referrals). */
export interface Referral {
  peerId: string
  address: string
  port: number
}

const nodeId = s.bytes({ length: NODE_ID_BYTES, max: NODE_ID_BYTES })
const digest = s.bytes({ length: DIGEST_BYTES, max: DIGEST_BYTES })
const guid = s.bytes({ length: 16, max: 16 })
const time = s.int({ min: 0, max: MAX_RECORD_TIME })
const host = s.text({ minBytes: 1, maxBytes: 64 })
const port = s.int({ min: 1, max: 65_535 })
/** A listening address, [host, port]; also inside presence and contact records. */
export const addressSchema = s.tuple([host, port])
const address = addressSchema
const referral = s.tuple([s.text({ minBytes: 1, maxBytes: 1024 }), host, port])
const referrals = s.array(referral, { max: MAX_REFERRALS })
const header = { v: s.literal(GRAPH_MESSAGE_VERSION), t: s.uint(0xff) }

const schemas = {
  /** U: listening now (addresses updated); D: a direct connection; N: send me your neighbours. */
  connect: s.struct({
    ...header,
    n: nodeId,
    a: s.array(address, { max: MAX_NODE_ADDRESSES }),
    u: s.optional(s.literal(true)),
    d: s.optional(s.literal(true)),
    nb: s.optional(s.literal(true)),
  }),
  /** Accepted: my node id, my peer time (ms) and referrals. */
  welcome: s.struct({ ...header, n: nodeId, pt: time, r: referrals }),
  refuse: s.struct({ ...header, why: s.oneOf(REFUSE_REASONS), r: referrals }),
  disconnect: s.struct({ ...header, why: s.oneOf(DISCONNECT_REASONS), r: referrals }),
  /** Full sync: every record, these types first in this order (others after). */
  'solicit-new': s.struct({ ...header, ty: s.array(guid, { max: 64 }) }),
  /** Time-based sync: records modified at or after `since`. */
  'solicit-time': s.struct({ ...header, since: time, ty: s.array(guid, { max: 64 }) }),
  /** One reconciliation round (reconcile.ts's own encoding inside). */
  reconcile: s.struct({ ...header, b: s.bytes({ max: MAX_GRAPH_MESSAGE_BYTES }) }),
  /** Send me the records with these digests. */
  request: s.struct({ ...header, d: s.array(digest, { min: 1, max: MAX_REQUEST_ITEMS }) }),
  /** One record (record-codec.ts); `s` set while it answers a sync rather than floods. */
  flood: s.struct({
    ...header,
    r: s.bytes({ min: 1, max: MAX_GRAPH_MESSAGE_BYTES }),
    s: s.optional(s.literal(true)),
  }),
  /** A large record I hold, by digest and size: REQUEST it from one neighbour. */
  announce: s.struct({
    ...header,
    d: digest,
    i: guid,
    sz: s.uint(MAX_MAX_RECORD_SIZE + RECORD_OVERHEAD_BYTES),
  }),
  /**
   * One piece of a record too large for one message: piece `x` of `n`, in order, of the record
   * whose digest is `d`; `s` as in FLOOD.
   */
  chunk: s.struct({
    ...header,
    d: digest,
    x: s.uint(MAX_RECORD_CHUNKS - 1),
    n: s.int({ min: 2, max: MAX_RECORD_CHUNKS }),
    b: s.bytes({ min: 1, max: RECORD_CHUNK_BYTES }),
    s: s.optional(s.literal(true)),
  }),
  /** End of a sync answer; with `ty`, the end of that record type's part. */
  'sync-end': s.struct({ ...header, ty: s.optional(guid) }),
  /** MS-PPGRH ACK: per record digest, whether it was new here (useful). */
  ack: s.struct({
    ...header,
    d: s.array(s.tuple([digest, s.bool()]), { min: 1, max: MAX_ACK_ITEMS }),
  }),
  /** PT2PT: application data tagged with a type GUID. */
  data: s.struct({ ...header, ty: guid, b: s.bytes({ max: MAX_GRAPH_MESSAGE_BYTES }) }),
}

type Wire<T extends GraphMessageType> = Infer<(typeof schemas)[T]>
type Fields<T extends GraphMessageType> = Omit<Wire<T>, 'v' | 't'>

/** A message: its type and its fields as on the wire (short names, documented above). */
export type GraphMessage = { [T in GraphMessageType]: { type: T } & Fields<T> }[GraphMessageType]
export type GraphMessageOf<T extends GraphMessageType> = Extract<GraphMessage, { type: T }>

const TYPE_NAMES = new Map<number, GraphMessageType>(
  Object.entries(GRAPH_MESSAGE_TYPES).map(([name, n]) => [n, name as GraphMessageType]),
)

/** The message's bytes; E_INVALIDARG when it breaks a limit (a bug of ours). */
export function encodeGraphMessage(message: GraphMessage): Uint8Array {
  const { type, ...fields } = message
  const wire = { v: GRAPH_MESSAGE_VERSION, t: GRAPH_MESSAGE_TYPES[type], ...fields }
  // Our own messages obey the limits we enforce on others: checked before they leave.
  try {
    ;(schemas[type] as { check(v: unknown): unknown }).check(wire)
  } catch (err) {
    throw new PeerError('E_INVALIDARG', `a graph ${type} message breaks a limit: ${String(err)}`, {
      cause: err,
    })
  }
  return encodeCbor(wire)
}

/** Decoding limits: a flat map with a few arrays (ACK and REQUEST are the longest). */
const DECODE_LIMITS = {
  maxBytes: MAX_GRAPH_MESSAGE_BYTES + 1024,
  maxDepth: 4,
  maxItems: 4 * Math.max(MAX_REQUEST_ITEMS, MAX_ACK_ITEMS) + 64,
}

/** Bytes to a checked message; PEER_E_MALFORMED_MESSAGE (or _UNSUPPORTED_VERSION) otherwise. */
export function decodeGraphMessage(bytes: Uint8Array): GraphMessage {
  const value = decodeCbor(bytes, { ...DECODE_LIMITS, what: 'graph message' })
  const map =
    typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined
  const v = map && (map as Record<string, unknown>)['v']
  const t = map && (map as Record<string, unknown>)['t']
  if (v !== GRAPH_MESSAGE_VERSION) {
    throw new PeerError(
      'PEER_E_UNSUPPORTED_VERSION',
      `graph message version ${String(v)}; this peerinfra understands ${GRAPH_MESSAGE_VERSION}`,
    )
  }
  const type = typeof t === 'number' ? TYPE_NAMES.get(t) : undefined
  if (!type) {
    throw new PeerError('PEER_E_MALFORMED_MESSAGE', `graph message type ${String(t)} is unknown`)
  }
  const schema = schemas[type] as Schema<Record<string, unknown>>
  const { v: _v, t: _t, ...fields } = checkValue(value, schema, { what: `graph ${type} message` })
  return { type, ...fields } as GraphMessage
}

export function toReferral([peerId, addressText, portNumber]: readonly [
  string,
  string,
  number,
]): Referral {
  return { peerId, address: addressText, port: portNumber }
}

export function fromReferral(r: Referral): [string, string, number] {
  return [r.peerId, r.address, r.port]
}
