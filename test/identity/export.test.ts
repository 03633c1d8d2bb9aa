import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { fromBase64, toBase64 } from '../../src/core/bytes.ts'
import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { issueCertificate } from '../../src/identity/certificate.ts'
import { exportIdentity, importIdentity } from '../../src/identity/identity-export.ts'
import { identityInfoXml, parseIdentityInfo } from '../../src/identity/identity-info.ts'
import { MAX_CLOCK_SKEW_MS } from '../../src/identity/constants.ts'
import { Identity } from '../../src/identity/identity.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import { decodeCbor, encodeCbor } from '../../src/wire/cbor.ts'
import {
  rejectsPeerError as rejectsCode,
  throwsPeerError as throwsCode,
} from '../helpers/assert-peer-error.ts'

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 + 1000
const PASSWORD = 'correct horse battery staple'
const LOG_N = 10

const random = new SeededRandom('export/identities')
const alice = Identity.create({ classifier: 'alice', friendlyName: 'Alice', random, now: T0 })
// a classifier that needs XML escaping, and a friendly name outside ASCII
const tricky = Identity.create({
  classifier: 'a&b<c>"d\'\u00e9\u{1F600}',
  friendlyName: 'Zo\u00eb & <Co>',
  random,
  now: T0,
})

const DATA_OPEN = '<DATA xmlns:dt="urn:schemas-microsoft-com:datatypes" dt:dt="bin.base64">'
const EXPORT_SHAPE =
  /^<PEERIDENTITYEXPORT VERSION="1\.0"><PEERNAME>([^<]*)<\/PEERNAME><DATA xmlns:dt="urn:schemas-microsoft-com:datatypes" dt:dt="bin\.base64">([A-Za-z0-9+/]+={0,2})<\/DATA><\/PEERIDENTITYEXPORT>$/

/** The export's envelope, decoded. */
function envelopeOf(xml: string): Record<string, unknown> {
  const m = EXPORT_SHAPE.exec(xml)
  assert.ok(m, 'not an export')
  const bytes = fromBase64(m[2] as string)
  assert.ok(bytes)
  return decodeCbor(bytes) as Record<string, unknown>
}

/** The same export with its envelope replaced. */
function withEnvelope(xml: string, envelope: Record<string, unknown>): string {
  return xml.replace(/(<DATA[^>]*>)[^<]*(<\/DATA>)/, `$1${toBase64(encodeCbor(envelope))}$2`)
}

