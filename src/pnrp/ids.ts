/**
 * PNRP IDs (MS-PNRP 1.2): 256 bits on a circular space, the upper 128 a P2P ID (a hash of the
 * peer name), the lower 128 a service location (chosen by the registrant, so one name can be
 * registered by several nodes). Held as bigints for ring arithmetic; 32 big-endian bytes on
 * the wire.
 */
import { createHash } from 'node:crypto'
import { toHex, utf8 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { PeerName } from '../identity/peer-name.ts'
import {
  P2P_ID_BYTES,
  P2P_ID_MEMO_SIZE,
  PNRP_ID_BYTES,
  SERVICE_LOCATION_BYTES,
} from './constants.ts'

/** A 256-bit PNRP ID. */
export type PnrpId = bigint

/** The size of the ID space, 2^256. */
export const RING = 1n << 256n
const HALF_RING = RING >> 1n
const LOW_128 = (1n << 128n) - 1n
/** MS-PNRP 1.2: a resolver's service location points to the middle of the name's section. */
const RESOLVER_LOCATION = 1n << 127n
const P2P_ID_DOMAIN = 'peerinfra/pnrp/p2p-id/v1'

/**
 * The P2P ID of a peer name: the first 16 bytes of SHA-256(domain || 0 || authority || 0 ||
 * classifier). MS-PNRP hashes SHA-1 over the classifier and the binary authority; we hash the
 * canonical name text, which is already normalised (NFC) and case-sensitive.
 */
export function p2pIdOf(name: PeerName | string): Uint8Array {
  const key = typeof name === 'string' ? name : name.toString()
  let p2pId = p2pIdMemo.get(key)
  if (!p2pId) {
    const peerName = PeerName.parse(name)
    const digest = createHash('sha256')
      .update(utf8(P2P_ID_DOMAIN))
      .update(new Uint8Array([0]))
      .update(utf8(peerName.authority))
      .update(new Uint8Array([0]))
      .update(utf8(peerName.classifier))
      .digest()
    p2pId = new Uint8Array(digest.subarray(0, P2P_ID_BYTES))
    // Bounded: a full memo starts over (every CPA decoded recomputes its name's P2P ID).
    if (p2pIdMemo.size >= P2P_ID_MEMO_SIZE) p2pIdMemo.clear()
    p2pIdMemo.set(key, p2pId)
  }
  // The caller's own copy: the memo's bytes never change.
  return new Uint8Array(p2pId)
}

/** P2P IDs of recent names (the same text always hashes to the same ID). */
const p2pIdMemo = new Map<string, Uint8Array>()

/** The PNRP ID `p2pId << 128 | serviceLocation`. */
export function pnrpIdOf(p2pId: Uint8Array, serviceLocation: Uint8Array): PnrpId {
  if (p2pId.length !== P2P_ID_BYTES || serviceLocation.length !== SERVICE_LOCATION_BYTES) {
    throw new PeerError('E_INVALIDARG', 'a P2P ID and a service location are 16 bytes each')
  }
  return (bytesToBigint(p2pId) << 128n) | bytesToBigint(serviceLocation)
}

/** The ID a resolver looks for when it wants any registration of `name`. */
export function resolverTarget(name: PeerName | string): PnrpId {
  return (bytesToBigint(p2pIdOf(name)) << 128n) | RESOLVER_LOCATION
}

/** A fresh random service location (the registrant's suffix). */
export function randomServiceLocation(random: Random): Uint8Array {
  return random.bytes(SERVICE_LOCATION_BYTES)
}

/** The upper 128 bits: the P2P ID part. */
export function p2pPart(id: PnrpId): bigint {
  return id >> 128n
}

/** The lower 128 bits: the service location. */
export function serviceLocationOf(id: PnrpId): Uint8Array {
  return bigintToBytes(id & LOW_128, SERVICE_LOCATION_BYTES)
}

export function idToBytes(id: PnrpId): Uint8Array {
  if (id < 0n || id >= RING) throw new PeerError('E_INVALIDARG', 'a PNRP ID is 0 .. 2^256-1')
  return bigintToBytes(id, PNRP_ID_BYTES)
}

export function idFromBytes(bytes: Uint8Array): PnrpId {
  if (bytes.length !== PNRP_ID_BYTES) {
    throw new PeerError('PEER_E_MALFORMED_MESSAGE', `a PNRP ID is ${PNRP_ID_BYTES} bytes`)
  }
  return bytesToBigint(bytes)
}

/** 64 lowercase hex characters. */
export function idToHex(id: PnrpId): string {
  return toHex(idToBytes(id))
}

/** (a + delta) mod 2^256. */
export function addToId(id: PnrpId, delta: bigint): PnrpId {
  return (((id + delta) % RING) + RING) % RING
}

/** Distance going up (clockwise) from `from` to `to`: (to - from) mod 2^256. */
export function clockwise(from: PnrpId, to: PnrpId): bigint {
  const d = to - from
  return d >= 0n ? d : d + RING
}

/** The shorter way round the ring between `a` and `b` (MS-PNRP 1.2: numerically closest). */
export function ringDistance(a: PnrpId, b: PnrpId): bigint {
  const d = clockwise(a, b)
  return d > HALF_RING ? RING - d : d
}

/**
 * Orders candidates by closeness to `target`: negative when `a` is closer. Ties (equal
 * distance on both sides) go to the one above the target, so every node agrees on one order.
 */
export function compareCloseness(target: PnrpId, a: PnrpId, b: PnrpId): number {
  const da = ringDistance(target, a)
  const db = ringDistance(target, b)
  if (da !== db) return da < db ? -1 : 1
  if (a === b) return 0
  return clockwise(target, a) <= clockwise(target, b) ? -1 : 1
}

/** MS-PNRP 1.2 ResolveCriteria: how much of the target a registration must match. */
export type MatchMode = 'exact' | 'any-peer-name' | 'nearest' | 'nearest64'

/**
 * Whether the registration `id` is a result for `target` under `mode`. The nearest modes name
 * no registration in particular, so nothing matches them (their answer is the closest ID met).
 */
export function matchesTarget(mode: MatchMode, target: PnrpId, id: PnrpId): boolean {
  switch (mode) {
    case 'exact':
      return id === target
    case 'any-peer-name':
      return p2pPart(id) === p2pPart(target)
    case 'nearest':
    case 'nearest64':
      return false
  }
}

/** Short form for logs and traces: the first 8 hex digits of the P2P ID and of the location. */
export function shortId(id: PnrpId): string {
  const hex = idToHex(id)
  return `${hex.slice(0, 8)}:${hex.slice(32, 40)}`
}

/** Big-endian bytes (a multiple of 8 long, as IDs and locations are) to a bigint. */
function bytesToBigint(bytes: Uint8Array): bigint {
  if (bytes.length % 8 !== 0) return bytes.length === 0 ? 0n : BigInt('0x' + toHex(bytes))
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let value = 0n
  for (let i = 0; i < bytes.length; i += 8) value = (value << 64n) | view.getBigUint64(i)
  return value
}

/** `value` (0 <= value < 2^(8 size)) as `size` big-endian bytes, in a plain Uint8Array. */
function bigintToBytes(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size)
  out.set(Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex'))
  return out
}
