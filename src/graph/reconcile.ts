/**
 * Range-based set reconciliation for Peer Graphing, replacing MS-PPGRH Hash Sync
 * (ms-protocols.md section 2.4) between nodes that both hold data. Hash Sync sorts the records
 * by (modification time, ID), cuts them into ranges of 10 and sends one MD5 per range, so its
 * traffic grows with the size of the database. Here, in the spirit of Negentropy (range-based
 * set reconciliation, https://logperiodic.com/rbsr.html), the two sides compare fingerprints
 * of large ranges and only subdivide those that differ, so the traffic grows with the number
 * of differences (times the logarithm of the size), not with the size.
 *
 * Pure logic: no I/O, no clock, no randomness. The caller reads the messages off the wire,
 * hands them to a Reconciler, sends its replies, and transfers the records named in `have`
 * (send) and `need` (request).
 *
 * ## Items, bounds, fingerprints
 *
 * An item stands for one record: `time` (its modification time, integer ms, 0..MAX_ITEM_TIME)
 * and `digest` (16 bytes, a hash of the record's full content, computed by the caller). Items
 * are ordered by time, then by digest bytes. A bound is item-shaped, `{ time, digest }`, with
 * a digest PREFIX of 0..16 bytes that compares as if padded with zero bytes to 16; bounds are
 * canonical: the prefix never ends in a zero byte. Ranges are [lower, upper): lower inclusive,
 * upper exclusive. MIN_BOUND = (0, empty) is below every item, MAX_BOUND =
 * (Number.MAX_SAFE_INTEGER, empty) above every item (item times stop one below).
 *
 * The fingerprint of a range: read each item digest as four little-endian uint32 words, add
 * the digests lane by lane mod 2^32 (commutative and incremental: a store can keep running
 * sums, and subtract them for sub-ranges), then
 *
 *   fingerprint = SHA-256(sum as 4 little-endian uint32 || count as 8-byte little-endian)[0..16]
 *
 * ## Protocol
 *
 * A message is a list of ranges that cover the key space contiguously from MIN_BOUND: the
 * first range is [MIN_BOUND, upper1), the next [upper1, upper2) and so on; everything above
 * the last upper bound is "skip". Each range has a mode:
 *
 * - `skip`: nothing to do here (in sync, or already settled).
 * - `fingerprint`: the sender's fingerprint of its items in the range.
 * - `items`: the sender's complete item list in the range.
 *
 * The initiator sends the whole key space as one range: `items` if it holds at most
 * ITEMS_THRESHOLD items, else `fingerprint`. The receiver of a message answers range by range:
 *
 * - `skip`: skip.
 * - `fingerprint`: equal to mine: skip. Different: when I hold at most ITEMS_THRESHOLD items
 *   there, my `items`; else I split the range into BRANCHING sub-ranges with equal numbers of
 *   my items and send each with my fingerprint.
 * - `items` that ANSWER my own `items` (the range lies inside one I sent as `items` in my
 *   previous message): both sides have now seen both lists. I compute have/need there and
 *   answer `skip`.
 * - `items` that do not answer mine: I compute have/need there. If both lists are equal, skip;
 *   else I answer with my complete list (`items`, when it fits in the message), which is how
 *   the peer learns ITS have/need for the range: after the exchange both sides know their
 *   full have/need lists, and every item pair is settled by exactly one items exchange.
 *
 * A side whose reply would be all skip returns `reply: undefined`: it has nothing more to say
 * (the caller tells the peer so, e.g. by sending an empty message: zero ranges mean all skip).
 *
 * Every reply keeps within MAX_RANGES_PER_MESSAGE ranges and MAX_ITEMS_PER_MESSAGE items (or
 * the smaller limits the Reconciler was given). A reply is planned before it is built: each
 * range that needs work is first counted as DEFERRED, answered with my fingerprint alone (one
 * range, which the peer will find different and work on in its next reply; runs of skip
 * merge into one range); then, in key order, ranges get their full answer while the reply
 * still fits. The first range that needs work always gets its answer, split into fewer
 * sub-ranges if that is all that fits; when even that leaves no room (or the peer's message
 * has more ranges than my limit), everything after it is folded into one fingerprint range
 * up to MAX_BOUND. The first open range therefore always makes progress, and reconciliation
 * terminates. (A folded region may be explored again; have and need are deduplicated, so
 * each item is reported once.) Reading my side costs at most one count and fingerprint per
 * received range, and items lists no longer than what the peer sent or what the reply holds.
 *
 * The protocol trusts nothing in a message beyond its form: a lying peer can only spoil its
 * own result or prolong the exchange, so the caller bounds the number of rounds or the time.
 *
 * ## Wire format (encodeReconcile / decodeReconcile)
 *
 * One deterministic CBOR map (RFC 8949 section 4.2.1, src/wire/cbor.ts):
 *
 *   { "r": [range, ...], "v": 1 }
 *
 *   range = [dt, prefix, 0]                      ; skip
 *         | [dt, prefix, 1, fp]                  ; fingerprint
 *         | [dt, prefix, 2, [it1, it2, ...], ds] ; items
 *
 * - `v` (uint): format version, 1. `r` (array): 0..MAX_RANGES_PER_MESSAGE ranges, ascending.
 * - `dt` (uint): the range's upper bound time minus the previous range's upper bound time (0
 *   for the first range); MAX_BOUND is the time Number.MAX_SAFE_INTEGER with an empty prefix.
 * - `prefix` (byte string, 0..16 bytes, never ending in 0x00): the upper bound's digest prefix,
 *   as short as separates the neighbouring items.
 * - `fp` (byte string, 16 bytes): the fingerprint.
 * - `it` (uint): each item's time minus the previous item's time in the range (for the first
 *   item: minus the range's LOWER bound time, the previous range's upper time or 0).
 * - `ds` (byte string, 16 x number of items): the item digests, concatenated in item order.
 *
 * Byte by byte, a fingerprint range [dt, prefix, 1, fp] is 0x84, dt as a CBOR uint (1, 2, 3,
 * 5 or 9 bytes: 0x00..0x17, 0x18 xx, 0x19 xxxx, 0x1a xxxxxxxx, 0x1b xxxxxxxxxxxxxxxx), the
 * prefix as 0x40+len followed by len bytes, 0x01, then 0x50 and the 16 fingerprint bytes; a
 * skip range is 0x83 dt prefix 0x00; an items range of n items is 0x85 dt prefix 0x02, an
 * array header (0x80+n, or 0x98 n, or 0x99 nnnn) with n uints, then the byte string header
 * (0x58 ll / 0x59 llll / 0x5a llllllll) and 16n digest bytes. The whole map starts 0xa2 0x61
 * 0x72 ("r"), the array header of the ranges, the ranges, then 0x61 0x76 ("v") 0x01. Example:
 * skip to (1000, ab), fingerprint ff..ff to (1300, empty), then items (1300, 01..01) and
 * (1305, 02..02) up to MAX_BOUND is
 *
 *   a2 61 72 83                                  map, "r", 3 ranges
 *   83 19 03e8 41 ab 00                          skip: dt 1000, prefix ab
 *   84 19 012c 40 01 50 ff..ff                   fingerprint: dt 300, no prefix, 16 bytes
 *   85 1b 001ffffffffffaeb 40 02 82 00 05 58 20 01..01 02..02
 *                                                items: dt 2^53-1-1300, no prefix, times
 *                                                [0, 5] from 1300, 32 digest bytes
 *   61 76 01                                     "v": 1
 *
 * Decoding refuses non-deterministic encodings, unknown keys, wrong types, bounds that are not
 * strictly ascending or not canonical, items outside their range or not strictly ascending,
 * and any count over the limits, with PEER_E_MALFORMED_MESSAGE (PEER_E_TOO_LARGE for more
 * than MAX_RECONCILE_MESSAGE_BYTES bytes, PEER_E_UNSUPPORTED_VERSION for another `v`), before
 * building anything large.
 */
