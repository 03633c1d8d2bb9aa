import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { toBase64 } from '../../src/core/bytes.ts'
import { PeerError, type PeerErrorCode } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import {
  MAX_INVITATION_BYTES,
  ROLE_ADMIN,
  ROLE_INVITING_MEMBER,
  ROLE_MEMBER,
} from '../../src/group/constants.ts'
import { createGroupRoot, verifyMembership, type GroupRoot } from '../../src/group/credentials.ts'
import {
  createInvitation,
  parseInvitation,
  type CreateInvitationParams,
  type InvitationInfo,
} from '../../src/group/invitation.ts'
import type { Certificate } from '../../src/identity/certificate.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import { decodeCbor, encodeCbor } from '../../src/wire/cbor.ts'
import { assertPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { issueMember, rootIssuer } from '../helpers/group-fixture.ts'

const T0 = Date.UTC(2026, 0, 1)
const DAY = 86_400_000
const YEAR = 365 * DAY
const DOMAIN = 'peerinfra/v1/group-invitation'
const TOKEN_PREFIX = 'peerinv1:'

interface Fixture {
  random: SeededRandom
  root: GroupRoot
  adminKey: KeyPair
  adminName: string
  adminChain: Certificate[]
  bobKey: KeyPair
  bobName: string
  bobChain: Certificate[]
  memberKey: KeyPair
  memberChain: Certificate[]
}

function fixture(seed = 'invitation'): Fixture {
  const random = new SeededRandom(seed)
  const root = createGroupRoot('chess', T0, random)
  const admin = issueMember(rootIssuer(root), random, {
    classifier: 'alice',
    roles: [ROLE_ADMIN],
    notBefore: T0,
    notAfter: T0 + YEAR,
  })
  const bob = issueMember(admin, random, {
    classifier: 'bob',
    roles: [ROLE_MEMBER],
    notBefore: T0,
    notAfter: T0 + 30 * DAY,
  })
  const member = issueMember(admin, random, {
    classifier: 'carol',
    roles: [ROLE_MEMBER],
    notBefore: T0,
    notAfter: T0 + 60 * DAY,
  })
  return {
    random,
    root,
    adminKey: admin.key,
    adminName: admin.name,
    adminChain: admin.chain,
    bobKey: bob.key,
    bobName: bob.name,
    bobChain: bob.chain,
    memberKey: member.key,
    memberChain: member.chain,
  }
}

function gmcParams(f: Fixture): CreateInvitationParams {
  return {
    scheme: 'gmc',
    issuer: f.adminKey,
    chain: f.bobChain,
    groupFriendlyName: 'Chess club',
    cloud: 'Global_',
    scope: 'global',
    cloudFlags: 0,
    issuerFriendlyName: 'Alice',
    subjectFriendlyName: 'Bob',
    addresses: [
      { address: '192.0.2.1', port: 3587 },
      { address: '2001:db8::1', port: 3588 },
    ],
  }
}

function passwordParams(f: Fixture): CreateInvitationParams {
  return {
    scheme: 'password',
    issuer: f.adminKey,
    chain: f.adminChain,
    groupFriendlyName: 'Chess club',
    cloud: 'LinkLocal_ff00::%1/8',
    scope: 'link-local',
    cloudFlags: 3,
    issuerFriendlyName: 'Alice',
  }
}

/** Info with certificates as their bytes, for deepEqual. */
function plain(info: InvitationInfo): unknown {
  return { ...info, chain: info.chain.map((c) => c.encode()) }
}

function tokenOf(envelope: Uint8Array): string {
  return TOKEN_PREFIX + Buffer.from(envelope).toString('base64url')
}

/** Decodes an envelope's body, lets `mutate` change it, and signs it again with `key`. */
function resign(
  envelope: Uint8Array,
  key: KeyPair,
  mutate: (body: Record<string, unknown>) => void = () => {},
  domain = DOMAIN,
): string {
  const [bodyBytes] = decodeCbor(envelope) as [Uint8Array, Uint8Array]
  const body = decodeCbor(bodyBytes) as Record<string, unknown>
  mutate(body)
  const newBody = encodeCbor(body)
  return tokenOf(encodeCbor([newBody, key.sign(domain, newBody)]))
}

function throwsOneOf(fn: () => unknown, codes: readonly PeerErrorCode[], label: string): void {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof PeerError, `${label}: not a PeerError: ${String(err)}`)
    assert.ok(codes.includes(err.code), `${label}: unexpected ${err.code}: ${err.message}`)
    return
  }
  assert.fail(`${label}: expected an error`)
}

