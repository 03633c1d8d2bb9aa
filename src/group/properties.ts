/**
 * Group properties (windows-api.md section 2, PEER_GROUP_PROPERTIES) and the MS-PPSEC
 * security-properties record that carries them to every member, signed with the group key:
 * only the group's owner (its creator, who holds that key) can change them, and never the
 * cloud, classifier or the two peer names.
 */
import { PeerError } from '../core/errors.ts'
import {
  DEFAULT_PRESENCE_LIFETIME_S,
  MAX_PRESENCE_LIFETIME_S,
  MIN_PRESENCE_LIFETIME_S,
} from '../graph/constants.ts'
import {
  fixedRecordId,
  internalRecord,
  MAX_RECORD_TIME,
  type GraphRecord,
} from '../graph/records.ts'
import { MAX_CLASSIFIER_LENGTH, MAX_PEER_NAME_BYTES } from '../identity/constants.ts'
import { PeerName } from '../identity/peer-name.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import {
  AUTH_SCHEMES,
  DEFAULT_MEMBER_DATA_LIFETIME_S,
  GROUP_FLAG_DEFER_EXPIRATION,
  GROUP_FLAG_DISABLE_PRESENCE,
  GROUP_FLAG_MEMBER_DATA_OPTIONAL,
  GROUP_FLAGS,
  MAX_CLOUD_NAME_CHARS,
  MAX_GROUP_COMMENT_CHARS,
  MAX_GROUP_FRIENDLY_NAME_CHARS,
  MAX_MEMBER_DATA_LIFETIME_S,
  MIN_MEMBER_DATA_LIFETIME_S,
  ROLE_MEMBER,
  SECURITY_PROPERTIES_RECORD_TYPE,
  SECURITY_PROPERTIES_VERSION,
  type AuthScheme,
} from './constants.ts'
import { roleUuid } from './credentials.ts'

/** Its fixed record id (low half), per group creator. */
const SECURITY_PROPERTIES_ID_LOW = '7365637072707300'

export interface GroupPasswordVerifier {
  /** scrypt salt. */
  salt: Uint8Array
  /** The public key of the password's key pair (password.ts), which checks password proofs. */
  key: Uint8Array
}

export interface GroupProperties {
  version: string
  groupPeerName: string
  creatorPeerName: string
  classifier: string
  cloud: string
  friendlyName: string
  comment: string
  /** PEER_GROUP_PROPERTIES dwFlags. */
  flags: number
  /** Seconds a member's data (its membership certificate) lives; 0 = the issuer's lifetime. */
  memberDataLifetime: number
  presenceLifetime: number
  authSchemes: AuthScheme[]
  /** The role a password joiner gets (a UUID); '' without password authentication. */
  passwordRole: string
  password?: GroupPasswordVerifier
}

/** What `groups.create` takes besides the identity. */
export interface GroupCreateOptions {
  classifier: string
  friendlyName?: string
  comment?: string
  cloud?: string
  memberDataLifetime?: number
  presenceLifetime?: number
  memberDataOptional?: boolean
  disablePresence?: boolean
  deferExpiration?: boolean
  authentication?: AuthScheme[]
  password?: string
  passwordRole?: string
}

/**
 * The properties the owner may change later (Windows: creator only; never the cloud, classifier
 * or names): with `password`, a new password (a new salt and key); `authSchemes` without
 * 'password' ends password joins.
 */
export type MutableGroupProperties = Partial<
  Pick<
    GroupProperties,
    'friendlyName' | 'comment' | 'memberDataLifetime' | 'presenceLifetime' | 'authSchemes'
  > & {
    flags: number
    password: string
    /** The role a password joiner gets from now on: a role name or UUID. */
    passwordRole: string
  }
>

function bad(why: string): PeerError {
  return new PeerError('PEER_E_INVALID_GROUP_PROPERTIES', `group properties: ${why}`)
}

function checkText(value: unknown, what: string, max: number): string {
  if (value === undefined) return ''
  if (typeof value !== 'string') throw bad(`${what} must be text`)
  if ([...value].length > max) throw bad(`${what} is longer than ${max} characters`)
  if (value.includes('\0')) throw bad(`${what} contains a NUL character`)
  return value
}

function checkSeconds(value: unknown, what: string, min: number, max: number, dflt: number) {
  if (value === undefined) return dflt
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw bad(`${what} must be a whole number of seconds from ${min} to ${max}`)
  }
  return value as number
}

