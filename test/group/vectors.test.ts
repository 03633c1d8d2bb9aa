/**
 * The Peer Grouping test vectors of docs/PROTOCOL.md section 13 ("Peer Grouping"), byte for
 * byte: a membership certificate (GMC) and a member's chain (the handshake payload and the
 * membership record's data), the password join request, a record's signed canonical form
 * (which names the group) and its 96-byte security data, the security-properties and
 * revocation record data, the password key pair and the join messages with their salt and
 * proof, and a password invitation's envelope.
 *
 * makeGroupVectors() rebuilds them from SeededRandom("peerinfra group vector") and fixed times;
 * Ed25519 signatures are deterministic, so the bytes change only when a format does. After a
 * deliberate format change, print the new values and update docs/PROTOCOL.md section 13:
 *
 *   GROUP_VECTORS_PRINT=1 node --import tsx --test test/group/vectors.test.ts
 */
import assert from 'node:assert/strict'
import { createHash, scryptSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/bytes.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { encodeRecord, recordDigest } from '../../src/graph/record-codec.ts'
import { newGuid, newRecordId, type GraphRecord } from '../../src/graph/records.ts'
import {
  DEFAULT_MEMBER_DATA_LIFETIME_S,
  GROUP_DOMAIN,
  ROLE_ADMIN,
  ROLE_MEMBER,
  SECURITY_PROPERTIES_RECORD_TYPE,
} from '../../src/group/constants.ts'
import {
  createGroupRoot,
  decodeChain,
  encodeChain,
  verifyMembership,
} from '../../src/group/credentials.ts'
import { createInvitation, parseInvitation } from '../../src/group/invitation.ts'
import {
  decodeJoinMessage,
  encodeJoinMessage,
  isJoinRequest,
  JOIN_REQUEST,
  type JoinMessage,
} from '../../src/group/messages.ts'
import { checkPasswordProof, passwordProof } from '../../src/group/password-join.ts'
import { passwordKeyPair, passwordVerifier } from '../../src/group/password.ts'
import {
  createGroupProperties,
  propertiesFromRecord,
  securityPropertiesRecord,
} from '../../src/group/properties.ts'
import {
  readRecordSignature,
  signedBytes,
  signRecord,
  verifyRecordSignature,
} from '../../src/group/record-signing.ts'
import { decodeRevocation, encodeRevocation } from '../../src/group/revocation.ts'
import { GroupSecurity } from '../../src/group/security.ts'
import { Certificate } from '../../src/identity/certificate.ts'
import { KeyPair, PublicKey } from '../../src/identity/keys.ts'
import { decodeCbor } from '../../src/wire/cbor.ts'
import { issueMember, peerNameOf, rootIssuer } from '../helpers/group-fixture.ts'
import { annotatedHex } from '../helpers/protocol-doc.ts'

const SEED = 'peerinfra group vector'
const PASSWORD = 'correct horse battery'
/** 2026-01-01T00:00:00Z: the group is created. */
const T0 = Date.UTC(2026, 0, 1)
const HOUR = 3_600_000
const DAY = 24 * HOUR
/** Bob is invited a day later. */
const T1 = T0 + DAY
const INVITATION_DOMAIN = 'peerinfra/v1/group-invitation'

function hexBytes(hex: string): Uint8Array {
  const bytes = fromHex(hex)
  assert.ok(bytes, `"${hex.slice(0, 20)}..." is hex`)
  return bytes
}

/** Builds every vector from SEED; the order of the draws is documented in section 13.8. */
function makeGroupVectors() {
  const random = new SeededRandom(SEED)
  // 1-2. The group key and its root certificate; 3-4. alice, the creator, admin until the root ends.
  const root = createGroupRoot('chat', T0, random)
  const aliceMember = issueMember(rootIssuer(root), random, {
    classifier: 'alice',
    roles: [ROLE_ADMIN],
    notBefore: T0,
    notAfter: root.certificate.notAfter,
  })
  const { key: aliceKey, name: alice, chain: aliceChain } = aliceMember
  // 5-6. bob, a member alice invites at T1 for the default 28 days.
  const bobMember = issueMember(aliceMember, random, {
    classifier: 'bob',
    roles: [ROLE_MEMBER],
    notBefore: T1,
    notAfter: T1 + DEFAULT_MEMBER_DATA_LIFETIME_S * 1000,
  })
  const { key: bobKey, name: bob, chain: bobChain } = bobMember
  const bobGmc = bobChain[2] as Certificate

  // 7-8. bob's record: a type, an id, three attributes and two bytes of data, signed by bob.
  const record: GraphRecord = {
    type: newGuid(random),
    id: newRecordId(bob, random),
    version: 1,
    flags: 0,
    creator: bob,
    modifiedBy: bob,
    createdAt: T1 + HOUR,
    modifiedAt: T1 + HOUR,
    expiresAt: T1 + HOUR + DAY,
    attributes: [
      { name: 'colour', type: 'string', value: 'blue' },
      { name: 'due', type: 'date', value: T0 + 7 * DAY },
      { name: 'size', type: 'int', value: -2 },
    ],
    securityData: new Uint8Array(0),
    data: utf8('hi'),
  }
  const signed = signedBytes(root.peerName, record, bobGmc.serial, bobGmc.serial)
  record.securityData = signRecord(root.peerName, record, bobGmc.serial, bobGmc.serial, bobKey)

  // 9. The security properties alice's group was created with: a password, members by default.
  const props = createGroupProperties(
    { classifier: 'chat', friendlyName: 'Chat', password: PASSWORD },
    root.peerName,
    alice,
  )
  props.password = passwordVerifier(PASSWORD, random)
  const propsRecord = securityPropertiesRecord(props, T0, undefined)
  propsRecord.securityData = signRecord(
    root.peerName,
    propsRecord,
    root.certificate.serial,
    root.certificate.serial,
    root.key,
  )

  // 10-11. carol joins with the password, over a handshake whose hash stands for hers.
  const carolKey = KeyPair.generate(random)
  const carol = peerNameOf(carolKey, 'carol')
  const handshakeHash = random.bytes(32)
  const passwordKey = passwordKeyPair(PASSWORD, props.password.salt)
  const proof = passwordProof(passwordKey, handshakeHash, carol)
  const messages: Record<string, JoinMessage> = {
    hello: { t: 'hello', v: 1 },
    salt: { t: 'salt', salt: props.password.salt },
    proof: { t: 'proof', proof },
    refused: { t: 'refused', code: 'PEER_E_NOT_AUTHORIZED', reason: 'the password is wrong' },
  }

  // alice revokes bob at T0 + 10 days, keeping bob's record (no randomness: the record id is
  // not shown).
  const revocation = encodeRevocation({
    serial: bobGmc.serial,
    peerName: bob,
    revokedAt: T0 + 10 * DAY,
    kept: [recordDigest(record)],
  })

  // alice's password invitation, valid a week, naming where she listens.
  const invitation = createInvitation({
    scheme: 'password',
    issuer: aliceKey,
    chain: aliceChain,
    groupFriendlyName: 'Chat',
    cloud: 'Global_',
    scope: 'global',
    cloudFlags: 0,
    issuerFriendlyName: 'Alice',
    roles: ['member'],
    notAfter: T0 + 7 * DAY,
    addresses: [{ address: '192.0.2.10', port: 3587 }],
  })
  const [body, signature] = decodeCbor(invitation.envelope) as [Uint8Array, Uint8Array]

  return {
    names: { group: root.peerName, alice, bob, carol },
    keys: { group: root.key, alice: aliceKey, bob: bobKey },
    chains: { alice: aliceChain, bob: bobChain },
    record,
    propsRecord,
    hex: {
      grc: toHex(root.certificate.encode()),
      aliceGmc: toHex((aliceChain[1] as Certificate).encode()),
      gmc: toHex(bobGmc.encode()),
      chain: toHex(encodeChain(bobChain)),
      joinRequest: toHex(JOIN_REQUEST),
      signedForm: toHex(signed),
      securityData: toHex(record.securityData),
      properties: toHex(propsRecord.data),
      propertiesSecurityData: toHex(propsRecord.securityData),
      salt: toHex(props.password.salt),
      seed: toHex(passwordKey.exportSeed()),
      key: toHex(passwordKey.publicKey.bytes),
      handshakeHash: toHex(handshakeHash),
      proof: toHex(proof),
      hello: toHex(encodeJoinMessage(messages['hello'] as JoinMessage)),
      saltMessage: toHex(encodeJoinMessage(messages['salt'] as JoinMessage)),
      proofMessage: toHex(encodeJoinMessage(messages['proof'] as JoinMessage)),
      refused: toHex(encodeJoinMessage(messages['refused'] as JoinMessage)),
      revocation: toHex(revocation),
      invitationBody: toHex(body),
      invitationSignature: toHex(signature),
      envelope: toHex(invitation.envelope),
    },
    messages,
    token: invitation.token,
    xml: invitation.xml,
  }
}

const v = makeGroupVectors()
const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8')
/** Whitespace-free document, for values quoted whole. */
const flat = doc.replace(/\s+/g, '')

/** The block after `<!-- group-vector: name -->`. */
function groupHex(name: string): string {
  return annotatedHex(doc, 'group', name)
}

if (process.env['GROUP_VECTORS_PRINT'] === '1') {
  console.log(JSON.stringify({ names: v.names, hex: v.hex, token: v.token, xml: v.xml }, null, 2))
}

// ---- the annotated blocks ------------------------------------------------------------------

const ANNOTATED: Array<[string, keyof typeof v.hex]> = [
  ['gmc', 'gmc'],
  ['chain', 'chain'],
  ['join-request', 'joinRequest'],
  ['signed-form', 'signedForm'],
  ['security-data', 'securityData'],
  ['properties', 'properties'],
  ['revocation', 'revocation'],
  ['join-hello', 'hello'],
  ['join-salt', 'saltMessage'],
  ['join-proof', 'proofMessage'],
  ['invitation-body', 'invitationBody'],
]

for (const [block, key] of ANNOTATED) {
  test(`docs/PROTOCOL.md's ${block} block is the code's bytes`, () => {
    assert.equal(groupHex(block), v.hex[key])
  })
}

test('the values quoted whole in docs/PROTOCOL.md are the code’s', () => {
  for (const key of [
    'grc',
    'aliceGmc',
    'propertiesSecurityData',
    'salt',
    'seed',
    'key',
    'handshakeHash',
    'proof',
    'refused',
    'invitationSignature',
  ] as const) {
    assert.ok(flat.includes(v.hex[key]), `docs/PROTOCOL.md quotes ${key}`)
  }
  assert.ok(flat.includes(v.token), 'docs/PROTOCOL.md quotes the token')
  for (const name of Object.values(v.names)) {
    assert.ok(doc.includes(name), `docs/PROTOCOL.md names ${name}`)
  }
})

// ---- what the bytes mean --------------------------------------------------------------------

test('the GMC: alice issues bob the member role for 28 days from T1', () => {
  const gmc = Certificate.decode(hexBytes(v.hex.gmc))
  assert.equal(gmc.type, 'membership')
  assert.deepEqual(gmc.roles, [ROLE_MEMBER])
  assert.equal(gmc.subjectName, v.names.bob)
  assert.equal(gmc.issuerName, v.names.alice)
  assert.equal(gmc.notBefore, T1)
  assert.equal(gmc.notAfter, T1 + 28 * DAY)
  assert.ok(gmc.verifySignature(v.keys.alice.publicKey))
  assert.equal(toHex(gmc.tbs).length, 2 * 345)
})

test('the chain is GRC, alice, bob; it verifies for the group and admits bob', () => {
  const chain = decodeChain(hexBytes(v.hex.chain))
  assert.deepEqual(
    chain.map((c) => toHex(c.encode())),
    [v.hex.grc, v.hex.aliceGmc, v.hex.gmc],
  )
  const leaf = verifyMembership(chain, {
    groupKey: v.keys.group.publicKey,
    groupPeerName: v.names.group,
    now: T1 + HOUR,
  })
  assert.equal(leaf.subjectName, v.names.bob)
  // alice's provider admits bob's handshake payload, and refuses it from another key.
  const alice = providerOf('alice')
  assert.equal(
    alice.authenticateConnection({
      peerId: v.names.bob,
      publicKey: v.keys.bob.publicKey.bytes,
      payload: hexBytes(v.hex.chain),
    }),
    true,
  )
  assert.throws(() =>
    alice.authenticateConnection({
      peerId: v.names.bob,
      publicKey: v.keys.alice.publicKey.bytes,
      payload: hexBytes(v.hex.chain),
    }),
  )
})

function providerOf(who: 'alice' | 'bob'): GroupSecurity {
  const chain = v.chains[who]
  return new GroupSecurity({
    groupPeerName: v.names.group,
    root: chain[0] as Certificate,
    peerName: v.names[who],
    key: v.keys[who],
    chain: () => chain,
    now: () => T1 + HOUR,
  })
}

test('the join request is {v: 1, join: "password-join"}, and no chain', () => {
  assert.deepEqual(decodeCbor(hexBytes(v.hex.joinRequest)), { v: 1, join: 'password-join' })
  assert.equal(isJoinRequest(hexBytes(v.hex.joinRequest)), true)
  assert.equal(isJoinRequest(hexBytes(v.hex.chain)), false)
})

/** The canonical form as section 13.4 lays it out, written independently of record-signing.ts. */
function canonicalForm(
  group: string,
  r: GraphRecord,
  creatorSerial: Uint8Array,
  modifierSerial: Uint8Array,
) {
  const u8 = (n: number) => Buffer.from([n])
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff])
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n >>> 0)
    return b
  }
  const i64 = (n: number) => {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(BigInt(n))
    return b
  }
  const text16 = (s: string) => Buffer.concat([u16(Buffer.byteLength(s)), Buffer.from(s)])
  const guid = (g: string) => Buffer.from(g.replace(/-/g, ''), 'hex')
  const parts: Buffer[] = [
    u8(0x60),
    text16(group),
    guid(r.type),
    guid(r.id),
    u32(r.version),
    u32(r.flags),
    i64(r.createdAt),
    i64(r.expiresAt),
    i64(r.modifiedAt),
    text16(r.creator),
    text16(r.modifiedBy),
    u16(r.attributes.length),
  ]
  for (const a of r.attributes) {
    parts.push(text16(a.name))
    if (a.type === 'string') {
      parts.push(u8(0), u32(Buffer.byteLength(a.value)), Buffer.from(a.value))
    } else if (a.type === 'int') {
      parts.push(u8(1), u32(a.value))
    } else {
      parts.push(u8(2), i64(a.value))
    }
  }
  parts.push(u32(r.data.length), Buffer.from(r.data), Buffer.from(creatorSerial))
  parts.push(Buffer.from(modifierSerial))
  return toHex(Buffer.concat(parts))
}

