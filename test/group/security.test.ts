import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { CONTACT_RECORD_TYPE, SIGNATURE_RECORD_TYPE } from '../../src/graph/constants.ts'
import { DIGEST_BYTES, recordDigest } from '../../src/graph/record-codec.ts'
import { newRecordId, type GraphRecord } from '../../src/graph/records.ts'
import type { RemoteCredentials } from '../../src/graph/security.ts'
import {
  MAX_REVOCATION_KEPT_RECORDS,
  MEMBERSHIP_RECORD_TYPE,
  REVOCATION_RECORD_TYPE,
  ROLE_INVITING_MEMBER,
  ROLE_ADMIN,
  ROLE_MEMBER,
} from '../../src/group/constants.ts'
import { createGroupRoot, encodeChain, type GroupRoot } from '../../src/group/credentials.ts'
import { createGroupProperties, securityPropertiesRecord } from '../../src/group/properties.ts'
import { readRecordSignature, signRecord } from '../../src/group/record-signing.ts'
import { decodeRevocation, encodeRevocation, type Revocation } from '../../src/group/revocation.ts'
import { GroupSecurity, GROUP_PROVIDER_NAME } from '../../src/group/security.ts'
import type { Certificate } from '../../src/identity/certificate.ts'
import { MAX_CLOCK_SKEW_MS, SERIAL_BYTES } from '../../src/identity/constants.ts'
import type { KeyPair } from '../../src/identity/keys.ts'
import { encodeCbor } from '../../src/wire/index.ts'
import { assertPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { issueMember, rootIssuer, type GroupMember, type Issuer } from '../helpers/group-fixture.ts'

const T0 = Date.UTC(2026, 0, 1)
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const YEAR = 365 * DAY
/** Peer time of every test: a day after the group was created. */
const T = T0 + DAY
const APP_TYPE = '0cc0c0c0-1111-4222-8333-444455556666'

/** A member: its key, peer name and chain (root first). */
type Member = GroupMember

interface Group {
  random: SeededRandom
  root: GroupRoot
  /** The admin, issued by the group root (and the group's owner). */
  a: Member
  /** Members issued by the admin. */
  b: Member
  c: Member
}

interface Callbacks {
  learned: number
  revoked: string[]
}

function leafOf(m: Member): Certificate {
  return m.chain[m.chain.length - 1] as Certificate
}

function issue(
  random: SeededRandom,
  issuer: Issuer,
  roles: string[],
  validity: { notBefore?: number; notAfter?: number } = {},
): Member {
  return issueMember(issuer, random, {
    classifier: 'x',
    roles,
    notBefore: validity.notBefore ?? T0,
    notAfter: validity.notAfter ?? T0 + YEAR,
  })
}

function newGroup(seed: string): Group {
  const random = new SeededRandom(seed)
  const root = createGroupRoot('chat', T0, random)
  const a = issue(random, rootIssuer(root), [ROLE_ADMIN])
  const b = issue(random, a, [ROLE_MEMBER])
  const c = issue(random, a, [ROLE_MEMBER])
  return { random, root, a, b, c }
}

function providerOf(
  g: Group,
  m: Member,
  options: { owner?: boolean; now?: () => number } = {},
): { provider: GroupSecurity; calls: Callbacks } {
  const calls: Callbacks = { learned: 0, revoked: [] }
  const provider = new GroupSecurity({
    groupPeerName: g.root.peerName,
    root: g.root.certificate,
    peerName: m.name,
    key: m.key,
    chain: () => m.chain,
    now: options.now ?? (() => T),
    ...(options.owner ? { ownerKey: g.root.key } : {}),
    onLearned: () => {
      calls.learned++
    },
    onRevoked: (peerName) => {
      calls.revoked.push(peerName)
    },
  })
  return { provider, calls }
}

/** A record by hand, not yet signed. */
function makeRecord(
  random: SeededRandom,
  fields: Partial<GraphRecord> & { creator: string },
): GraphRecord {
  return {
    type: APP_TYPE,
    id: newRecordId(fields.creator, random),
    version: 1,
    flags: 0,
    modifiedBy: fields.creator,
    createdAt: T,
    modifiedAt: T,
    expiresAt: T + HOUR,
    attributes: [],
    securityData: new Uint8Array(0),
    data: new TextEncoder().encode('hello group'),
    ...fields,
  }
}

/** Signs `r` with `provider` (as Graphing does) and returns it. */
function secured(provider: GroupSecurity, r: GraphRecord, change: 'added' | 'updated' = 'added') {
  r.securityData = provider.secureRecord(r, change)
  return r
}

/** A revocation record `signer` (an admin's provider, named `creator`) secured. */
function revocationRecord(
  g: { random: SeededRandom },
  signer: GroupSecurity,
  creator: string,
  revocation: Revocation,
): GraphRecord {
  return secured(
    signer,
    makeRecord(g.random, {
      type: REVOCATION_RECORD_TYPE,
      creator,
      data: encodeRevocation(revocation),
    }),
  )
}

/** A record's signature made directly, bypassing secureRecord's rules. */
function forged(
  g: { root: { peerName: string } },
  r: GraphRecord,
  creator: Certificate,
  modifier: Certificate,
  key: KeyPair,
) {
  r.securityData = signRecord(g.root.peerName, r, creator.serial, modifier.serial, key)
  return r
}

function credentialsOf(m: Member, payload: Uint8Array, key: KeyPair = m.key): RemoteCredentials {
  return { peerId: m.name, publicKey: key.publicKey.bytes, payload }
}

describe('GroupSecurity: construction', () => {
  test('names the provider and knows its own chain', () => {
    const g = newGroup('construct')
    const { provider } = providerOf(g, g.b)
    assert.equal(provider.name, GROUP_PROVIDER_NAME)
    assert.equal(provider.certificate, leafOf(g.b))
    assert.deepEqual(provider.directory.latest(g.b.name)?.serial, leafOf(g.b).serial)
    assert.deepEqual(provider.directory.latest(g.a.name)?.serial, leafOf(g.a).serial)
    assert.equal(provider.directory.latest(g.c.name), undefined)
    assert.equal(provider.directory.isCutOff(g.b.name), false)
  })
})

describe('GroupSecurity: own records', () => {
  test("a member's record is accepted by members who know its chain", () => {
    const g = newGroup('own')
    const b = providerOf(g, g.b).provider
    const a = providerOf(g, g.a).provider
    const c = providerOf(g, g.c).provider
    a.acceptChain(g.b.chain)
    c.acceptChain(g.b.chain)
    const r = secured(b, makeRecord(g.random, { creator: g.b.name }))
    const sig = readRecordSignature(r)
    assert.deepEqual(sig.creatorSerial, leafOf(g.b).serial)
    assert.deepEqual(sig.modifierSerial, leafOf(g.b).serial)
    assert.equal(a.validateRecord(r, 'added'), 'accept')
    assert.equal(c.validateRecord(r, 'added'), 'accept')
    assert.equal(b.validateRecord(r, 'added'), 'accept')
  })

  test('an unknown signer defers the record; learning its chain makes it valid', () => {
    const g = newGroup('defer')
    const b = providerOf(g, g.b).provider
    const { provider: c, calls } = providerOf(g, g.c)
    const r = secured(b, makeRecord(g.random, { creator: g.b.name }))
    assert.equal(c.validateRecord(r, 'added'), 'defer')
    assert.equal(c.validateRecord(r, 'added'), 'defer')
    assert.equal(calls.learned, 0)
    assert.equal(c.acceptChain(g.b.chain), leafOf(g.b))
    assert.equal(calls.learned, 1)
    assert.equal(c.validateRecord(r, 'added'), 'accept')
    // Learning the same chain again is no news.
    c.acceptChain(g.b.chain)
    assert.equal(calls.learned, 1)
  })

  test('an update by its creator (version 2) is accepted', () => {
    const g = newGroup('update-own')
    const b = providerOf(g, g.b).provider
    const c = providerOf(g, g.c).provider
    c.acceptChain(g.b.chain)
    const r1 = secured(b, makeRecord(g.random, { creator: g.b.name }))
    const r2 = secured(
      b,
      { ...r1, version: 2, modifiedAt: T + MINUTE, data: new Uint8Array([1, 2, 3]) },
      'updated',
    )
    assert.equal(c.validateRecord(r2, 'updated'), 'accept')
  })

  test('acceptChain refuses a chain of another group', () => {
    const g = newGroup('accept-chain')
    const other = newGroup('accept-chain-other')
    const c = providerOf(g, g.c).provider
    throwsPeerError(() => c.acceptChain(other.b.chain), 'PEER_E_CERTIFICATE_NOT_TRUSTED')
    assert.equal(c.directory.latest(other.b.name), undefined)
  })
})

describe('GroupSecurity: tampering', () => {
  function setup(seed: string) {
    const g = newGroup(seed)
    const b = providerOf(g, g.b).provider
    const c = providerOf(g, g.c).provider
    c.acceptChain(g.b.chain)
    const signed = secured(b, makeRecord(g.random, { creator: g.b.name }))
    assert.equal(c.validateRecord(signed, 'added'), 'accept')
    return { g, c, signed }
  }

  const changes: [string, (r: GraphRecord, g: Group) => GraphRecord][] = [
    ['data', (r) => ({ ...r, data: new TextEncoder().encode('hello groUp') })],
    ['data (emptied)', (r) => ({ ...r, data: new Uint8Array(0) })],
    [
      'attributes',
      (r) => ({ ...r, attributes: [{ name: 'color', type: 'string', value: 'red' }] }),
    ],
    ['expiresAt', (r) => ({ ...r, expiresAt: r.expiresAt + 1 })],
    ['expiresAt (earlier)', (r) => ({ ...r, expiresAt: r.expiresAt - MINUTE })],
    ['modifiedAt', (r) => ({ ...r, modifiedAt: r.modifiedAt + 1 })],
    ['createdAt', (r) => ({ ...r, createdAt: r.createdAt - 1 })],
    ['version', (r) => ({ ...r, version: 2 })],
    ['flags', (r) => ({ ...r, flags: 1 })],
    ['type', (r) => ({ ...r, type: '0cc0c0c0-1111-4222-8333-444455556667' })],
    ['id', (r, g) => ({ ...r, id: newRecordId(r.creator, g.random) })],
    ['modifiedBy', (r, g) => ({ ...r, modifiedBy: g.c.name })],
    ['creator', (r, g) => ({ ...r, creator: g.c.name })],
    ['creator and modifiedBy', (r, g) => ({ ...r, creator: g.c.name, modifiedBy: g.c.name })],
  ]
  for (const [what, change] of changes) {
    test(`a record whose ${what} changed after signing is rejected`, () => {
      const { g, c, signed } = setup(`tamper-${what}`)
      assert.equal(c.validateRecord(change(signed, g), 'added'), 'reject')
    })
  }

  test('garbage, empty, truncated or extended security data is rejected', () => {
    const { g, c, signed } = setup('tamper-security-data')
    const sd = signed.securityData
    const cases: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      [
        'garbage with the serials kept',
        new Uint8Array([...sd.subarray(0, 32), ...g.random.bytes(64)]),
      ],
      ['one byte', new Uint8Array([0x83])],
      ['truncated by one', sd.subarray(0, sd.length - 1)],
      ['half', sd.subarray(0, sd.length >> 1)],
      ['extended', new Uint8Array([...sd, 0])],
      ['far too long', new Uint8Array(4096)],
    ]
    for (const [what, securityData] of cases) {
      assert.equal(c.validateRecord({ ...signed, securityData }, 'added'), 'reject', what)
    }
    // Random serials name no known certificate: such a record waits (deferred) like any record
    // of a member not met yet, and never validates.
    assert.equal(
      c.validateRecord({ ...signed, securityData: g.random.bytes(sd.length) }, 'added'),
      'defer',
    )
  })

  test("another record's signature does not fit", () => {
    const { g, c, signed } = setup('tamper-swap')
    const b = providerOf(g, g.b).provider
    const other = secured(b, makeRecord(g.random, { creator: g.b.name }))
    assert.equal(c.validateRecord(other, 'added'), 'accept')
    assert.equal(
      c.validateRecord({ ...signed, securityData: other.securityData }, 'added'),
      'reject',
    )
  })

  test('a signature whose serials were swapped for another member is rejected', () => {
    const { g, c, signed } = setup('tamper-serials')
    const sig = readRecordSignature(signed)
    // C's serial as modifier: C's key did not sign it, and C is not the record's modifier.
    const swapped = signRecord(
      g.root.peerName,
      signed,
      sig.creatorSerial,
      leafOf(g.c).serial,
      g.b.key,
    )
    assert.equal(c.validateRecord({ ...signed, securityData: swapped }, 'added'), 'reject')
    // C's serial as creator: C is not the record's creator.
    const other = signRecord(
      g.root.peerName,
      signed,
      leafOf(g.c).serial,
      sig.modifierSerial,
      g.b.key,
    )
    assert.equal(c.validateRecord({ ...signed, securityData: other }, 'added'), 'reject')
  })
})

