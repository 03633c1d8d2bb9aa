import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError, type PeerErrorCode } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { MAX_CLOCK_SKEW_MS } from '../../src/identity/constants.ts'
import { KeyPair, type PublicKey } from '../../src/identity/keys.ts'
import {
  CPA_LIFETIME_MS,
  CPA_SIGNATURE_DOMAIN,
  CPA_VERSION,
  MAX_ADDRESS_LENGTH,
  MAX_CPA_COMMENT_LENGTH,
  MAX_CPA_ENDPOINTS,
  MAX_CPA_LIFETIME_MS,
  MAX_CPA_PAYLOAD_BYTES,
  MAX_PNRP_DATAGRAM_BYTES,
  NONCE_BYTES,
  SERVICE_LOCATION_BYTES,
} from '../../src/pnrp/constants.ts'
import { Cpa, MAX_CPA_BYTES, ZERO_NONCE, type CpaFields } from '../../src/pnrp/cpa.ts'
import { addToId, p2pIdOf, pnrpIdOf } from '../../src/pnrp/ids.ts'
import type { Endpoint } from '../../src/pnrp/types.ts'
import { decodeCbor, encodeCbor } from '../../src/wire/cbor.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0
const random = new SeededRandom('pnrp/cpa')
const alice = KeyPair.generate(random)
const bob = KeyPair.generate(random)
const LOC = random.bytes(SERVICE_LOCATION_BYTES)
const NONCE = random.bytes(NONCE_BYTES)
const ALICE_NAME = `${alice.publicKey.authority}.chat`

function fieldsFor(key: KeyPair, over: Partial<CpaFields> = {}): CpaFields {
  return {
    peerName: `${key.publicKey.authority}.chat`,
    serviceLocation: LOC,
    endpoints: [
      { address: '2001:db8::1', port: 3540 },
      { address: '192.0.2.7', port: 40000 },
    ],
    payload: new Uint8Array(0),
    comment: '',
    notAfter: T0 + CPA_LIFETIME_MS,
    nonce: ZERO_NONCE,
    revoke: false,
    ...over,
  }
}

/** The tbs map Cpa.sign writes for `fieldsFor(key)`, to alter before forging. */
function tbsMap(key: KeyPair, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: CPA_VERSION,
    name: `${key.publicKey.authority}.chat`,
    key: key.publicKey.bytes,
    loc: LOC,
    nonce: ZERO_NONCE,
    notAfter: T0 + CPA_LIFETIME_MS,
    endpoints: [['2001:db8::1', 3540]],
    ...over,
  }
}

/** A correctly signed envelope around any tbs bytes. */
function envelope(tbs: Uint8Array, key: KeyPair): Uint8Array {
  return encodeCbor([tbs, key.sign(CPA_SIGNATURE_DOMAIN, tbs)])
}

function forge(map: Record<string, unknown>, key: KeyPair): Uint8Array {
  return envelope(encodeCbor(map), key)
}

function malformed(bytes: Uint8Array, message?: RegExp | string): PeerError {
  return throwsPeerError(() => Cpa.decode(bytes), 'PEER_E_MALFORMED_MESSAGE', message)
}

function invalidArg(fields: CpaFields, message: RegExp | string, key = alice): PeerError {
  return throwsPeerError(() => Cpa.sign(fields, key), 'E_INVALIDARG', message)
}

/** Signs, decodes and verifies: the field values are accepted on both sides. */
function roundTrip(fields: CpaFields, key = alice): Cpa {
  const cpa = Cpa.decode(Cpa.sign(fields, key).bytes)
  cpa.verify({ now: NOW })
  return cpa
}

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 1000 + i }))
}

function replaceOnce(bytes: Uint8Array, from: number[], to: number[]): Uint8Array {
  const at = Buffer.from(bytes).indexOf(Buffer.from(from))
  assert.ok(at >= 0, 'pattern present')
  return new Uint8Array([...bytes.subarray(0, at), ...to, ...bytes.subarray(at + from.length)])
}

