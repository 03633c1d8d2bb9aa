import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { SeededRandom } from '../../src/core/random.ts'
import {
  GROUP_ROOT_LIFETIME_MS,
  MAX_CHAIN_BYTES,
  ROLE_ADMIN,
  ROLE_INVITING_MEMBER,
  ROLE_MEMBER,
  ROLE_NAMES,
  ROLE_UUIDS,
} from '../../src/group/constants.ts'
import {
  checkRoleIssue,
  createGroupRoot,
  decodeChain,
  encodeChain,
  isAdmin,
  mayIssue,
  roleName,
  rolesOf,
  roleUuid,
  serialOf,
  verifyMembership,
  type GroupRoot,
  type MembershipCheck,
} from '../../src/group/credentials.ts'
import { Certificate, issueCertificate, verifyChain } from '../../src/identity/certificate.ts'
import {
  INFINITE_LIFETIME_MS,
  MAX_CHAIN_LENGTH,
  MAX_TIME_MS,
  SERIAL_BYTES,
} from '../../src/identity/constants.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import { PeerName } from '../../src/identity/peer-name.ts'
import { decodeCbor, encodeCbor } from '../../src/wire/cbor.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'
import { issueMember, peerNameOf, rootIssuer, type Issuer } from '../helpers/group-fixture.ts'

const T0 = Date.UTC(2026, 0, 1)
const MINUTE = 60_000
const DAY = 86_400_000
const YEAR = 365 * DAY
const NOW = T0 + DAY
const UNKNOWN_ROLE = '11111111-2222-3333-4444-555555555555'

/** A key and its membership chain, root first (the group key holds just the GRC). */
type Member = Issuer

interface Validity {
  notBefore?: number
  notAfter?: number
  /** The subject's key; a new one when left out. */
  subject?: KeyPair
}

function nameOf(key: KeyPair, classifier = 'member'): string {
  return peerNameOf(key, classifier)
}

function leafOf(m: Member): Certificate {
  return m.chain[m.chain.length - 1] as Certificate
}

/** A new group created at T0, and the group key as a member holding just the GRC. */
function newGroup(seed: string): { random: SeededRandom; root: GroupRoot; owner: Member } {
  const random = new SeededRandom(seed)
  const root = createGroupRoot('chat', T0, random)
  return { random, root, owner: rootIssuer(root) }
}

function checkOf(root: GroupRoot, now = NOW): MembershipCheck {
  return { groupKey: root.key.publicKey, groupPeerName: root.peerName, now }
}

/** issueMembership under the rules: T0 .. T0 + 1 year unless told. */
function issue(issuer: Member, roles: string[], random: SeededRandom, v: Validity = {}): Member {
  const { key, chain } = issueMember(issuer, random, {
    classifier: 'member',
    roles,
    notBefore: v.notBefore ?? T0,
    notAfter: v.notAfter ?? T0 + YEAR,
    ...(v.subject ? { subject: v.subject } : {}),
  })
  return { key, chain }
}

/** An identity certificate (not a group root) of the group key, for T0 .. T0 + 1 year. */
function identityRootOf(root: GroupRoot, random: SeededRandom, roles?: string[]): Certificate {
  return issueCertificate({
    issuer: root.key,
    type: 'identity',
    subjectKey: root.key.publicKey,
    subjectName: root.peerName,
    ...(roles ? { roles } : {}),
    notBefore: T0,
    notAfter: T0 + YEAR,
    random,
  })
}

/** A link signed directly with Certificate.sign: no role or lifetime rule is applied. */
function signDirect(
  issuer: Member,
  roles: string[],
  random: SeededRandom,
  v: Validity = {},
): Member {
  const parent = leafOf(issuer)
  const key = v.subject ?? KeyPair.generate(random)
  const cert = Certificate.sign(
    {
      type: 'membership',
      serial: random.bytes(SERIAL_BYTES),
      subjectKey: key.publicKey.bytes,
      subjectName: nameOf(key),
      issuerKey: issuer.key.publicKey.bytes,
      issuerName: parent.subjectName,
      roles,
      classifiers: [],
      notBefore: v.notBefore ?? parent.notBefore,
      notAfter: v.notAfter ?? parent.notAfter,
    },
    issuer.key,
  )
  return { key, chain: [...issuer.chain, cert] }
}

/** GRC → admin → inviting members: `length` certificates in all. */
function longChain(owner: Member, random: SeededRandom, length: number): Member {
  let m = issue(owner, [ROLE_ADMIN], random)
  while (m.chain.length < length) m = issue(m, [ROLE_INVITING_MEMBER], random)
  return m
}