describe('GroupSecurity: authority over records of others', () => {
  test("a member may not secure an update of another member's record", () => {
    const g = newGroup('others-member')
    const b = providerOf(g, g.b).provider
    const c = providerOf(g, g.c).provider
    b.acceptChain(g.c.chain)
    const original = secured(c, makeRecord(g.random, { creator: g.c.name }))
    const update = { ...original, version: 2, modifiedBy: g.b.name, modifiedAt: T + MINUTE }
    throwsPeerError(() => b.secureRecord(update, 'updated'), 'PEER_E_NOT_AUTHORIZED', /admin/)
    throwsPeerError(
      () => b.secureRecord({ ...update, flags: 2 }, 'deleted'),
      'PEER_E_NOT_AUTHORIZED',
      /delete/,
    )
  })

  test("an admin may update a member's record, and the member accepts it", () => {
    const g = newGroup('others-admin')
    const a = providerOf(g, g.a).provider
    const c = providerOf(g, g.c).provider
    const b = providerOf(g, g.b).provider
    a.acceptChain(g.c.chain)
    b.acceptChain(g.c.chain)
    const original = secured(c, makeRecord(g.random, { creator: g.c.name }))
    const update = secured(
      a,
      {
        ...original,
        version: 2,
        modifiedBy: g.a.name,
        modifiedAt: T + MINUTE,
        data: new Uint8Array([9]),
      },
      'updated',
    )
    const sig = readRecordSignature(update)
    assert.deepEqual(sig.creatorSerial, leafOf(g.c).serial)
    assert.deepEqual(sig.modifierSerial, leafOf(g.a).serial)
    assert.equal(c.validateRecord(update, 'updated'), 'accept')
    assert.equal(b.validateRecord(update, 'updated'), 'accept')
  })

  test("an admin finds the creator's serial in the directory when the record is unsigned", () => {
    const g = newGroup('others-admin-unsigned')
    const a = providerOf(g, g.a).provider
    const c = providerOf(g, g.c).provider
    a.acceptChain(g.c.chain)
    const r = secured(a, makeRecord(g.random, { creator: g.c.name, modifiedBy: g.a.name }))
    assert.deepEqual(readRecordSignature(r).creatorSerial, leafOf(g.c).serial)
    assert.equal(c.validateRecord(r, 'added'), 'accept')
  })

  test('a record a member signed for another creator is rejected', () => {
    const g = newGroup('others-forged')
    const a = providerOf(g, g.a).provider
    a.acceptChain(g.b.chain)
    a.acceptChain(g.c.chain)
    const cb = leafOf(g.b)
    const cc = leafOf(g.c)
    // B's serials, creator C: the creator's certificate names B.
    const r1 = forged(
      g,
      makeRecord(g.random, { creator: g.c.name, modifiedBy: g.b.name }),
      cb,
      cb,
      g.b.key,
    )
    assert.equal(a.validateRecord(r1, 'added'), 'reject')
    // C's serial as creator, B as modifier: B is no admin.
    const r2 = forged(
      g,
      makeRecord(g.random, { creator: g.c.name, modifiedBy: g.b.name }),
      cc,
      cb,
      g.b.key,
    )
    assert.equal(a.validateRecord(r2, 'added'), 'reject')
    // Claiming to be C while signing with B's key: the signature does not verify.
    const r3 = forged(g, makeRecord(g.random, { creator: g.c.name }), cc, cc, g.b.key)
    assert.equal(a.validateRecord(r3, 'added'), 'reject')
    // B's record modified by C without admin rights.
    const r4 = forged(
      g,
      makeRecord(g.random, { creator: g.b.name, modifiedBy: g.c.name }),
      cb,
      cc,
      g.c.key,
    )
    assert.equal(a.validateRecord(r4, 'added'), 'reject')
  })
})

