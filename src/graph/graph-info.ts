/**
 * The Graph Info record (MS-PPGRH 2.3, internal type 00000100-...): the graph's properties as
 * a record, so that they reach a new node in its first sync (before anything else) and every
 * change of the mutable ones floods like any record. Its id is fixed per graph creator, it never
 * expires, and a copy that changes an immutable property is refused.
 */
import { PeerError } from '../core/errors.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import { GRAPH_INFO_RECORD_TYPE, MAX_GRAPH_ID_CHARS } from './constants.ts'
import { createProperties, GRAPH_SCOPES, type GraphProperties } from './properties.ts'
import {
  fixedRecordId,
  internalRecord,
  isDeleted,
  MAX_RECORD_TIME,
  type GraphRecord,
} from './records.ts'

/** MS-PPGRH 2.3: the Graph Info record's fixed id (its low half here). */
const GRAPH_INFO_ID_LOW = '6c79676800000000'

const infoSchema = s.struct({
  graphId: s.text({ minBytes: 1, maxBytes: MAX_GRAPH_ID_CHARS * 4 }),
  creatorId: s.text({ minBytes: 1, maxBytes: MAX_GRAPH_ID_CHARS * 4 }),
  friendlyName: s.text({ maxBytes: 1024 }),
  comment: s.text({ maxBytes: 2048 }),
  scope: s.oneOf(GRAPH_SCOPES),
  maxRecordSize: s.uint(),
  presenceLifetime: s.uint(),
  presenceMax: s.int({ min: -1 }),
  deferExpiration: s.bool(),
})

export function graphInfoRecordId(creatorId: string): string {
  return fixedRecordId(creatorId, GRAPH_INFO_ID_LOW)
}

export function isGraphInfo(r: Pick<GraphRecord, 'type'>): boolean {
  return r.type === GRAPH_INFO_RECORD_TYPE
}

/** A Graph Info record carrying `props`; `base` is the copy it replaces, if any. */
export function graphInfoRecord(
  props: GraphProperties,
  modifiedBy: string,
  now: number,
  base: GraphRecord | undefined,
): GraphRecord {
  // It never expires: its lifetime reaches the latest time a record may carry.
  return internalRecord({
    type: GRAPH_INFO_RECORD_TYPE,
    id: graphInfoRecordId(props.creatorId),
    creator: props.creatorId,
    modifiedBy,
    now,
    lifetimeMs: MAX_RECORD_TIME,
    base,
    data: encodeCbor({ ...props }),
  })
}

/**
 * The properties a Graph Info record carries, checked like `graphs.create`'s. With `current`,
 * the immutable ones must be equal (windows-api.md: only four properties may change).
 */
export function propertiesFromGraphInfo(
  r: GraphRecord,
  graphId: string,
  current: GraphProperties | undefined,
): GraphProperties {
  const bad = (problem: string) =>
    new PeerError('PEER_E_INVALID_RECORD', `graph info record: ${problem}`)
  let props: GraphProperties
  try {
    const w = decodeMessage(r.data, infoSchema, { what: 'graph info', maxBytes: 8192 })
    props = createProperties(w, w.creatorId)
  } catch (err) {
    throw bad((err as Error).message)
  }
  // It is never deleted: without it a new node could not learn the graph's properties.
  if (isDeleted(r)) throw bad('it is deleted; the graph info record can only be updated')
  if (props.graphId !== graphId) throw bad(`it names graph "${props.graphId}"`)
  if (r.creator !== props.creatorId || r.id !== graphInfoRecordId(props.creatorId)) {
    throw bad('its id or creator is not the graph creator')
  }
  if (current) {
    for (const key of ['creatorId', 'scope', 'maxRecordSize', 'deferExpiration'] as const) {
      if (props[key] !== current[key]) throw bad(`it changes ${key}, which cannot change`)
    }
  }
  return props
}