/** The certificate again with one bit of its signature flipped. */
function forgeSignature(cert: Certificate): Certificate {
  const [tbs, sig] = decodeCbor(cert.encode()) as [Uint8Array, Uint8Array]
  const bad = new Uint8Array(sig)
  bad[10] = (bad[10] as number) ^ 0x01
  return Certificate.decode(encodeCbor([tbs, bad]))
}

describe('createGroupRoot', () => {
  test('the peer name is <authority of the group key>.<classifier>', () => {
    const { root } = newGroup('credentials/root-name')
    assert.equal(root.peerName, `${root.key.publicKey.authority}.chat`)
    const parsed = PeerName.parse(root.peerName)
    assert.ok(parsed.isSecured)
    assert.equal(parsed.authority, root.key.publicKey.authority)
    assert.equal(parsed.classifier, 'chat')
  })

  test('the certificate is a self-signed group root of the group key', () => {
    const { root } = newGroup('credentials/root-cert')
    const cert = root.certificate
    assert.equal(cert.type, 'group-root')
    assert.ok(cert.isSelfSigned)
    assert.ok(cert.subject.equals(root.key.publicKey))
    assert.deepEqual(cert.issuerKey, root.key.publicKey.bytes)
    assert.equal(cert.subjectName, root.peerName)
    assert.equal(cert.issuerName, root.peerName)
    assert.deepEqual(cert.roles, [])
    assert.deepEqual(rolesOf(cert), [])
    assert.equal(isAdmin(cert), false)
    assert.ok(cert.verifySignature(root.key.publicKey))
    assert.equal(verifyChain([cert], { now: NOW, trustedRoot: root.key.publicKey }), cert)
    // it survives its own encoding
    assert.deepEqual(Certificate.decode(cert.encode()).encode(), cert.encode())
  })

  test('the lifetime is 1000 years from now', () => {
    const { root } = newGroup('credentials/root-lifetime')
    assert.equal(GROUP_ROOT_LIFETIME_MS, INFINITE_LIFETIME_MS)
    assert.equal(GROUP_ROOT_LIFETIME_MS, 1000 * 365.25 * DAY)
    assert.equal(root.certificate.notBefore, T0)
    assert.equal(root.certificate.notAfter, T0 + GROUP_ROOT_LIFETIME_MS)
    assert.ok(root.certificate.isValidAt(T0 + 999 * YEAR))
  })

  test('the lifetime is capped at the latest representable time', () => {
    const now = MAX_TIME_MS - YEAR
    const root = createGroupRoot('late', now, new SeededRandom('credentials/root-cap'))
    assert.equal(root.certificate.notBefore, now)
    assert.equal(root.certificate.notAfter, MAX_TIME_MS)
    assert.ok(Number.isFinite(new Date(root.certificate.notAfter).getTime()))
  })

  test('the same seed gives the same group; another seed another', () => {
    const a = newGroup('credentials/root-seed').root
    const b = newGroup('credentials/root-seed').root
    const c = newGroup('credentials/root-seed-2').root
    assert.equal(a.peerName, b.peerName)
    assert.deepEqual(a.certificate.encode(), b.certificate.encode())
    assert.notEqual(a.peerName, c.peerName)
  })

  test('an invalid classifier is refused', () => {
    const random = new SeededRandom('credentials/root-classifier')
    assert.throws(() => createGroupRoot('a'.repeat(150), T0, random))
  })
})