describe("GroupSecurity: Graphing's shared records", () => {
  for (const [label, type] of [
    ['signature', SIGNATURE_RECORD_TYPE],
    ['contact', CONTACT_RECORD_TYPE],
  ] as const) {
    test(`a member may rewrite the ${label} record another member created`, () => {
      const g = newGroup(`shared-${label}`)
      const a = providerOf(g, g.a).provider
      const b = providerOf(g, g.b).provider
      const c = providerOf(g, g.c).provider
      c.acceptChain(g.b.chain)
      const original = secured(a, makeRecord(g.random, { type, creator: g.a.name }))
      assert.equal(c.validateRecord(original, 'added'), 'accept')
      const update = secured(
        b,
        { ...original, version: 2, modifiedBy: g.b.name, modifiedAt: T + MINUTE },
        'updated',
      )
      assert.equal(c.validateRecord(update, 'updated'), 'accept')
      assert.equal(a.validateRecord(update, 'updated'), 'defer')
      a.acceptChain(g.b.chain)
      assert.equal(a.validateRecord(update, 'updated'), 'accept')
      // Still signed by its modifier: another modifier name is refused.
      assert.equal(c.validateRecord({ ...update, modifiedBy: g.c.name }, 'updated'), 'reject')
    })
  }

  test('an application record of another member is no shared record', () => {
    const g = newGroup('shared-not')
    const a = providerOf(g, g.a).provider
    const b = providerOf(g, g.b).provider
    const original = secured(a, makeRecord(g.random, { creator: g.a.name }))
    const update = { ...original, version: 2, modifiedBy: g.b.name, modifiedAt: T + MINUTE }
    throwsPeerError(() => b.secureRecord(update, 'updated'), 'PEER_E_NOT_AUTHORIZED')
  })
})

