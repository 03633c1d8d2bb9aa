/**
 * PNRP messages (MS-PNRP 1.3) as deterministic CBOR datagrams. MS-PNRP's vocabulary, numbers
 * and fields are kept; the TLV encoding is replaced by one CBOR map per datagram:
 *
 *   { v: 1, t: <MessageType>, m: <MessageID, uint32>, ...fields of the type }
 *
 * IDs travel as 32 big-endian bytes, endpoints as [address, port], route entries as
 * [id, [endpoint, ...]]. Replies (ADVERTISE, AUTHORITY, ACK) name the message they answer in
 * `re`. docs/PROTOCOL.md ("PNRP") gives every field.
 */
import { PeerError } from '../core/errors.ts'
import { checkValue, decodeCbor, encodeCbor, s, type Infer } from '../wire/index.ts'
import {
  HASHED_NONCE_BYTES,
  MAX_ADVERTISE_IDS,
  MAX_AUTHORITY_LEAVES,
  MAX_PATH,
  MAX_PNRP_DATAGRAM_BYTES,
  MAX_ROUTE_ENDPOINTS,
  NONCE_BYTES,
  PNRP_ID_BYTES,
  PNRP_MESSAGE_VERSION,
} from './constants.ts'
import { endpointSchema } from './cpa.ts'
import { idFromBytes, idToBytes, type MatchMode, type PnrpId } from './ids.ts'
import type { Endpoint, RouteEntry } from './types.ts'

/** MS-PNRP 1.3 MessageType values. */
export const MESSAGE_TYPES = {
  solicit: 0x01,
  advertise: 0x02,
  request: 0x03,
  flood: 0x04,
  inquire: 0x07,
  authority: 0x08,
  ack: 0x09,
  lookup: 0x0b,
} as const
export type MessageTypeName = keyof typeof MESSAGE_TYPES

/** MS-PNRP 1.3 LOOKUP ReasonCode. */
export const LOOKUP_REASONS = ['app', 'registration', 'maintenance', 'split-detection'] as const
export type LookupReason = (typeof LOOKUP_REASONS)[number]

export const MATCH_MODES = ['exact', 'any-peer-name', 'nearest', 'nearest64'] as const

export type PnrpMessage =
  /** Joiner asks for cache entries; `hashedNonce` = SHA-256 of the nonce its REQUEST reveals. */
  | { type: 'solicit'; id: number; hashedNonce: Uint8Array; entry?: RouteEntry; localOnly: boolean }
  /** IDs spread over the space that the joiner may REQUEST. */
  | { type: 'advertise'; id: number; replyTo: number; hashedNonce: Uint8Array; ids: PnrpId[] }
  /** "Send me these IDs", proving the conversation with the nonce. ACKed, then FLOODed. */
  | { type: 'request'; id: number; nonce: Uint8Array; ids: PnrpId[] }
  /**
   * Delivers a route entry (or a revocation CPA) to the node holding `validate`. `noAck` is
   * MS-PNRP's D flag; `flooded` the Already-Flooded list.
   */
  | {
      type: 'flood'
      id: number
      validate: PnrpId
      entry?: RouteEntry
      revoke?: Uint8Array
      noAck: boolean
      flooded: Endpoint[]
    }
  /** "Prove you hold `target`" (return routability); with `wantCpa`, send its CPA with `nonce`. */
  | { type: 'inquire'; id: number; target: PnrpId; nonce?: Uint8Array; wantCpa: boolean }
  /**
   * Reply to LOOKUP or INQUIRE. `notHere` (N): `target` is not registered here. `leafGap` (L):
   * the target would fall in my leaf set but I do not know it. `busy` (B). `next`: the next hop
   * or best match. `leaves`: my registrations and leaf entries that match the lookup.
   */
  | {
      type: 'authority'
      id: number
      replyTo: number
      target: PnrpId
      notHere: boolean
      leafGap: boolean
      busy: boolean
      next?: RouteEntry
      cpa?: Uint8Array
      leaves: RouteEntry[]
    }
  /** Acknowledges REQUEST or FLOOD; `notHere` (N): the validate ID is not registered here. */
  | { type: 'ack'; id: number; replyTo: number; notHere: boolean }
  /**
   * One resolution hop. `validate`: the ID the resolver believes the receiver holds.
   * `acceptNotCloser` (A flag); `path`: endpoints already visited (1..22); `entry`: the
   * registrant's own entry, attached while it registers (reason 'registration').
   */
  | {
      type: 'lookup'
      id: number
      target: PnrpId
      validate: PnrpId
      mode: MatchMode
      reason: LookupReason
      acceptNotCloser: boolean
      best?: RouteEntry
      path: Endpoint[]
      entry?: RouteEntry
    }