describe('group invitations: gmc', () => {
  const f = fixture()
  const created = createInvitation(gmcParams(f))

  test('the created info describes the invitation', () => {
    const { info } = created
    assert.equal(info.scheme, 'gmc')
    assert.equal(info.groupPeerName, f.root.peerName)
    assert.equal(info.groupFriendlyName, 'Chess club')
    assert.equal(info.cloud, 'Global_')
    assert.equal(info.scope, 'global')
    assert.equal(info.cloudFlags, 0)
    assert.deepEqual(info.roles, ['member'])
    assert.deepEqual(info.roleUuids, [ROLE_MEMBER])
    assert.deepEqual(info.validity, { start: new Date(T0), end: new Date(T0 + 30 * DAY) })
    assert.deepEqual(info.issuer, { peerName: f.adminName, friendlyName: 'Alice' })
    assert.deepEqual(info.subject, {
      peerName: f.bobName,
      friendlyName: 'Bob',
      publicKey: f.bobKey.publicKey.bytes,
    })
    assert.deepEqual(info.addresses, [
      { address: '192.0.2.1', port: 3587 },
      { address: '2001:db8::1', port: 3588 },
    ])
    assert.deepEqual(
      info.chain.map((c) => c.encode()),
      f.bobChain.map((c) => c.encode()),
    )
    assert.deepEqual(info.envelope, created.envelope)
    const leaf = verifyMembership(info.chain, {
      groupKey: f.root.key.publicKey,
      groupPeerName: info.groupPeerName,
      now: T0 + DAY,
    })
    assert.equal(leaf.subjectName, f.bobName)
  })

  test('the XML has the Windows shape', () => {
    assert.ok(
      created.xml.startsWith('<PEERINVITATION VERSION="1.0"><CLOUDNAME>Global_</CLOUDNAME>'),
    )
    assert.ok(created.xml.includes('<SCOPE>global</SCOPE><CLOUDFLAGS>0</CLOUDFLAGS>'))
    assert.ok(created.xml.includes(`<GROUPPEERNAME>${f.root.peerName}</GROUPPEERNAME>`))
    assert.ok(
      created.xml.includes(
        `<INVITATION xmlns:dt="urn:schemas-microsoft-com:datatypes" dt:dt="bin.base64">${toBase64(created.envelope)}</INVITATION>`,
      ),
    )
    assert.ok(created.token.startsWith(TOKEN_PREFIX))
    assert.ok(!created.token.includes('='))
  })

  test('round trip via XML', () => {
    assert.deepEqual(plain(parseInvitation(created.xml)), plain(created.info))
  })

  test('round trip via token, with surrounding whitespace', () => {
    assert.deepEqual(plain(parseInvitation(created.token)), plain(created.info))
    assert.deepEqual(plain(parseInvitation(`\n  ${created.token}\r\n`)), plain(created.info))
    assert.deepEqual(plain(parseInvitation(`  ${created.xml}\n`)), plain(created.info))
  })

  test('creation is deterministic', () => {
    const again = createInvitation(gmcParams(fixture()))
    assert.equal(again.token, created.token)
    assert.equal(again.xml, created.xml)
  })

  test('the issuer must be the issuer of the invitee certificate', () => {
    throwsPeerError(
      () => createInvitation({ ...gmcParams(f), issuer: f.root.key }),
      'PEER_E_INVITATION_NOT_TRUSTED',
    )
    throwsPeerError(
      () => createInvitation({ ...gmcParams(f), issuer: f.bobKey }),
      'PEER_E_INVITATION_NOT_TRUSTED',
    )
  })

  test('roles and validity come from the certificate', () => {
    throwsPeerError(
      () => createInvitation({ ...gmcParams(f), roles: [ROLE_ADMIN] }),
      'E_INVALIDARG',
    )
    throwsPeerError(() => createInvitation({ ...gmcParams(f), notAfter: T0 }), 'E_INVALIDARG')
  })
})