describe('GroupSecurity: record lifetime', () => {
  test("a record may not outlive its publisher's membership", () => {
    const g = newGroup('lifetime-secure')
    const b = providerOf(g, g.b).provider
    const notAfter = leafOf(g.b).notAfter
    const ok = secured(b, makeRecord(g.random, { creator: g.b.name, expiresAt: notAfter }))
    const c = providerOf(g, g.c).provider
    c.acceptChain(g.b.chain)
    assert.equal(c.validateRecord(ok, 'added'), 'accept')
    throwsPeerError(
      () =>
        b.secureRecord(
          makeRecord(g.random, { creator: g.b.name, expiresAt: notAfter + 1 }),
          'added',
        ),
      'PEER_E_INVALID_RECORD_EXPIRATION',
    )
  })

  test('a forged record outliving its signer is rejected', () => {
    const g = newGroup('lifetime-forged')
    const c = providerOf(g, g.c).provider
    c.acceptChain(g.b.chain)
    const cb = leafOf(g.b)
    const r = forged(
      g,
      makeRecord(g.random, { creator: g.b.name, expiresAt: cb.notAfter + 1 }),
      cb,
      cb,
      g.b.key,
    )
    assert.equal(c.validateRecord(r, 'added'), 'reject')
  })

  test("a change outside the modifier's validity is rejected (clock skew allowed)", () => {
    const g = newGroup('lifetime-modified')
    const c = providerOf(g, g.c).provider
    c.acceptChain(g.b.chain)
    const cb = leafOf(g.b)
    const at = (modifiedAt: number, expiresAt = modifiedAt + HOUR) =>
      forged(
        g,
        makeRecord(g.random, { creator: g.b.name, createdAt: modifiedAt, modifiedAt, expiresAt }),
        cb,
        cb,
        g.b.key,
      )
    assert.equal(c.validateRecord(at(cb.notBefore - MAX_CLOCK_SKEW_MS - 1), 'added'), 'reject')
    assert.equal(c.validateRecord(at(cb.notBefore - MAX_CLOCK_SKEW_MS), 'added'), 'accept')
    assert.equal(c.validateRecord(at(cb.notBefore - 6 * MINUTE), 'added'), 'reject')
    assert.equal(c.validateRecord(at(cb.notAfter, cb.notAfter), 'added'), 'accept')
    assert.equal(c.validateRecord(at(cb.notAfter + 1, cb.notAfter), 'added'), 'reject')
  })
})

describe('GroupSecurity: the security-properties record', () => {
  function setup(seed: string) {
    const g = newGroup(seed)
    const props = createGroupProperties(
      { classifier: 'chat', friendlyName: 'Chat' },
      g.root.peerName,
      g.a.name,
    )
    const record = securityPropertiesRecord(props, T, undefined)
    return { g, props, record }
  }

  test('the owner secures it and every member accepts it', () => {
    const { g, record } = setup('props-owner')
    const owner = providerOf(g, g.a, { owner: true }).provider
    const r = secured(owner, record)
    const sig = readRecordSignature(r)
    assert.deepEqual(sig.creatorSerial, g.root.certificate.serial)
    assert.deepEqual(sig.modifierSerial, g.root.certificate.serial)
    for (const m of [g.a, g.b, g.c]) {
      assert.equal(providerOf(g, m).provider.validateRecord(r, 'added'), 'accept', m.name)
    }
    // Its next version too.
    const next = secured(owner, { ...r, version: 2, modifiedAt: T + MINUTE }, 'updated')
    assert.equal(providerOf(g, g.c).provider.validateRecord(next, 'updated'), 'accept')
  })

  test('no instance without the group key secures it', () => {
    const { g, record } = setup('props-not-owner')
    for (const m of [g.a, g.b]) {
      throwsPeerError(
        () => providerOf(g, m).provider.secureRecord(record, 'added'),
        'PEER_E_NOT_AUTHORIZED',
        m.name,
      )
    }
  })

  test("one signed by a member's key, or altered, is rejected", () => {
    const { g, record } = setup('props-forged')
    const c = providerOf(g, g.c).provider
    const root = g.root.certificate
    const byB = forged(g, { ...record }, root, root, g.b.key)
    assert.equal(c.validateRecord(byB, 'added'), 'reject')
    const byA = forged(g, { ...record }, root, root, g.a.key)
    assert.equal(c.validateRecord(byA, 'added'), 'reject')
    // The group key, but a member's serials.
    const serials = forged(g, { ...record }, leafOf(g.a), leafOf(g.a), g.root.key)
    assert.equal(c.validateRecord(serials, 'added'), 'reject')
    const good = secured(providerOf(g, g.a, { owner: true }).provider, { ...record })
    assert.equal(c.validateRecord(good, 'added'), 'accept')
    assert.equal(c.validateRecord({ ...good, data: new Uint8Array([0xa0]) }, 'added'), 'reject')
    assert.equal(c.validateRecord({ ...good, version: 3 }, 'added'), 'reject')
  })

  test("the group key's signature over another group's properties is rejected", () => {
    const { g, props } = setup('props-other-group')
    const other = newGroup('props-other-group-2')
    const foreign = securityPropertiesRecord(
      { ...props, groupPeerName: other.root.peerName },
      T,
      undefined,
    )
    const owner = providerOf(g, g.a, { owner: true }).provider
    const r = secured(owner, foreign)
    assert.equal(providerOf(g, g.c).provider.validateRecord(r, 'added'), 'reject')
  })
})