/** Decode and verify `bytes` as a resolver would; returns the error, or undefined if accepted. */
function tryAccept(bytes: Uint8Array, id: bigint): PeerError | undefined {
  try {
    Cpa.decode(bytes).verify({ now: NOW, nonce: NONCE, id })
    return undefined
  } catch (err) {
    if (!(err instanceof PeerError)) throw err
    return err
  }
}

describe('Cpa.sign and Cpa.decode', () => {
  test('round trip: identical bytes, equal fields, the ID of the name and location', () => {
    const fields = fieldsFor(alice, {
      payload: random.bytes(100),
      comment: 'hello, wörld 😀',
      nonce: NONCE,
    })
    const cpa = Cpa.sign(fields, alice)
    const back = Cpa.decode(cpa.bytes)
    assert.deepEqual(back.bytes, cpa.bytes)
    assert.deepEqual(back.tbs, cpa.tbs)
    assert.deepEqual(back.signature, cpa.signature)
    assert.deepEqual(back.toFields(), fields)
    assert.deepEqual(cpa.toFields(), fields)
    assert.deepEqual(back.publicKey, alice.publicKey.bytes)
    assert.equal(back.peerName, ALICE_NAME)
    assert.deepEqual(back.endpoints, fields.endpoints)
    assert.equal(back.revoke, false)
    const id = pnrpIdOf(p2pIdOf(ALICE_NAME), LOC)
    assert.equal(cpa.id, id)
    assert.equal(back.id, id)
    assert.ok(back.signer.equals(alice.publicKey))
    assert.equal(back.signer, back.signer, 'one PublicKey per CPA')
    back.verify({ now: NOW, nonce: NONCE, id })
    cpa.verify({ now: NOW, nonce: NONCE, id })
  })

  test('tbs is the deterministic map; empty payload, empty comment and revoke false are left out', () => {
    const plain = Cpa.sign(fieldsFor(alice), alice)
    const map = decodeCbor(plain.tbs) as Record<string, unknown>
    assert.deepEqual(Object.keys(map).sort(), [
      'endpoints',
      'key',
      'loc',
      'name',
      'nonce',
      'notAfter',
      'v',
    ])
    assert.deepEqual(map['endpoints'], [
      ['2001:db8::1', 3540],
      ['192.0.2.7', 40000],
    ])
    assert.deepEqual(decodeCbor(plain.bytes), [plain.tbs, plain.signature])
    const full = Cpa.sign(
      fieldsFor(alice, { payload: new Uint8Array([1]), comment: 'c', revoke: true }),
      alice,
    )
    const fullMap = decodeCbor(full.tbs) as Record<string, unknown>
    assert.deepEqual(fullMap['payload'], new Uint8Array([1]))
    assert.equal(fullMap['comment'], 'c')
    assert.equal(fullMap['revoke'], true)
    assert.equal(Cpa.decode(full.bytes).revoke, true)
  })

  test('signing is deterministic, so re-signing the same fields gives the same bytes', () => {
    const cpa = Cpa.sign(fieldsFor(alice, { comment: 'x', nonce: NONCE }), alice)
    assert.deepEqual(Cpa.sign(cpa.toFields(), alice).bytes, cpa.bytes)
  })

  test('sign and decode copy their inputs', () => {
    const fields = fieldsFor(alice, { payload: new Uint8Array([1, 2, 3]), nonce: NONCE.slice() })
    const cpa = Cpa.sign(fields, alice)
    fields.payload.fill(9)
    fields.nonce.fill(9)
    fields.endpoints.push({ address: 'x', port: 1 })
    assert.deepEqual(cpa.payload, new Uint8Array([1, 2, 3]))
    assert.deepEqual(cpa.nonce, NONCE)
    assert.equal(cpa.endpoints.length, 2)
    assert.ok(Object.isFrozen(cpa.endpoints))
    const input = cpa.bytes.slice()
    const back = Cpa.decode(input)
    input.fill(0)
    assert.deepEqual(back.bytes, cpa.bytes)
    back.verify({ now: NOW, nonce: NONCE })
  })

  test('a secured name is signed only by its own key', () => {
    throwsPeerError(() => Cpa.sign(fieldsFor(alice), bob), 'PEER_E_INVALID_IDENTITY', /authority/)
  })

  test('an unsecured name may be signed, and verifies, under any key', () => {
    const a = roundTrip(fieldsFor(alice, { peerName: '0.chat' }), alice)
    const b = roundTrip(fieldsFor(alice, { peerName: '0.chat' }), bob)
    assert.equal(a.id, b.id)
    assert.deepEqual(b.publicKey, bob.publicKey.bytes)
  })

  test('the peer name must be canonical and valid', () => {
    const authority = alice.publicKey.authority
    for (const peerName of [
      authority, // parses as `<authority>.`
      `${authority.toUpperCase()}.chat`,
      `${authority}.e\u0301`, // not NFC
      '0.',
      'chat',
      '',
      `${authority}.${'x'.repeat(150)}`,
    ]) {
      invalidArg(fieldsFor(alice, { peerName }), /peerName/)
    }
    roundTrip(fieldsFor(alice, { peerName: `${authority}.` }))
    roundTrip(fieldsFor(alice, { peerName: `${authority}.\u00e9` }))
  })

  test('endpoints: MAX_CPA_ENDPOINTS (10) and no more', () => {
    assert.equal(MAX_CPA_ENDPOINTS, 10)
    assert.equal(roundTrip(fieldsFor(alice, { endpoints: endpoints(10) })).endpoints.length, 10)
    assert.equal(roundTrip(fieldsFor(alice, { endpoints: [] })).endpoints.length, 0)
    invalidArg(fieldsFor(alice, { endpoints: endpoints(11) }), /MAX_CPA_ENDPOINTS/)
  })

  test('payload: MAX_CPA_PAYLOAD_BYTES (4096) and no more', () => {
    assert.equal(MAX_CPA_PAYLOAD_BYTES, 4096)
    const payload = random.bytes(4096)
    assert.deepEqual(roundTrip(fieldsFor(alice, { payload })).payload, payload)
    invalidArg(fieldsFor(alice, { payload: new Uint8Array(4097) }), /MAX_CPA_PAYLOAD_BYTES/)
  })

  test('comment: MAX_CPA_COMMENT_LENGTH (39) code points, no control characters', () => {
    assert.equal(MAX_CPA_COMMENT_LENGTH, 39)
    for (const comment of [
      'a'.repeat(39),
      '😀'.repeat(39),
      'a'.repeat(38) + '😀',
      'é'.repeat(39),
    ]) {
      assert.equal(roundTrip(fieldsFor(alice, { comment })).comment, comment)
    }
    for (const comment of [
      'a'.repeat(40),
      '😀'.repeat(40),
      'a'.repeat(39) + '😀',
      'x'.repeat(1000),
    ]) {
      invalidArg(fieldsFor(alice, { comment }), /MAX_CPA_COMMENT_LENGTH/)
    }
    for (const comment of ['a\u0000b', 'tab\there', 'del\u007f', 'c1\u0085']) {
      invalidArg(fieldsFor(alice, { comment }), /control/)
    }
    invalidArg(fieldsFor(alice, { comment: 'lone \ud800' }), /surrogate/)
  })

  test('endpoint addresses: 1..MAX_ADDRESS_LENGTH (64) characters of [0-9A-Za-z.:%_-]', () => {
    assert.equal(MAX_ADDRESS_LENGTH, 64)
    const longest = 'a'.repeat(64)
    for (const address of [longest, 'fe80::1%eth0', 'node_7.sim-net', '::']) {
      roundTrip(fieldsFor(alice, { endpoints: [{ address, port: 80 }] }))
    }
    invalidArg(
      fieldsFor(alice, { endpoints: [{ address: longest + 'a', port: 80 }] }),
      /MAX_ADDRESS_LENGTH/,
    )
    for (const address of ['a b', 'host/x', '[::1]', 'é', 'a\u0000']) {
      invalidArg(fieldsFor(alice, { endpoints: [{ address, port: 80 }] }), /characters outside/)
    }
    invalidArg(fieldsFor(alice, { endpoints: [{ address: '', port: 80 }] }), /non-empty/)
  })

  test('endpoint ports: 1..65535', () => {
    for (const port of [1, 65535])
      roundTrip(fieldsFor(alice, { endpoints: [{ address: 'a', port }] }))
    for (const port of [0, 65536, -1, 1.5, Number.NaN]) {
      invalidArg(fieldsFor(alice, { endpoints: [{ address: 'a', port }] }), /port/)
    }
  })

  test('sizes of the service location and nonce, and the time', () => {
    invalidArg(fieldsFor(alice, { serviceLocation: new Uint8Array(15) }), /SERVICE_LOCATION_BYTES/)
    invalidArg(fieldsFor(alice, { nonce: new Uint8Array(17) }), /NONCE_BYTES/)
    for (const notAfter of [-1, 1.5, Number.NaN, Infinity, 2 ** 60]) {
      invalidArg(fieldsFor(alice, { notAfter }), /notAfter/)
    }
  })

  test('a CPA at every limit is exactly MAX_CPA_BYTES, and fits a datagram', () => {
    const cpa = Cpa.sign(
      {
        peerName: `${alice.publicKey.authority}.${'😀'.repeat(149)}`,
        serviceLocation: LOC,
        endpoints: Array.from({ length: MAX_CPA_ENDPOINTS }, () => ({
          address: 'f'.repeat(MAX_ADDRESS_LENGTH),
          port: 65535,
        })),
        payload: new Uint8Array(MAX_CPA_PAYLOAD_BYTES),
        comment: '😀'.repeat(MAX_CPA_COMMENT_LENGTH),
        notAfter: T0 + CPA_LIFETIME_MS,
        nonce: NONCE,
        revoke: true,
      },
      alice,
    )
    assert.equal(cpa.bytes.length, MAX_CPA_BYTES)
    Cpa.decode(cpa.bytes).verify({ now: NOW, nonce: NONCE })
    assert.ok(MAX_CPA_BYTES < MAX_PNRP_DATAGRAM_BYTES - 512, `${MAX_CPA_BYTES} bytes`)
  })
})

