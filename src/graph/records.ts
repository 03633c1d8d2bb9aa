/**
 * Graph records (MS-PPGRH 2.3, windows-api.md section 1 "Records"): the record model, GUIDs,
 * record ids, size, Windows' conflict-resolution order and the checks every record passes
 * before it is stored, whether it was made here or came from the network.
 *
 * GUIDs are written lowercase, 8-4-4-4-12, from 16 bytes in order (not Windows' mixed-endian
 * struct layout). Times are milliseconds since the Unix epoch in the graph's peer time.
 */
import { createHash } from 'node:crypto'
import { toHex } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { formatAttributesXml, type RecordAttribute } from './attributes.ts'
import { MAX_PEER_ID_CHARS, RECORD_FLAG_AUTOREFRESH, RECORD_FLAG_DELETED } from './constants.ts'

/** A record as the store and the protocol hold it. */
export interface GraphRecord {
  /** The application's record type, a GUID. */
  type: string
  /** Assigned by the infrastructure (see newRecordId). */
  id: string
  /** 1 on add; every update and the deletion add one. */
  version: number
  /** RECORD_FLAG_AUTOREFRESH | RECORD_FLAG_DELETED. */
  flags: number
  creator: string
  modifiedBy: string
  createdAt: number
  expiresAt: number
  modifiedAt: number
  /** Sorted by name, unique names (attributes.ts). */
  attributes: readonly RecordAttribute[]
  /** Filled by the graph's security provider (for example a signature); empty without one. */
  securityData: Uint8Array
  data: Uint8Array
}

export const RECORD_FLAGS = RECORD_FLAG_AUTOREFRESH | RECORD_FLAG_DELETED
/** Largest version number (Windows' dwVersion is a DWORD). */
export const MAX_RECORD_VERSION = 2 ** 32 - 1
/** Latest time a record may carry: year 9999, as FILETIME-based Windows APIs accept. */
export const MAX_RECORD_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function isGuid(text: unknown): text is string {
  return typeof text === 'string' && GUID.test(text)
}

/** Accepts a GUID in any case, with or without braces; returns the canonical lowercase text. */
export function parseGuid(text: string, what = 'GUID'): string {
  const t = typeof text === 'string' ? text.replace(/^\{(.*)\}$/, '$1').toLowerCase() : ''
  if (!GUID.test(t)) {
    throw new PeerError(
      'E_INVALIDARG',
      `${what} must be a GUID like 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0, got ${JSON.stringify(text)}`,
    )
  }
  return t
}