describe('GroupSecurity: membership records', () => {
  function membershipRecord(g: Group, m: Member, chain: Certificate[] = m.chain) {
    return makeRecord(g.random, {
      type: MEMBERSHIP_RECORD_TYPE,
      creator: m.name,
      data: encodeChain(chain),
    })
  }

  test("validating one teaches its member's certificate", () => {
    const g = newGroup('membership-learn')
    const b = providerOf(g, g.b).provider
    const { provider: c, calls } = providerOf(g, g.c)
    const r = secured(b, membershipRecord(g, g.b))
    assert.equal(c.directory.latest(g.b.name), undefined)
    assert.equal(c.validateRecord(r, 'added'), 'accept')
    assert.deepEqual(c.directory.latest(g.b.name)?.serial, leafOf(g.b).serial)
    assert.equal(calls.learned, 1)
    // B's other records now validate at once.
    const other = secured(b, makeRecord(g.random, { creator: g.b.name }))
    assert.equal(c.validateRecord(other, 'added'), 'accept')
  })

  test("one carrying another group's chain is rejected", () => {
    const g = newGroup('membership-foreign')
    const other = newGroup('membership-foreign-2')
    const c = providerOf(g, g.c).provider
    // B's record, B's signature, another group's chain inside.
    const r = secured(providerOf(g, g.b).provider, membershipRecord(g, g.b, other.b.chain))
    assert.equal(c.validateRecord(r, 'added'), 'reject')
    // Another group's member entirely.
    const foreign = secured(providerOf(other, other.b).provider, membershipRecord(other, other.b))
    assert.equal(c.validateRecord(foreign, 'added'), 'reject')
    assert.equal(c.directory.latest(other.b.name), undefined)
  })

  test('one carrying an expired chain is rejected', () => {
    const g = newGroup('membership-expired')
    const old = issue(g.random, g.a, [ROLE_MEMBER], { notBefore: T0, notAfter: T - HOUR })
    const c = providerOf(g, g.c).provider
    const leaf = leafOf(old)
    const r = forged(
      g,
      makeRecord(g.random, {
        type: MEMBERSHIP_RECORD_TYPE,
        creator: old.name,
        createdAt: T - 2 * HOUR,
        modifiedAt: T - 2 * HOUR,
        expiresAt: T - HOUR,
        data: encodeChain(old.chain),
      }),
      leaf,
      leaf,
      old.key,
    )
    assert.equal(c.validateRecord(r, 'added'), 'reject')
    assert.equal(c.directory.latest(old.name), undefined)
  })

  test('one whose data is no chain is rejected', () => {
    const g = newGroup('membership-garbage')
    const c = providerOf(g, g.c).provider
    const cb = leafOf(g.b)
    const r = forged(
      g,
      makeRecord(g.random, {
        type: MEMBERSHIP_RECORD_TYPE,
        creator: g.b.name,
        data: new Uint8Array([1, 2]),
      }),
      cb,
      cb,
      g.b.key,
    )
    assert.equal(c.validateRecord(r, 'added'), 'reject')
  })
})