describe('exportIdentity / importIdentity', () => {
  test('a round trip gives back the same identity', async () => {
    for (const identity of [alice, tricky]) {
      const xml = await exportIdentity(identity, PASSWORD, { random, logN: LOG_N })
      const back = await importIdentity(xml, PASSWORD, { now: NOW })
      assert.equal(back.peerName, identity.peerName)
      assert.equal(back.classifier, identity.classifier)
      assert.deepEqual(back.publicKey, identity.publicKey)
      assert.equal(back.friendlyName, identity.friendlyName)
      assert.deepEqual(back.certificate.encode(), identity.certificate.encode())
      assert.equal(back.createdAt.getTime(), identity.createdAt.getTime())
      // the private key came along: what it signs, the original key verifies
      const message = new TextEncoder().encode('proof')
      assert.ok(identity.key.verify('test', message, back.sign('test', message)))
    }
  })

  test('the XML has the Windows shape', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    const m = EXPORT_SHAPE.exec(xml)
    assert.ok(m, xml)
    assert.equal(m[1], alice.peerName)
    assert.ok(xml.includes(DATA_OPEN))
    const env = envelopeOf(xml)
    assert.deepEqual(Object.keys(env).sort(), ['ct', 'kdf', 'logN', 'nonce', 'p', 'r', 'salt', 'v'])
    assert.equal(env['kdf'], 'scrypt')
    assert.equal(env['logN'], LOG_N)
    // nothing secret is visible: the seed is not in the envelope
    const seed = Buffer.from(alice.keyPair.exportSeed())
    assert.equal(Buffer.from(fromBase64(m[2] as string) as Uint8Array).indexOf(seed), -1)
    // special characters in the peer name are escaped
    const trickyXml = await exportIdentity(tricky, PASSWORD, { random, logN: LOG_N })
    assert.ok(
      trickyXml.includes(
        '<PEERNAME>' +
          tricky.peerName.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;') +
          '</PEERNAME>',
      ),
    )
  })

  test('each export is freshly salted', async () => {
    const a = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    const b = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    assert.notEqual(a, b)
    assert.notDeepEqual(envelopeOf(a)['salt'], envelopeOf(b)['salt'])
    assert.notDeepEqual(envelopeOf(a)['nonce'], envelopeOf(b)['nonce'])
  })

  test('a wrong password is PEER_E_DECRYPTION_FAILED', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    await rejectsCode(importIdentity(xml, 'wrong', { now: NOW }), 'PEER_E_DECRYPTION_FAILED')
    await rejectsCode(importIdentity(xml, PASSWORD + ' ', { now: NOW }), 'PEER_E_DECRYPTION_FAILED')
    await rejectsCode(
      importIdentity(xml, PASSWORD.toUpperCase(), { now: NOW }),
      'PEER_E_DECRYPTION_FAILED',
    )
  })

  test('passwords are compared in NFC', async () => {
    const xml = await exportIdentity(alice, 'caf\u00e9', { random, logN: LOG_N })
    const back = await importIdentity(xml, 'cafe\u0301', { now: NOW })
    assert.equal(back.peerName, alice.peerName)
  })

  test('an empty or over-long password is PEER_E_PASSWORD_DOES_NOT_MEET_POLICY', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    await rejectsCode(
      exportIdentity(alice, '', { random, logN: LOG_N }),
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
    )
    await rejectsCode(importIdentity(xml, '', { now: NOW }), 'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY')
    const long = 'x'.repeat(1025)
    await rejectsCode(
      exportIdentity(alice, long, { random, logN: LOG_N }),
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
    )
    await rejectsCode(
      importIdentity(xml, long, { now: NOW }),
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
    )
    await rejectsCode(
      importIdentity(xml, null as unknown as string, { now: NOW }),
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
    )
    // 1024 bytes is allowed
    const max = 'y'.repeat(1024)
    const ok = await exportIdentity(alice, max, { random, logN: LOG_N })
    assert.equal((await importIdentity(ok, max, { now: NOW })).peerName, alice.peerName)
  })

  test('an export cost outside the accepted range is refused', async () => {
    for (const logN of [9, 21, 10.5]) {
      await rejectsCode(
        exportIdentity(alice, PASSWORD, { random, logN }),
        'E_INVALIDARG',
        `logN ${logN}`,
      )
    }
  })

  test('a changed VERSION is PEER_E_UNSUPPORTED_VERSION', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    for (const version of ['2.0', '1.1', '1', '']) {
      const changed = xml.replace('VERSION="1.0"', `VERSION="${version}"`)
      await rejectsCode(
        importIdentity(changed, PASSWORD, { now: NOW }),
        'PEER_E_UNSUPPORTED_VERSION',
        version,
      )
    }
    const noVersion = xml.replace(' VERSION="1.0"', '')
    await rejectsCode(
      importIdentity(noVersion, PASSWORD, { now: NOW }),
      'PEER_E_UNSUPPORTED_VERSION',
    )
    // and an envelope of another version
    const env2 = withEnvelope(xml, { ...envelopeOf(xml), v: 2 })
    await rejectsCode(importIdentity(env2, PASSWORD, { now: NOW }), 'PEER_E_UNSUPPORTED_VERSION')
  })

  test('an excessive scrypt cost is refused before any key derivation', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    const env = envelopeOf(xml)
    // Were any of these derived, scrypt itself would fail (a RangeError, not a PeerError) or
    // take minutes: the refusal must come from the envelope check, naming the field.
    for (const [field, value] of [
      ['logN', 30],
      ['logN', 21],
      ['logN', 9],
      ['r', 1000],
      ['p', 100],
      ['r', 0],
    ] as const) {
      const err = await rejectsCode(
        importIdentity(withEnvelope(xml, { ...env, [field]: value }), PASSWORD, { now: NOW }),
        'E_INVALIDARG',
        `${field} ${value}`,
      )
      assert.deepEqual(err.details, { path: field })
    }
    await rejectsCode(
      importIdentity(withEnvelope(xml, { ...env, kdf: 'argon2id' }), PASSWORD, { now: NOW }),
      'E_INVALIDARG',
    )
    // a legal but different cost derives another key: the export does not open
    await rejectsCode(
      importIdentity(withEnvelope(xml, { ...env, logN: LOG_N + 1 }), PASSWORD, { now: NOW }),
      'PEER_E_DECRYPTION_FAILED',
    )
  })

  test('a trailing newline is tolerated, other additions are not', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    for (const ending of ['\n', '\r\n']) {
      const back = await importIdentity(xml + ending, PASSWORD, { now: NOW })
      assert.equal(back.peerName, alice.peerName)
    }
    for (const changed of [
      xml + '\n\n',
      xml + ' ',
      ' ' + xml,
      '<?xml version="1.0"?>' + xml,
      xml.replace('</PEERNAME>', '</PEERNAME>\n'),
      xml.replace('dt:dt="bin.base64"', "dt:dt='bin.base64'"),
    ]) {
      await rejectsCode(importIdentity(changed, PASSWORD, { now: NOW }), 'E_INVALIDARG')
    }
  })

  test('documents that are not exports are E_INVALIDARG', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    const notExports = [
      '',
      'hello',
      '<PEERIDENTITYINFO VERSION="1.0"/>',
      '<!DOCTYPE x [<!ENTITY a "b">]>' + xml,
      xml.replace(/<PEERNAME>.*<\/PEERNAME>/, ''),
      xml.replace(/<DATA.*<\/DATA>/, ''),
      xml.replace('</DATA>', '</DATA><DATA/>'),
      xml.replace('dt:dt="bin.base64"', 'dt:dt="bin.hex"'),
      xml.replace(/(<DATA[^>]*>)/, '$1AAAA'),
      xml.replace(`<PEERNAME>${alice.peerName}`, `<PEERNAME>${tricky.peerName}`),
    ]
    for (const [i, doc] of notExports.entries()) {
      await assert.rejects(importIdentity(doc, PASSWORD, { now: NOW }), (err: unknown) => {
        assert.ok(err instanceof PeerError, `case ${i}: ${String(err)}`)
        return true
      })
    }
    await rejectsCode(
      importIdentity(42 as unknown as string, PASSWORD, { now: NOW }),
      'E_INVALIDARG',
    )
  })

  test('an export under another peer name does not open (the name is authenticated)', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    const renamed = xml.replace(`<PEERNAME>${alice.peerName}`, `<PEERNAME>${alice.peerName}x`)
    await rejectsCode(importIdentity(renamed, PASSWORD, { now: NOW }), 'PEER_E_DECRYPTION_FAILED')
    const spaced = xml.replace('<PEERNAME>', '<PEERNAME> ')
    await rejectsCode(importIdentity(spaced, PASSWORD, { now: NOW }), 'PEER_E_DECRYPTION_FAILED')
  })

  test('an identity whose certificate is not yet valid does not import', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    // A clock a little behind the exporter's is fine; beyond the allowed skew it is refused.
    await importIdentity(xml, PASSWORD, { now: T0 - 1000 })
    await rejectsCode(
      importIdentity(xml, PASSWORD, { now: T0 - MAX_CLOCK_SKEW_MS - 1 }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
  })

  test('every byte of an export, flipped one at a time, fails with a PeerError', async () => {
    const xml = await exportIdentity(alice, PASSWORD, { random, logN: LOG_N })
    const bytes = Buffer.from(xml, 'utf8')
    const flips = new SeededRandom('export/flips')
    const codes = new Map<string, number>()
    for (const pass of ['xor 0x01', 'seeded xor']) {
      for (let i = 0; i < bytes.length; i++) {
        const flipped = Buffer.from(bytes)
        const xor = pass === 'xor 0x01' ? 0x01 : 1 + flips.int(255)
        flipped[i] = (flipped[i] as number) ^ xor
        let accepted = false
        try {
          await importIdentity(flipped.toString('utf8'), PASSWORD, { now: NOW })
          accepted = true
        } catch (err) {
          const where = `${pass}: byte ${i} ('${xml[i] ?? ''}') ^ 0x${xor.toString(16)}`
          assert.ok(err instanceof PeerError, `${where}: expected a PeerError, got ${String(err)}`)
          codes.set(err.code, (codes.get(err.code) ?? 0) + 1)
        }
        assert.equal(accepted, false, `${pass}: byte ${i} ^ 0x${xor.toString(16)} was accepted`)
      }
    }
    // the checks at every layer were exercised
    for (const code of ['E_INVALIDARG', 'PEER_E_DECRYPTION_FAILED', 'PEER_E_UNSUPPORTED_VERSION']) {
      assert.ok((codes.get(code) ?? 0) > 0, `no flip gave ${code}: ${JSON.stringify([...codes])}`)
    }
  })
})