import { createHash } from 'node:crypto'

import { PeerError, type PeerErrorCode } from '../core/errors.ts'
import { decodeCbor, encodeCbor } from '../wire/cbor.ts'

// ---- limits and tuning ----------------------------------------------------------------------

/** Bytes of an item digest (a hash of the record's full content) and of a fingerprint. */
export const DIGEST_BYTES = 16
/** Latest item time: one below MAX_BOUND's time, so every item lies below MAX_BOUND. */
export const MAX_ITEM_TIME = Number.MAX_SAFE_INTEGER - 1
/**
 * A differing range holding at most this many of my items is answered with its item list
 * instead of being split. An item costs about 21 bytes (16 + time delta), a fingerprint range
 * about 24. Tuned with bench/reconcile.ts (100,000 items per side, 10 differences, BRANCHING
 * 16): 8 and 16 both give 12.4 kB in 7 messages (the last split leaves ranges of ~1.5
 * items); 32 and 64 stop one level earlier and list ranges of ~24 items from both sides:
 * 17.8 kB in 6 messages.
 */
export const ITEMS_THRESHOLD = 16
/**
 * Sub-ranges a differing range is split into. More branches mean fewer rounds (log base
 * BRANCHING of the size) but more fingerprints per difference per level. bench/reconcile.ts
 * (100,000 items, 10 differences, ITEMS_THRESHOLD 16): 4 gives 8.4 kB in 10 messages, 8 gives
 * 8.9 kB in 8, 16 gives 12.4 kB in 7, 32 gives 17.8 kB in 6. 16 (Negentropy's choice) trades
 * a few kB, far below the goal of 40 kB, for round trips.
 */
export const BRANCHING = 16
/** Most ranges in one message (hard limit, enforced on what we send and what we accept). */
export const MAX_RANGES_PER_MESSAGE = 2048
/** Most items in one message, all ranges together (hard limit, sent and accepted). */
export const MAX_ITEMS_PER_MESSAGE = 2048
/** Format version carried in `v`. */
export const RECONCILE_VERSION = 1
/**
 * Largest encoded message: map header and keys (8 bytes), ranges array header (3), each range
 * at most 45 bytes (header 1, dt 9, prefix 17, mode 1, fingerprint 17; an items range has its
 * 3 + 5 bytes of headers instead of the fingerprint), each item at most 25 (time 9, digest 16).
 */
