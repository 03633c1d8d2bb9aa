import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError, type PeerErrorCode } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import {
  Certificate,
  issueCertificate,
  verifyChain,
  type CertificateFields,
  type CertificateType,
} from '../../src/identity/certificate.ts'
import {
  DOMAIN,
  MAX_CERTIFICATE_BYTES,
  MAX_CHAIN_LENGTH,
  MAX_CLOCK_SKEW_MS,
} from '../../src/identity/constants.ts'
import { authorityOf, KeyPair } from '../../src/identity/keys.ts'
import { decodeCbor, encodeCbor } from '../../src/wire/cbor.ts'
import { throwsPeerError as throwsCode } from '../helpers/assert-peer-error.ts'

const T0 = Date.UTC(2026, 0, 1)
const DAY = 86_400_000
const YEAR = 365 * DAY
const NOW = T0 + DAY
interface Link {
  key: KeyPair
  cert: Certificate
}

interface Validity {
  notBefore?: number
  notAfter?: number
  roles?: string[]
  classifiers?: string[]
}

function nameOf(key: KeyPair, classifier = ''): string {
  return `${key.publicKey.authority}.${classifier}`
}

/** A self-signed root (identity or group root). */
function makeRoot(
  random: SeededRandom,
  type: CertificateType = 'group-root',
  v: Validity = {},
): Link {
  const key = KeyPair.generate(random)
  const cert = issueCertificate({
    issuer: key,
    type,
    subjectKey: key.publicKey,
    subjectName: nameOf(key, type === 'identity' ? 'me' : 'group'),
    notBefore: v.notBefore ?? T0,
    notAfter: v.notAfter ?? T0 + YEAR,
    roles: v.roles ?? [],
    classifiers: v.classifiers ?? [],
    random,
  })
  return { key, cert }
}

/** A membership certificate for a new key (or `subject`), issued by `parent`. */
function issueTo(parent: Link, random: SeededRandom, v: Validity = {}, subject?: KeyPair): Link {
  const key = subject ?? KeyPair.generate(random)
  const cert = issueCertificate({
    issuer: parent.key,
    issuerCertificate: parent.cert,
    type: 'membership',
    subjectKey: key.publicKey,
    subjectName: nameOf(key, 'member'),
    notBefore: v.notBefore ?? parent.cert.notBefore,
    notAfter: v.notAfter ?? parent.cert.notAfter,
    roles: v.roles ?? ['member'],
    classifiers: v.classifiers ?? [],
    random,
  })
  return { key, cert }
}

/** root → membership → ... : `length` certificates in all. */
function makeChain(random: SeededRandom, length: number): Link[] {
  const links = [makeRoot(random)]
  while (links.length < length) links.push(issueTo(links[links.length - 1] as Link, random))
  return links
}

const certsOf = (links: Link[]): Certificate[] => links.map((l) => l.cert)

function tbsMap(cert: Certificate): Record<string, unknown> {
  return decodeCbor(cert.tbs) as Record<string, unknown>
}

/** Encodes `[tbs, signature]` for an arbitrary tbs map, bypassing every check of sign(). */
function encodeRaw(tbs: Record<string, unknown>, signer: KeyPair): Uint8Array {
  const bytes = encodeCbor(tbs)
  return encodeCbor([bytes, signer.sign(DOMAIN.certificate, bytes)])
}