describe('Cpa.decode refuses', () => {
  const good = Cpa.sign(fieldsFor(alice), alice)

  test('an envelope over MAX_CPA_BYTES, before decoding it', () => {
    malformed(new Uint8Array(MAX_CPA_BYTES + 1), /MAX_CPA_BYTES/)
    const padded = new Uint8Array(MAX_CPA_BYTES + 1)
    padded.set(good.bytes)
    malformed(padded, /MAX_CPA_BYTES/)
  })

  test('bytes that are not a CPA envelope', () => {
    malformed(new Uint8Array(0))
    malformed(good.bytes.subarray(0, good.bytes.length - 1))
    malformed(new Uint8Array([...good.bytes, 0]))
    malformed(encodeCbor([good.tbs]))
    malformed(encodeCbor([good.tbs, good.signature, good.signature]))
    malformed(encodeCbor([good.tbs, good.signature.subarray(1)]))
    malformed(encodeCbor({ tbs: good.tbs, sig: good.signature }))
    malformed(encodeCbor([new Uint8Array(0), good.signature]))
    malformed(envelope(encodeCbor(5), alice))
    malformed(envelope(new Uint8Array([0xff]), alice))
    throwsPeerError(() => Cpa.decode('cpa' as unknown as Uint8Array), 'PEER_E_MALFORMED_MESSAGE')
  })

  test('a tbs that is not in deterministic CBOR', () => {
    // `v: 1` written with a one-byte argument where the value itself fits the head.
    const tbs = replaceOnce(good.tbs, [0x61, 0x76, 0x01], [0x61, 0x76, 0x18, 0x01])
    malformed(envelope(tbs, alice), /more bytes than necessary|deterministic/)
  })

  test('a tbs of the wrong shape', () => {
    malformed(forge(tbsMap(alice, { extra: 1 }), alice), /unknown field/)
    const missing = tbsMap(alice)
    delete missing['loc']
    malformed(forge(missing, alice), /loc: missing/)
    malformed(forge(tbsMap(alice, { v: '1' }), alice))
    malformed(forge(tbsMap(alice, { loc: new Uint8Array(15) }), alice), /loc/)
    malformed(forge(tbsMap(alice, { nonce: new Uint8Array(17) }), alice), /nonce/)
    malformed(forge(tbsMap(alice, { key: new Uint8Array(31) }), alice), /key/)
    malformed(forge(tbsMap(alice, { notAfter: -1 }), alice), /notAfter/)
    malformed(forge(tbsMap(alice, { endpoints: [['a']] }), alice), /endpoints/)
    malformed(forge(tbsMap(alice, { endpoints: [{ address: 'a', port: 1 }] }), alice))
  })

  test('empty optional fields written out (a second encoding of the same CPA)', () => {
    malformed(forge(tbsMap(alice, { payload: new Uint8Array(0) }), alice), /payload/)
    malformed(forge(tbsMap(alice, { comment: '' }), alice), /comment/)
    malformed(forge(tbsMap(alice, { revoke: false }), alice), /revoke/)
    // ... while the same fields, written properly, decode.
    Cpa.decode(
      forge(tbsMap(alice, { payload: new Uint8Array(1), comment: 'c', revoke: true }), alice),
    )
  })

  test('a CPA version we do not know', () => {
    throwsPeerError(
      () => Cpa.decode(forge(tbsMap(alice, { v: CPA_VERSION + 1 }), alice)),
      'PEER_E_UNSUPPORTED_VERSION',
    )
  })

  test('a name that is invalid or not canonical', () => {
    const authority = alice.publicKey.authority
    for (const name of [
      authority,
      `${authority.toUpperCase()}.chat`,
      `${authority}.e\u0301`,
      '0.',
      'nonsense',
      `${authority}.a\u0000`,
    ]) {
      malformed(forge(tbsMap(alice, { name }), alice), /peerName/)
    }
  })

  test('endpoints, payload and comment beyond their limits', () => {
    const many = endpoints(11).map((e) => [e.address, e.port])
    malformed(forge(tbsMap(alice, { endpoints: many }), alice), /endpoints/)
    for (const endpoint of [
      ['a', 0],
      ['a', 65536],
      ['a b', 80],
      ['', 80],
      ['a'.repeat(65), 80],
    ]) {
      malformed(forge(tbsMap(alice, { endpoints: [endpoint] }), alice), /endpoints\[0\]/)
    }
    malformed(forge(tbsMap(alice, { payload: new Uint8Array(4097) }), alice), /payload/)
    malformed(forge(tbsMap(alice, { comment: 'a'.repeat(40) }), alice), /MAX_CPA_COMMENT_LENGTH/)
    malformed(forge(tbsMap(alice, { comment: 'a\u0001' }), alice), /control/)
  })

  test('a key of small order (anyone could sign for it)', () => {
    const identity = new Uint8Array(32)
    identity[0] = 1
    malformed(forge(tbsMap(alice, { name: '0.chat', key: identity }), alice), /small order/)
    const signBit = identity.slice()
    signBit[31] = 0x80
    malformed(forge(tbsMap(alice, { name: '0.chat', key: signBit }), alice), /small order/)
  })
})