export function guidFromBytes(b: Uint8Array): string {
  const h = toHex(b)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** A random (version 4) GUID from the injected source. */
export function newGuid(random: Random): string {
  const b = random.bytes(16)
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  return guidFromBytes(b)
}

/** MS-PPGRH 2.3: the high half of a record id comes from its creator (SHA-256 here, not MD5). */
function creatorHalf(creator: string): string {
  return createHash('sha256').update(creator, 'utf8').digest('hex').slice(0, 16)
}

/** A new record id: 64 bits derived from the creator, 64 random bits. */
export function newRecordId(creator: string, random: Random): string {
  return guidFromBytes(Buffer.concat([Buffer.from(creatorHalf(creator), 'hex'), random.bytes(8)]))
}

/** MS-PPGRH 2.3: an internal record with a fixed id (Graph Info: 6c796768...) of `creator`. */
export function fixedRecordId(creator: string, low: string): string {
  return guidFromBytes(Buffer.from(creatorHalf(creator) + low, 'hex'))
}

/**
 * One of Graphing's own records (Graph Info, presence, signature, contact), new or the next
 * version of `base`: the version goes up, the modification time never goes back, and the
 * expiry (MS-PPGRH 2.3) never shrinks.
 */
export function internalRecord(options: {
  type: string
  id: string
  creator: string
  modifiedBy: string
  flags?: number
  now: number
  lifetimeMs: number
  base: GraphRecord | undefined
  data: Uint8Array
}): GraphRecord {
  const { base, now } = options
  const modifiedAt = base ? Math.max(now, base.modifiedAt) : now
  return {
    type: options.type,
    id: options.id,
    version: base ? base.version + 1 : 1,
    flags: options.flags ?? 0,
    creator: options.creator,
    modifiedBy: options.modifiedBy,
    createdAt: base ? base.createdAt : now,
    modifiedAt,
    expiresAt: Math.min(
      MAX_RECORD_TIME,
      Math.max(modifiedAt + options.lifetimeMs, base?.expiresAt ?? 0),
    ),
    attributes: [],
    securityData: new Uint8Array(0),
    data: options.data,
  }
}

/** MS-PPGRH 2.4 flooding step 1: receivers check the high half of the id against the creator. */
export function recordIdMatchesCreator(id: string, creator: string): boolean {
  return id.replace(/-/g, '').slice(0, 16) === creatorHalf(creator)
}

export function isDeleted(r: Pick<GraphRecord, 'flags'>): boolean {
  return (r.flags & RECORD_FLAG_DELETED) !== 0
}

/**
 * What a record weighs against dwMaxRecordSize: its data, attribute XML, security data and
 * text fields in bytes (the fixed fields are not counted).
 */
export function recordSize(r: GraphRecord): number {
  const xml = formatAttributesXml(r.attributes)
  return (
    r.data.length +
    r.securityData.length +
    (xml === undefined ? 0 : Buffer.byteLength(xml)) +
    Buffer.byteLength(r.creator) +
    Buffer.byteLength(r.modifiedBy)
  )
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * MS-PPGRH 2.3 conflict resolution, first difference wins: higher version; a modified record
 * over an unmodified one; the lexically greater modifier; the later modification; the larger
 * security data; the greater security data bytes. Beyond MS-PPGRH, so that every node picks
 * the same copy whatever differs: greater data, attributes, expiry, creation and flags.
 * Positive when `a` wins, negative when `b` does, 0 for identical records.
 */
export function compareRecords(a: GraphRecord, b: GraphRecord): number {
  return (
    a.version - b.version ||
    Number(a.modifiedAt > a.createdAt) - Number(b.modifiedAt > b.createdAt) ||
    compareText(a.modifiedBy, b.modifiedBy) ||
    a.modifiedAt - b.modifiedAt ||
    a.securityData.length - b.securityData.length ||
    compareBytes(a.securityData, b.securityData) ||
    compareBytes(a.data, b.data) ||
    compareText(formatAttributesXml(a.attributes) ?? '', formatAttributesXml(b.attributes) ?? '') ||
    a.expiresAt - b.expiresAt ||
    a.createdAt - b.createdAt ||
    a.flags - b.flags ||
    compareText(a.creator, b.creator) ||
    compareText(a.type, b.type)
  )
}

function badRecord(problem: string): PeerError {
  return new PeerError('PEER_E_INVALID_RECORD', `record is not valid: ${problem}`)
}

function checkTime(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 0 || t > MAX_RECORD_TIME) throw badRecord(`${what} is ${t}`)
}

function checkPeerId(id: string, what: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_PEER_ID_CHARS) {
    throw badRecord(`${what} must be 1 to ${MAX_PEER_ID_CHARS} characters`)
  }
}

/**
 * The structural checks of MS-PPGRH 2.4 flooding step 1 (before any security provider): GUIDs,
 * version, flags, ids, times in order, the id's creator half, and the size bound.
 */
export function checkRecordShape(r: GraphRecord, maxRecordSize: number): void {
  if (!isGuid(r.type)) throw badRecord('the type is not a GUID')
  if (!isGuid(r.id)) throw badRecord('the id is not a GUID')
  if (!Number.isInteger(r.version) || r.version < 1 || r.version > MAX_RECORD_VERSION) {
    throw badRecord(`version ${r.version}`)
  }
  // Range first: `&` works on 32 bits, so 2 ** 32 + 1 would pass a mask test alone.
  if (
    !Number.isInteger(r.flags) ||
    r.flags < 0 ||
    r.flags > RECORD_FLAGS ||
    (r.flags & ~RECORD_FLAGS) !== 0
  ) {
    throw badRecord(`flags ${r.flags}`)
  }
  checkPeerId(r.creator, 'the creator')
  checkPeerId(r.modifiedBy, 'the modifier')
  checkTime(r.createdAt, 'the creation time')
  checkTime(r.modifiedAt, 'the modification time')
  checkTime(r.expiresAt, 'the expiration time')
  if (r.modifiedAt < r.createdAt) throw badRecord('it was modified before it was created')
  if (r.expiresAt <= r.createdAt) throw badRecord('it expires before it was created')
  if (!recordIdMatchesCreator(r.id, r.creator)) {
    throw badRecord('the id does not belong to its creator (MS-PPGRH 2.3)')
  }
  const size = recordSize(r)
  if (size > maxRecordSize) {
    throw new PeerError(
      'PEER_E_MAX_RECORD_SIZE_EXCEEDED',
      `a record of ${size} bytes is larger than this graph's maximum of ${maxRecordSize}`,
      { details: { size, maxRecordSize } },
    )
  }
}