export type PnrpMessageOf<T extends MessageTypeName> = Extract<PnrpMessage, { type: T }>

// ---- wire schemas -------------------------------------------------------------------------

const MESSAGE_ID_MAX = 0xffff_ffff
const idBytes = s.bytes({ length: PNRP_ID_BYTES, max: PNRP_ID_BYTES })
const endpoint = endpointSchema
const routeEntry = s.tuple([idBytes, s.array(endpoint, { min: 1, max: MAX_ROUTE_ENDPOINTS })])
const messageId = s.uint(MESSAGE_ID_MAX)
const header = { v: s.literal(PNRP_MESSAGE_VERSION), t: s.uint(0xff), m: messageId }

const schemas = {
  solicit: s.struct({
    ...header,
    hn: s.bytes({ length: HASHED_NONCE_BYTES, max: HASHED_NONCE_BYTES }),
    e: s.optional(routeEntry),
    lo: s.optional(s.literal(true)),
  }),
  advertise: s.struct({
    ...header,
    re: messageId,
    hn: s.bytes({ length: HASHED_NONCE_BYTES, max: HASHED_NONCE_BYTES }),
    ids: s.array(idBytes, { max: MAX_ADVERTISE_IDS }),
  }),
  request: s.struct({
    ...header,
    n: s.bytes({ length: NONCE_BYTES, max: NONCE_BYTES }),
    ids: s.array(idBytes, { min: 1, max: MAX_ADVERTISE_IDS }),
  }),
  flood: s.struct({
    ...header,
    val: idBytes,
    e: s.optional(routeEntry),
    rv: s.optional(s.bytes({ min: 1, max: MAX_PNRP_DATAGRAM_BYTES })),
    d: s.optional(s.literal(true)),
    af: s.array(endpoint, { max: MAX_PATH }),
  }),
  inquire: s.struct({
    ...header,
    tgt: idBytes,
    n: s.optional(s.bytes({ length: NONCE_BYTES, max: NONCE_BYTES })),
    a: s.optional(s.literal(true)),
  }),
  authority: s.struct({
    ...header,
    re: messageId,
    tgt: idBytes,
    f: s.uint(0x0fff),
    next: s.optional(routeEntry),
    cpa: s.optional(s.bytes({ min: 1, max: MAX_PNRP_DATAGRAM_BYTES })),
    lv: s.optional(s.array(routeEntry, { min: 1, max: MAX_AUTHORITY_LEAVES })),
  }),
  ack: s.struct({ ...header, re: messageId, nh: s.optional(s.literal(true)) }),
  lookup: s.struct({
    ...header,
    tgt: idBytes,
    val: idBytes,
    mode: s.oneOf(MATCH_MODES),
    why: s.uint(LOOKUP_REASONS.length - 1),
    a: s.optional(s.literal(true)),
    best: s.optional(routeEntry),
    path: s.array(endpoint, { min: 1, max: MAX_PATH }),
    e: s.optional(routeEntry),
  }),
}

/** MS-PNRP 1.3 AUTHORITY flags. */
const FLAG_NOT_HERE = 0x001
const FLAG_BUSY = 0x008
const FLAG_LEAF_GAP = 0x200

const TYPE_NAMES = new Map<number, MessageTypeName>(
  Object.entries(MESSAGE_TYPES).map(([name, n]) => [n, name as MessageTypeName]),
)

// ---- encoding -----------------------------------------------------------------------------

type WireEndpoint = Infer<typeof endpoint>
type WireRouteEntry = Infer<typeof routeEntry>

const toWireEndpoint = (e: Endpoint): WireEndpoint => [e.address, e.port]
const toWireEntry = (e: RouteEntry): WireRouteEntry => [
  idToBytes(e.id),
  e.endpoints.map(toWireEndpoint),
]