describe('group invitations: password', () => {
  const f = fixture()

  test('round trip with the default role and validity', () => {
    const created = createInvitation(passwordParams(f))
    const { info } = created
    assert.equal(info.scheme, 'password')
    assert.equal(info.groupPeerName, f.root.peerName)
    assert.equal(info.cloud, 'LinkLocal_ff00::%1/8')
    assert.equal(info.scope, 'link-local')
    assert.equal(info.cloudFlags, 3)
    assert.deepEqual(info.roles, ['member'])
    assert.deepEqual(info.roleUuids, [ROLE_MEMBER])
    assert.deepEqual(info.validity, { start: new Date(T0), end: new Date(T0 + YEAR) })
    assert.deepEqual(info.issuer, { peerName: f.adminName, friendlyName: 'Alice' })
    assert.equal(info.subject, undefined)
    assert.ok(!('subject' in info))
    assert.deepEqual(info.addresses, [])
    assert.deepEqual(plain(parseInvitation(created.xml)), plain(info))
    assert.deepEqual(plain(parseInvitation(created.token)), plain(info))
    verifyMembership(info.chain, {
      groupKey: f.root.key.publicKey,
      groupPeerName: f.root.peerName,
      now: T0 + DAY,
    })
  })

  test('the validity is clamped to the issuer certificate', () => {
    const { info } = createInvitation({
      ...passwordParams(f),
      roles: ['inviting-member'],
      notBefore: T0 - DAY,
      notAfter: T0 + 7 * DAY,
    })
    assert.deepEqual(info.roleUuids, [ROLE_INVITING_MEMBER])
    assert.deepEqual(info.validity, { start: new Date(T0), end: new Date(T0 + 7 * DAY) })
    const late = createInvitation({ ...passwordParams(f), notAfter: T0 + 5 * YEAR })
    assert.deepEqual(late.info.validity.end, new Date(T0 + YEAR))
    throwsPeerError(
      () => createInvitation({ ...passwordParams(f), notBefore: T0 + 2 * YEAR }),
      'E_INVALIDARG',
    )
  })

  test('the signer must be the chain leaf subject, allowed to grant the role', () => {
    throwsPeerError(
      () => createInvitation({ ...passwordParams(f), issuer: f.root.key }),
      'PEER_E_INVITATION_NOT_TRUSTED',
    )
    throwsPeerError(
      () =>
        createInvitation({
          ...passwordParams(f),
          issuer: f.memberKey,
          chain: f.memberChain,
        }),
      'PEER_E_NOT_AUTHORIZED',
    )
    throwsPeerError(
      () => createInvitation({ ...passwordParams(f), roles: ['member', 'admin'] }),
      'E_INVALIDARG',
    )
    throwsPeerError(
      () => createInvitation({ ...passwordParams(f), roles: ['owner'] }),
      'PEER_E_INVALID_ROLE_PROPERTY',
    )
    throwsPeerError(
      () => createInvitation({ ...passwordParams(f), subjectFriendlyName: 'Bob' }),
      'E_INVALIDARG',
    )
  })

  test('a password invitation whose validity leaves the certificate is not trusted', () => {
    const { envelope } = createInvitation(passwordParams(f))
    const token = resign(envelope, f.adminKey, (b) => {
      b['notAfter'] = T0 + 2 * YEAR
    })
    throwsPeerError(() => parseInvitation(token), 'PEER_E_INVITATION_NOT_TRUSTED')
    const admin = resign(envelope, f.adminKey, (b) => {
      b['roles'] = [ROLE_ADMIN, ROLE_MEMBER]
    })
    throwsPeerError(() => parseInvitation(admin), 'PEER_E_INVITATION_NOT_TRUSTED')
  })
})

describe('createInvitation: parameters', () => {
  const f = fixture()
  const cases: [string, Record<string, unknown>][] = [
    ['scope', { scope: 'galactic' }],
    ['scheme', { scheme: 'kerberos' }],
    ['five addresses', { addresses: Array(5).fill({ address: '192.0.2.1', port: 1 }) }],
    ['a malformed host name', { addresses: [{ address: 'not a host!', port: 1 }] }],
    ['port 0', { addresses: [{ address: '192.0.2.1', port: 0 }] }],
    ['port too big', { addresses: [{ address: '192.0.2.1', port: 65_536 }] }],
    ['cloud flags', { cloudFlags: -1 }],
    ['empty cloud', { cloud: '' }],
    ['chain without GMC', { chain: [f.root.certificate] }],
    ['chain not from a root', { chain: f.bobChain.slice(1) }],
  ]
  for (const [label, change] of cases) {
    test(`refuses a bad ${label}`, () => {
      throwsPeerError(() => createInvitation({ ...gmcParams(f), ...change }), 'E_INVALIDARG', label)
    })
  }

  test('refuses friendly names with control characters or too long', () => {
    throwsPeerError(
      () => createInvitation({ ...gmcParams(f), groupFriendlyName: 'a\u0000b' }),
      'PEER_E_INVALID_FRIENDLY_NAME',
    )
    throwsPeerError(
      () => createInvitation({ ...gmcParams(f), issuerFriendlyName: 'x'.repeat(256) }),
      'PEER_E_INVALID_FRIENDLY_NAME',
    )
  })
})

