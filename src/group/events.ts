/** Group events (windows-api.md section 2, "Group events"), typed. */
import type { GraphEvents } from '../graph/events.ts'

export type MemberChange = 'connected' | 'disconnected' | 'updated' | 'joined' | 'left'

/** A type alias, not an interface, so that keyof gives the names. */
export type GroupEvents = {
  'status-changed': GraphEvents['status-changed']
  /** No data: read `group.properties` again. */
  'property-changed': Record<string, never>
  /** The application's records only (the group's own records are not reported). */
  'record-changed': GraphEvents['record-changed']
  'direct-connection': GraphEvents['direct-connection']
  'neighbor-connection': GraphEvents['neighbor-connection']
  'incoming-data': GraphEvents['incoming-data']
  /**
   * connected/disconnected/updated: a member's presence; joined: its membership record arrived;
   * left: it was revoked.
   */
  'member-changed': { change: MemberChange; identity: string }
  /** A connection attempt failed, or no member was reachable; `reason` is a PeerError code. */
  'connection-failed': { reason: string }
  /** A peer failed authentication (not a member, wrong key, revoked...). */
  'authentication-failed': { identity: string; reason: string }
  synchronized: GraphEvents['synchronized']
}

export type GroupEventType = keyof GroupEvents

export const GROUP_EVENT_TYPES: readonly GroupEventType[] = [
  'status-changed',
  'property-changed',
  'record-changed',
  'direct-connection',
  'neighbor-connection',
  'incoming-data',
  'member-changed',
  'connection-failed',
  'authentication-failed',
  'synchronized',
]
