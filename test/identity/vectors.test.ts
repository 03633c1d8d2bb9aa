/** The certificate test vector of docs/PROTOCOL.md, byte for byte. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fromHex, toHex } from '../../src/core/bytes.ts'
import { Certificate, KeyPair, verifyChain } from '../../src/identity/index.ts'

const vector = JSON.parse(
  readFileSync(new URL('../fixtures/certificate-vector.json', import.meta.url), 'utf8'),
) as Record<string, string | number>

function hex(name: string): Uint8Array {
  const bytes = fromHex(String(vector[name]))
  assert.ok(bytes, `${name} is hex`)
  return bytes
}

test('key and authority from the vector seed', () => {
  const key = KeyPair.fromSeed(hex('seed'))
  assert.equal(toHex(key.publicKey.bytes), vector['publicKey'])
  assert.equal(key.publicKey.authority, vector['authority'])
})

test('signing the vector fields gives the vector bytes exactly', () => {
  const key = KeyPair.fromSeed(hex('seed'))
  const cert = Certificate.sign(
    {
      type: 'identity',
      serial: hex('serial'),
      subjectKey: key.publicKey.bytes,
      subjectName: String(vector['peerName']),
      issuerKey: key.publicKey.bytes,
      issuerName: String(vector['peerName']),
      roles: [],
      classifiers: [],
      notBefore: Number(vector['notBefore']),
      notAfter: Number(vector['notAfter']),
    },
    key,
  )
  assert.equal(toHex(cert.tbs), vector['tbs'])
  assert.equal(toHex(cert.signature), vector['signature'])
  assert.equal(toHex(cert.encode()), vector['encoded'])
})

test('the vector decodes and verifies', () => {
  const cert = Certificate.decode(hex('encoded'))
  assert.equal(cert.subjectName, vector['peerName'])
  assert.equal(verifyChain([cert], { now: Number(vector['notBefore']) }), cert)
})