describe('identity info XML', () => {
  test('identityInfoXml and parseIdentityInfo round trip', () => {
    for (const identity of [alice, tricky]) {
      const xml = identityInfoXml(identity.certificate)
      assert.match(
        xml,
        /^<PEERIDENTITYINFO VERSION="1\.0"><IDC xmlns:dt="urn:schemas-microsoft-com:datatypes" dt:dt="bin\.base64">[A-Za-z0-9+/]+={0,2}<\/IDC><\/PEERIDENTITYINFO>$/,
      )
      const info = parseIdentityInfo(xml, { now: NOW })
      assert.equal(info.peerName, identity.peerName)
      assert.ok(info.publicKey.equals(identity.publicKey))
      assert.deepEqual(info.certificate.encode(), identity.certificate.encode())
      // it holds no private key material
      const seed = Buffer.from(identity.keyPair.exportSeed())
      const idc = Buffer.from(fromBase64(/>([^<]+)</.exec(xml)?.[1] ?? '') ?? new Uint8Array())
      assert.ok(idc.length > 0)
      assert.equal(idc.indexOf(seed), -1)
    }
  })

  test('line breaks inside the base64 are tolerated', () => {
    const xml = identityInfoXml(alice.certificate)
    const wrapped = xml.replace(
      /(dt:dt="bin\.base64">)([^<]+)/,
      (_m, open: string, b64: string) => {
        return open + (b64.match(/.{1,64}/g) ?? []).join('\r\n')
      },
    )
    assert.notEqual(wrapped, xml)
    assert.equal(parseIdentityInfo(wrapped, { now: NOW }).peerName, alice.peerName)
  })

  test('a tampered IDC is refused', () => {
    const xml = identityInfoXml(alice.certificate)
    const start = xml.indexOf('bin.base64">') + 'bin.base64">'.length
    const end = xml.indexOf('</IDC>')
    const flips = new SeededRandom('export/info-flips')
    for (let i = start; i < end; i++) {
      const chars = [...xml]
      const xor = 1 + flips.int(127)
      chars[i] = String.fromCharCode(xml.charCodeAt(i) ^ xor)
      assert.throws(
        () => parseIdentityInfo(chars.join(''), { now: NOW }),
        (err: unknown) => err instanceof PeerError,
        `IDC character ${i - start} ^ 0x${xor.toString(16)}`,
      )
    }
  })

  test('anywhere else, a flip fails or gives back the very same certificate', () => {
    const xml = identityInfoXml(alice.certificate)
    const expected = Buffer.from(alice.certificate.encode())
    for (let i = 0; i < xml.length; i++) {
      const changed =
        xml.slice(0, i) + String.fromCharCode(xml.charCodeAt(i) ^ 0x01) + xml.slice(i + 1)
      try {
        const info = parseIdentityInfo(changed, { now: NOW })
        assert.ok(expected.equals(info.certificate.encode()), `flip at ${i}`)
      } catch (err) {
        assert.ok(err instanceof PeerError, `flip at ${i}: ${String(err)}`)
      }
    }
  })

  test('other refusals', () => {
    const xml = identityInfoXml(alice.certificate)
    throwsCode(
      () => parseIdentityInfo(xml.replace('"1.0"', '"2.0"'), { now: NOW }),
      'PEER_E_UNSUPPORTED_VERSION',
    )
    throwsCode(
      () => parseIdentityInfo(xml, { now: T0 - MAX_CLOCK_SKEW_MS - 1 }),
      'PEER_E_INVALID_TIME_PERIOD',
    )
    throwsCode(() => parseIdentityInfo(xml.replace(/IDC/g, 'IDX'), { now: NOW }), 'E_INVALIDARG')
    throwsCode(
      () => parseIdentityInfo(xml.replace('</IDC>', '</IDC><IDC/>'), { now: NOW }),
      'E_INVALIDARG',
    )
    throwsCode(
      () => parseIdentityInfo(xml.replace(/PEERIDENTITYINFO/g, 'OTHER'), { now: NOW }),
      'E_INVALIDARG',
    )
    throwsCode(() => parseIdentityInfo('<!DOCTYPE a>' + xml, { now: NOW }), 'E_INVALIDARG')
    throwsCode(() => parseIdentityInfo('not xml', { now: NOW }), 'E_INVALIDARG')
    // an IDC that is a membership certificate, not an identity's
    const root = KeyPair.generate(random)
    const rootCert = issueCertificate({
      issuer: root,
      type: 'group-root',
      subjectKey: root.publicKey,
      subjectName: `${root.publicKey.authority}.g`,
      notBefore: T0,
      notAfter: T0 + 1e9,
      random,
    })
    throwsCode(() => parseIdentityInfo(identityInfoXml(rootCert), { now: NOW }), 'E_INVALIDARG')
    const member = issueCertificate({
      issuer: root,
      issuerCertificate: rootCert,
      type: 'membership',
      subjectKey: alice.publicKey,
      subjectName: alice.peerName,
      notBefore: T0,
      notAfter: T0 + 1e9,
      random,
    })
    throwsCode(() => parseIdentityInfo(identityInfoXml(member), { now: NOW }), 'E_INVALIDARG')
  })
})