describe('Cpa.verify', () => {
  const cpa = Cpa.decode(Cpa.sign(fieldsFor(alice, { nonce: NONCE }), alice).bytes)

  test('accepts a good CPA with its nonce and ID', () => {
    cpa.verify({ now: NOW })
    cpa.verify({ now: NOW, nonce: NONCE, id: cpa.id })
    cpa.verify({ now: NOW, nonce: NONCE.slice(), clockSkewMs: 0 })
  })

  test('a byte changed in tbs: the signature fails', () => {
    const payload = new Uint8Array([0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4])
    const original = Cpa.sign(fieldsFor(alice, { payload }), alice)
    const tampered = replaceOnce(original.bytes, [...payload], [0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 5])
    const decoded = Cpa.decode(tampered)
    assert.deepEqual(decoded.payload, new Uint8Array([0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 5]))
    throwsPeerError(
      () => decoded.verify({ now: NOW }),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      /signature/,
    )
  })

  test('a changed signature fails', () => {
    const bytes = cpa.bytes.slice()
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x80
    throwsPeerError(
      () => Cpa.decode(bytes).verify({ now: NOW }),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      /signature/,
    )
  })

  test('a secured name signed by a key that does not own it', () => {
    const forged = Cpa.decode(forge(tbsMap(bob, { name: ALICE_NAME }), bob))
    throwsPeerError(
      () => forged.verify({ now: NOW }),
      'PEER_E_CERTIFICATE_NOT_TRUSTED',
      /does not own/,
    )
  })

  test('a nonce other than ours is a replay', () => {
    const other = NONCE.slice()
    other[0] = (other[0] as number) ^ 1
    throwsPeerError(
      () => cpa.verify({ now: NOW, nonce: other }),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      /replay/,
    )
    const unsolicited = Cpa.sign(fieldsFor(alice), alice)
    throwsPeerError(
      () => unsolicited.verify({ now: NOW, nonce: NONCE }),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
    )
  })

  test('an ID other than the one asked for', () => {
    throwsPeerError(
      () => cpa.verify({ now: NOW, id: addToId(cpa.id, 1n) }),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      /PNRP ID/,
    )
  })

  test('expired, at the edge of the clock skew', () => {
    const notAfter = cpa.notAfter
    cpa.verify({ now: notAfter + MAX_CLOCK_SKEW_MS - 1 })
    throwsPeerError(
      () => cpa.verify({ now: notAfter + MAX_CLOCK_SKEW_MS }),
      'PEER_E_INVALID_TIME_PERIOD',
      /expired/,
    )
    cpa.verify({ now: notAfter - 1, clockSkewMs: 0 })
    throwsPeerError(
      () => cpa.verify({ now: notAfter, clockSkewMs: 0 }),
      'PEER_E_INVALID_TIME_PERIOD',
      /expired/,
    )
  })

  test('a lifetime too far in the future', () => {
    const far = Cpa.sign(
      fieldsFor(alice, { notAfter: NOW + MAX_CPA_LIFETIME_MS + MAX_CLOCK_SKEW_MS }),
      alice,
    )
    far.verify({ now: NOW })
    throwsPeerError(
      () => far.verify({ now: NOW - 1 }),
      'PEER_E_INVALID_TIME_PERIOD',
      /MAX_CPA_LIFETIME_MS/,
    )
    throwsPeerError(
      () => far.verify({ now: NOW, clockSkewMs: 0 }),
      'PEER_E_INVALID_TIME_PERIOD',
      /MAX_CPA_LIFETIME_MS/,
    )
  })

  test('bad options are the caller’s error', () => {
    throwsPeerError(() => cpa.verify({ now: Number.NaN }), 'E_INVALIDARG')
    throwsPeerError(() => cpa.verify({ now: NOW, clockSkewMs: -1 }), 'E_INVALIDARG')
    throwsPeerError(() => cpa.verify({ now: NOW, nonce: new Uint8Array(15) }), 'E_INVALIDARG')
  })

  test('the signature is checked once per CPA object, whatever the nonce', () => {
    let calls = 0
    /** Counts the Ed25519 verifications `key` makes. */
    const spy = (key: PublicKey): void => {
      const verify = key.verify.bind(key)
      key.verify = (...args) => {
        calls++
        return verify(...args)
      }
    }
    const signed = Cpa.sign(fieldsFor(alice, { nonce: NONCE }), alice)
    const decoded = Cpa.decode(signed.bytes)
    spy(decoded.signer)
    const other = NONCE.map((b) => b ^ 0xff)
    for (let i = 0; i < 5; i++) {
      decoded.verify({ now: NOW + i, nonce: NONCE, id: decoded.id })
      throwsPeerError(
        () => decoded.verify({ now: NOW, nonce: other }),
        'PEER_E_CONNECTION_NOT_AUTHENTICATED',
      )
    }
    assert.equal(calls, 1)
    assert.equal(decoded.signer, decoded.signer, 'one PublicKey, kept')
    const bad = signed.bytes.slice()
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1
    const forged = Cpa.decode(bad)
    spy(forged.signer)
    for (let i = 0; i < 3; i++) {
      throwsPeerError(() => forged.verify({ now: NOW }), 'PEER_E_CERTIFICATE_NOT_TRUSTED')
    }
    assert.equal(calls, 2, 'a failed check is remembered too')
    // A CPA we signed ourselves is known good: it reuses the signing key and verifies nothing.
    assert.equal(signed.signer, alice.publicKey)
    const before = calls
    spy(alice.publicKey)
    try {
      signed.verify({ now: NOW, nonce: NONCE })
      assert.equal(calls, before)
    } finally {
      // Drop the spy: the prototype's verify shows through again.
      Reflect.deleteProperty(alice.publicKey, 'verify')
    }
  })
})

