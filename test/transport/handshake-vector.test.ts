/** The worked handshake of docs/PROTOCOL.md, byte for byte. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { makeHandshakeVector, type HandshakeVector } from '../helpers/handshake-vector.ts'

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/handshake-vector.json', import.meta.url), 'utf8'),
) as HandshakeVector & { source: string }

test('the seeded handshake produces the documented frames, hash and first message', async () => {
  const v = await makeHandshakeVector()
  assert.deepEqual(v.frames, fixture.frames)
  assert.equal(v.handshakeHash, fixture.handshakeHash)
  assert.equal(v.hello, fixture.hello)
  assert.deepEqual([v.initiator, v.responder], [fixture.initiator, fixture.responder])
})

test('frame sizes follow the XX pattern: e, selector; e, s, payload; s, payload', () => {
  const sizes = fixture.frames.map((f) => parseInt(f.slice(0, 8), 16))
  const bodies = fixture.frames.map((f) => f.length / 2 - 4)
  assert.deepEqual(sizes, bodies)
  // -> e and the 16-byte context selector in clear; <- e (32), encrypted s (32 + 16),
  // encrypted payload (+ 16).
  assert.equal(sizes[0], 32 + 16)
  assert.ok((sizes[1] as number) > 32 + 48 + 16)
  // -> encrypted s (48), encrypted payload (+ 16).
  assert.ok((sizes[2] as number) > 48 + 16)
})