test('the signed form follows the documented layout; the security data signs it', () => {
  const sig = readRecordSignature(v.record)
  const serial = Certificate.decode(hexBytes(v.hex.gmc)).serial
  assert.deepEqual(sig.creatorSerial, serial)
  assert.deepEqual(sig.modifierSerial, serial)
  assert.equal(canonicalForm(v.names.group, v.record, serial, serial), v.hex.signedForm)
  // The signature: Ed25519 over "peerinfra/v1/group-record" || 0x00 || the form.
  assert.ok(
    v.keys.bob.publicKey.verify(GROUP_DOMAIN.record, hexBytes(v.hex.signedForm), sig.signature),
  )
  assert.ok(verifyRecordSignature(v.names.group, v.record, sig, v.keys.bob.publicKey))
  // The form names the group: the same record and signature do not verify for another group.
  const otherGroup = v.names.group.replace(/\.chat$/, '.talk')
  assert.equal(verifyRecordSignature(otherGroup, v.record, sig, v.keys.bob.publicKey), false)
  // alice, who knows bob's chain, accepts the record.
  const alice = providerOf('alice')
  alice.acceptChain(v.chains.bob)
  assert.equal(alice.validateRecord(v.record, 'added'), 'accept')
})

test('the security properties: a CBOR map signed by the group key with the root serial', () => {
  const props = propertiesFromRecord(v.propsRecord, v.names.group)
  assert.equal(v.propsRecord.type, SECURITY_PROPERTIES_RECORD_TYPE)
  assert.equal(v.propsRecord.id.replace(/-/g, '').slice(16), '7365637072707300')
  assert.deepEqual(props.authSchemes, ['gmc', 'password'])
  assert.equal(props.passwordRole, ROLE_MEMBER)
  assert.equal(toHex(props.password?.salt ?? new Uint8Array(0)), v.hex.salt)
  assert.equal(toHex(props.password?.key ?? new Uint8Array(0)), v.hex.key)
  const sig = readRecordSignature(v.propsRecord)
  const rootSerial = (v.chains.alice[0] as Certificate).serial
  assert.deepEqual(sig.creatorSerial, rootSerial)
  assert.deepEqual(sig.modifierSerial, rootSerial)
  assert.equal(providerOf('bob').validateRecord(v.propsRecord, 'added'), 'accept')
})

