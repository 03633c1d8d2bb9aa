/**
 * The record as applications see it (Windows' PEER_RECORD): dates as `Date`, attributes as an
 * object and as Windows' XML, flags as Windows' bits.
 */
import { attributesToObject, formatAttributesXml, type RecordAttributes } from './attributes.ts'
import { RECORD_FLAG_AUTOREFRESH, RECORD_FLAG_DELETED } from './constants.ts'
import type { GraphRecord } from './records.ts'

export interface PeerRecord {
  type: string
  id: string
  version: number
  /** RECORD_FLAG_AUTOREFRESH (1) | RECORD_FLAG_DELETED (2). */
  flags: number
  autoRefresh: boolean
  deleted: boolean
  creatorId: string
  modifiedById: string
  attributes: RecordAttributes
  /** The same attributes in Windows' XML; undefined when there are none. */
  attributesXml: string | undefined
  createdAt: Date
  expiresAt: Date
  modifiedAt: Date
  securityData: Uint8Array
  data: Uint8Array
}

export function toPeerRecord(r: GraphRecord): PeerRecord {
  return {
    type: r.type,
    id: r.id,
    version: r.version,
    flags: r.flags,
    autoRefresh: (r.flags & RECORD_FLAG_AUTOREFRESH) !== 0,
    deleted: (r.flags & RECORD_FLAG_DELETED) !== 0,
    creatorId: r.creator,
    modifiedById: r.modifiedBy,
    attributes: attributesToObject(r.attributes),
    attributesXml: formatAttributesXml(r.attributes),
    createdAt: new Date(r.createdAt),
    expiresAt: new Date(r.expiresAt),
    modifiedAt: new Date(r.modifiedAt),
    securityData: r.securityData,
    data: r.data,
  }
}