export const MAX_RECONCILE_MESSAGE_BYTES =
  16 + MAX_RANGES_PER_MESSAGE * 45 + MAX_ITEMS_PER_MESSAGE * 25

// ---- items and bounds -----------------------------------------------------------------------

export interface Item {
  /** Modification time, integer ms, 0..MAX_ITEM_TIME. */
  readonly time: number
  /** DIGEST_BYTES bytes: a hash of the record's full content. */
  readonly digest: Uint8Array
}

/** An item-shaped position: `digest` is a prefix of 0..16 bytes, zero-padded for comparison. */
export interface Bound {
  readonly time: number
  readonly digest: Uint8Array
}

const EMPTY = new Uint8Array(0)
/** Below every item. */
export const MIN_BOUND: Bound = Object.freeze({ time: 0, digest: EMPTY })
/** Above every item: the exclusive upper bound of the whole key space. */
export const MAX_BOUND: Bound = Object.freeze({ time: Number.MAX_SAFE_INTEGER, digest: EMPTY })

/** Digests (or prefixes) compared as if zero-padded to DIGEST_BYTES. */
function compareDigests(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = i < a.length ? (a[i] as number) : 0
    const y = i < b.length ? (b[i] as number) : 0
    if (x !== y) return x - y
  }
  return 0
}

/** Order of items, and of bounds and items against each other: time, then digest bytes. */
export function compareItems(a: Item | Bound, b: Item | Bound): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  return compareDigests(a.digest, b.digest)
}

/** The shortest bound b with below < b <= above (below < above, both items). */
export function boundBetween(below: Item, above: Item): Bound {
  if (below.time !== above.time) return { time: above.time, digest: EMPTY }
  let i = 0
  while (i < DIGEST_BYTES && below.digest[i] === above.digest[i]) i++
  return { time: above.time, digest: above.digest.slice(0, i + 1) }
}

/** Throws `code` unless `item` is a well-formed item. */
function checkItem(item: unknown, code: PeerErrorCode, where: string): asserts item is Item {
  if (typeof item !== 'object' || item === null) throw new PeerError(code, `${where}: not an item`)
  const { time, digest } = item as Record<string, unknown>
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0 || time > MAX_ITEM_TIME)
    throw new PeerError(code, `${where}: time must be an integer 0..${MAX_ITEM_TIME}`)
  if (!(digest instanceof Uint8Array) || digest.length !== DIGEST_BYTES)
    throw new PeerError(code, `${where}: digest must be ${DIGEST_BYTES} bytes`)
}

/** Throws `code` unless `bound` is a canonical bound. */
function checkBound(bound: unknown, code: PeerErrorCode, where: string): asserts bound is Bound {
  if (typeof bound !== 'object' || bound === null)
    throw new PeerError(code, `${where}: not a bound`)
  const { time, digest } = bound as Record<string, unknown>
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0)
    throw new PeerError(code, `${where}: bound time must be an integer 0..2^53-1`)
  if (!(digest instanceof Uint8Array) || digest.length > DIGEST_BYTES)
    throw new PeerError(code, `${where}: bound prefix must be 0..${DIGEST_BYTES} bytes`)
  if (digest.length > 0 && digest[digest.length - 1] === 0)
    throw new PeerError(code, `${where}: bound prefix ends in a zero byte (not canonical)`)
  if (time === MAX_BOUND.time && digest.length > 0)
    throw new PeerError(code, `${where}: a bound at the maximum time has no prefix`)
}

// ---- fingerprints ---------------------------------------------------------------------------

/** The four little-endian uint32 lanes of a digest (what a store keeps to sum in SQL). */
export function digestLanes(digest: Uint8Array): [number, number, number, number] {
  const v = new DataView(digest.buffer, digest.byteOffset, digest.byteLength)
  return [v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)]
}

/**
 * The fingerprint of a range from its lane sums and item count. Each lane may be any
 * non-negative safe integer (a plain SQL SUM of uint32 lanes); it is reduced mod 2^32 here.
 */
export function fingerprintFromLanes(lanes: ArrayLike<number>, count: number): Uint8Array {
  if (lanes.length !== 4) throw new PeerError('E_INVALIDARG', 'a digest sum has 4 lanes')
  if (!Number.isSafeInteger(count) || count < 0)
    throw new PeerError('E_INVALIDARG', 'an item count is a non-negative integer')
  const input = Buffer.alloc(24)
  for (let i = 0; i < 4; i++) {
    const lane = lanes[i] as number
    if (!Number.isSafeInteger(lane) || lane < 0)
      throw new PeerError('E_INVALIDARG', 'a lane sum is a non-negative integer')
    input.writeUInt32LE(lane % 2 ** 32, i * 4)
  }
  input.writeUInt32LE(count % 2 ** 32, 16)
  input.writeUInt32LE(Math.floor(count / 2 ** 32), 20)
  return new Uint8Array(createHash('sha256').update(input).digest().subarray(0, DIGEST_BYTES))
}