describe('valid certificates', () => {
  test('an identity certificate verifies', () => {
    const random = new SeededRandom('cert/identity')
    const { key, cert } = makeRoot(random, 'identity')
    assert.equal(cert.type, 'identity')
    assert.ok(cert.isSelfSigned)
    assert.equal(cert.subjectName, nameOf(key, 'me'))
    assert.equal(cert.issuerName, cert.subjectName)
    assert.ok(cert.subject.equals(key.publicKey))
    assert.match(cert.serialHex, /^[0-9a-f]{32}$/)
    assert.ok(cert.verifySignature(key.publicKey))
    assert.equal(verifyChain([cert], { now: NOW }), cert)
    assert.equal(verifyChain([cert], { now: NOW, trustedRoot: key.publicKey }), cert)
    assert.equal(verifyChain([cert], { now: NOW, trustedRoot: key.publicKey.bytes }), cert)
  })

  test('a group root → membership → membership chain verifies and returns the leaf', () => {
    const random = new SeededRandom('cert/chain')
    const links = makeChain(random, 3)
    const chain = certsOf(links)
    const root = links[0] as Link
    assert.equal(chain[0]?.type, 'group-root')
    assert.equal(chain[1]?.issuerName, chain[0]?.subjectName)
    assert.equal(chain[2]?.issuerName, chain[1]?.subjectName)
    assert.equal(chain[2]?.isSelfSigned, false)
    assert.equal(verifyChain(chain, { now: NOW }), chain[2])
    assert.equal(verifyChain(chain, { now: NOW, trustedRoot: root.key.publicKey }), chain[2])
    // prefixes of a valid chain are valid chains
    assert.equal(verifyChain(chain.slice(0, 2), { now: NOW }), chain[1])
  })

  test('an identity root may head a chain too', () => {
    const random = new SeededRandom('cert/identity-chain')
    const root = makeRoot(random, 'identity')
    const leaf = issueTo(root, random)
    assert.equal(verifyChain([root.cert, leaf.cert], { now: NOW }), leaf.cert)
  })

  test('validity bounds are inclusive', () => {
    const random = new SeededRandom('cert/bounds')
    const { cert } = makeRoot(random, 'identity', { notBefore: T0, notAfter: T0 + DAY })
    verifyChain([cert], { now: T0 })
    verifyChain([cert], { now: T0 + DAY })
    assert.ok(cert.isValidAt(T0) && cert.isValidAt(T0 + DAY))
    assert.equal(cert.isValidAt(T0 - 1), false)
    assert.equal(cert.isValidAt(T0 + DAY + 1), false)
  })

  test('roles and classifiers are carried through encode and decode', () => {
    const random = new SeededRandom('cert/roles')
    const root = makeRoot(random, 'group-root', { roles: ['admin'], classifiers: ['team'] })
    const leaf = issueTo(root, random, {
      roles: ['member', 'inviting-member'],
      classifiers: ['chat', 'caf\u00e9', '\u{1F600}', ''],
    })
    const decoded = Certificate.decode(leaf.cert.encode())
    assert.deepEqual(decoded.roles, ['member', 'inviting-member'])
    assert.deepEqual(decoded.classifiers, ['chat', 'caf\u00e9', '\u{1F600}', ''])
    const decodedRoot = Certificate.decode(root.cert.encode())
    assert.deepEqual(decodedRoot.roles, ['admin'])
    assert.deepEqual(decodedRoot.classifiers, ['team'])
    verifyChain([decodedRoot, decoded], { now: NOW })
  })

  test('encode and decode round trip to identical bytes and fields', () => {
    const random = new SeededRandom('cert/round-trip')
    for (const link of makeChain(random, 4)) {
      const bytes = link.cert.encode()
      assert.ok(bytes.length <= MAX_CERTIFICATE_BYTES)
      const decoded = Certificate.decode(bytes)
      assert.deepEqual(decoded.encode(), bytes)
      assert.deepEqual(decoded.tbs, link.cert.tbs)
      assert.deepEqual(decoded.signature, link.cert.signature)
      const fields: Array<keyof CertificateFields> = [
        'type',
        'serial',
        'subjectKey',
        'subjectName',
        'issuerKey',
        'issuerName',
        'roles',
        'classifiers',
        'notBefore',
        'notAfter',
      ]
      for (const f of fields) assert.deepEqual(decoded[f], link.cert[f], f)
    }
  })

  test('issuing is reproducible from a seed', () => {
    const a = makeChain(new SeededRandom('cert/replay'), 3)
    const b = makeChain(new SeededRandom('cert/replay'), 3)
    assert.deepEqual(
      a.map((l) => l.cert.encode()),
      b.map((l) => l.cert.encode()),
    )
  })
})

