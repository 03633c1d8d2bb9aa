/**
 * Group credentials (MS-PPSEC certificates, DESIGN.md section 4 format): the group root
 * certificate (GRC, self-signed by the group key, whose authority is the group's), membership
 * certificates (GMC, each signed by its parent) and membership chains GRC -> ... -> member.
 *
 * Roles live in a GMC's `roles` as MS-PPSEC's UUIDs. Issuing rules (windows-api.md section 2,
 * DESIGN.md 5.4): the group root issues admins; an admin issues any role; an inviting member
 * issues inviting members and members; a member issues nothing.
 */
import { toHex } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { Certificate, issueCertificate, verifyChain } from '../identity/certificate.ts'
import {
  MAX_CERTIFICATE_ENVELOPE_BYTES,
  MAX_CHAIN_LENGTH,
  MAX_TIME_MS,
} from '../identity/constants.ts'
import { KeyPair, type PublicKey } from '../identity/keys.ts'
import { PeerName } from '../identity/peer-name.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import {
  GROUP_ROOT_LIFETIME_MS,
  MAX_CHAIN_BYTES,
  ROLE_ADMIN,
  ROLE_INVITING_MEMBER,
  ROLE_MEMBER,
  ROLE_NAMES,
  ROLE_UUIDS,
  type RoleName,
} from './constants.ts'

/**
 * Chains are decoded up to this many certificates so that a chain one too long is refused as
 * PEER_E_CHAIN_TOO_LONG by verifyChain rather than as a malformed message.
 */
const MAX_DECODED_CHAIN = MAX_CHAIN_LENGTH + 8
const chainSchema = s.array(s.bytes({ min: 1, max: MAX_CERTIFICATE_ENVELOPE_BYTES }), {
  min: 1,
  max: MAX_DECODED_CHAIN,
})

/** A role name ('admin', 'inviting-member', 'member') or its UUID, to the UUID. */
export function roleUuid(role: string): string {
  if ((ROLE_NAMES as readonly string[]).includes(role)) return ROLE_UUIDS[role as RoleName]
  const lower = typeof role === 'string' ? role.toLowerCase().replace(/^\{(.*)\}$/, '$1') : ''
  const found = ROLE_NAMES.find((n) => ROLE_UUIDS[n] === lower)
  if (!found) {
    throw new PeerError(
      'PEER_E_INVALID_ROLE_PROPERTY',
      `unknown role ${JSON.stringify(role)}: use admin, inviting-member or member`,
    )
  }
  return ROLE_UUIDS[found]
}

export function roleName(uuid: string): RoleName | undefined {
  return ROLE_NAMES.find((n) => ROLE_UUIDS[n] === uuid)
}

/** Role names from a certificate's roles, best first; unknown UUIDs are left out. */
export function rolesOf(cert: Certificate): RoleName[] {
  return ROLE_NAMES.filter((n) => cert.roles.includes(ROLE_UUIDS[n]))
}

export function isAdmin(cert: Certificate): boolean {
  return cert.roles.includes(ROLE_ADMIN)
}

/** The roles a certificate may issue: the group root and admins any, inviting members two. */
function issuableBy(issuer: Certificate): readonly string[] {
  if (issuer.type === 'group-root' || issuer.roles.includes(ROLE_ADMIN)) {
    return [ROLE_ADMIN, ROLE_INVITING_MEMBER, ROLE_MEMBER]
  }
  if (issuer.roles.includes(ROLE_INVITING_MEMBER)) return [ROLE_INVITING_MEMBER, ROLE_MEMBER]
  return []
}

/** verifyChain's rule for each link of a membership chain: roles within the issuer's rights. */
export function checkRoleIssue(issuer: Certificate, subject: Certificate): void {
  if (subject.roles.length === 0) {
    throw new PeerError('PEER_E_INVALID_ROLE_PROPERTY', 'a membership certificate names no role')
  }
  const allowed = issuableBy(issuer)
  for (const role of subject.roles) {
    if (!allowed.includes(role)) {
      throw new PeerError(
        'PEER_E_NOT_AUTHORIZED',
        `${issuer.subjectName} may not issue the role ${roleName(role) ?? role}`,
        { details: { role } },
      )
    }
  }
}

/** Whether a member with `cert` may issue `roles` (invitations, credentials). */
export function mayIssue(cert: Certificate, roles: readonly string[]): boolean {
  const allowed = issuableBy(cert)
  return roles.length > 0 && roles.every((r) => allowed.includes(r))
}

export interface GroupRoot {
  /** The group key: its owner (the creator) keeps it to sign the security properties. */
  key: KeyPair
  certificate: Certificate
  /** `<groupAuthority>.<classifier>`. */
  peerName: string
}

