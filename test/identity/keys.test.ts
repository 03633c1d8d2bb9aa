import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto'

import { fromHex, toHex } from '../../src/core/bytes.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { authorityOf, domainSeparated, KeyPair, PublicKey } from '../../src/identity/keys.ts'
import { throwsPeerError as throwsCode } from '../helpers/assert-peer-error.ts'
function hex(text: string): Uint8Array {
  const bytes = fromHex(text)
  assert.ok(bytes, `bad hex in test: ${text}`)
  return bytes
}

// RFC 8032 section 7.1, TEST 1: secret key and public key.
const RFC8032_SEED = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
const RFC8032_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'

const DOMAIN = 'peerinfra/v1/test'
const message = new TextEncoder().encode('hello, peers')

describe('KeyPair', () => {
  test('fromSeed is deterministic and matches RFC 8032', () => {
    const a = KeyPair.fromSeed(RFC8032_SEED)
    const b = KeyPair.fromSeed(new Uint8Array(RFC8032_SEED))
    assert.equal(a.publicKey.toString(), RFC8032_PUBLIC)
    assert.equal(toHex(a.publicKey.bytes), RFC8032_PUBLIC)
    assert.ok(a.publicKey.equals(b.publicKey))
    // a second fixed seed, pinned
    const counting = KeyPair.fromSeed(Uint8Array.from({ length: 32 }, (_, i) => i))
    assert.equal(
      counting.publicKey.toString(),
      '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8',
    )
  })

  test('fromSeed refuses seeds that are not 32 bytes', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      throwsCode(() => KeyPair.fromSeed(new Uint8Array(length)), 'E_INVALIDARG', `${length} bytes`)
    }
    throwsCode(() => KeyPair.fromSeed([1, 2, 3] as unknown as Uint8Array), 'E_INVALIDARG')
  })

  test('the seed is copied in and out', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => 100 + i)
    const pair = KeyPair.fromSeed(seed)
    const before = pair.publicKey.toString()
    seed.fill(0)
    assert.deepEqual(
      pair.exportSeed(),
      Uint8Array.from({ length: 32 }, (_, i) => 100 + i),
    )
    const exported = pair.exportSeed()
    exported.fill(1)
    assert.equal(pair.exportSeed()[0], 100)
    assert.equal(KeyPair.fromSeed(pair.exportSeed()).publicKey.toString(), before)
  })

  test('sign and verify round trip', () => {
    const pair = KeyPair.fromSeed(RFC8032_SEED)
    const signature = pair.sign(DOMAIN, message)
    assert.equal(signature.length, 64)
    assert.ok(pair.publicKey.verify(DOMAIN, message, signature))
    // Ed25519 is deterministic
    assert.deepEqual(pair.sign(DOMAIN, message), signature)
    // an empty message signs too
    assert.ok(
      pair.publicKey.verify(DOMAIN, new Uint8Array(0), pair.sign(DOMAIN, new Uint8Array(0))),
    )
  })

  test('a signature is a plain Ed25519 signature over domain || 0x00 || message', () => {
    const pair = KeyPair.fromSeed(RFC8032_SEED)
    const signature = pair.sign(DOMAIN, message)
    const signed = Buffer.concat([Buffer.from(DOMAIN), Buffer.from([0]), message])
    assert.deepEqual(domainSeparated(DOMAIN, message), new Uint8Array(signed))
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      pair.publicKey.bytes,
    ])
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    assert.ok(nodeVerify(null, signed, key, signature))
    // ... and not one over the bare message
    assert.equal(nodeVerify(null, message, key, signature), false)
  })

  test('verify fails for another domain, message, key or a damaged signature', () => {
    const pair = KeyPair.fromSeed(RFC8032_SEED)
    const other = KeyPair.fromSeed(new Uint8Array(32).fill(7))
    const signature = pair.sign(DOMAIN, message)
    const key = pair.publicKey
    assert.equal(key.verify('peerinfra/v1/other', message, signature), false)
    // A domain holding NUL (or empty) could collide with another's prefix: refused outright.
    assert.throws(() => key.verify(DOMAIN + '\u0000', message, signature), { code: 'E_INVALIDARG' })
    assert.throws(() => key.verify('', message, signature), { code: 'E_INVALIDARG' })
    assert.equal(key.verify(DOMAIN, new TextEncoder().encode('hello, peers!'), signature), false)
    assert.equal(key.verify(DOMAIN, message.subarray(1), signature), false)
    assert.equal(other.publicKey.verify(DOMAIN, message, signature), false)
    for (let i = 0; i < signature.length; i++) {
      const flipped = new Uint8Array(signature)
      flipped[i] = (flipped[i] as number) ^ (1 << (i % 8))
      assert.equal(key.verify(DOMAIN, message, flipped), false, `byte ${i}`)
    }
    for (const length of [0, 1, 32, 63, 65, 128]) {
      const wrong = new Uint8Array(length)
      wrong.set(signature.subarray(0, Math.min(length, 64)))
      assert.equal(key.verify(DOMAIN, message, wrong), false, `${length} bytes`)
    }
    assert.equal(key.verify(DOMAIN, message, new Uint8Array(64)), false)
  })

  test('generating from a SeededRandom is reproducible', () => {
    const a = KeyPair.generate(new SeededRandom('keys/seeded'))
    const b = KeyPair.generate(new SeededRandom('keys/seeded'))
    assert.equal(a.publicKey.toString(), b.publicKey.toString())
    assert.equal(
      a.publicKey.toString(),
      'e1ca622842630ddeb48c86fd6d7362924253225f7e9ad4c09ee42debaf70cfa5',
    )
    // consecutive keys from one source differ, and replay in the same order
    const r1 = new SeededRandom('keys/sequence')
    const r2 = new SeededRandom('keys/sequence')
    const first = [1, 2, 3].map(() => KeyPair.generate(r1).publicKey.toString())
    const second = [1, 2, 3].map(() => KeyPair.generate(r2).publicKey.toString())
    assert.deepEqual(first, second)
    assert.equal(new Set(first).size, 3)
    assert.notEqual(KeyPair.generate(new SeededRandom('keys/other')).publicKey.toString(), first[0])
  })
})