describe('Certificate.decode refuses bad bytes', () => {
  const random = new SeededRandom('cert/decode')
  const root = makeRoot(random)
  const leaf = issueTo(root, random)

  test('times beyond the Date range are refused at decoding, never a RangeError later', () => {
    for (const field of ['notBefore', 'notAfter']) {
      const far = encodeRaw({ ...tbsMap(root.cert), notBefore: 1, [field]: 9e15 }, root.key)
      throwsCode(() => Certificate.decode(far), 'PEER_E_INVALID_CREDENTIAL', field)
    }
  })

  test('garbage, empty and oversized input', () => {
    const garbage = [
      new Uint8Array(0),
      new Uint8Array([0]),
      new Uint8Array([0xff]),
      new TextEncoder().encode('not a certificate'),
      encodeCbor('text'),
      encodeCbor([]),
      encodeCbor([new Uint8Array(10)]),
      encodeCbor([new Uint8Array(10), new Uint8Array(64), new Uint8Array(1)]),
      encodeCbor([new Uint8Array(10), new Uint8Array(63)]),
      encodeCbor([new Uint8Array(0), new Uint8Array(64)]),
      encodeCbor({ tbs: new Uint8Array(10), signature: new Uint8Array(64) }),
      encodeCbor([encodeCbor({ v: 1 }), new Uint8Array(64)]),
      encodeCbor([encodeCbor([1, 2, 3]), new Uint8Array(64)]),
      random.bytes(200),
    ]
    for (const [i, bytes] of garbage.entries()) {
      assert.throws(
        () => Certificate.decode(bytes),
        (err: unknown) => err instanceof PeerError,
        `garbage ${i}`,
      )
    }
    const huge = encodeCbor([new Uint8Array(MAX_CERTIFICATE_BYTES + 1), new Uint8Array(64)])
    assert.throws(
      () => Certificate.decode(huge),
      (err: unknown) => err instanceof PeerError,
    )
    throwsCode(() => Certificate.decode(new Uint8Array(1 << 20)), 'PEER_E_TOO_LARGE')
    throwsCode(
      () => Certificate.decode('abc' as unknown as Uint8Array),
      'PEER_E_INVALID_CREDENTIAL',
    )
  })

  test('every truncation, and trailing bytes', () => {
    const bytes = leaf.cert.encode()
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(
        () => Certificate.decode(bytes.subarray(0, n)),
        (err: unknown) => err instanceof PeerError,
        `first ${n} bytes`,
      )
    }
    const longer = new Uint8Array(bytes.length + 1)
    longer.set(bytes)
    throwsCode(() => Certificate.decode(longer), 'PEER_E_INVALID_CREDENTIAL')
  })

  test('a tbs with an unknown version is PEER_E_UNSUPPORTED_VERSION', () => {
    for (const v of [0, 2, 255, '1']) {
      const bytes = encodeRaw({ ...tbsMap(leaf.cert), v }, root.key)
      throwsCode(() => Certificate.decode(bytes), 'PEER_E_UNSUPPORTED_VERSION', `v=${String(v)}`)
    }
    const { v: _v, ...noVersion } = tbsMap(leaf.cert)
    throwsCode(
      () => Certificate.decode(encodeRaw(noVersion, root.key)),
      'PEER_E_UNSUPPORTED_VERSION',
    )
    // the untouched tbs, re-signed, still decodes
    Certificate.decode(encodeRaw(tbsMap(leaf.cert), root.key))
  })

  test('a subject name that does not belong to the subject key', () => {
    const other = KeyPair.generate(random)
    const bad = encodeRaw({ ...tbsMap(leaf.cert), subjectName: nameOf(other, 'member') }, root.key)
    throwsCode(() => Certificate.decode(bad), 'PEER_E_INVALID_CREDENTIAL')
    // nor may it be an unsecured name, or name the issuer
    for (const subjectName of ['0.member', root.cert.subjectName, 'not a name']) {
      const bytes = encodeRaw({ ...tbsMap(leaf.cert), subjectName }, root.key)
      throwsCode(() => Certificate.decode(bytes), 'PEER_E_INVALID_CREDENTIAL', subjectName)
    }
    // the same for the issuer name
    const badIssuer = encodeRaw({ ...tbsMap(leaf.cert), issuerName: nameOf(other) }, root.key)
    throwsCode(() => Certificate.decode(badIssuer), 'PEER_E_INVALID_CREDENTIAL')
    // Certificate.sign refuses to produce one
    throwsCode(
      () =>
        Certificate.sign(
          {
            ...leaf.cert,
            type: leaf.cert.type,
            subjectName: nameOf(other, 'member'),
          },
          root.key,
        ),
      'PEER_E_INVALID_CREDENTIAL',
    )
  })

  test('a certificate for a key of small order (anyone can sign for it) is refused', () => {
    // The identity point: (R = identity, S = 0) verifies for every message under it.
    const key = new Uint8Array(32)
    key[0] = 1
    const universal = new Uint8Array(64)
    universal[0] = 1
    const tbs = encodeCbor({
      ...tbsMap(root.cert),
      type: 'identity',
      subjectKey: key,
      issuerKey: key,
      subjectName: `${authorityOf(key)}.nobody`,
      issuerName: `${authorityOf(key)}.nobody`,
    })
    assert.throws(() => Certificate.decode(encodeCbor([tbs, universal])), {
      code: 'PEER_E_INVALID_CREDENTIAL',
      message: /subject key: .*small order/,
    })
  })

  test('names and classifiers must be canonical', () => {
    const authority = leaf.key.publicKey.authority
    const nfd = encodeRaw(
      { ...tbsMap(leaf.cert), subjectName: `${authority}.cafe\u0301` },
      root.key,
    )
    throwsCode(() => Certificate.decode(nfd), 'PEER_E_INVALID_CREDENTIAL')
    const bare = encodeRaw({ ...tbsMap(leaf.cert), subjectName: authority }, root.key)
    throwsCode(() => Certificate.decode(bare), 'PEER_E_INVALID_CREDENTIAL')
    const classifier = encodeRaw({ ...tbsMap(leaf.cert), classifiers: ['e\u0301'] }, root.key)
    throwsCode(() => Certificate.decode(classifier), 'PEER_E_INVALID_CREDENTIAL')
    const control = encodeRaw({ ...tbsMap(leaf.cert), classifiers: ['a\u0000'] }, root.key)
    throwsCode(() => Certificate.decode(control), 'PEER_E_INVALID_CREDENTIAL')
  })

  test('fields out of shape or range', () => {
    const base = tbsMap(leaf.cert)
    const cases: Array<[string, Record<string, unknown>]> = [
      ['unknown field', { ...base, extra: 1 }],
      ['unknown type', { ...base, type: 'admin' }],
      ['short serial', { ...base, serial: new Uint8Array(15) }],
      ['short subject key', { ...base, subjectKey: new Uint8Array(31) }],
      ['text roles', { ...base, roles: 'member' }],
      ['empty role', { ...base, roles: [''] }],
      ['17 roles', { ...base, roles: Array.from({ length: 17 }, (_, i) => `r${i}`) }],
      ['65-byte role', { ...base, roles: ['r'.repeat(65)] }],
      ['17 classifiers', { ...base, classifiers: Array.from({ length: 17 }, (_, i) => `c${i}`) }],
      ['negative time', { ...base, notBefore: -1 }],
      ['notBefore after notAfter', { ...base, notBefore: T0 + 2 * DAY, notAfter: T0 + DAY }],
    ]
    const { notAfter: _n, ...missing } = base
    cases.push(['missing notAfter', missing])
    for (const [what, tbs] of cases) {
      throwsCode(
        () => Certificate.decode(encodeRaw(tbs, root.key)),
        'PEER_E_INVALID_CREDENTIAL',
        what,
      )
    }
  })

  test('a non-deterministic CBOR encoding is refused', () => {
    const bytes = leaf.cert.encode()
    // 0x82 = array(2); re-encode the same array with a 1-byte length (0x98 0x02)
    assert.equal(bytes[0], 0x82)
    const long = new Uint8Array(bytes.length + 1)
    long.set([0x98, 0x02])
    long.set(bytes.subarray(1), 2)
    throwsCode(() => Certificate.decode(long), 'PEER_E_INVALID_CREDENTIAL')
  })
})