/** The fingerprint of a list of items (any order). */
export function fingerprintItems(items: Iterable<Item>): Uint8Array {
  const lanes = new Uint32Array(4)
  let count = 0
  for (const item of items) {
    const [a, b, c, d] = digestLanes(item.digest)
    lanes[0] = (lanes[0] as number) + a
    lanes[1] = (lanes[1] as number) + b
    lanes[2] = (lanes[2] as number) + c
    lanes[3] = (lanes[3] as number) + d
    count++
  }
  return fingerprintFromLanes(lanes, count)
}

// ---- item sources ---------------------------------------------------------------------------

/** What a Reconciler reads from its side's store. Ranges are [lower, upper). */
export interface ItemSource {
  /** Number of items in [lower, upper). */
  count(lower: Bound, upper: Bound): number
  /** The items in [lower, upper), ascending; at most `limit` of them when given. */
  items(lower: Bound, upper: Bound, limit?: number): Item[]
  /** The item at 0-based position `index` among those in [lower, upper), if there is one. */
  at(lower: Bound, upper: Bound, index: number): Item | undefined
  /** fingerprintFromLanes of the items in [lower, upper). */
  fingerprint(lower: Bound, upper: Bound): Uint8Array
}

/** An ItemSource over an in-memory array: sorted once, prefix sums, binary search. */
export class ArraySource implements ItemSource {
  readonly #items: Item[]
  /** Lane sums of items[0..i) at 4i..4i+3, mod 2^32. */
  readonly #prefix: Uint32Array

  /** `items` in any order; they must be unique (E_INVALIDARG otherwise). */
  constructor(items: Iterable<Item>) {
    const sorted = [...items]
    sorted.forEach((item, i) => checkItem(item, 'E_INVALIDARG', `item ${i}`))
    sorted.sort(compareItems)
    for (let i = 1; i < sorted.length; i++) {
      if (compareItems(sorted[i - 1] as Item, sorted[i] as Item) === 0)
        throw new PeerError('E_INVALIDARG', 'items must be unique')
    }
    this.#items = sorted
    const prefix = new Uint32Array(4 * (sorted.length + 1))
    for (let i = 0; i < sorted.length; i++) {
      const lanes = digestLanes((sorted[i] as Item).digest)
      for (let j = 0; j < 4; j++) prefix[4 * i + 4 + j] = (prefix[4 * i + j] as number) + lanes[j]!
    }
    this.#prefix = prefix
  }

  get size(): number {
    return this.#items.length
  }

  /** All items, ascending (the array itself: do not modify). */
  get all(): readonly Item[] {
    return this.#items
  }