describe('issueMembership', () => {
  test('the group root issues an admin', () => {
    const { random, root, owner } = newGroup('credentials/issue-admin')
    const admin = issue(owner, [ROLE_ADMIN], random)
    assert.equal(admin.chain.length, 2)
    assert.equal(admin.chain[0], root.certificate)
    const cert = leafOf(admin)
    assert.equal(cert.type, 'membership')
    assert.deepEqual(cert.roles, [ROLE_ADMIN])
    assert.deepEqual(rolesOf(cert), ['admin'])
    assert.ok(isAdmin(cert))
    assert.equal(cert.issuerName, root.peerName)
    assert.deepEqual(cert.issuerKey, root.key.publicKey.bytes)
    assert.ok(cert.subject.equals(admin.key.publicKey))
    assert.equal(cert.subjectName, nameOf(admin.key))
    assert.equal(verifyMembership(admin.chain, checkOf(root)), cert)
    // the issuer's chain is left as it was
    assert.deepEqual(owner.chain, [root.certificate])
  })

  test('the root may issue for its whole 1000 years but not beyond', () => {
    const { random, owner } = newGroup('credentials/issue-root-lifetime')
    const end = T0 + GROUP_ROOT_LIFETIME_MS
    const forever = issue(owner, [ROLE_ADMIN], random, { notAfter: end })
    assert.equal(leafOf(forever).notAfter, end)
    throwsPeerError(
      () => issue(owner, [ROLE_ADMIN], random, { notAfter: end + 1 }),
      'PEER_E_LIFETIME_EXCEEDS_ISSUER',
    )
  })

  test('an admin issues members, inviting members and admins', () => {
    const { random, root, owner } = newGroup('credentials/issue-by-admin')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const cases: [string[], string[]][] = [
      [[ROLE_MEMBER], ['member']],
      [[ROLE_INVITING_MEMBER], ['inviting-member']],
      [[ROLE_ADMIN], ['admin']],
      [
        [ROLE_MEMBER, ROLE_ADMIN],
        ['admin', 'member'],
      ],
    ]
    for (const [roles, names] of cases) {
      assert.ok(mayIssue(leafOf(admin), roles))
      const m = issue(admin, roles, random)
      assert.equal(m.chain.length, 3)
      assert.deepEqual(leafOf(m).roles, roles)
      assert.deepEqual(rolesOf(leafOf(m)), names)
      assert.equal(verifyMembership(m.chain, checkOf(root)), leafOf(m))
    }
  })

  test('an inviting member issues members and inviting members', () => {
    const { random, root, owner } = newGroup('credentials/issue-by-inviter')
    const inviter = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_INVITING_MEMBER], random)
    for (const roles of [
      [ROLE_MEMBER],
      [ROLE_INVITING_MEMBER],
      [ROLE_INVITING_MEMBER, ROLE_MEMBER],
    ]) {
      const m = issue(inviter, roles, random)
      assert.equal(m.chain.length, 4)
      assert.deepEqual(leafOf(m).roles, roles)
      assert.equal(verifyMembership(m.chain, checkOf(root)), leafOf(m))
    }
  })

  test('an inviting member may not issue an admin', () => {
    const { random, owner } = newGroup('credentials/inviter-no-admin')
    const inviter = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_INVITING_MEMBER], random)
    throwsPeerError(() => issue(inviter, [ROLE_ADMIN], random), 'PEER_E_NOT_AUTHORIZED', /admin/)
    throwsPeerError(
      () => issue(inviter, [ROLE_MEMBER, ROLE_ADMIN], random),
      'PEER_E_NOT_AUTHORIZED',
      'admin among allowed roles',
    )
  })

  test('a member issues nothing', () => {
    const { random, owner } = newGroup('credentials/member-nothing')
    const member = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_MEMBER], random)
    for (const roles of [[ROLE_MEMBER], [ROLE_INVITING_MEMBER], [ROLE_ADMIN]]) {
      throwsPeerError(() => issue(member, roles, random), 'PEER_E_NOT_AUTHORIZED', roles[0])
    }
  })

  test('empty and unknown roles are refused', () => {
    const { random, owner } = newGroup('credentials/issue-empty')
    const admin = issue(owner, [ROLE_ADMIN], random)
    throwsPeerError(() => issue(owner, [], random), 'PEER_E_NOT_AUTHORIZED', /no role/)
    throwsPeerError(() => issue(admin, [], random), 'PEER_E_NOT_AUTHORIZED', /no role/)
    throwsPeerError(() => issue(admin, [UNKNOWN_ROLE], random), 'PEER_E_NOT_AUTHORIZED')
    // roles are UUIDs: names must go through roleUuid first
    throwsPeerError(() => issue(admin, ['member'], random), 'PEER_E_NOT_AUTHORIZED')
    assert.deepEqual(leafOf(issue(admin, [roleUuid('member')], random)).roles, [ROLE_MEMBER])
  })

  test('repeated roles are issued once', () => {
    const { random, owner } = newGroup('credentials/issue-dup')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const m = issue(admin, [ROLE_MEMBER, ROLE_MEMBER, ROLE_INVITING_MEMBER, ROLE_MEMBER], random)
    assert.deepEqual(leafOf(m).roles, [ROLE_MEMBER, ROLE_INVITING_MEMBER])
  })

  test("a lifetime beyond the issuer's is refused", () => {
    const { random, owner } = newGroup('credentials/issue-lifetime')
    const admin = issue(owner, [ROLE_ADMIN], random, { notBefore: T0, notAfter: T0 + YEAR })
    throwsPeerError(
      () => issue(admin, [ROLE_MEMBER], random, { notAfter: T0 + YEAR + 1 }),
      'PEER_E_LIFETIME_EXCEEDS_ISSUER',
    )
    throwsPeerError(
      () => issue(admin, [ROLE_MEMBER], random, { notBefore: T0 - 1 }),
      'PEER_E_LIFETIME_EXCEEDS_ISSUER',
    )
    // exactly the issuer's lifetime is allowed
    const m = issue(admin, [ROLE_MEMBER], random, { notBefore: T0, notAfter: T0 + YEAR })
    assert.equal(leafOf(m).notAfter, T0 + YEAR)
  })

  test('the issuer key must be the key of the last certificate', () => {
    const { random, owner } = newGroup('credentials/issue-key')
    const admin = issue(owner, [ROLE_ADMIN], random)
    throwsPeerError(
      () => issue({ key: KeyPair.generate(random), chain: admin.chain }, [ROLE_MEMBER], random),
      'E_INVALIDARG',
    )
    throwsPeerError(
      () => issue({ key: owner.key, chain: [] }, [ROLE_MEMBER], random),
      'E_INVALIDARG',
    )
  })
})