describe('authority', () => {
  test('is 40 lowercase hex characters: SHA-256 of the raw key, first 20 bytes', () => {
    const random = new SeededRandom('keys/authority')
    for (let i = 0; i < 20; i++) {
      const key = KeyPair.generate(random).publicKey
      const expected = createHash('sha256').update(key.bytes).digest().subarray(0, 20)
      assert.match(key.authority, /^[0-9a-f]{40}$/)
      assert.equal(key.authority, expected.toString('hex'))
      assert.equal(authorityOf(key.bytes), key.authority)
    }
    const rfc = KeyPair.fromSeed(RFC8032_SEED).publicKey
    assert.equal(rfc.authority, '21fe31dfa154a261626bf854046fd2271b7bed4b')
  })
})

describe('PublicKey', () => {
  test('fromBytes round trips a key', () => {
    const pair = KeyPair.fromSeed(RFC8032_SEED)
    const key = PublicKey.fromBytes(hex(RFC8032_PUBLIC))
    assert.ok(key.equals(pair.publicKey))
    assert.ok(key.equals(pair.publicKey.bytes))
    assert.equal(key.authority, pair.publicKey.authority)
    assert.ok(key.verify(DOMAIN, message, pair.sign(DOMAIN, message)))
    assert.equal(key.equals(new Uint8Array(32)), false)
    assert.equal(key.equals(new Uint8Array(31)), false)
  })

  test('fromBytes copies its input', () => {
    const raw = hex(RFC8032_PUBLIC)
    const key = PublicKey.fromBytes(raw)
    raw.fill(0)
    assert.equal(key.toString(), RFC8032_PUBLIC)
  })

  test('fromBytes refuses keys of small order, which anyone could sign for', () => {
    // libsodium's list (ge25519_has_small_order): y coordinates, with either sign bit
    const smallOrder = [
      '0000000000000000000000000000000000000000000000000000000000000000',
      '0100000000000000000000000000000000000000000000000000000000000000',
      '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    ]
    for (const y of smallOrder) {
      for (const sign of [0, 0x80]) {
        const raw = hex(y)
        raw[31] = (raw[31] as number) | sign
        throwsCode(() => PublicKey.fromBytes(raw), 'E_INVALIDARG', `${y} sign ${sign}`)
      }
    }
    // Why: node:crypto itself takes the identity point, and (R = identity, S = 0) is then a
    // valid signature on every message.
    const identityPoint = hex(smallOrder[1] as string)
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), identityPoint])
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    const universal = new Uint8Array(64)
    universal[0] = 1
    assert.ok(nodeVerify(null, Buffer.from('any message at all'), key, universal))
    // ordinary keys are unaffected
    const random = new SeededRandom('keys/not-small')
    for (let i = 0; i < 50; i++) PublicKey.fromBytes(KeyPair.generate(random).publicKey.bytes)
  })

  test('fromBytes refuses wrong lengths with E_INVALIDARG', () => {
    for (const length of [0, 1, 31, 33, 64]) {
      throwsCode(() => PublicKey.fromBytes(new Uint8Array(length)), 'E_INVALIDARG', `${length}`)
    }
    throwsCode(() => PublicKey.fromBytes('abc' as unknown as Uint8Array), 'E_INVALIDARG')
    throwsCode(() => PublicKey.fromBytes(null as unknown as Uint8Array), 'E_INVALIDARG')
  })
})