describe('Cpa fuzz', () => {
  test('every byte of a CPA flipped: always a PeerError, never accepted', () => {
    const fuzz = new SeededRandom('pnrp/cpa/flip')
    const cpa = Cpa.sign(
      fieldsFor(alice, {
        payload: fuzz.bytes(300),
        comment: 'flip me',
        nonce: NONCE,
        endpoints: endpoints(3),
      }),
      alice,
    )
    assert.equal(tryAccept(cpa.bytes, cpa.id), undefined)
    const codes = new Map<PeerErrorCode, number>()
    for (let i = 0; i < cpa.bytes.length; i++) {
      const bytes = cpa.bytes.slice()
      bytes[i] = (bytes[i] as number) ^ 0x01
      const err = tryAccept(bytes, cpa.id)
      assert.ok(err, `a CPA with byte ${i} flipped was accepted`)
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1)
    }
    // Both layers are exercised: decoding, and the checks of verify.
    assert.ok(codes.get('PEER_E_MALFORMED_MESSAGE'), JSON.stringify([...codes]))
    assert.ok(codes.get('PEER_E_CERTIFICATE_NOT_TRUSTED'), JSON.stringify([...codes]))
  })

  test('2,000 random byte strings: only PeerError', () => {
    const fuzz = new SeededRandom('pnrp/cpa/random')
    for (let i = 0; i < 2000; i++) {
      const length = i % 100 === 0 ? MAX_CPA_BYTES + fuzz.int(100) : fuzz.int(700)
      const bytes = fuzz.bytes(length)
      if (i % 2 === 1 && length > 3) {
        // Start like an envelope holding a tbs, so decoding gets past the first byte.
        bytes.set([0x82, 0x59, fuzz.int(3), fuzz.int(256)])
      }
      try {
        Cpa.decode(bytes)
        assert.fail(`random bytes ${i} decoded as a CPA`)
      } catch (err) {
        assert.ok(err instanceof PeerError, `random bytes ${i}: ${String(err)}`)
      }
    }
  })

  test('1,000 random corruptions of a good CPA: only PeerError, never accepted', () => {
    const fuzz = new SeededRandom('pnrp/cpa/corrupt')
    const cpa = Cpa.sign(
      fieldsFor(alice, { payload: fuzz.bytes(64), comment: 'c', nonce: NONCE }),
      alice,
    )
    for (let i = 0; i < 1000; i++) {
      let bytes = cpa.bytes.slice()
      for (let n = 1 + fuzz.int(4); n > 0; n--) bytes[fuzz.int(bytes.length)] = fuzz.int(256)
      if (fuzz.int(4) === 0) bytes = bytes.subarray(0, fuzz.int(bytes.length))
      if (Buffer.from(bytes).equals(cpa.bytes)) continue
      assert.ok(tryAccept(bytes, cpa.id), `corruption ${i} was accepted`)
    }
  })
})