  /** Index of the first item >= bound. */
  #index(bound: Bound): number {
    let lo = 0
    let hi = this.#items.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareItems(this.#items[mid] as Item, bound) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  #span(lower: Bound, upper: Bound): [number, number] {
    const start = this.#index(lower)
    return [start, Math.max(start, this.#index(upper))]
  }

  count(lower: Bound, upper: Bound): number {
    const [start, end] = this.#span(lower, upper)
    return end - start
  }

  items(lower: Bound, upper: Bound, limit = Infinity): Item[] {
    const [start, end] = this.#span(lower, upper)
    return this.#items.slice(start, Math.min(end, start + limit))
  }

  at(lower: Bound, upper: Bound, index: number): Item | undefined {
    const [start, end] = this.#span(lower, upper)
    return index >= 0 && start + index < end ? this.#items[start + index] : undefined
  }

  fingerprint(lower: Bound, upper: Bound): Uint8Array {
    const [start, end] = this.#span(lower, upper)
    const p = this.#prefix
    const lanes = new Uint32Array(4)
    for (let j = 0; j < 4; j++) lanes[j] = (p[4 * end + j] as number) - (p[4 * start + j] as number)
    return fingerprintFromLanes(lanes, end - start)
  }
}

// ---- messages -------------------------------------------------------------------------------

export type ReconcileRange =
  | { readonly upper: Bound; readonly mode: 'skip' }
  | { readonly upper: Bound; readonly mode: 'fingerprint'; readonly fingerprint: Uint8Array }
  | { readonly upper: Bound; readonly mode: 'items'; readonly items: readonly Item[] }

/** Ranges covering [MIN_BOUND, last upper) contiguously, ascending; above that: skip. */
export interface ReconcileMessage {
  readonly ranges: readonly ReconcileRange[]
}

export interface ReconcileResult {
  /** What to send back; undefined when this side has nothing more to say. */
  reply: ReconcileMessage | undefined
  /** Items I hold that the peer lacks, newly found by this message (send those records). */
  have: Item[]
  /** Items the peer holds that I lack, newly found by this message (request those records). */
  need: Item[]
}

/**
 * Checks a message against every rule and hard limit: ranges strictly ascending above
 * MIN_BOUND, canonical bounds, 16-byte fingerprints and digests, items strictly ascending
 * inside their range, at most MAX_RANGES_PER_MESSAGE ranges and MAX_ITEMS_PER_MESSAGE items.
 * Throws PeerError `code` (PEER_E_MALFORMED_MESSAGE by default).
 */
export function validateReconcile(
  message: unknown,
  code: PeerErrorCode = 'PEER_E_MALFORMED_MESSAGE',
): asserts message is ReconcileMessage {
  if (typeof message !== 'object' || message === null)
    throw new PeerError(code, 'a reconcile message is an object')
  const ranges = (message as { ranges?: unknown }).ranges
  if (!Array.isArray(ranges)) throw new PeerError(code, 'a reconcile message has a range list')
  if (ranges.length > MAX_RANGES_PER_MESSAGE)
    throw new PeerError(code, `more than ${MAX_RANGES_PER_MESSAGE} ranges`)
  let lower: Bound = MIN_BOUND
  let totalItems = 0
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i] as unknown
    const where = `range ${i}`
    if (typeof range !== 'object' || range === null)
      throw new PeerError(code, `${where}: not a range`)
    const r = range as Record<string, unknown>
    checkBound(r['upper'], code, where)
    const upper = r['upper']
    if (compareItems(upper, lower) <= 0)
      throw new PeerError(code, `${where}: upper bound not above the previous one`)
    switch (r['mode']) {
      case 'skip':
        break
      case 'fingerprint': {
        const fp = r['fingerprint']
        if (!(fp instanceof Uint8Array) || fp.length !== DIGEST_BYTES)
          throw new PeerError(code, `${where}: fingerprint must be ${DIGEST_BYTES} bytes`)
        break
      }
      case 'items': {
        const items = r['items']
        if (!Array.isArray(items)) throw new PeerError(code, `${where}: items must be a list`)
        totalItems += items.length
        if (totalItems > MAX_ITEMS_PER_MESSAGE)
          throw new PeerError(code, `more than ${MAX_ITEMS_PER_MESSAGE} items`)
        let previous: Item | Bound = lower
        for (let j = 0; j < items.length; j++) {
          const item = items[j] as unknown
          checkItem(item, code, `${where} item ${j}`)
          const order = compareItems(item, previous)
          if (order < 0 || (order === 0 && j > 0))
            throw new PeerError(code, `${where} item ${j}: not ascending or below the range`)
          previous = item
        }
        if (items.length > 0 && compareItems(previous, upper) >= 0)
          throw new PeerError(code, `${where}: items beyond the range's upper bound`)
        break
      }
      default:
        throw new PeerError(code, `${where}: unknown mode`)
    }
    lower = upper
  }
}

// ---- wire encoding --------------------------------------------------------------------------

const MODE_SKIP = 0
const MODE_FINGERPRINT = 1
const MODE_ITEMS = 2

/** The message as deterministic CBOR (module comment); E_INVALIDARG when it breaks a rule. */
export function encodeReconcile(message: ReconcileMessage): Uint8Array {
  validateReconcile(message, 'E_INVALIDARG')
  let previousTime = 0
  const wire = message.ranges.map((range) => {
    const head = [range.upper.time - previousTime, range.upper.digest]
    const lowerTime = previousTime
    previousTime = range.upper.time
    switch (range.mode) {
      case 'skip':
        return [...head, MODE_SKIP]
      case 'fingerprint':
        return [...head, MODE_FINGERPRINT, range.fingerprint]
      case 'items': {
        let t = lowerTime
        const times = range.items.map((item) => {
          const dt = item.time - t
          t = item.time
          return dt
        })
        const digests = new Uint8Array(range.items.length * DIGEST_BYTES)
        range.items.forEach((item, i) => digests.set(item.digest, i * DIGEST_BYTES))
        return [...head, MODE_ITEMS, times, digests]
      }
    }
  })
  return encodeCbor({ v: RECONCILE_VERSION, r: wire })
}

const DECODE_LIMITS = {
  maxBytes: MAX_RECONCILE_MESSAGE_BYTES,
  maxDepth: 4,
  maxItems: 8 + 6 * MAX_RANGES_PER_MESSAGE + MAX_ITEMS_PER_MESSAGE,
}

function malformed(problem: string): never {
  throw new PeerError('PEER_E_MALFORMED_MESSAGE', `a reconcile message is malformed: ${problem}`)
}

function wireUint(value: unknown, max: number, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max)
    malformed(`${where}: expected an integer 0..${max}`)
  return value
}

function wireBytes(value: unknown, where: string): Uint8Array {
  if (!(value instanceof Uint8Array)) malformed(`${where}: expected bytes`)
  return value
}

/**
 * Bytes to a checked message. PEER_E_TOO_LARGE above MAX_RECONCILE_MESSAGE_BYTES (checked
 * first), PEER_E_UNSUPPORTED_VERSION for another `v`, PEER_E_MALFORMED_MESSAGE for anything
 * else that is wrong. The CBOR decoder bounds every count before allocating.
 */