/** The message as datagram bytes; E_INVALIDARG when it breaks a limit (a bug of ours). */
export function encodePnrpMessage(message: PnrpMessage): Uint8Array {
  const head = { v: PNRP_MESSAGE_VERSION, t: MESSAGE_TYPES[message.type], m: message.id }
  let body: Record<string, unknown>
  switch (message.type) {
    case 'solicit':
      body = {
        hn: message.hashedNonce,
        ...(message.entry ? { e: toWireEntry(message.entry) } : {}),
        ...(message.localOnly ? { lo: true } : {}),
      }
      break
    case 'advertise':
      body = { re: message.replyTo, hn: message.hashedNonce, ids: message.ids.map(idToBytes) }
      break
    case 'request':
      body = { n: message.nonce, ids: message.ids.map(idToBytes) }
      break
    case 'flood':
      if ((message.entry === undefined) === (message.revoke === undefined)) {
        throw new PeerError(
          'E_INVALIDARG',
          'a PNRP flood carries a route entry or a revocation, exactly one',
        )
      }
      body = {
        val: idToBytes(message.validate),
        ...(message.entry ? { e: toWireEntry(message.entry) } : {}),
        ...(message.revoke ? { rv: message.revoke } : {}),
        ...(message.noAck ? { d: true } : {}),
        af: message.flooded.map(toWireEndpoint),
      }
      break
    case 'inquire':
      body = {
        tgt: idToBytes(message.target),
        ...(message.nonce ? { n: message.nonce } : {}),
        ...(message.wantCpa ? { a: true } : {}),
      }
      break
    case 'authority':
      body = {
        re: message.replyTo,
        tgt: idToBytes(message.target),
        f:
          (message.notHere ? FLAG_NOT_HERE : 0) |
          (message.busy ? FLAG_BUSY : 0) |
          (message.leafGap ? FLAG_LEAF_GAP : 0),
        ...(message.next ? { next: toWireEntry(message.next) } : {}),
        ...(message.cpa ? { cpa: message.cpa } : {}),
        ...(message.leaves.length > 0 ? { lv: message.leaves.map(toWireEntry) } : {}),
      }
      break
    case 'ack':
      body = { re: message.replyTo, ...(message.notHere ? { nh: true } : {}) }
      break
    case 'lookup':
      body = {
        tgt: idToBytes(message.target),
        val: idToBytes(message.validate),
        mode: message.mode,
        why: LOOKUP_REASONS.indexOf(message.reason),
        ...(message.acceptNotCloser ? { a: true } : {}),
        ...(message.best ? { best: toWireEntry(message.best) } : {}),
        path: message.path.map(toWireEndpoint),
        ...(message.entry ? { e: toWireEntry(message.entry) } : {}),
      }
      break
  }
  const wire = { ...head, ...body }
  // Our own messages obey the limits we enforce on others: checked before they leave.
  try {
    ;(schemas[message.type] as { check(v: unknown): unknown }).check(wire)
  } catch (err) {
    throw new PeerError('E_INVALIDARG', `a PNRP ${message.type} breaks a limit: ${String(err)}`, {
      cause: err,
    })
  }
  const bytes = encodeCbor(wire)
  if (bytes.length > MAX_PNRP_DATAGRAM_BYTES) {
    throw new PeerError(
      'PEER_E_TOO_LARGE',
      `a PNRP ${message.type} of ${bytes.length} bytes exceeds MAX_PNRP_DATAGRAM_BYTES (${MAX_PNRP_DATAGRAM_BYTES})`,
    )
  }
  return bytes
}

// ---- decoding -----------------------------------------------------------------------------

const fromWireEndpoint = ([address, port]: WireEndpoint): Endpoint => ({ address, port })
const fromWireEntry = ([id, endpoints]: WireRouteEntry): RouteEntry => ({
  id: idFromBytes(id),
  endpoints: endpoints.map(fromWireEndpoint),
})

/** Decoding limits: a message is a flat map with a few nested arrays. */
const DECODE_LIMITS = { maxBytes: MAX_PNRP_DATAGRAM_BYTES, maxDepth: 5, maxItems: 512 }

/**
 * A datagram to a checked message. PEER_E_TOO_LARGE over MAX_PNRP_DATAGRAM_BYTES (checked
 * before decoding), PEER_E_UNSUPPORTED_VERSION for another version, PEER_E_MALFORMED_MESSAGE
 * for anything else that is wrong.
 */