describe('GroupSecurity: revocation', () => {
  const REVOKED_AT = T + 10 * MINUTE

  function setup(seed: string) {
    const g = newGroup(seed)
    const a = providerOf(g, g.a).provider
    const b = providerOf(g, g.b).provider
    const c = providerOf(g, g.c)
    c.provider.acceptChain(g.b.chain)
    const revocation = makeRecord(g.random, {
      type: REVOCATION_RECORD_TYPE,
      creator: g.a.name,
      data: encodeRevocation({
        serial: leafOf(g.b).serial,
        peerName: g.b.name,
        revokedAt: REVOKED_AT,
      }),
    })
    return { g, a, b, c: c.provider, calls: c.calls, revocation }
  }

  test("an admin's revocation is accepted and cuts the member off from its time", () => {
    const { g, a, b, c, calls, revocation } = setup('revoke-admin')
    const before = secured(
      b,
      makeRecord(g.random, { creator: g.b.name, modifiedAt: REVOKED_AT - 1 }),
    )
    const at = secured(b, makeRecord(g.random, { creator: g.b.name, modifiedAt: REVOKED_AT }))
    const after = secured(
      b,
      makeRecord(g.random, { creator: g.b.name, modifiedAt: REVOKED_AT + MINUTE }),
    )
    for (const r of [before, at, after]) assert.equal(c.validateRecord(r, 'added'), 'accept')

    const r = secured(a, revocation)
    assert.equal(c.validateRecord(r, 'added'), 'accept')
    assert.deepEqual(calls.revoked, [g.b.name])
    assert.equal(c.directory.isCutOff(g.b.name), true)
    assert.equal(c.directory.isCutOff(g.c.name), false)
    assert.equal(c.directory.revokedAt(leafOf(g.b)), REVOKED_AT)

    assert.equal(c.validateRecord(before, 'added'), 'accept')
    assert.equal(c.validateRecord(at, 'added'), 'reject')
    assert.equal(c.validateRecord(after, 'added'), 'reject')
  })

  test('a revocation signed by a member is rejected and changes nothing', () => {
    const { g, b, c, calls, revocation } = setup('revoke-member')
    const ca = leafOf(g.a)
    const cb = leafOf(g.b)
    // A's revocation, B's signature: the modifier is not the one named.
    const r1 = forged(g, { ...revocation }, ca, cb, g.b.key)
    assert.equal(c.validateRecord(r1, 'added'), 'reject')
    // B's own revocation (of itself): only admins revoke.
    const own = {
      ...revocation,
      creator: g.b.name,
      modifiedBy: g.b.name,
      id: newRecordId(g.b.name, g.random),
    }
    const r2 = forged(g, own, cb, cb, g.b.key)
    assert.equal(c.validateRecord(r2, 'added'), 'reject')
    // Through B's provider: it may refuse to sign, and if it signs, no one accepts it.
    let securityData: Uint8Array | undefined
    try {
      securityData = b.secureRecord(own, 'added')
    } catch (err) {
      assertPeerError(err, 'PEER_E_NOT_AUTHORIZED')
    }
    if (securityData) assert.equal(c.validateRecord({ ...own, securityData }, 'added'), 'reject')
    assert.deepEqual(calls.revoked, [])
    assert.equal(c.directory.isCutOff(g.b.name), false)
    assert.equal(c.directory.revokedAt(cb), undefined)
  })

  test('a revoked member may not secure records any more', () => {
    const { g, a, revocation } = setup('revoke-secure')
    const r = secured(a, revocation)
    const { provider: b } = providerOf(g, g.b)
    assert.equal(b.validateRecord(r, 'added'), 'accept')
    throwsPeerError(
      () => b.secureRecord(makeRecord(g.random, { creator: g.b.name }), 'added'),
      'PEER_E_NOT_AUTHORIZED',
      /revoked/,
    )
  })

  test('a malformed revocation from an admin is rejected', () => {
    const { g, a, c, calls } = setup('revoke-malformed')
    const r = secured(
      a,
      makeRecord(g.random, {
        type: REVOCATION_RECORD_TYPE,
        creator: g.a.name,
        data: new Uint8Array([0xa0]),
      }),
    )
    assert.equal(c.validateRecord(r, 'added'), 'reject')
    assert.deepEqual(calls.revoked, [])
  })

  test('a revocation that lists what it keeps refuses records the revoked key signs backdated', () => {
    const { g, a, b, c, calls } = setup('revoke-kept')
    const kept = secured(b, makeRecord(g.random, { creator: g.b.name, modifiedAt: T }))
    const unseen = secured(b, makeRecord(g.random, { creator: g.b.name, modifiedAt: T + 1 }))
    for (const r of [kept, unseen]) assert.equal(c.validateRecord(r, 'added'), 'accept')
    const revocation = revocationRecord(g, a, g.a.name, {
      serial: leafOf(g.b).serial,
      peerName: g.b.name,
      revokedAt: REVOKED_AT,
      kept: [recordDigest(kept)],
    })
    assert.equal(c.validateRecord(revocation, 'added'), 'accept')
    assert.deepEqual(calls.revoked, [g.b.name])
    assert.equal(c.validateRecord(kept, 'added'), 'accept')
    assert.equal(c.validateRecord(unseen, 'updated'), 'reject', 'the admin never held it')
    // The revoked key signs a new record, and an update of a kept one, both dated earlier.
    const backdated = secured(b, makeRecord(g.random, { creator: g.b.name, modifiedAt: T + 2 }))
    const rewritten = secured(b, { ...kept, version: 2, data: new Uint8Array([1]) }, 'updated')
    assert.equal(c.validateRecord(backdated, 'added'), 'reject')
    assert.equal(c.validateRecord(rewritten, 'updated'), 'reject')
    // The same revocation again changes nothing and is not told twice.
    assert.equal(c.validateRecord(revocation, 'added'), 'accept')
    assert.deepEqual(calls.revoked, [g.b.name])
  })

  test('two revocations of one certificate combine to the stricter: earlier, keeping less', () => {
    const { g, a, b, c, calls } = setup('revoke-combine')
    const one = secured(b, makeRecord(g.random, { creator: g.b.name, modifiedAt: T }))
    const two = secured(b, makeRecord(g.random, { creator: g.b.name, modifiedAt: T + MINUTE }))
    const revoke = (revokedAt: number, kept?: GraphRecord[]) =>
      revocationRecord(g, a, g.a.name, {
        serial: leafOf(g.b).serial,
        peerName: g.b.name,
        revokedAt,
        ...(kept ? { kept: kept.map(recordDigest) } : {}),
      })
    assert.equal(c.validateRecord(revoke(REVOKED_AT, [one, two]), 'added'), 'accept')
    assert.equal(c.validateRecord(two, 'added'), 'accept')
    // A second admin's revocation without a list keeps the first one's list.
    assert.equal(c.validateRecord(revoke(REVOKED_AT + HOUR), 'added'), 'accept')
    assert.equal(c.validateRecord(two, 'added'), 'accept')
    assert.equal(calls.revoked.length, 1, 'nothing became stricter')
    // One that keeps only `one`, and from an earlier time, narrows both.
    assert.equal(c.validateRecord(revoke(T + 1, [one]), 'added'), 'accept')
    assert.equal(calls.revoked.length, 2)
    assert.equal(c.directory.revokedAt(leafOf(g.b)), T + 1)
    assert.equal(c.validateRecord(one, 'added'), 'accept')
    assert.equal(c.validateRecord(two, 'added'), 'reject')
  })

  test('an admin may not revoke itself or a certificate above it', () => {
    const { g, a, c, calls } = setup('revoke-self')
    const self = revocationRecord(g, a, g.a.name, {
      serial: leafOf(g.a).serial,
      peerName: g.a.name,
      revokedAt: T,
    })
    assert.equal(c.validateRecord(self, 'added'), 'reject')
    assert.deepEqual(calls.revoked, [])
    assert.equal(c.directory.revokedAt(leafOf(g.a)), undefined)
  })

  test("a revocation's list is whole digests, within its limit", () => {
    const base = { serial: new Uint8Array(SERIAL_BYTES), peerName: 'x.y', revokedAt: T }
    const kept = [new Uint8Array(DIGEST_BYTES).fill(1), new Uint8Array(DIGEST_BYTES).fill(2)]
    assert.deepEqual(decodeRevocation(encodeRevocation({ ...base, kept })).kept, kept)
    assert.equal(decodeRevocation(encodeRevocation(base)).kept, undefined)
    assert.deepEqual(decodeRevocation(encodeRevocation({ ...base, kept: [] })).kept, [])
    const ragged = encodeCbor({ ...base, kept: new Uint8Array(DIGEST_BYTES + 1) })
    throwsPeerError(() => decodeRevocation(ragged), 'PEER_E_INVALID_RECORD', /whole number/)
    const tooMany = encodeCbor({
      ...base,
      kept: new Uint8Array((MAX_REVOCATION_KEPT_RECORDS + 1) * DIGEST_BYTES),
    })
    throwsPeerError(() => decodeRevocation(tooMany), 'PEER_E_INVALID_RECORD')
    throwsPeerError(
      () =>
        encodeRevocation({
          ...base,
          kept: new Array<Uint8Array>(MAX_REVOCATION_KEPT_RECORDS + 1).fill(kept[0]!),
        }),
      'PEER_E_TOO_LARGE',
    )
    throwsPeerError(() => encodeRevocation({ ...base, kept: [new Uint8Array(3)] }), 'E_INVALIDARG')
  })
})