export function decodeReconcile(bytes: Uint8Array): ReconcileMessage {
  const value = decodeCbor(bytes, { ...DECODE_LIMITS, what: 'reconcile message' })
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    malformed('expected a map')
  if (value instanceof Uint8Array) malformed('expected a map')
  const map = value as Record<string, unknown>
  for (const key of Object.keys(map)) if (key !== 'v' && key !== 'r') malformed(`unknown key`)
  const v = map['v']
  if (typeof v === 'number' && Number.isSafeInteger(v) && v !== RECONCILE_VERSION) {
    throw new PeerError(
      'PEER_E_UNSUPPORTED_VERSION',
      `reconcile message version ${v}; this peerinfra understands ${RECONCILE_VERSION}`,
    )
  }
  if (v !== RECONCILE_VERSION) malformed('missing or invalid version')
  const wire = map['r']
  if (!Array.isArray(wire)) malformed('expected a range list')
  if (wire.length > MAX_RANGES_PER_MESSAGE) malformed(`more than ${MAX_RANGES_PER_MESSAGE} ranges`)
  const ranges: ReconcileRange[] = []
  let previousTime = 0
  let totalItems = 0
  for (let i = 0; i < wire.length; i++) {
    const entry = wire[i] as unknown
    const where = `range ${i}`
    if (!Array.isArray(entry) || entry.length < 3 || entry.length > 5)
      malformed(`${where}: expected an array of 3..5`)
    const dt = wireUint(entry[0], MAX_BOUND.time - previousTime, `${where} time`)
    const lowerTime = previousTime
    previousTime += dt
    const upper: Bound = { time: previousTime, digest: wireBytes(entry[1], `${where} prefix`) }
    const mode = entry[2] as unknown
    if (mode === MODE_SKIP && entry.length === 3) {
      ranges.push({ upper, mode: 'skip' })
    } else if (mode === MODE_FINGERPRINT && entry.length === 4) {
      ranges.push({ upper, mode: 'fingerprint', fingerprint: wireBytes(entry[3], where) })
    } else if (mode === MODE_ITEMS && entry.length === 5) {
      const times = entry[3] as unknown
      if (!Array.isArray(times)) malformed(`${where}: expected an array of item times`)
      totalItems += times.length
      if (totalItems > MAX_ITEMS_PER_MESSAGE) malformed(`more than ${MAX_ITEMS_PER_MESSAGE} items`)
      const digests = wireBytes(entry[4], `${where} digests`)
      if (digests.length !== times.length * DIGEST_BYTES)
        malformed(`${where}: ${times.length} item times but ${digests.length} digest bytes`)
      let t = lowerTime
      const items: Item[] = times.map((dtItem: unknown, j: number) => {
        t += wireUint(dtItem, MAX_ITEM_TIME - t, `${where} item ${j} time`)
        return { time: t, digest: digests.subarray(j * DIGEST_BYTES, (j + 1) * DIGEST_BYTES) }
      })
      ranges.push({ upper, mode: 'items', items })
    } else {
      malformed(`${where}: unknown mode or wrong length`)
    }
  }
  const message = { ranges }
  validateReconcile(message)
  return message
}

// ---- the reconciler -------------------------------------------------------------------------

export interface ReconcilerOptions {
  /** Default ITEMS_THRESHOLD; 1..maxItemsPerMessage. */
  itemsThreshold?: number
  /** Default BRANCHING; 2..maxRangesPerMessage - 2. */
  branching?: number
  /** Default (and at most) MAX_RANGES_PER_MESSAGE; at least 4. */
  maxRangesPerMessage?: number
  /** Default (and at most) MAX_ITEMS_PER_MESSAGE. */
  maxItemsPerMessage?: number
}

interface Limits {
  threshold: number
  branching: number
  maxRanges: number
  maxItems: number
}

function limitsOf(options: ReconcilerOptions): Limits {
  const maxRanges = options.maxRangesPerMessage ?? MAX_RANGES_PER_MESSAGE
  const maxItems = options.maxItemsPerMessage ?? MAX_ITEMS_PER_MESSAGE
  const threshold = options.itemsThreshold ?? Math.min(ITEMS_THRESHOLD, maxItems)
  const branching = options.branching ?? Math.min(BRANCHING, maxRanges - 2)
  const ok = (v: number, min: number, max: number): boolean =>
    Number.isSafeInteger(v) && v >= min && v <= max
  if (
    !ok(maxRanges, 4, MAX_RANGES_PER_MESSAGE) ||
    !ok(maxItems, 1, MAX_ITEMS_PER_MESSAGE) ||
    !ok(threshold, 1, maxItems) ||
    !ok(branching, 2, maxRanges - 2)
  ) {
    throw new PeerError('E_INVALIDARG', 'reconciler limits out of range', {
      details: { maxRanges, maxItems, threshold, branching },
    })
  }
  return { threshold, branching, maxRanges, maxItems }
}

function itemKey(item: Item): string {
  return `${item.time}:${Buffer.from(item.digest.buffer, item.digest.byteOffset, DIGEST_BYTES).toString('hex')}`
}

function sameItems(a: readonly Item[], b: readonly Item[]): boolean {
  return a.length === b.length && a.every((item, i) => compareItems(item, b[i] as Item) === 0)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b))
}