describe('verifyChain failures, each with its own code', () => {
  test('a chain of 24 passes; 25 is PEER_E_CHAIN_TOO_LONG', () => {
    assert.equal(MAX_CHAIN_LENGTH, 24)
    const random = new SeededRandom('cert/long')
    const links = makeChain(random, 25)
    const chain = certsOf(links)
    assert.equal(verifyChain(chain.slice(0, 24), { now: NOW }), chain[23])
    const err = throwsCode(() => verifyChain(chain, { now: NOW }), 'PEER_E_CHAIN_TOO_LONG')
    assert.deepEqual(err.details, { length: 25, limit: 24 })
    // maxLength can only tighten the limit
    throwsCode(
      () => verifyChain(chain.slice(0, 4), { now: NOW, maxLength: 3 }),
      'PEER_E_CHAIN_TOO_LONG',
    )
    throwsCode(() => verifyChain(chain, { now: NOW, maxLength: 100 }), 'PEER_E_CHAIN_TOO_LONG')
    verifyChain(chain.slice(0, 3), { now: NOW, maxLength: 3 })
  })

  test('an empty chain is E_INVALIDARG', () => {
    throwsCode(() => verifyChain([], { now: NOW }), 'E_INVALIDARG')
  })

  test('expired and not-yet-valid certificates are PEER_E_INVALID_TIME_PERIOD', () => {
    const random = new SeededRandom('cert/time')
    const root = makeRoot(random, 'group-root', { notBefore: T0, notAfter: T0 + 10 * DAY })
    const leaf = issueTo(root, random, { notBefore: T0 + 2 * DAY, notAfter: T0 + 5 * DAY })
    const chain = [root.cert, leaf.cert]
    verifyChain(chain, { now: T0 + 3 * DAY })
    const early = throwsCode(
      () => verifyChain(chain, { now: T0 + DAY }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    assert.deepEqual(early.details, { index: 1 })
    assert.match(early.message, /not valid before/)
    const late = throwsCode(
      () => verifyChain(chain, { now: T0 + 6 * DAY }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    assert.match(late.message, /expired/)
    const rootExpired = throwsCode(
      () => verifyChain(chain, { now: T0 + 11 * DAY }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    assert.deepEqual(rootExpired.details, { index: 0 })
    // An issuer's clock may run up to MAX_CLOCK_SKEW_MS ahead of ours, and no further.
    verifyChain([root.cert], { now: T0 - MAX_CLOCK_SKEW_MS })
    throwsCode(
      () => verifyChain([root.cert], { now: T0 - MAX_CLOCK_SKEW_MS - 1 }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    throwsCode(
      () => verifyChain([root.cert], { now: T0 - 1, clockSkewMs: 0 }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
  })

  test('a circular chain is PEER_E_CIRCULAR_CHAIN_DETECTED', () => {
    const random = new SeededRandom('cert/circular')
    const a = makeRoot(random)
    const b = issueTo(a, random)
    // B issues a certificate for A's key
    const backToA = issueTo(b, random, {}, a.key)
    const err = throwsCode(
      () => verifyChain([a.cert, b.cert, backToA.cert], { now: NOW }),
      'PEER_E_CIRCULAR_CHAIN_DETECTED',
    )
    assert.deepEqual(err.details, { index: 2 })
    // a key issuing to itself inside a chain is a loop too
    const selfLoop = issueTo(b, random, {}, b.key)
    throwsCode(
      () => verifyChain([a.cert, b.cert, selfLoop.cert], { now: NOW }),
      'PEER_E_CIRCULAR_CHAIN_DETECTED',
    )
  })

  test('an over-lifetime certificate is PEER_E_LIFETIME_EXCEEDS_ISSUER', () => {
    const random = new SeededRandom('cert/lifetime')
    const root = makeRoot(random, 'group-root', { notBefore: T0, notAfter: T0 + 10 * DAY })
    const member = KeyPair.generate(random)
    const fields = (notBefore: number, notAfter: number): CertificateFields => ({
      type: 'membership',
      serial: random.bytes(16),
      subjectKey: member.publicKey.bytes,
      subjectName: nameOf(member, 'member'),
      issuerKey: root.key.publicKey.bytes,
      issuerName: root.cert.subjectName,
      roles: ['member'],
      classifiers: [],
      notBefore,
      notAfter,
    })
    for (const [notBefore, notAfter] of [
      [T0, T0 + 20 * DAY],
      [T0 - DAY, T0 + 5 * DAY],
    ] as const) {
      const cert = Certificate.sign(fields(notBefore, notAfter), root.key)
      const err = throwsCode(
        () => verifyChain([root.cert, cert], { now: NOW }),
        'PEER_E_LIFETIME_EXCEEDS_ISSUER',
      )
      assert.deepEqual(err.details, { index: 1 })
      throwsCode(
        () =>
          issueCertificate({
            issuer: root.key,
            issuerCertificate: root.cert,
            type: 'membership',
            subjectKey: member.publicKey,
            subjectName: nameOf(member, 'member'),
            notBefore,
            notAfter,
            random,
          }),
        'PEER_E_LIFETIME_EXCEEDS_ISSUER',
      )
    }
    // exactly the issuer's lifetime is allowed
    verifyChain([root.cert, Certificate.sign(fields(T0, T0 + 10 * DAY), root.key)], { now: NOW })
  })

  describe('PEER_E_CERTIFICATE_NOT_TRUSTED', () => {
    const random = new SeededRandom('cert/not-trusted')
    const root = makeRoot(random)
    const leaf = issueTo(root, random)
    const stranger = makeRoot(random)

    test('a forged signature', () => {
      const forged = Certificate.decode(
        encodeCbor([leaf.cert.tbs, stranger.key.sign(DOMAIN.certificate, leaf.cert.tbs)]),
      )
      throwsCode(
        () => verifyChain([root.cert, forged], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      const zero = Certificate.decode(encodeCbor([leaf.cert.tbs, new Uint8Array(64)]))
      throwsCode(
        () => verifyChain([root.cert, zero], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      // a signature made for another domain over the same bytes
      const domain = Certificate.decode(
        encodeCbor([leaf.cert.tbs, root.key.sign('peerinfra/v1/other', leaf.cert.tbs)]),
      )
      throwsCode(
        () => verifyChain([root.cert, domain], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      // a self-signed root whose signature is not its own
      const rootForged = Certificate.decode(
        encodeCbor([root.cert.tbs, stranger.key.sign(DOMAIN.certificate, root.cert.tbs)]),
      )
      throwsCode(() => verifyChain([rootForged], { now: NOW }), 'PEER_E_CERTIFICATE_NOT_TRUSTED')
    })

    test('a certificate whose bytes were altered', () => {
      const bytes = leaf.cert.encode()
      // change one byte of the serial: the certificate still decodes, but no longer verifies
      const at = Buffer.from(bytes).indexOf(Buffer.from(leaf.cert.serial))
      assert.ok(at > 0)
      const altered = new Uint8Array(bytes)
      altered[at] = (altered[at] as number) ^ 0x80
      const cert = Certificate.decode(altered)
      assert.notDeepEqual(cert.serial, leaf.cert.serial)
      throwsCode(
        () => verifyChain([root.cert, cert], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      // a re-dated certificate, keeping the old signature
      const redated = encodeCbor({ ...tbsMap(leaf.cert), notAfter: leaf.cert.notAfter - 1 })
      const cert2 = Certificate.decode(encodeCbor([redated, leaf.cert.signature]))
      throwsCode(
        () => verifyChain([root.cert, cert2], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
    })

    test('a link not issued by the previous certificate', () => {
      const strangersMember = issueTo(stranger, random)
      throwsCode(
        () => verifyChain([root.cert, strangersMember.cert], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      // the right issuer key but the wrong issuer name
      const wrongName = Certificate.sign(
        { ...leaf.cert, type: 'membership', issuerName: nameOf(root.key, 'other') },
        root.key,
      )
      throwsCode(
        () => verifyChain([root.cert, wrongName], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      // links out of order
      const grandchild = issueTo(leaf, random)
      throwsCode(
        () => verifyChain([root.cert, grandchild.cert, leaf.cert], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
    })

    test('an untrusted root, or a root that is not a root', () => {
      throwsCode(
        () =>
          verifyChain([root.cert, leaf.cert], { now: NOW, trustedRoot: stranger.key.publicKey }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      throwsCode(
        () => verifyChain([root.cert], { now: NOW, trustedRoot: leaf.key.publicKey.bytes }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
      // a membership certificate cannot start a chain
      throwsCode(() => verifyChain([leaf.cert], { now: NOW }), 'PEER_E_CERTIFICATE_NOT_TRUSTED')
      // a self-signed membership certificate neither
      const selfMember = Certificate.sign(
        {
          ...leaf.cert,
          type: 'membership',
          issuerKey: leaf.key.publicKey.bytes,
          issuerName: leaf.cert.subjectName,
        },
        leaf.key,
      )
      throwsCode(() => verifyChain([selfMember], { now: NOW }), 'PEER_E_CERTIFICATE_NOT_TRUSTED')
      // an identity or group root certificate cannot sit inside a chain
      const rootAsLink = Certificate.sign({ ...leaf.cert, type: 'identity' }, root.key)
      throwsCode(
        () => verifyChain([root.cert, rootAsLink], { now: NOW }),
        'PEER_E_CERTIFICATE_NOT_TRUSTED',
      )
    })
  })

  test('the failure codes are distinct', () => {
    const codes: PeerErrorCode[] = [
      'PEER_E_CHAIN_TOO_LONG',
      'PEER_E_INVALID_TIME_PERIOD',
      'PEER_E_CIRCULAR_CHAIN_DETECTED',
      'PEER_E_LIFETIME_EXCEEDS_ISSUER',
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
    ]
    const hresults = codes.map((code) => new PeerError(code, code).hresult)
    assert.equal(new Set(hresults).size, codes.length)
  })
})

describe('issuing rules', () => {
  const random = new SeededRandom('cert/issuing')
  const root = makeRoot(random)

  test('a self-signed certificate must be signed by its subject key', () => {
    const other = KeyPair.generate(random)
    throwsCode(
      () =>
        issueCertificate({
          issuer: root.key,
          type: 'identity',
          subjectKey: other.publicKey,
          subjectName: nameOf(other),
          notBefore: T0,
          notAfter: T0 + DAY,
          random,
        }),
      'E_INVALIDARG',
    )
  })

  test("the issuer key must be the issuer certificate's subject", () => {
    const other = KeyPair.generate(random)
    throwsCode(
      () =>
        issueCertificate({
          issuer: other,
          issuerCertificate: root.cert,
          type: 'membership',
          subjectKey: other.publicKey,
          subjectName: nameOf(other),
          notBefore: T0,
          notAfter: T0 + DAY,
          random,
        }),
      'E_INVALIDARG',
    )
  })

  test('Certificate.sign needs the issuer key named in the fields', () => {
    const other = KeyPair.generate(random)
    throwsCode(
      () => Certificate.sign({ ...root.cert, type: root.cert.type }, other),
      'E_INVALIDARG',
    )
  })
})

describe('checkIssue', () => {
  const random = new SeededRandom('cert/check-issue')
  const links = makeChain(random, 4)
  const chain = certsOf(links)

  test('is called once per link, issuer first', () => {
    const calls: Array<[string, string]> = []
    verifyChain(chain, {
      now: NOW,
      checkIssue: (issuer, subject) => {
        calls.push([issuer.subjectName, subject.subjectName])
      },
    })
    assert.deepEqual(
      calls,
      [1, 2, 3].map((i) => [chain[i - 1]?.subjectName, chain[i]?.subjectName]),
    )
    let rootOnly = 0
    verifyChain(chain.slice(0, 1), { now: NOW, checkIssue: () => void rootOnly++ })
    assert.equal(rootOnly, 0)
  })

  test('can refuse a link', () => {
    const err = throwsCode(
      () =>
        verifyChain(chain, {
          now: NOW,
          checkIssue: (issuer, subject) => {
            if (subject === chain[2]) {
              throw new PeerError('PEER_E_NOT_AUTHORIZED', `${issuer.subjectName} may not issue`)
            }
          },
        }),
      'PEER_E_NOT_AUTHORIZED',
    )
    assert.match(err.message, /may not issue/)
  })

  test('is not consulted for a chain that already failed', () => {
    let called = false
    throwsCode(
      () =>
        verifyChain(chain, {
          now: T0 + 2 * YEAR,
          checkIssue: () => {
            called = true
          },
        }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    assert.equal(called, false)
  })
})

describe('every single-byte change is caught', () => {
  function flipAll(bytes: Uint8Array, random: SeededRandom, check: (c: Certificate) => void): void {
    for (let i = 0; i < bytes.length; i++) {
      const flipped = new Uint8Array(bytes)
      const xor = 1 + random.int(255)
      flipped[i] = (flipped[i] as number) ^ xor
      let accepted = false
      try {
        check(Certificate.decode(flipped))
        accepted = true
      } catch (err) {
        assert.ok(
          err instanceof PeerError,
          `byte ${i} ^ 0x${xor.toString(16)}: expected a PeerError, got ${String(err)}`,
        )
      }
      assert.equal(accepted, false, `byte ${i} ^ 0x${xor.toString(16)} was accepted`)
    }
  }

  test('an identity certificate', () => {
    const random = new SeededRandom('cert/flip-identity')
    const { cert } = makeRoot(random, 'identity', { roles: ['r'], classifiers: ['c'] })
    verifyChain([Certificate.decode(cert.encode())], { now: NOW })
    flipAll(cert.encode(), random, (c) => verifyChain([c], { now: NOW }))
  })

  test('the leaf of a membership chain', () => {
    const random = new SeededRandom('cert/flip-chain')
    const [root, leaf] = makeChain(random, 2) as [Link, Link]
    verifyChain([root.cert, Certificate.decode(leaf.cert.encode())], { now: NOW })
    flipAll(leaf.cert.encode(), random, (c) => verifyChain([root.cert, c], { now: NOW }))
    // ... and its root, with the leaf untouched
    flipAll(root.cert.encode(), random, (c) => verifyChain([c, leaf.cert], { now: NOW }))
  })
})
