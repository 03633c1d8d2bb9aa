/**
 * Peer Grouping's limits, roles, record types and defaults, each with its source:
 * windows-api.md section 2 (the Windows API) and ms-protocols.md section 3 (MS-PPSEC).
 * docs/LIMITS.md lists them.
 */
import { INFINITE_LIFETIME_MS } from '../identity/constants.ts'

/** MS-PPSEC roles (the UUIDs Windows used, so documents and tools can be mapped). */
export const ROLE_ADMIN = '04387127-aa56-450a-8ce5-4f565c6790f4'
export const ROLE_MEMBER = 'f12dc4c7-0857-4ca0-93fc-b1bb19a3d8c2'
/** PEER_GROUP_ROLE_INVITING_MEMBER (MS-PPSEC 1.1; MS-PNRP gives another UUID: unconfirmed). */
export const ROLE_INVITING_MEMBER = '4370fd89-dc18-4cfb-8dbf-9853a8a9f905'

export const ROLE_NAMES = ['admin', 'inviting-member', 'member'] as const
export type RoleName = (typeof ROLE_NAMES)[number]
export const ROLE_UUIDS: Readonly<Record<RoleName, string>> = {
  admin: ROLE_ADMIN,
  'inviting-member': ROLE_INVITING_MEMBER,
  member: ROLE_MEMBER,
}

/**
 * MS-PPSEC record types, reserved: the application cannot add, change or delete them
 * (PEER_E_NOT_AUTHORIZED). Written as the specification prints them.
 */
export const MEMBERSHIP_RECORD_TYPE = '01000000-0000-0000-0000-000000000000'
export const SECURITY_PROPERTIES_RECORD_TYPE = '02000000-0000-0000-0000-000000000000'
/** peerinfra: an admin's revocation of a membership certificate (beyond Windows). */
export const REVOCATION_RECORD_TYPE = '03000000-0000-0000-0000-000000000000'
/**
 * peerinfra: a revocation lists the records the revoked certificate had signed as the revoking
 * admin held them (their digests), so a revoked key cannot add backdated ones; at most this many.
 * Beyond it the revocation holds no list and only its time applies (a warning is logged).
 */
export const MAX_REVOCATION_KEPT_RECORDS = 100_000
export const GROUP_RECORD_TYPES: readonly string[] = [
  MEMBERSHIP_RECORD_TYPE,
  SECURITY_PROPERTIES_RECORD_TYPE,
  REVOCATION_RECORD_TYPE,
]

/** The classifier every group's member registers in PNRP: `<groupAuthority>.participant`. */
export const PARTICIPANT_CLASSIFIER = 'participant'

/** PEER_GROUP_PROPERTIES.ulMemberDataLifetime: default 28 days, 8 hours .. 10 years. */
export const DEFAULT_MEMBER_DATA_LIFETIME_S = 28 * 24 * 3600
export const MIN_MEMBER_DATA_LIFETIME_S = 8 * 3600
export const MAX_MEMBER_DATA_LIFETIME_S = 10 * 365 * 24 * 3600
/** "Infinite", the creator's and the group root's lifetime: 1000 years. */
export const GROUP_ROOT_LIFETIME_MS = INFINITE_LIFETIME_MS

/** PEER_GROUP_PROPERTIES flags (p2p.h). */
export const GROUP_FLAG_MEMBER_DATA_OPTIONAL = 1
export const GROUP_FLAG_DISABLE_PRESENCE = 2
export const GROUP_FLAG_DEFER_EXPIRATION = 4
export const GROUP_FLAGS =
  GROUP_FLAG_MEMBER_DATA_OPTIONAL | GROUP_FLAG_DISABLE_PRESENCE | GROUP_FLAG_DEFER_EXPIRATION

/** Authentication schemes (p2p.h PEER_GROUP_AUTHENTICATION_SCHEME). */
export const AUTH_SCHEMES = ['gmc', 'password'] as const
export type AuthScheme = (typeof AUTH_SCHEMES)[number]

/** PEER_GROUP_PROPERTIES length limits, characters without the terminator. */
export const MAX_GROUP_FRIENDLY_NAME_CHARS = 255
export const MAX_GROUP_COMMENT_CHARS = 255
export const MAX_CLOUD_NAME_CHARS = 255

/** Security-properties version: 1.1 has password authentication (MS-PPSEC). */
export const SECURITY_PROPERTIES_VERSION = '1.1'
export const GROUP_WIRE_VERSION = 1

/** Password policy (PEER_E_PASSWORD_DOES_NOT_MEET_POLICY): at least 8 characters. */
export const MIN_PASSWORD_CHARS = 8

/** Largest invitation read, as XML or as a token. */
export const MAX_INVITATION_BYTES = 128 * 1024
/** Largest membership chain in a record or a handshake, encoded. */
export const MAX_CHAIN_BYTES = 24 * 16 * 1024 + 64

/** Domain-separation prefixes of Grouping's signatures and proofs. */
export const GROUP_DOMAIN = {
  record: 'peerinfra/v1/group-record',
  passwordProof: 'peerinfra/v1/group-password',
} as const

/**
 * A password join gives up on a member this long after its secure connection is up, and tries
 * the next one (windows-api.md: use a 30 s application timeout).
 */
export const JOIN_TIMEOUT_MS = 30_000
/** An authenticator answers at most this many wrong password proofs per minute (online guessing). */
export const MAX_PASSWORD_FAILURES_PER_MINUTE = 10
