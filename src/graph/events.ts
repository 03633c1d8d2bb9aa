/** The nine graph events of Windows (windows-api.md section 1, "Graph events"), typed. */
import type { GraphStatus } from './status.ts'

export type RecordChangeType = 'added' | 'updated' | 'deleted' | 'expired'
export type ConnectionStatus = 'connected' | 'disconnected' | 'failed'

export interface ConnectionEvent {
  status: ConnectionStatus
  connectionId: string
  nodeId: string
  peerId: string
  /** With `failed`: PEER_E_CONNECTION_REFUSED, _FAILED or _NOT_AUTHENTICATED. */
  failure?: string
  /** With `failed` after a referral: the next attempt's id (none means no more attempts). */
  nextConnectionId?: string
}

/** A type alias, not an interface, so that keyof gives the nine names. */
export type GraphEvents = {
  'status-changed': { status: GraphStatus }
  /** No data: receivers read `graph.properties` again, as in Windows. */
  'property-changed': Record<string, never>
  'record-changed': { change: RecordChangeType; recordId: string; recordType: string }
  'direct-connection': ConnectionEvent
  'neighbor-connection': ConnectionEvent
  'incoming-data': { connectionId: string; dataType: string; data: Uint8Array }
  /** The graph is unstable: connect to another node. */
  'connection-required': Record<string, never>
  'node-changed': {
    change: 'connected' | 'disconnected' | 'updated'
    nodeId: string
    peerId: string
  }
  synchronized: { recordType: string }
}

/** The nine event names, for validating user input. */
export const GRAPH_EVENT_TYPES: readonly GraphEventType[] = [
  'status-changed',
  'property-changed',
  'record-changed',
  'direct-connection',
  'neighbor-connection',
  'incoming-data',
  'connection-required',
  'node-changed',
  'synchronized',
]
export type GraphEventType = keyof GraphEvents

/**
 * Windows' pType event filter: a predicate passing record-changed and synchronized events of
 * `recordTypes` (canonical GUIDs) and every event of another type; undefined passes all.
 */
export function recordTypeFilter(
  recordTypes: readonly string[] | undefined,
): (ev: { type: PropertyKey; data: unknown }) => boolean {
  if (!recordTypes) return () => true
  return (ev) =>
    (ev.type !== 'record-changed' && ev.type !== 'synchronized') ||
    recordTypes.includes((ev.data as { recordType: string }).recordType)
}
