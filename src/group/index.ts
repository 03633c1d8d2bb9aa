/** Peer Grouping: secure, invitation-only groups on Graphing (DESIGN.md 5.4). */
export * from './constants.ts'
export { GroupManager, type GroupSummary, type PasswordJoinOptions } from './groups.ts'
export {
  PeerGroup,
  type GroupMember,
  type CredentialInfo,
  type InvitationOptions,
  type GroupEventOptions,
} from './group.ts'
export {
  GROUP_EVENT_TYPES,
  type GroupEvents,
  type GroupEventType,
  type MemberChange,
} from './events.ts'
export { parseInvitation, type InvitationInfo } from './invitation.ts'
export type { GroupProperties, GroupCreateOptions, MutableGroupProperties } from './properties.ts'
export { participantName } from './discovery.ts'