test('the revocation names bob’s serial, bob, the time and the digest of bob’s record', () => {
  const r = decodeRevocation(hexBytes(v.hex.revocation))
  assert.equal(r.peerName, v.names.bob)
  assert.equal(r.revokedAt, T0 + 10 * DAY)
  assert.deepEqual(r.serial, Certificate.decode(hexBytes(v.hex.gmc)).serial)
  // 12.3's digest, computed here independently of record-codec.ts.
  const digest = createHash('sha256')
    .update('peerinfra/v1/graph-record\u0000')
    .update(encodeRecord(v.record))
    .digest()
    .subarray(0, 16)
  assert.deepEqual(r.kept, [new Uint8Array(digest)])
})

test('the password join: an Ed25519 key pair seeded by scrypt, proof = its signature', () => {
  // The seed is scrypt(NFC(password), salt, N = 2^15, r = 8, p = 1, 32 bytes), computed here
  // independently of password.ts; the properties keep only the key pair's public key.
  const seed = scryptSync(PASSWORD.normalize('NFC'), hexBytes(v.hex.salt), 32, {
    N: 2 ** 15,
    r: 8,
    p: 1,
    maxmem: 64 * 1024 * 1024,
  })
  assert.equal(seed.toString('hex'), v.hex.seed)
  assert.equal(toHex(KeyPair.fromSeed(new Uint8Array(seed)).publicKey.bytes), v.hex.key)
  const fromPassword = passwordKeyPair(PASSWORD, hexBytes(v.hex.salt))
  assert.equal(toHex(fromPassword.publicKey.bytes), v.hex.key)
  // The proof: Ed25519 over "peerinfra/v1/group-password" || 0x00 || hash || carol's name.
  const hh = hexBytes(v.hex.handshakeHash)
  const proof = hexBytes(v.hex.proof)
  assert.equal(proof.length, 64)
  const key = PublicKey.fromBytes(hexBytes(v.hex.key))
  assert.ok(key.verify(GROUP_DOMAIN.passwordProof, concatBytes(hh, utf8(v.names.carol)), proof))
  assert.equal(checkPasswordProof(hexBytes(v.hex.key), proof, hh, v.names.carol), true)
  // Bound to the handshake and the joiner: another hash or another name does not pass.
  assert.equal(checkPasswordProof(hexBytes(v.hex.key), proof, hh, v.names.bob), false)
  const otherHash = hh.slice()
  otherHash[0] = (otherHash[0] as number) ^ 1
  assert.equal(checkPasswordProof(hexBytes(v.hex.key), proof, otherHash, v.names.carol), false)
  for (const [name, key] of [
    ['hello', 'hello'],
    ['salt', 'saltMessage'],
    ['proof', 'proofMessage'],
    ['refused', 'refused'],
  ] as const) {
    assert.deepEqual(decodeJoinMessage(hexBytes(v.hex[key])), v.messages[name])
  }
})

test('the invitation: [body, signature], signed by alice; the token and XML carry it', () => {
  const envelope = hexBytes(v.hex.envelope)
  assert.deepEqual(decodeCbor(envelope), [
    hexBytes(v.hex.invitationBody),
    hexBytes(v.hex.invitationSignature),
  ])
  const alice = PublicKey.fromBytes(v.keys.alice.publicKey.bytes)
  assert.ok(
    alice.verify(
      INVITATION_DOMAIN,
      hexBytes(v.hex.invitationBody),
      hexBytes(v.hex.invitationSignature),
    ),
  )
  assert.equal(v.token, 'peerinv1:' + Buffer.from(envelope).toString('base64url'))
  const info = parseInvitation(v.token)
  assert.equal(info.scheme, 'password')
  assert.equal(info.groupPeerName, v.names.group)
  assert.deepEqual(info.roles, ['member'])
  assert.equal(info.issuer.peerName, v.names.alice)
  assert.equal(info.validity.end.getTime(), T0 + 7 * DAY)
  assert.deepEqual(parseInvitation(v.xml).envelope, envelope)
  assert.ok(v.xml.includes(Buffer.from(envelope).toString('base64')))
})
