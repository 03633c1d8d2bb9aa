/**
 * Graph properties (windows-api.md section 1, PEER_GRAPH_PROPERTIES): what a graph is created
 * with, which of them may change later, and their checks.
 */
import { PeerError } from '../core/errors.ts'
import {
  DEFAULT_MAX_RECORD_SIZE,
  DEFAULT_PRESENCE_LIFETIME_S,
  MAX_COMMENT_CHARS,
  MAX_FRIENDLY_NAME_CHARS,
  MAX_GRAPH_ID_CHARS,
  MAX_MAX_RECORD_SIZE,
  MAX_PRESENCE_LIFETIME_S,
  MAX_PRESENCE_MAX,
  MIN_MAX_RECORD_SIZE,
  MIN_PRESENCE_LIFETIME_S,
} from './constants.ts'

/** dwScope: where the graph listens and connects. */
export type GraphScope = 'any' | 'global' | 'site-local' | 'link-local' | 'loopback'
export const GRAPH_SCOPES: readonly GraphScope[] = [
  'any',
  'global',
  'site-local',
  'link-local',
  'loopback',
]

export interface GraphProperties {
  graphId: string
  /** The peer id of the graph's creator. */
  creatorId: string
  friendlyName: string
  comment: string
  scope: GraphScope
  /** Largest record in bytes (records.ts recordSize). */
  maxRecordSize: number
  /** Seconds a node's presence record lives. */
  presenceLifetime: number
  /** -1: every node publishes presence; 0: none automatically; N: at most N. */
  presenceMax: number
  /** DEFER_EXPIRATION: no record expires until the graph has connected to another node. */
  deferExpiration: boolean
}

/** What `graphs.create` takes; every field but graphId has a default. */
export interface GraphCreateProperties {
  graphId: string
  friendlyName?: string
  comment?: string
  scope?: GraphScope
  /** 0 or left out: the default of 60 MB. */
  maxRecordSize?: number
  presenceLifetime?: number
  presenceMax?: number
  deferExpiration?: boolean
}

/** The properties `setProperties` may change; Windows ignores the others, so do we. */
export type MutableGraphProperties = Pick<
  GraphProperties,
  'friendlyName' | 'comment' | 'presenceLifetime' | 'presenceMax'
>

function bad(problem: string): PeerError {
  return new PeerError('E_INVALIDARG', `graph properties are not valid: ${problem}`)
}

function checkText(value: unknown, what: string, max: number, required = false): string {
  if (typeof value !== 'string') throw bad(`${what} must be text`)
  if (required && value.length === 0) throw bad(`${what} is required`)
  if (value.length > max) throw bad(`${what} is longer than ${max} characters`)
  if (value.includes('\u0000')) throw bad(`${what} contains a NUL character`)
  return value
}

/** A graph id: 1 to MAX_GRAPH_ID_CHARS characters, no NUL. */
export function checkGraphId(graphId: unknown): string {
  return checkText(graphId, 'graphId', MAX_GRAPH_ID_CHARS, true)
}

function checkMutable(p: MutableGraphProperties): MutableGraphProperties {
  checkText(p.friendlyName, 'friendlyName', MAX_FRIENDLY_NAME_CHARS)
  checkText(p.comment, 'comment', MAX_COMMENT_CHARS)
  const life = p.presenceLifetime
  if (!Number.isInteger(life) || life < MIN_PRESENCE_LIFETIME_S || life > MAX_PRESENCE_LIFETIME_S) {
    throw bad(
      `presenceLifetime must be ${MIN_PRESENCE_LIFETIME_S} to ${MAX_PRESENCE_LIFETIME_S} s, got ${life}`,
    )
  }
  const max = p.presenceMax
  if (!Number.isInteger(max) || max < -1 || max > MAX_PRESENCE_MAX) {
    throw bad(`presenceMax must be -1 (everyone), 0 (none) or 1 to ${MAX_PRESENCE_MAX}, got ${max}`)
  }
  return p
}

/** Fills defaults and checks every field of a new graph. */
export function createProperties(input: GraphCreateProperties, creatorId: string): GraphProperties {
  if (input === null || typeof input !== 'object') throw bad('expected an object')
  const scope = input.scope ?? 'global'
  if (!GRAPH_SCOPES.includes(scope)) throw bad(`scope must be one of ${GRAPH_SCOPES.join(', ')}`)
  const size = input.maxRecordSize ?? 0
  const maxRecordSize = size === 0 ? DEFAULT_MAX_RECORD_SIZE : size
  if (
    !Number.isInteger(maxRecordSize) ||
    maxRecordSize < MIN_MAX_RECORD_SIZE ||
    maxRecordSize > MAX_MAX_RECORD_SIZE
  ) {
    throw bad(`maxRecordSize must be 0 (60 MB) or ${MIN_MAX_RECORD_SIZE} to ${MAX_MAX_RECORD_SIZE}`)
  }
  const props: GraphProperties = {
    graphId: checkGraphId(input.graphId),
    creatorId,
    scope,
    maxRecordSize,
    deferExpiration: input.deferExpiration === true,
    ...checkMutable({
      friendlyName: input.friendlyName ?? '',
      comment: input.comment ?? '',
      presenceLifetime: input.presenceLifetime ?? DEFAULT_PRESENCE_LIFETIME_S,
      presenceMax: input.presenceMax ?? -1,
    }),
  }
  return props
}

/**
 * PeerGraphSetProperties: only the friendly name, comment, presence lifetime and presence
 * maximum change; other fields given are ignored, as in Windows.
 */
export function mergeProperties(
  current: GraphProperties,
  changes: Partial<GraphProperties>,
): GraphProperties {
  if (changes === null || typeof changes !== 'object') throw bad('expected an object')
  const next = checkMutable({
    friendlyName: changes.friendlyName ?? current.friendlyName,
    comment: changes.comment ?? current.comment,
    presenceLifetime: changes.presenceLifetime ?? current.presenceLifetime,
    presenceMax: changes.presenceMax ?? current.presenceMax,
  })
  return { ...current, ...next }
}

/** Parses properties as stored in the database's meta table; undefined if absent or damaged. */
export function parseStoredProperties(json: string | undefined): GraphProperties | undefined {
  if (json === undefined) return undefined
  try {
    const p = JSON.parse(json) as GraphProperties
    return {
      ...createProperties(p, p.creatorId),
      creatorId: checkText(p.creatorId, 'creatorId', MAX_GRAPH_ID_CHARS, true),
    }
  } catch {
    return undefined
  }
}