describe('GroupSecurity: connection authentication', () => {
  test("a member's chain, key and peer name authenticate it", () => {
    const g = newGroup('auth-ok')
    const b = providerOf(g, g.b).provider
    const { provider: c, calls } = providerOf(g, g.c)
    const payload = b.connectionPayload()
    assert.deepEqual(payload, encodeChain(g.b.chain))
    assert.equal(c.authenticateConnection(credentialsOf(g.b, payload)), true)
    assert.equal(calls.learned, 1)
    assert.deepEqual(c.directory.latest(g.b.name)?.serial, leafOf(g.b).serial)
    // B's records now validate without deferral.
    const r = secured(b, makeRecord(g.random, { creator: g.b.name }))
    assert.equal(c.validateRecord(r, 'added'), 'accept')
  })

  test("another member's key or peer name with B's chain is refused", () => {
    const g = newGroup('auth-key')
    const c = providerOf(g, g.c).provider
    const payload = providerOf(g, g.b).provider.connectionPayload()
    throwsPeerError(
      () => c.authenticateConnection(credentialsOf(g.b, payload, g.c.key)),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
    )
    throwsPeerError(
      () =>
        c.authenticateConnection({ peerId: g.c.name, publicKey: g.b.key.publicKey.bytes, payload }),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
    )
    assert.equal(c.directory.latest(g.b.name), undefined)
  })

  test('an empty payload is refused', () => {
    const g = newGroup('auth-empty')
    const c = providerOf(g, g.c).provider
    throwsPeerError(
      () => c.authenticateConnection(credentialsOf(g.b, new Uint8Array(0))),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
    )
  })

  test("another group's chain is not trusted", () => {
    const g = newGroup('auth-foreign')
    const other = newGroup('auth-foreign-2')
    const c = providerOf(g, g.c).provider
    const payload = providerOf(other, other.b).provider.connectionPayload()
    throwsPeerError(
      () => c.authenticateConnection(credentialsOf(other.b, payload)),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
    )
  })

  test('a revoked member is refused', () => {
    const g = newGroup('auth-revoked')
    const a = providerOf(g, g.a).provider
    const c = providerOf(g, g.c).provider
    c.acceptChain(g.b.chain)
    const revocation = secured(
      a,
      makeRecord(g.random, {
        type: REVOCATION_RECORD_TYPE,
        creator: g.a.name,
        data: encodeRevocation({ serial: leafOf(g.b).serial, peerName: g.b.name, revokedAt: T }),
      }),
    )
    assert.equal(c.validateRecord(revocation, 'added'), 'accept')
    const payload = providerOf(g, g.b).provider.connectionPayload()
    throwsPeerError(
      () => c.authenticateConnection(credentialsOf(g.b, payload)),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      /revoked/,
    )
  })

  test('an expired chain is refused', () => {
    const g = newGroup('auth-expired')
    const c = providerOf(g, g.c, { now: () => T0 + 2 * YEAR }).provider
    throwsPeerError(
      () => c.authenticateConnection(credentialsOf(g.b, encodeChain(g.b.chain))),
      'PEER_E_INVALID_TIME_PERIOD',
    )
  })

  test('a garbage payload is refused with a PeerError, never anything else', () => {
    const g = newGroup('auth-garbage')
    const c = providerOf(g, g.c).provider
    const good = encodeChain(g.b.chain)
    const payloads: Uint8Array[] = [
      new Uint8Array([0]),
      new Uint8Array([0x80]),
      new Uint8Array([0x81, 0x40]),
      new Uint8Array([0x81, 0x41, 0]),
      new Uint8Array([0xff, 0xff, 0xff]),
      good.subarray(0, good.length - 1),
      good.subarray(0, 10),
    ]
    for (let i = 0; i < 100; i++) payloads.push(g.random.bytes(1 + g.random.int(200)))
    for (let i = 0; i < 100; i++) {
      const bad = new Uint8Array(good)
      const i = g.random.int(bad.length)
      bad[i] = (bad[i] as number) ^ (1 << g.random.int(8))
      payloads.push(bad)
    }
    for (const payload of payloads) {
      let outcome: unknown
      try {
        outcome = c.authenticateConnection(credentialsOf(g.b, payload))
      } catch (err) {
        assert.ok(err instanceof PeerError, `not a PeerError: ${String(err)}`)
        continue
      }
      // A flip may fall in a field no one checks (it cannot fall in a signed one).
      assert.equal(outcome, true)
    }
  })
})