export function decodePnrpMessage(bytes: Uint8Array): PnrpMessage {
  if (bytes.length > MAX_PNRP_DATAGRAM_BYTES) {
    throw new PeerError(
      'PEER_E_TOO_LARGE',
      `a PNRP datagram of ${bytes.length} bytes exceeds ${MAX_PNRP_DATAGRAM_BYTES}`,
    )
  }
  const value = decodeCbor(bytes, { ...DECODE_LIMITS, what: 'PNRP message' })
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Uint8Array
  ) {
    throw new PeerError('PEER_E_MALFORMED_MESSAGE', 'a PNRP message is a CBOR map')
  }
  const t =
    typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)['t']
      : undefined
  const type = typeof t === 'number' ? TYPE_NAMES.get(t) : undefined
  const options = { what: 'PNRP message', versions: [PNRP_MESSAGE_VERSION] }
  const v = (value as Record<string, unknown>)['v']
  if (typeof v === 'number' && v !== PNRP_MESSAGE_VERSION) {
    // Checked before the type, so a newer peer's new message type reads as a version problem.
    checkValue(value, s.struct({ v: s.uint(0xff) }), options)
  }
  if (type === undefined) {
    throw new PeerError('PEER_E_MALFORMED_MESSAGE', `unknown PNRP message type ${String(t)}`)
  }
  switch (type) {
    case 'solicit': {
      const w = checkValue(value, schemas.solicit, options)
      return {
        type,
        id: w.m,
        hashedNonce: w.hn,
        ...(w.e ? { entry: fromWireEntry(w.e) } : {}),
        localOnly: w.lo === true,
      }
    }
    case 'advertise': {
      const w = checkValue(value, schemas.advertise, options)
      return { type, id: w.m, replyTo: w.re, hashedNonce: w.hn, ids: w.ids.map(idFromBytes) }
    }
    case 'request': {
      const w = checkValue(value, schemas.request, options)
      return { type, id: w.m, nonce: w.n, ids: w.ids.map(idFromBytes) }
    }
    case 'flood': {
      const w = checkValue(value, schemas.flood, options)
      if ((w.e === undefined) === (w.rv === undefined)) {
        throw new PeerError(
          'PEER_E_MALFORMED_MESSAGE',
          'a PNRP flood carries a route entry or a revocation, exactly one',
        )
      }
      return {
        type,
        id: w.m,
        validate: idFromBytes(w.val),
        ...(w.e ? { entry: fromWireEntry(w.e) } : {}),
        ...(w.rv ? { revoke: w.rv } : {}),
        noAck: w.d === true,
        flooded: w.af.map(fromWireEndpoint),
      }
    }
    case 'inquire': {
      const w = checkValue(value, schemas.inquire, options)
      return {
        type,
        id: w.m,
        target: idFromBytes(w.tgt),
        ...(w.n ? { nonce: w.n } : {}),
        wantCpa: w.a === true,
      }
    }
    case 'authority': {
      const w = checkValue(value, schemas.authority, options)
      if ((w.f & ~(FLAG_NOT_HERE | FLAG_BUSY | FLAG_LEAF_GAP)) !== 0) {
        throw new PeerError('PEER_E_MALFORMED_MESSAGE', `unknown AUTHORITY flags ${w.f}`)
      }
      return {
        type,
        id: w.m,
        replyTo: w.re,
        target: idFromBytes(w.tgt),
        notHere: (w.f & FLAG_NOT_HERE) !== 0,
        leafGap: (w.f & FLAG_LEAF_GAP) !== 0,
        busy: (w.f & FLAG_BUSY) !== 0,
        ...(w.next ? { next: fromWireEntry(w.next) } : {}),
        ...(w.cpa ? { cpa: w.cpa } : {}),
        leaves: (w.lv ?? []).map(fromWireEntry),
      }
    }
    case 'ack': {
      const w = checkValue(value, schemas.ack, options)
      return { type, id: w.m, replyTo: w.re, notHere: w.nh === true }
    }
    case 'lookup': {
      const w = checkValue(value, schemas.lookup, options)
      return {
        type,
        id: w.m,
        target: idFromBytes(w.tgt),
        validate: idFromBytes(w.val),
        mode: w.mode,
        reason: LOOKUP_REASONS[w.why] as LookupReason,
        acceptNotCloser: w.a === true,
        ...(w.best ? { best: fromWireEntry(w.best) } : {}),
        path: w.path.map(fromWireEndpoint),
        ...(w.e ? { entry: fromWireEntry(w.e) } : {}),
      }
    }
  }
}