describe('parseInvitation: tampering', () => {
  const f = fixture()
  const created = createInvitation(gmcParams(f))

  test('a changed readable XML element is not trusted', () => {
    const edits: [string, string][] = [
      ['<CLOUDNAME>Global_</CLOUDNAME>', '<CLOUDNAME>Evil_</CLOUDNAME>'],
      ['<SCOPE>global</SCOPE>', '<SCOPE>link-local</SCOPE>'],
      ['<CLOUDFLAGS>0</CLOUDFLAGS>', '<CLOUDFLAGS>00</CLOUDFLAGS>'],
      [
        `<GROUPPEERNAME>${f.root.peerName}</GROUPPEERNAME>`,
        `<GROUPPEERNAME>${f.adminName}</GROUPPEERNAME>`,
      ],
    ]
    for (const [from, to] of edits) {
      assert.ok(created.xml.includes(from), from)
      throwsPeerError(
        () => parseInvitation(created.xml.replace(from, to)),
        'PEER_E_INVITATION_NOT_TRUSTED',
        to,
      )
    }
  })

  test('a missing, repeated or unknown XML element is invalid', () => {
    const xml = created.xml
    const cases = [
      xml.replace('<SCOPE>global</SCOPE>', ''),
      xml.replace('<SCOPE>global</SCOPE>', '<SCOPE>global</SCOPE><SCOPE>global</SCOPE>'),
      xml.replace('<SCOPE>global</SCOPE>', '<SCOPE>global</SCOPE><EXTRA/>'),
      xml.replace(/<INVITATION.*<\/INVITATION>/, ''),
      xml.replace('dt:dt="bin.base64"', 'dt:dt="string"'),
      xml.replace('<PEERINVITATION', '<PEERIDENTITYINFO').replace(/PEERINVITATION>$/, 'X>'),
    ]
    for (const text of cases) throwsPeerError(() => parseInvitation(text), 'E_INVALIDARG', text)
  })

  test('another XML VERSION is unsupported', () => {
    throwsPeerError(
      () => parseInvitation(created.xml.replace('VERSION="1.0"', 'VERSION="2.0"')),
      'PEER_E_UNSUPPORTED_VERSION',
    )
  })

  test('a signed body of another version is unsupported', () => {
    const token = resign(created.envelope, f.adminKey, (b) => {
      b['v'] = 2
    })
    throwsPeerError(() => parseInvitation(token), 'PEER_E_UNSUPPORTED_VERSION')
  })

  test('a flipped bit in the body is caught', () => {
    const envelope = created.envelope
    const name = Buffer.from('Chess club')
    const at = Buffer.from(envelope).indexOf(name)
    assert.ok(at > 0)
    const flipped = new Uint8Array(envelope)
    flipped[at] = (flipped[at] as number) ^ 0x01
    throwsPeerError(() => parseInvitation(tokenOf(flipped)), 'PEER_E_INVITATION_NOT_TRUSTED')
    // Anywhere in the body: never accepted.
    for (let i = 4; i < envelope.length - 70; i += 97) {
      const copy = new Uint8Array(envelope)
      copy[i] = (copy[i] as number) ^ 0x40
      throwsOneOf(
        () => parseInvitation(tokenOf(copy)),
        [
          'PEER_E_INVITATION_NOT_TRUSTED',
          'E_INVALIDARG',
          'PEER_E_INVALID_CREDENTIAL',
          'PEER_E_UNSUPPORTED_VERSION',
        ],
        `byte ${i}`,
      )
    }
  })

  test('a flipped bit in the signature is not trusted', () => {
    const copy = new Uint8Array(created.envelope)
    const last = copy.length - 1
    copy[last] = (copy[last] as number) ^ 0x80
    throwsPeerError(() => parseInvitation(tokenOf(copy)), 'PEER_E_INVITATION_NOT_TRUSTED')
  })

  test('a signature by a key other than the issuer is not trusted', () => {
    for (const key of [f.bobKey, f.root.key, KeyPair.generate(new SeededRandom('other'))]) {
      throwsPeerError(
        () => parseInvitation(resign(created.envelope, key)),
        'PEER_E_INVITATION_NOT_TRUSTED',
      )
    }
    // The issuer's key under another signature domain.
    throwsPeerError(
      () => parseInvitation(resign(created.envelope, f.adminKey, undefined, 'peerinfra/v1/x')),
      'PEER_E_INVITATION_NOT_TRUSTED',
    )
    // Control: re-signed by the issuer, unchanged, it parses.
    assert.equal(
      parseInvitation(resign(created.envelope, f.adminKey)).groupPeerName,
      f.root.peerName,
    )
  })

  test('a group name other than the root certificate is not trusted', () => {
    const other = createGroupRoot('other', T0, new SeededRandom('other-group'))
    const token = resign(created.envelope, f.adminKey, (b) => {
      b['group'] = other.peerName
    })
    throwsPeerError(() => parseInvitation(token), 'PEER_E_INVITATION_NOT_TRUSTED', /root/)
  })

  test('roles or validity other than the leaf are not trusted', () => {
    const mutations: ((b: Record<string, unknown>) => void)[] = [
      (b) => (b['roles'] = [ROLE_ADMIN]),
      (b) => (b['roles'] = [ROLE_MEMBER, ROLE_INVITING_MEMBER]),
      (b) => (b['notBefore'] = T0 + 1),
      (b) => (b['notAfter'] = T0 + YEAR),
      (b) => (b['scheme'] = 'password'),
    ]
    for (const m of mutations) {
      throwsPeerError(
        () => parseInvitation(resign(created.envelope, f.adminKey, m)),
        'PEER_E_INVITATION_NOT_TRUSTED',
      )
    }
  })

  test('a chain without the root or the invitee is not trusted', () => {
    const chain = f.bobChain.map((c) => c.encode())
    for (const c of [chain.slice(1), chain.slice(0, 1), [chain[0], chain[2]]]) {
      throwsPeerError(
        () =>
          parseInvitation(
            resign(created.envelope, f.adminKey, (b) => {
              b['chain'] = c
            }),
          ),
        'PEER_E_INVITATION_NOT_TRUSTED',
      )
    }
  })

  test('a malformed certificate is an invalid credential', () => {
    const token = resign(created.envelope, f.adminKey, (b) => {
      const chain = [...(b['chain'] as Uint8Array[])]
      chain[1] = new Uint8Array([1, 2, 3])
      b['chain'] = chain
    })
    throwsPeerError(() => parseInvitation(token), 'PEER_E_INVALID_CREDENTIAL')
  })

  test('fields out of bounds or of the wrong type are invalid', () => {
    const mutations: ((b: Record<string, unknown>) => void)[] = [
      (b) => (b['roles'] = ['00000000-0000-0000-0000-000000000000']),
      (b) => (b['roles'] = [ROLE_MEMBER, ROLE_MEMBER]),
      (b) => (b['roles'] = []),
      (b) => (b['scope'] = 'galactic'),
      (b) => (b['scheme'] = 'kerberos'),
      (b) => (b['cloudFlags'] = 2 ** 32),
      (b) => (b['groupFriendlyName'] = 'x'.repeat(4 * 255 + 1)),
      (b) => (b['issuerFriendlyName'] = 'bell\u0007'),
      (b) => (b['cloud'] = ''),
      (b) => (b['addresses'] = Array.from({ length: 5 }, () => ['192.0.2.1', 1])),
      (b) => (b['addresses'] = [['x'.repeat(65), 1]]),
      (b) => (b['addresses'] = [['not a host!', 1]]),
      (b) => (b['addresses'] = [['192.0.2.1', 0]]),
      (b) => (b['chain'] = Array.from({ length: 33 }, () => new Uint8Array([1]))),
      (b) => (b['chain'] = [new Uint8Array(16 * 1024 + 129)]),
      (b) => (b['extra'] = 1),
      (b) => delete b['cloud'],
      (b) => (b['v'] = '1'),
    ]
    for (const [i, m] of mutations.entries()) {
      throwsPeerError(
        () => parseInvitation(resign(created.envelope, f.adminKey, m)),
        'E_INVALIDARG',
        `mutation ${i}`,
      )
    }
  })
})