/** A new group key and its self-signed root certificate, valid "forever" (1000 years). */
export function createGroupRoot(classifier: string, now: number, random: Random): GroupRoot {
  const key = KeyPair.generate(random)
  const peerName = PeerName.fromParts(key.publicKey.authority, classifier).toString()
  const certificate = issueCertificate({
    issuer: key,
    type: 'group-root',
    subjectKey: key.publicKey,
    subjectName: peerName,
    notBefore: now,
    notAfter: Math.min(MAX_TIME_MS, now + GROUP_ROOT_LIFETIME_MS),
    random,
  })
  return { key, certificate, peerName }
}

export interface IssueMembershipParams {
  /** The issuer's key: the group key for the creator's first certificate, else a member's. */
  issuer: KeyPair
  /** The issuer's chain, root first (just the GRC when the group key issues). */
  issuerChain: readonly Certificate[]
  subjectKey: PublicKey | Uint8Array
  subjectName: string
  /** UUIDs. */
  roles: readonly string[]
  notBefore: number
  notAfter: number
  random: Random
}

/**
 * Issues a membership certificate under the issuing rules and returns the subject's whole
 * chain. PEER_E_NOT_AUTHORIZED when the issuer may not issue those roles;
 * PEER_E_LIFETIME_EXCEEDS_ISSUER when the lifetime outlives the issuer's.
 */
export function issueMembership(p: IssueMembershipParams): Certificate[] {
  const parent = p.issuerChain[p.issuerChain.length - 1]
  if (!parent) throw new PeerError('E_INVALIDARG', 'the issuer chain is empty')
  const roles = [...new Set(p.roles)]
  if (!mayIssue(parent, roles)) {
    throw new PeerError(
      'PEER_E_NOT_AUTHORIZED',
      `${parent.subjectName} may not issue ${roles.map((r) => roleName(r) ?? r).join(', ') || 'no role'}`,
    )
  }
  const cert = issueCertificate({
    issuer: p.issuer,
    issuerCertificate: parent,
    type: 'membership',
    subjectKey: p.subjectKey,
    subjectName: p.subjectName,
    roles,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    random: p.random,
  })
  return [...p.issuerChain, cert]
}

export function encodeChain(chain: readonly Certificate[]): Uint8Array {
  return encodeCbor(chain.map((c) => c.encode()))
}

/** Parses a chain (structure only; verifyMembership decides trust). */
export function decodeChain(bytes: Uint8Array): Certificate[] {
  const parts = decodeMessage(bytes, chainSchema, {
    what: 'membership chain',
    code: 'PEER_E_INVALID_CREDENTIAL',
    maxBytes: MAX_CHAIN_BYTES,
  })
  return parts.map((p) => Certificate.decode(p))
}

export interface MembershipCheck {
  /** The group key (the GRC's subject), which the chain must start from. */
  groupKey: PublicKey | Uint8Array
  /** The group's peer name, which the GRC must carry. */
  groupPeerName: string
  now: number
  clockSkewMs?: number
}

/**
 * Verifies a membership chain for this group: GRC of the group key and name, then GMCs whose
 * roles stay within each issuer's rights, each valid now. Returns the member's certificate.
 * Distinct codes: PEER_E_CHAIN_TOO_LONG, PEER_E_CIRCULAR_CHAIN_DETECTED,
 * PEER_E_CERTIFICATE_NOT_TRUSTED, PEER_E_INVALID_TIME_PERIOD, PEER_E_LIFETIME_EXCEEDS_ISSUER,
 * PEER_E_NOT_AUTHORIZED (a role beyond the issuer's), PEER_E_INVALID_CREDENTIAL (no GMC).
 */
export function verifyMembership(
  chain: readonly Certificate[],
  check: MembershipCheck,
): Certificate {
  // The root first, so that a chain of another anchor is reported as untrusted, whatever else.
  const root = chain[0]
  if (root && (root.type !== 'group-root' || root.subjectName !== check.groupPeerName)) {
    throw new PeerError(
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      `the chain's root is not the root certificate of ${check.groupPeerName}`,
    )
  }
  const leaf = verifyChain(chain, {
    now: check.now,
    trustedRoot: check.groupKey,
    ...(check.clockSkewMs !== undefined ? { clockSkewMs: check.clockSkewMs } : {}),
    checkIssue: checkRoleIssue,
  })
  if (leaf.type !== 'membership') {
    throw new PeerError('PEER_E_INVALID_CREDENTIAL', 'the chain holds no membership certificate')
  }
  return leaf
}

/** True when `cert` is the membership of the peer `peerName` holding `key`. */
export function isCertificateOf(
  cert: Certificate,
  key: PublicKey | Uint8Array,
  peerName: string,
): boolean {
  return cert.subjectName === peerName && cert.subject.equals(key)
}

/** A certificate's serial as the hex the group indexes it by. */
export function serialOf(cert: Certificate): string {
  return toHex(cert.serial)
}