describe('verifyMembership', () => {
  test('a valid chain GRC → admin → member returns the leaf', () => {
    const { random, root, owner } = newGroup('credentials/verify-valid')
    const member = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_MEMBER], random)
    assert.equal(member.chain.length, 3)
    assert.equal(verifyMembership(member.chain, checkOf(root)), member.chain[2])
    // the group key given as bytes works too
    const bytesCheck = { ...checkOf(root), groupKey: root.key.publicKey.bytes }
    assert.equal(verifyMembership(member.chain, bytesCheck), member.chain[2])
  })

  test('a chain from another group key is not trusted', () => {
    const { random, owner } = newGroup('credentials/verify-other-key')
    const other = newGroup('credentials/verify-other-key-2').root
    const member = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_MEMBER], random)
    throwsPeerError(
      () => verifyMembership(member.chain, checkOf(other)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
    )
    // the other group's name with this chain's key: still the wrong key for that name
    throwsPeerError(
      () => verifyMembership(member.chain, { ...checkOf(other), groupKey: owner.key.publicKey }),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
    )
  })

  test("the group key's root under another name is not this group's root", () => {
    const { random, root } = newGroup('credentials/verify-other-name')
    const otherName = nameOf(root.key, 'other')
    const otherRoot = issueCertificate({
      issuer: root.key,
      type: 'group-root',
      subjectKey: root.key.publicKey,
      subjectName: otherName,
      notBefore: T0,
      notAfter: T0 + GROUP_ROOT_LIFETIME_MS,
      random,
    })
    const admin = issue({ key: root.key, chain: [otherRoot] }, [ROLE_ADMIN], random)
    const member = issue(admin, [ROLE_MEMBER], random)
    // valid for the other group name ...
    const otherCheck = { ...checkOf(root), groupPeerName: otherName }
    assert.equal(verifyMembership(member.chain, otherCheck), leafOf(member))
    // ... but not for this group
    throwsPeerError(
      () => verifyMembership(member.chain, checkOf(root)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      /root certificate/,
    )
  })

  test('a chain of 24 verifies; a chain of 25 is too long', () => {
    const { random, root, owner } = newGroup('credentials/verify-long')
    assert.equal(MAX_CHAIN_LENGTH, 24)
    const m24 = longChain(owner, random, 24)
    assert.equal(m24.chain.length, 24)
    assert.equal(verifyMembership(m24.chain, checkOf(root)), leafOf(m24))
    const m25 = issue(m24, [ROLE_MEMBER], random)
    assert.equal(m25.chain.length, 25)
    const err = throwsPeerError(
      () => verifyMembership(m25.chain, checkOf(root)),
      'PEER_E_CHAIN_TOO_LONG',
    )
    assert.deepEqual(err.details, { length: 25, limit: 24 })
  })

  test('a key appearing twice is a circular chain', () => {
    const { random, root, owner } = newGroup('credentials/verify-circular')
    const admin = issue(owner, [ROLE_ADMIN], random)
    // the admin issues to its own key
    const self = issue(admin, [ROLE_MEMBER], random, { subject: admin.key })
    throwsPeerError(
      () => verifyMembership(self.chain, checkOf(root)),
      'PEER_E_CIRCULAR_CHAIN_DETECTED',
    )
    // a member certificate for the group key itself
    const back = issue(admin, [ROLE_MEMBER], random, { subject: root.key })
    throwsPeerError(
      () => verifyMembership(back.chain, checkOf(root)),
      'PEER_E_CIRCULAR_CHAIN_DETECTED',
    )
    // a loop further down: A → B → A
    const b = issue(admin, [ROLE_ADMIN], random)
    const loop = issue(b, [ROLE_MEMBER], random, { subject: admin.key })
    throwsPeerError(
      () => verifyMembership(loop.chain, checkOf(root)),
      'PEER_E_CIRCULAR_CHAIN_DETECTED',
    )
  })

  test('a forged signature is not trusted', () => {
    const { random, root, owner } = newGroup('credentials/verify-forged')
    const member = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_MEMBER], random)
    // Certificate.sign refuses a key other than the issuer's
    const leaf = leafOf(member)
    throwsPeerError(() => Certificate.sign(leaf, KeyPair.generate(random)), 'E_INVALIDARG')
    for (let i = 0; i < member.chain.length; i++) {
      const chain = [...member.chain]
      chain[i] = forgeSignature(chain[i] as Certificate)
      throwsPeerError(
        () => verifyMembership(chain, checkOf(root)),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
        `forged certificate ${i}`,
      )
    }
  })

  test('a member that rewrites its roles to admin is not trusted', () => {
    const { random, root, owner } = newGroup('credentials/verify-rewrite')
    const member = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_MEMBER], random)
    const [tbs, sig] = decodeCbor(leafOf(member).encode()) as [Uint8Array, Uint8Array]
    const fields = decodeCbor(tbs) as Record<string, unknown>
    const escalated = Certificate.decode(
      encodeCbor([encodeCbor({ ...fields, roles: [ROLE_ADMIN] }), sig]),
    )
    assert.ok(isAdmin(escalated))
    const chain = [...member.chain.slice(0, -1), escalated]
    throwsPeerError(() => verifyMembership(chain, checkOf(root)), 'PEER_E_CERTIFICATE_NOT_TRUSTED')
  })

  test('an expired or not yet valid certificate is refused', () => {
    const { random, root, owner } = newGroup('credentials/verify-time')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const member = issue(admin, [ROLE_MEMBER], random, { notAfter: T0 + DAY })
    assert.equal(verifyMembership(member.chain, checkOf(root, T0 + DAY)), leafOf(member))
    throwsPeerError(
      () => verifyMembership(member.chain, checkOf(root, T0 + DAY + 1)),
      'PEER_E_INVALID_TIME_PERIOD',
      /expired/,
    )
    // an expired admin in the middle expires everything below it
    const shortAdmin = issue(owner, [ROLE_ADMIN], random, { notAfter: T0 + DAY })
    const below = issue(shortAdmin, [ROLE_MEMBER], random, { notAfter: T0 + DAY })
    throwsPeerError(
      () => verifyMembership(below.chain, checkOf(root, T0 + 2 * DAY)),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    // not yet valid, beyond the clock skew allowed
    const later = issue(admin, [ROLE_MEMBER], random, { notBefore: NOW + 10 * MINUTE })
    throwsPeerError(
      () => verifyMembership(later.chain, checkOf(root)),
      'PEER_E_INVALID_TIME_PERIOD',
      /not valid before/,
    )
    // a minute ahead is within the default skew, but not with no skew allowed
    const soon = issue(admin, [ROLE_MEMBER], random, { notBefore: NOW + MINUTE })
    assert.equal(verifyMembership(soon.chain, checkOf(root)), leafOf(soon))
    throwsPeerError(
      () => verifyMembership(soon.chain, { ...checkOf(root), clockSkewMs: 0 }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
  })

  test("a link signed beyond its issuer's lifetime is refused", () => {
    const { random, root, owner } = newGroup('credentials/verify-lifetime')
    const admin = issue(owner, [ROLE_ADMIN], random, { notAfter: T0 + YEAR })
    const member = signDirect(admin, [ROLE_MEMBER], random, { notAfter: T0 + 2 * YEAR })
    throwsPeerError(
      () => verifyMembership(member.chain, checkOf(root)),
      'PEER_E_LIFETIME_EXCEEDS_ISSUER',
    )
  })

  test("a link whose roles exceed its issuer's rights is not authorized", () => {
    const { random, root, owner } = newGroup('credentials/verify-rights')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const member = issue(admin, [ROLE_MEMBER], random)
    const inviter = issue(admin, [ROLE_INVITING_MEMBER], random)
    const cases: [string, Member][] = [
      ['member issues admin', signDirect(member, [ROLE_ADMIN], random)],
      ['member issues member', signDirect(member, [ROLE_MEMBER], random)],
      ['member issues inviting member', signDirect(member, [ROLE_INVITING_MEMBER], random)],
      ['inviting member issues admin', signDirect(inviter, [ROLE_ADMIN], random)],
      [
        'inviting member issues member + admin',
        signDirect(inviter, [ROLE_MEMBER, ROLE_ADMIN], random),
      ],
      ['admin issues an unknown role', signDirect(admin, [UNKNOWN_ROLE], random)],
      // escalation higher up: everything issued below it is refused too
      [
        'member issues admin issues member',
        issue(signDirect(member, [ROLE_ADMIN], random), [ROLE_MEMBER], random),
      ],
    ]
    for (const [label, m] of cases) {
      throwsPeerError(
        () => verifyMembership(m.chain, checkOf(root)),
        'PEER_E_NOT_AUTHORIZED',
        label,
      )
    }
    // the same link built by issueCertificate, past issueMembership's rules
    const subject = KeyPair.generate(random)
    const viaIssue = issueCertificate({
      issuer: member.key,
      issuerCertificate: leafOf(member),
      type: 'membership',
      subjectKey: subject.publicKey,
      subjectName: nameOf(subject),
      roles: [ROLE_ADMIN],
      notBefore: T0,
      notAfter: T0 + YEAR,
      random,
    })
    throwsPeerError(
      () => verifyMembership([...member.chain, viaIssue], checkOf(root)),
      'PEER_E_NOT_AUTHORIZED',
      /may not issue the role admin/,
    )
  })

  test('a membership certificate with no role is refused', () => {
    const { random, root, owner } = newGroup('credentials/verify-no-role')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const none = signDirect(admin, [], random)
    throwsPeerError(
      () => verifyMembership(none.chain, checkOf(root)),
      'PEER_E_INVALID_ROLE_PROPERTY',
    )
  })

  test('a chain holding only the group root is not a membership', () => {
    const { root } = newGroup('credentials/verify-root-only')
    throwsPeerError(
      () => verifyMembership([root.certificate], checkOf(root)),
      'PEER_E_INVALID_CREDENTIAL',
    )
  })

  test('an empty chain is refused', () => {
    const { root } = newGroup('credentials/verify-empty')
    assert.throws(() => verifyMembership([], checkOf(root)))
  })

  test('a chain that skips a link or starts below the root is not trusted', () => {
    const { random, root, owner } = newGroup('credentials/verify-links')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const member = issue(admin, [ROLE_MEMBER], random)
    const skipped = [root.certificate, leafOf(member)]
    throwsPeerError(
      () => verifyMembership(skipped, checkOf(root)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      'skipped link',
    )
    throwsPeerError(
      () => verifyMembership(member.chain.slice(1), checkOf(root)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      'no root',
    )
    // a group root inside the chain
    throwsPeerError(
      () => verifyMembership([root.certificate, root.certificate], checkOf(root)),
      'PEER_E_CIRCULAR_CHAIN_DETECTED',
    )
    const otherRoot = newGroup('credentials/verify-links-2').root.certificate
    throwsPeerError(
      () => verifyMembership([root.certificate, otherRoot], checkOf(root)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      'group root inside',
    )
  })

  test('an identity certificate of the group key is not a group root', () => {
    const { random, root } = newGroup('credentials/verify-identity-root')
    const identityRoot = identityRootOf(root, random, [ROLE_ADMIN])
    const admin = issue({ key: root.key, chain: [identityRoot] }, [ROLE_ADMIN], random)
    throwsPeerError(
      () => verifyMembership(admin.chain, checkOf(root)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
    )
  })

  test('an identity certificate of the group key with no roles is not a group root', () => {
    const { random, root } = newGroup('credentials/verify-identity-root-plain')
    const identityRoot = identityRootOf(root, random)
    const admin = signDirect({ key: root.key, chain: [identityRoot] }, [ROLE_ADMIN], random)
    throwsPeerError(
      () => verifyMembership(admin.chain, checkOf(root)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
    )
  })
})

describe('encodeChain and decodeChain', () => {
  test('a chain round-trips and still verifies', () => {
    const { random, root, owner } = newGroup('credentials/chain-roundtrip')
    const member = issue(issue(owner, [ROLE_ADMIN], random), [ROLE_MEMBER], random)
    const bytes = encodeChain(member.chain)
    const decoded = decodeChain(bytes)
    assert.equal(decoded.length, 3)
    decoded.forEach((cert, i) => {
      const original = member.chain[i] as Certificate
      assert.deepEqual(cert.encode(), original.encode())
      assert.equal(cert.subjectName, original.subjectName)
      assert.deepEqual(cert.roles, original.roles)
      assert.equal(serialOf(cert), serialOf(original))
    })
    assert.deepEqual(encodeChain(decoded), bytes)
    assert.deepEqual(verifyMembership(decoded, checkOf(root)).encode(), leafOf(member).encode())
    // the root alone round-trips too
    assert.deepEqual(
      decodeChain(encodeChain([root.certificate]))[0]?.encode(),
      root.certificate.encode(),
    )
  })

  test('garbage is an invalid credential', () => {
    const random = new SeededRandom('credentials/chain-garbage')
    const inputs: [string, Uint8Array][] = [
      ['no bytes', new Uint8Array(0)],
      ['a break byte', new Uint8Array([0xff])],
      ['random bytes', random.bytes(200)],
      ['a truncated array', new Uint8Array([0x83, 0x41])],
      ['a text string', encodeCbor('chain')],
      ['a map', encodeCbor({ chain: [] })],
      ['an integer', encodeCbor(7)],
    ]
    for (const [label, bytes] of inputs) {
      throwsPeerError(() => decodeChain(bytes), 'PEER_E_INVALID_CREDENTIAL', label)
    }
  })

  test('an empty chain is an invalid credential', () => {
    throwsPeerError(() => decodeChain(encodeCbor([])), 'PEER_E_INVALID_CREDENTIAL')
  })

  test('a chain of 40 entries is an invalid credential', () => {
    const { root } = newGroup('credentials/chain-40')
    const entry = root.certificate.encode()
    throwsPeerError(
      () => decodeChain(encodeCbor(Array.from({ length: 40 }, () => entry))),
      'PEER_E_INVALID_CREDENTIAL',
    )
  })

  test('entries that are not certificate bytes are an invalid credential', () => {
    const { root } = newGroup('credentials/chain-entries')
    const good = root.certificate.encode()
    const inputs: [string, unknown[]][] = [
      ['text', ['certificate']],
      ['integer', [1]],
      ['nested array', [[good]]],
      ['map', [{ cert: good }]],
      ['null', [null]],
      ['text after a certificate', [good, 'x']],
      ['empty bytes', [new Uint8Array(0)]],
      ['bytes that are no certificate', [new Uint8Array([1, 2, 3])]],
      ['a certificate with its signature cut', [good.subarray(0, good.length - 1)]],
    ]
    for (const [label, value] of inputs) {
      throwsPeerError(() => decodeChain(encodeCbor(value)), 'PEER_E_INVALID_CREDENTIAL', label)
    }
  })

  test('a chain larger than MAX_CHAIN_BYTES is refused', () => {
    // the CBOR layer refuses it by size before parsing: PEER_E_TOO_LARGE
    const bytes = new Uint8Array(MAX_CHAIN_BYTES + 1)
    throwsPeerError(() => decodeChain(bytes), 'PEER_E_TOO_LARGE')
  })

  test('a chain of 25 decodes, so that verifyMembership can call it too long', () => {
    const { random, root, owner } = newGroup('credentials/chain-25')
    const m25 = longChain(owner, random, 25)
    assert.equal(m25.chain.length, 25)
    const bytes = encodeChain(m25.chain)
    assert.ok(bytes.length <= MAX_CHAIN_BYTES)
    const decoded = decodeChain(bytes)
    assert.equal(decoded.length, 25)
    throwsPeerError(() => verifyMembership(decoded, checkOf(root)), 'PEER_E_CHAIN_TOO_LONG')
    // without its last link it is a valid chain
    assert.equal(verifyMembership(decoded.slice(0, 24), checkOf(root)), decoded[23])
  })
})

describe('roles', () => {
  test('names and UUIDs map both ways', () => {
    assert.deepEqual([...ROLE_NAMES], ['admin', 'inviting-member', 'member'])
    assert.equal(roleUuid('admin'), ROLE_ADMIN)
    assert.equal(roleUuid('inviting-member'), ROLE_INVITING_MEMBER)
    assert.equal(roleUuid('member'), ROLE_MEMBER)
    assert.equal(roleName(ROLE_ADMIN), 'admin')
    assert.equal(roleName(ROLE_INVITING_MEMBER), 'inviting-member')
    assert.equal(roleName(ROLE_MEMBER), 'member')
    for (const name of ROLE_NAMES) {
      const uuid = ROLE_UUIDS[name]
      assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      assert.equal(roleName(roleUuid(name)), name)
      assert.equal(roleUuid(uuid), uuid)
    }
    assert.equal(roleName(UNKNOWN_ROLE), undefined)
    assert.equal(roleName('admin'), undefined)
  })

  test('UUIDs are accepted in any case and in braces', () => {
    for (const name of ROLE_NAMES) {
      const uuid = ROLE_UUIDS[name]
      for (const form of [uuid, uuid.toUpperCase(), `{${uuid}}`, `{${uuid.toUpperCase()}}`]) {
        assert.equal(roleUuid(form), uuid, form)
        assert.equal(roleName(roleUuid(form)), name, form)
      }
    }
  })

  test('an unknown role is an invalid role property', () => {
    const bad = [
      'owner',
      '',
      ' admin',
      'admin ',
      '{admin}',
      UNKNOWN_ROLE,
      `{${ROLE_ADMIN}`,
      `${ROLE_ADMIN}}`,
      `{{${ROLE_ADMIN}}}`,
      ROLE_ADMIN.replace(/-/g, ''),
      `${ROLE_ADMIN}0`,
    ]
    for (const role of bad) {
      throwsPeerError(() => roleUuid(role), 'PEER_E_INVALID_ROLE_PROPERTY', JSON.stringify(role))
    }
    throwsPeerError(() => roleUuid(42 as unknown as string), 'PEER_E_INVALID_ROLE_PROPERTY')
  })

  test('rolesOf lists known roles best first and leaves unknown ones out', () => {
    const { random, root } = newGroup('credentials/roles-of')
    const key = KeyPair.generate(random)
    const cert = issueCertificate({
      issuer: root.key,
      issuerCertificate: root.certificate,
      type: 'membership',
      subjectKey: key.publicKey,
      subjectName: nameOf(key),
      roles: [ROLE_MEMBER, UNKNOWN_ROLE, ROLE_ADMIN, ROLE_INVITING_MEMBER],
      notBefore: T0,
      notAfter: T0 + YEAR,
      random,
    })
    assert.deepEqual(rolesOf(cert), ['admin', 'inviting-member', 'member'])
    assert.ok(isAdmin(cert))
    assert.deepEqual(rolesOf(root.certificate), [])
  })

  test('mayIssue follows the issuing rules', () => {
    const { random, root, owner } = newGroup('credentials/may-issue')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const inviter = issue(admin, [ROLE_INVITING_MEMBER], random)
    const member = issue(admin, [ROLE_MEMBER], random)
    const A = [ROLE_ADMIN]
    const I = [ROLE_INVITING_MEMBER]
    const M = [ROLE_MEMBER]
    const cases: [string, Certificate, string[], boolean][] = [
      ['root: admin', root.certificate, A, true],
      ['root: inviting', root.certificate, I, true],
      ['root: member', root.certificate, M, true],
      ['admin: admin', leafOf(admin), A, true],
      ['admin: inviting', leafOf(admin), I, true],
      ['admin: member', leafOf(admin), M, true],
      ['admin: all', leafOf(admin), [...A, ...I, ...M], true],
      ['inviting: admin', leafOf(inviter), A, false],
      ['inviting: inviting', leafOf(inviter), I, true],
      ['inviting: member', leafOf(inviter), M, true],
      ['inviting: member + admin', leafOf(inviter), [...M, ...A], false],
      ['member: admin', leafOf(member), A, false],
      ['member: inviting', leafOf(member), I, false],
      ['member: member', leafOf(member), M, false],
      ['root: none', root.certificate, [], false],
      ['admin: none', leafOf(admin), [], false],
      ['admin: unknown', leafOf(admin), [UNKNOWN_ROLE], false],
      ['admin: a name, not a UUID', leafOf(admin), ['member'], false],
    ]
    for (const [label, cert, roles, expected] of cases) {
      assert.equal(mayIssue(cert, roles), expected, label)
    }
  })

  test('checkRoleIssue refuses a certificate with no role and roles beyond the issuer', () => {
    const { random, owner } = newGroup('credentials/check-role-issue')
    const admin = issue(owner, [ROLE_ADMIN], random)
    const member = issue(admin, [ROLE_MEMBER], random)
    const none = signDirect(admin, [], random)
    throwsPeerError(
      () => checkRoleIssue(leafOf(admin), leafOf(none)),
      'PEER_E_INVALID_ROLE_PROPERTY',
    )
    const err = throwsPeerError(
      () => checkRoleIssue(leafOf(member), leafOf(admin)),
      'PEER_E_NOT_AUTHORIZED',
      /admin/,
    )
    assert.deepEqual(err.details, { role: ROLE_ADMIN })
    checkRoleIssue(leafOf(admin), leafOf(member))
  })

  test('serialOf is the serial in lowercase hex', () => {
    const { root } = newGroup('credentials/serial')
    assert.match(serialOf(root.certificate), /^[0-9a-f]{32}$/)
    assert.equal(serialOf(root.certificate), root.certificate.serialHex)
  })
})