/** One input range's answer, before the reply is planned. */
type Entry =
  | { readonly kind: 'skip'; readonly lower: Bound; readonly upper: Bound }
  | {
      readonly kind: 'items'
      readonly lower: Bound
      readonly upper: Bound
      /** How many items I hold in the range (the list is read when it is sent). */
      readonly count: number
      /** The peer's list, when mine answers it (then both are settled on sending). */
      readonly theirs: readonly Item[] | undefined
      answered: boolean
    }
  | {
      readonly kind: 'split'
      readonly lower: Bound
      readonly upper: Bound
      /** Sub-ranges when answered: min(BRANCHING, my count), or fewer to fit. */
      parts: number
      answered: boolean
    }

/**
 * One side of a reconciliation. Both sides make one over their ItemSource; one calls
 * initiate() and sends the message, then each passes what it receives to receive() and sends
 * the reply, until a reply is undefined. The union of all `have` (and `need`) results is the
 * side's complete list. The source must not change during the reconciliation.
 */
export class Reconciler {
  readonly #source: ItemSource
  readonly #limits: Limits
  /** Ranges [lower, upper) I sent as `items` in my previous message. */
  #sentItems: Array<[Bound, Bound]> = []
  readonly #haveKeys = new Set<string>()
  readonly #needKeys = new Set<string>()

  constructor(source: ItemSource, options: ReconcilerOptions = {}) {
    this.#source = source
    this.#limits = limitsOf(options)
  }