describe('parseInvitation: garbage', () => {
  const f = fixture()
  const created = createInvitation(gmcParams(f))

  test('text that is not an invitation is invalid', () => {
    const cases: unknown[] = [
      123,
      null,
      undefined,
      new Uint8Array(4),
      '',
      '   ',
      'hello',
      '<foo/>',
      '<PEERINVITATION VERSION="1.0"/>',
      '<PEERINVITATION VERSION="1.0"><INVITATION',
      TOKEN_PREFIX,
      `${TOKEN_PREFIX}!!!!`,
      `${TOKEN_PREFIX}AAAA`,
      `${TOKEN_PREFIX}A`,
      `${TOKEN_PREFIX}oA`,
      `${TOKEN_PREFIX}${Buffer.from(encodeCbor([1, 2])).toString('base64url')}`,
      `${TOKEN_PREFIX}${Buffer.from(encodeCbor({ v: 1 })).toString('base64url')}`,
      `${created.token}=`,
      `${created.token.slice(0, -1)}`,
      `${created.token} ${created.token}`,
      created.token.replace(TOKEN_PREFIX, 'peerinv2:'),
      created.xml.replace('</PEERINVITATION>', ''),
    ]
    for (const text of cases) {
      throwsPeerError(() => parseInvitation(text as string), 'E_INVALIDARG', String(text))
    }
  })

  test('oversized input is refused before it is parsed', () => {
    throwsPeerError(
      () => parseInvitation(TOKEN_PREFIX + 'A'.repeat(MAX_INVITATION_BYTES)),
      'PEER_E_TOO_LARGE',
    )
    throwsPeerError(
      () => parseInvitation(`<PEERINVITATION VERSION="1.0">${' '.repeat(MAX_INVITATION_BYTES)}`),
      'PEER_E_TOO_LARGE',
    )
    // Multi-byte characters count as their UTF-8 bytes.
    throwsPeerError(
      () => parseInvitation(TOKEN_PREFIX + '\u00e9'.repeat(MAX_INVITATION_BYTES / 2)),
      'PEER_E_TOO_LARGE',
    )
  })

  test('200 seeded random mutations of a token raise nothing but PeerError', () => {
    const random = new SeededRandom('invitation-fuzz')
    const envelope = created.envelope
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ <>'
    let accepted = 0
    for (let round = 0; round < 200; round++) {
      let text: string
      const kind = random.int(4)
      if (kind === 0) {
        // Flip a few bytes of the envelope.
        const copy = new Uint8Array(envelope)
        for (let n = 1 + random.int(4); n > 0; n--) {
          const i = random.int(copy.length)
          copy[i] = (copy[i] as number) ^ (1 + random.int(255))
        }
        text = tokenOf(copy)
      } else if (kind === 1) {
        // Truncate or extend the envelope.
        const cut = random.int(envelope.length)
        const extra = random.bytes(random.int(3) * random.int(8))
        text = tokenOf(new Uint8Array([...envelope.subarray(0, cut), ...extra]))
      } else if (kind === 2) {
        // Change characters of the token text.
        const chars = [...created.token]
        for (let n = 1 + random.int(3); n > 0; n--) {
          chars[random.int(chars.length)] = alphabet[random.int(alphabet.length)] as string
        }
        text = chars.join('')
      } else {
        // Change characters of the XML.
        const chars = [...created.xml]
        for (let n = 1 + random.int(3); n > 0; n--) {
          chars[random.int(chars.length)] = alphabet[random.int(alphabet.length)] as string
        }
        text = chars.join('')
      }
      try {
        const info = parseInvitation(text)
        // Only a change that leaves the signed bytes alone can pass.
        assert.deepEqual(info.envelope, envelope, `round ${round}`)
        accepted++
      } catch (err) {
        if (!(err instanceof PeerError)) {
          assert.fail(`round ${round}: ${err instanceof Error ? err.stack : String(err)}`)
        }
        assertPeerError(err, err.code)
      }
    }
    assert.ok(accepted < 20, `${accepted} mutations were accepted`)
  })
})