export function memberDataLifetimeOf(value: unknown): number {
  if (value === 0) return 0
  return checkSeconds(
    value,
    'memberDataLifetime',
    MIN_MEMBER_DATA_LIFETIME_S,
    MAX_MEMBER_DATA_LIFETIME_S,
    DEFAULT_MEMBER_DATA_LIFETIME_S,
  )
}

/** Checks create options into properties (without the password verifier, added by the caller). */
export function createGroupProperties(
  o: GroupCreateOptions,
  groupPeerName: string,
  creatorPeerName: string,
): GroupProperties {
  if (o === null || typeof o !== 'object') throw bad('expected an options object')
  if (typeof o.classifier !== 'string' || o.classifier.length === 0) {
    throw new PeerError('PEER_E_INVALID_CLASSIFIER', 'a group needs a classifier')
  }
  if ([...o.classifier].length > MAX_CLASSIFIER_LENGTH) {
    throw new PeerError(
      'PEER_E_CLASSIFIER_TOO_LONG',
      `a classifier holds at most ${MAX_CLASSIFIER_LENGTH} characters`,
    )
  }
  const schemes = o.authentication ?? (o.password !== undefined ? ['gmc', 'password'] : ['gmc'])
  if (
    !Array.isArray(schemes) ||
    schemes.length === 0 ||
    schemes.some((x) => !(AUTH_SCHEMES as readonly string[]).includes(x))
  ) {
    throw bad('authentication lists gmc and/or password')
  }
  const password = schemes.includes('password')
  if (password && typeof o.password !== 'string') {
    throw bad('password authentication needs a password')
  }
  if (!password && o.password !== undefined) {
    throw bad('a password was given but authentication does not include password')
  }
  const flags =
    (o.memberDataOptional ? GROUP_FLAG_MEMBER_DATA_OPTIONAL : 0) |
    (o.disablePresence ? GROUP_FLAG_DISABLE_PRESENCE : 0) |
    (o.deferExpiration ? GROUP_FLAG_DEFER_EXPIRATION : 0)
  return {
    version: SECURITY_PROPERTIES_VERSION,
    groupPeerName,
    creatorPeerName,
    classifier: PeerName.parse(groupPeerName).classifier,
    cloud: checkText(o.cloud, 'cloud', MAX_CLOUD_NAME_CHARS) || 'Global_',
    friendlyName: checkText(o.friendlyName, 'friendlyName', MAX_GROUP_FRIENDLY_NAME_CHARS),
    comment: checkText(o.comment, 'comment', MAX_GROUP_COMMENT_CHARS),
    flags,
    memberDataLifetime: memberDataLifetimeOf(o.memberDataLifetime),
    presenceLifetime: checkSeconds(
      o.presenceLifetime,
      'presenceLifetime',
      MIN_PRESENCE_LIFETIME_S,
      MAX_PRESENCE_LIFETIME_S,
      DEFAULT_PRESENCE_LIFETIME_S,
    ),
    authSchemes: [...new Set(schemes)] as AuthScheme[],
    passwordRole: password ? roleUuid(o.passwordRole ?? ROLE_MEMBER) : '',
  }
}

/**
 * Applies a change of the mutable properties; the others stay as they are. `verifier` makes a
 * new password's verifier (password.ts).
 */
export function changeGroupProperties(
  current: GroupProperties,
  change: MutableGroupProperties,
  verifier: (password: string) => GroupPasswordVerifier,
): GroupProperties {
  if (change === null || typeof change !== 'object') throw bad('expected an object')
  const auth = changePassword(current, change, verifier)
  if (
    change.flags !== undefined &&
    (!Number.isInteger(change.flags) || change.flags & ~GROUP_FLAGS)
  ) {
    throw bad('flags: only MEMBER_DATA_OPTIONAL (1), DISABLE_PRESENCE (2), DEFER_EXPIRATION (4)')
  }
  const next: GroupProperties = {
    ...current,
    ...(change.friendlyName !== undefined
      ? {
          friendlyName: checkText(
            change.friendlyName,
            'friendlyName',
            MAX_GROUP_FRIENDLY_NAME_CHARS,
          ),
        }
      : {}),
    ...(change.comment !== undefined
      ? { comment: checkText(change.comment, 'comment', MAX_GROUP_COMMENT_CHARS) }
      : {}),
    ...(change.memberDataLifetime !== undefined
      ? { memberDataLifetime: memberDataLifetimeOf(change.memberDataLifetime) }
      : {}),
    ...(change.presenceLifetime !== undefined
      ? {
          presenceLifetime: checkSeconds(
            change.presenceLifetime,
            'presenceLifetime',
            MIN_PRESENCE_LIFETIME_S,
            MAX_PRESENCE_LIFETIME_S,
            current.presenceLifetime,
          ),
        }
      : {}),
    ...(change.flags !== undefined ? { flags: change.flags } : {}),
    authSchemes: auth.authSchemes,
    passwordRole: auth.passwordRole,
  }
  if (auth.password) next.password = auth.password
  else delete next.password
  return next
}