  /** The first message: the whole key space, as my items if few, else as one fingerprint. */
  initiate(): ReconcileMessage {
    const count = this.#source.count(MIN_BOUND, MAX_BOUND)
    if (count <= this.#limits.threshold) {
      this.#sentItems = [[MIN_BOUND, MAX_BOUND]]
      return {
        ranges: [
          { upper: MAX_BOUND, mode: 'items', items: this.#source.items(MIN_BOUND, MAX_BOUND) },
        ],
      }
    }
    this.#sentItems = []
    const fingerprint = this.#source.fingerprint(MIN_BOUND, MAX_BOUND)
    return { ranges: [{ upper: MAX_BOUND, mode: 'fingerprint', fingerprint }] }
  }

  /**
   * Answers a message from the peer (PEER_E_MALFORMED_MESSAGE if it breaks a rule): first
   * what each range needs, then which answers fit in the reply (module comment), then the
   * reply.
   */
  receive(message: ReconcileMessage): ReconcileResult {
    validateReconcile(message)
    const result: ReconcileResult = { reply: undefined, have: [], need: [] }
    const entries = this.#entries(message, result)
    const fold = !this.#plan(entries)
    const ranges: ReconcileRange[] = []
    const sent: Array<[Bound, Bound]> = []
    const { maxRanges } = this.#limits
    const skip = (upper: Bound): void => {
      if (ranges[ranges.length - 1]?.mode === 'skip') ranges.pop()
      ranges.push({ upper, mode: 'skip' })
    }
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry
      const { lower, upper } = entry
      const adds = entry.kind !== 'skip' || ranges[ranges.length - 1]?.mode !== 'skip'
      if (fold && adds && ranges.length >= maxRanges - 1) {
        // No room left: everything from here on becomes one fingerprint range.
        const fingerprint = this.#source.fingerprint(lower, MAX_BOUND)
        ranges.push({ upper: MAX_BOUND, mode: 'fingerprint', fingerprint })
        break
      }
      if (entry.kind === 'skip') {
        skip(upper)
      } else if (!entry.answered) {
        // Deferred: the peer finds my fingerprint different and works on the range next.
        ranges.push({
          upper,
          mode: 'fingerprint',
          fingerprint: this.#source.fingerprint(lower, upper),
        })
      } else if (entry.kind === 'split') {
        ranges.push(...this.#split(lower, upper, entry.parts))
      } else {
        const mine = this.#source.items(lower, upper, entry.count)
        if (entry.theirs !== undefined) this.#settle(mine, entry.theirs, result)
        else sent.push([lower, upper])
        ranges.push({ upper, mode: 'items', items: mine })
      }
    }
    while (ranges[ranges.length - 1]?.mode === 'skip') ranges.pop()
    this.#sentItems = sent
    result.reply = ranges.length === 0 ? undefined : { ranges }
    return result
  }

  /** What each range of the message needs from me; settles the peer's answers to my lists. */
  #entries(message: ReconcileMessage, result: ReconcileResult): Entry[] {
    const { threshold, branching, maxItems } = this.#limits
    const entries: Entry[] = []
    let lower: Bound = MIN_BOUND
    for (const range of message.ranges) {
      const upper = range.upper
      const skip: Entry = { kind: 'skip', lower, upper }
      let entry: Entry = skip
      if (range.mode === 'fingerprint') {
        if (!sameBytes(range.fingerprint, this.#source.fingerprint(lower, upper))) {
          const count = this.#source.count(lower, upper)
          entry =
            count <= threshold
              ? {
                  kind: 'items',
                  lower,
                  upper,
                  count,
                  theirs: undefined,
                  answered: false,
                }
              : { kind: 'split', lower, upper, parts: Math.min(branching, count), answered: false }
        }
      } else if (range.mode === 'items') {
        if (answers(this.#sentItems, lower, upper)) {
          // The peer's list answers mine: both sides have now seen both lists.
          this.#settle(this.#source.items(lower, upper), range.items, result)
        } else {
          const count = this.#source.count(lower, upper)
          if (count > maxItems) {
            entry = {
              kind: 'split',
              lower,
              upper,
              parts: Math.min(branching, count),
              answered: false,
            }
          } else {
            // Equal lists need no answer. (Reads at most as many items as the peer sent.)
            const equal =
              count === range.items.length &&
              sameItems(this.#source.items(lower, upper, count), range.items)
            if (!equal)
              entry = { kind: 'items', lower, upper, count, theirs: range.items, answered: false }
          }
        }
      }
      entries.push(entry)
      lower = upper
    }
    return entries
  }

  /**
   * Chooses which entries get their full answer: in order, as long as the reply stays within
   * the limits with every other entry deferred (one fingerprint range each). At least the
   * first entry needing work is answered. Returns false when even the all-deferred reply
   * would not fit; the reply must then fold its tail into one range.
   */
  #plan(entries: Entry[]): boolean {
    const { maxRanges, maxItems } = this.#limits
    let slots = 0
    let previousSkip = false
    for (const entry of entries) {
      if (entry.kind !== 'skip' || !previousSkip) slots++
      previousSkip = entry.kind === 'skip'
    }
    const first = entries.find((e) => e.kind !== 'skip')
    if (first === undefined) return true
    let rangeBudget = maxRanges - slots
    let itemBudget = maxItems
    for (const entry of entries) {
      if (entry.kind === 'skip') continue
      const extra = entry.kind === 'split' ? entry.parts - 1 : 0
      const items = entry.kind === 'items' ? entry.count : 0
      if (extra <= rangeBudget && items <= itemBudget) {
        entry.answered = true
        rangeBudget -= extra
        itemBudget -= items
      }
    }
    if (first.answered) return true
    // `first` is a split that does not fit whole (an items answer always fits alone).
    first.answered = true
    if (first.kind === 'split') {
      if (rangeBudget >= 1) {
        first.parts = Math.min(first.parts, rangeBudget + 1)
        return true
      }
      // No room at all. Before `first` the reply holds at most one (skip) range; keep one
      // range free after it for the fold.
      const before = entries[0]?.kind === 'skip' ? 1 : 0
      first.parts = Math.min(first.parts, maxRanges - 1 - before)
    }
    // Folding: apart from `first`, only one-range answers.
    for (const entry of entries)
      if (entry !== first && entry.kind === 'split') entry.answered = false
    return false
  }

  /** [lower, upper) as `parts` (at least 2) fingerprint ranges with equal shares of my items. */
  #split(lower: Bound, upper: Bound, parts: number): ReconcileRange[] {
    const count = this.#source.count(lower, upper)
    const k = Math.max(1, Math.min(parts, count))
    const out: ReconcileRange[] = []
    let from = lower
    for (let j = 1; j <= k; j++) {
      let to = upper
      if (j < k) {
        const at = Math.floor((j * count) / k)
        const below = this.#source.at(lower, upper, at - 1) as Item
        const above = this.#source.at(lower, upper, at) as Item
        to = boundBetween(below, above)
      }
      out.push({ upper: to, mode: 'fingerprint', fingerprint: this.#source.fingerprint(from, to) })
      from = to
    }
    return out
  }

  /** Records have/need between my items and the peer's in one range (both ascending). */
  #settle(mine: readonly Item[], theirs: readonly Item[], result: ReconcileResult): void {
    let i = 0
    let j = 0
    while (i < mine.length || j < theirs.length) {
      const a = mine[i]
      const b = theirs[j]
      const order = a === undefined ? 1 : b === undefined ? -1 : compareItems(a, b)
      if (order === 0) {
        i++
        j++
        continue
      }
      if (order < 0) {
        const item = a as Item
        const key = itemKey(item)
        if (!this.#haveKeys.has(key)) {
          this.#haveKeys.add(key)
          result.have.push(item)
        }
        i++
      } else {
        const item = b as Item
        const key = itemKey(item)
        if (!this.#needKeys.has(key)) {
          this.#needKeys.add(key)
          result.need.push({ time: item.time, digest: new Uint8Array(item.digest) })
        }
        j++
      }
    }
  }
}

/** Whether [lower, upper) lies inside one of `sent` (ascending, disjoint ranges). */
function answers(sent: ReadonlyArray<[Bound, Bound]>, lower: Bound, upper: Bound): boolean {
  // The last sent range starting at or below `lower`.
  let lo = 0
  let hi = sent.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareItems((sent[mid] as [Bound, Bound])[0], lower) <= 0) lo = mid + 1
    else hi = mid
  }
  const range = sent[lo - 1]
  return range !== undefined && compareItems(upper, range[1]) <= 0
}