describe('GroupSecurity: fuzzing validateRecord', () => {
  function mutate(random: SeededRandom, bytes: Uint8Array): Uint8Array {
    const out = [...bytes]
    const kind = random.int(5)
    if (kind === 0 && out.length > 0) {
      const i = random.int(out.length)
      out[i] = (out[i] as number) ^ (1 + random.int(255))
    } else if (kind === 1) {
      out.splice(random.int(out.length + 1), 0, random.int(256))
    } else if (kind === 2 && out.length > 0) {
      out.splice(random.int(out.length), 1 + random.int(4))
    } else if (kind === 3) {
      return random.bytes(random.int(2 * bytes.length + 2))
    } else if (out.length > 0) {
      out.length = random.int(out.length)
    }
    return new Uint8Array(out)
  }

  function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
    return Buffer.from(x).equals(Buffer.from(y))
  }

  test('300 mutations of security data or data never throw and never pass', () => {
    const g = newGroup('fuzz')
    const random = new SeededRandom('fuzz-mutations')
    const b = providerOf(g, g.b).provider
    const a = providerOf(g, g.a).provider
    const records = [
      secured(b, makeRecord(g.random, { creator: g.b.name })),
      secured(
        b,
        makeRecord(g.random, {
          type: MEMBERSHIP_RECORD_TYPE,
          creator: g.b.name,
          data: encodeChain(g.b.chain),
        }),
      ),
      secured(
        a,
        makeRecord(g.random, {
          type: REVOCATION_RECORD_TYPE,
          creator: g.a.name,
          data: encodeRevocation({ serial: leafOf(g.c).serial, peerName: g.c.name, revokedAt: T }),
        }),
      ),
    ]
    let unchanged = 0
    const outcomes = new Map<string, number>()
    for (let i = 0; i < 300; i++) {
      const original = records[i % records.length] as GraphRecord
      const onData = random.int(2) === 0
      const r = onData
        ? { ...original, data: mutate(random, original.data) }
        : { ...original, securityData: mutate(random, original.securityData) }
      // A fresh validator each time, so that no mutation teaches the next one.
      const c = providerOf(g, g.c).provider
      c.acceptChain(g.b.chain)
      let v
      try {
        v = c.validateRecord(r, 'added')
      } catch (err) {
        assert.fail(`mutation ${i} threw ${err instanceof Error ? err.stack : String(err)}`)
      }
      const same =
        sameBytes(r.data, original.data) && sameBytes(r.securityData, original.securityData)
      if (same) {
        unchanged++
        assert.equal(v, 'accept', `unmutated ${i}`)
      } else {
        assert.ok(v === 'reject' || v === 'defer', `mutation ${i} gave ${v}`)
      }
      outcomes.set(v, (outcomes.get(v) ?? 0) + 1)
    }
    assert.ok(unchanged < 30, `${unchanged} mutations left the record as it was`)
    assert.ok((outcomes.get('reject') ?? 0) > 200)
    // The originals are still fine.
    const c = providerOf(g, g.c).provider
    c.acceptChain(g.b.chain)
    for (const r of records) assert.equal(c.validateRecord(r, 'added'), 'accept')
  })

  test('mutated records never throw at a provider that knows no one', () => {
    const g = newGroup('fuzz-cold')
    const random = new SeededRandom('fuzz-cold-mutations')
    const b = providerOf(g, g.b).provider
    const original = secured(b, makeRecord(g.random, { creator: g.b.name }))
    const c = providerOf(g, g.c).provider
    for (let i = 0; i < 100; i++) {
      const r = { ...original, securityData: mutate(random, original.securityData) }
      const v = c.validateRecord(r, 'added')
      assert.ok(v === 'reject' || v === 'defer', `mutation ${i} gave ${v}`)
    }
  })
})

describe('GroupSecurity: revocation names', () => {
  test("a revocation whose peer name is not the revoked certificate's subject is rejected", () => {
    const g = newGroup('revoke-mismatch')
    const a = providerOf(g, g.a).provider
    const { provider: c, calls } = providerOf(g, g.c)
    c.acceptChain(g.b.chain)
    // B's serial, C's name.
    const r = revocationRecord(g, a, g.a.name, {
      serial: leafOf(g.b).serial,
      peerName: g.c.name,
      revokedAt: T,
    })
    assert.equal(c.validateRecord(r, 'added'), 'reject')
    assert.deepEqual(calls.revoked, [])
  })
})

describe('GroupSecurity: revocation reaches down the chain', () => {
  test('what a revoked inviting member issued, before or after, is cut off from then on', () => {
    const g = newGroup('revoke-cascade')
    const inviter = issue(g.random, g.a, [ROLE_INVITING_MEMBER])
    const early = issue(g.random, inviter, [ROLE_MEMBER])
    const a = providerOf(g, g.a).provider
    a.acceptChain(early.chain)
    const before = secured(
      providerOf(g, early).provider,
      makeRecord(g.random, { creator: early.name }),
    )
    assert.equal(a.validateRecord(before, 'added'), 'accept')

    const revokedAt = T + 10 * 60_000
    const revocation = secured(
      providerOf(g, g.a).provider,
      makeRecord(g.random, {
        creator: g.a.name,
        type: REVOCATION_RECORD_TYPE,
        data: encodeRevocation({
          serial: leafOf(inviter).serial,
          peerName: inviter.name,
          revokedAt,
        }),
      }),
    )
    assert.equal(a.validateRecord(revocation, 'added'), 'accept')
    assert.equal(a.directory.isCutOff(early.name), true, 'its invitee goes with it')

    // Records its invitee signed before the revocation stay; later ones do not.
    assert.equal(a.validateRecord(before, 'added'), 'accept')
    const later = secured(
      providerOf(g, early, { now: () => revokedAt + 1 }).provider,
      makeRecord(g.random, {
        creator: early.name,
        createdAt: revokedAt + 1,
        modifiedAt: revokedAt + 1,
      }),
    )
    assert.equal(a.validateRecord(later, 'added'), 'reject')

    // The revoked inviter still holds its key: a certificate it issues now, backdated, is refused.
    const backdated = issue(g.random, inviter, [ROLE_MEMBER], { notBefore: T0 })
    const remote: RemoteCredentials = {
      peerId: backdated.name,
      publicKey: backdated.key.publicKey.bytes,
      payload: providerOf(g, backdated).provider.connectionPayload(),
    }
    throwsPeerError(() => a.authenticateConnection(remote), 'PEER_E_CONNECTION_NOT_AUTHENTICATED')
    const early2: RemoteCredentials = {
      peerId: early.name,
      publicKey: early.key.publicKey.bytes,
      payload: providerOf(g, early).provider.connectionPayload(),
    }
    throwsPeerError(() => a.authenticateConnection(early2), 'PEER_E_CONNECTION_NOT_AUTHENTICATED')
  })
})