/** The authentication part of a change: schemes, role and password verifier, kept consistent. */
function changePassword(
  current: GroupProperties,
  change: MutableGroupProperties,
  verifier: (password: string) => GroupPasswordVerifier,
): { authSchemes: AuthScheme[]; passwordRole: string; password?: GroupPasswordVerifier } {
  const schemes = change.authSchemes ?? current.authSchemes
  if (
    !Array.isArray(schemes) ||
    schemes.length === 0 ||
    schemes.some((x) => !(AUTH_SCHEMES as readonly string[]).includes(x))
  ) {
    throw bad('authSchemes lists gmc and/or password')
  }
  const authSchemes = [...new Set(schemes)]
  if (!authSchemes.includes('password')) {
    if (change.password !== undefined || change.passwordRole !== undefined) {
      throw bad('a password or its role was given but authSchemes does not include password')
    }
    return { authSchemes, passwordRole: '' }
  }
  const password = change.password !== undefined ? verifier(change.password) : current.password
  if (!password) throw bad('password authentication needs a password')
  const role = change.passwordRole ?? (current.passwordRole || ROLE_MEMBER)
  return { authSchemes, passwordRole: roleUuid(role), password }
}

const nameText = s.text({ minBytes: 1, maxBytes: MAX_PEER_NAME_BYTES })
const propertiesSchema = s.struct({
  version: s.text({ maxBytes: 16 }),
  groupPeerName: nameText,
  creatorPeerName: nameText,
  classifier: s.text({ minBytes: 1, maxBytes: 4 * MAX_CLASSIFIER_LENGTH }),
  cloud: s.text({ maxBytes: 4 * MAX_CLOUD_NAME_CHARS }),
  friendlyName: s.text({ maxBytes: 4 * MAX_GROUP_FRIENDLY_NAME_CHARS }),
  comment: s.text({ maxBytes: 4 * MAX_GROUP_COMMENT_CHARS }),
  flags: s.uint(GROUP_FLAGS),
  memberDataLifetime: s.uint(MAX_MEMBER_DATA_LIFETIME_S),
  presenceLifetime: s.uint(MAX_PRESENCE_LIFETIME_S),
  authSchemes: s.array(s.oneOf(AUTH_SCHEMES), { min: 1, max: AUTH_SCHEMES.length }),
  passwordRole: s.text({ maxBytes: 64 }),
  password: s.optional(
    s.struct({ salt: s.bytes({ min: 16, max: 64 }), key: s.bytes({ length: 32, max: 32 }) }),
  ),
})

export function securityPropertiesRecordId(creatorPeerName: string): string {
  return fixedRecordId(creatorPeerName, SECURITY_PROPERTIES_ID_LOW)
}

/** The security-properties record carrying `props` (unsigned: the provider signs it). */
export function securityPropertiesRecord(
  props: GroupProperties,
  now: number,
  base: GraphRecord | undefined,
): GraphRecord {
  const { password, ...rest } = props
  return internalRecord({
    type: SECURITY_PROPERTIES_RECORD_TYPE,
    id: securityPropertiesRecordId(props.creatorPeerName),
    creator: props.creatorPeerName,
    modifiedBy: props.creatorPeerName,
    now,
    lifetimeMs: MAX_RECORD_TIME,
    base,
    data: encodeCbor(password ? { ...rest, password } : rest),
  })
}

/** The properties a security-properties record carries, for group `groupPeerName`. */
export function propertiesFromRecord(
  r: Pick<GraphRecord, 'data' | 'creator' | 'id'>,
  groupPeerName: string,
): GroupProperties {
  const w = decodeMessage(r.data, propertiesSchema, {
    what: 'security properties',
    code: 'PEER_E_INVALID_RECORD',
    maxBytes: 16 * 1024,
  })
  if (w.groupPeerName !== groupPeerName) {
    throw new PeerError('PEER_E_INVALID_RECORD', `security properties name ${w.groupPeerName}`)
  }
  if (r.creator !== w.creatorPeerName || r.id !== securityPropertiesRecordId(w.creatorPeerName)) {
    throw new PeerError('PEER_E_INVALID_RECORD', 'security properties: not the creator record')
  }
  return {
    ...w,
    authSchemes: [...w.authSchemes],
    ...(w.password ? { password: { salt: w.password.salt, key: w.password.key } } : {}),
  }
}
