/**
 * ConnectionManager over real TCP on 127.0.0.1: one connection per peer and context, whatever
 * the dialling pattern, and nothing left open after stop().
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { systemClock } from '../../src/core/clock.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { Identity } from '../../src/identity/identity.ts'
import { ConnectionManager, type PeerConnection } from '../../src/transport/connections.ts'
import { SessionCredentials } from '../../src/transport/secure-session.ts'
import type { StreamTransport } from '../../src/transport/types.ts'
import { PeerError } from '../../src/core/errors.ts'
import { TcpTransport } from '../../src/transport/tcp.ts'

const random = new SeededRandom('connections')
const NOW = Date.UTC(2026, 0, 1)
const managers: ConnectionManager[] = []

function manager(name: string, context = 'graph:test'): ConnectionManager {
  const identity = Identity.create({ classifier: name, random, now: NOW })
  const m = new ConnectionManager({
    credentials: new SessionCredentials(identity, random),
    context,
    streams: new TcpTransport(),
    clock: systemClock,
    random,
  })
  managers.push(m)
  return m
}

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

const baseline = handleCounts()

after(async () => {
  await Promise.all(managers.map((m) => m.stop()))
})

function until(fn: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => (fn() ? resolve() : void setTimeout(check, 5))
    check()
  })
}

describe('ConnectionManager', () => {
  test('concurrent dials to one address collapse into one connection', async () => {
    const a = manager('a1')
    const b = manager('b1')
    const address = await b.listen({ host: '127.0.0.1', port: 0 })
    const [c1, c2, c3] = await Promise.all([
      a.connect(address),
      a.connect(address),
      a.connect(address),
    ])
    assert.equal(c1, c2)
    assert.equal(c2, c3)
    assert.equal(a.connections().length, 1)
    await until(() => b.connections().length === 1)
    // By peer name, the existing connection is returned without a new dial.
    const again = await a.connect(address, { peerName: b.ownPeerName })
    assert.equal(again, c1)
  })

  test('one caller aborting a shared dial does not abort it for the others', async () => {
    const a = manager('a4')
    const b = manager('b4')
    const address = await b.listen({ host: '127.0.0.1', port: 0 })
    const impatient = new AbortController()
    const first = a.connect(address, { signal: impatient.signal })
    const second = a.connect(address)
    impatient.abort()
    await assert.rejects(first, { code: 'E_ABORT' })
    const connection = await second
    assert.equal(connection.remote.peerName, b.ownPeerName)
    // When every caller gives up, the dial itself is abandoned.
    const c = manager('c4')
    const cAddress = await c.listen({ host: '127.0.0.1', port: 0 })
    const both = [new AbortController(), new AbortController()]
    const dials = both.map((ctl) => a.connect(cAddress, { signal: ctl.signal }))
    for (const ctl of both) ctl.abort()
    for (const d of dials) await assert.rejects(d, { code: 'E_ABORT' })
    await until(() => a.connections().every((x) => x.remote.peerName !== c.ownPeerName))
  })

  test('when both sides dial each other at once, both keep the same single connection', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const a = manager(`cross-a${trial}`)
      const b = manager(`cross-b${trial}`)
      const [addrA, addrB] = await Promise.all([
        a.listen({ host: '127.0.0.1', port: 0 }),
        b.listen({ host: '127.0.0.1', port: 0 }),
      ])
      const [fromA, fromB] = await Promise.all([a.connect(addrB), b.connect(addrA)])
      await until(() => a.connections().length === 1 && b.connections().length === 1)
      await new Promise((resolve) => setTimeout(resolve, 20))
      assert.equal(a.connections().length, 1)
      assert.equal(b.connections().length, 1)
      const [ca] = a.connections() as [PeerConnection]
      const [cb] = b.connections() as [PeerConnection]
      // The same TCP connection: one side is its initiator, the other its responder.
      assert.notEqual(ca.initiator, cb.initiator)
      assert.ok(fromA && fromB)
      // And it works: a channel opened on one side is seen on the other.
      const seen = new Promise<string>((resolve) => cb.mux.on('channel', (ch) => resolve(ch.name)))
      ca.mux.open('hello')
      assert.equal(await seen, 'hello')
    }
  })

  test('a wrong peer name, a self-dial and another context are refused with clear codes', async () => {
    const a = manager('a3')
    const b = manager('b3')
    const other = manager('c3', 'graph:other')
    const address = await b.listen({ host: '127.0.0.1', port: 0 })
    const otherAddress = await other.listen({ host: '127.0.0.1', port: 0 })
    const ownAddress = await a.listen({ host: '127.0.0.1', port: 0 })
    await assert.rejects(a.connect(address, { peerName: a.ownPeerName }), {
      code: 'PEER_E_CONNECT_SELF',
    })
    await assert.rejects(a.connect(ownAddress), { code: 'PEER_E_CONNECT_SELF' })
    await assert.rejects(a.connect(address, { peerName: other.ownPeerName }), {
      code: 'PEER_E_CONNECTION_NOT_AUTHENTICATED',
    })
    await assert.rejects(a.connect(otherAddress), { code: 'PEER_E_CONNECTION_REFUSED' })
    assert.equal(a.connections().length, 0)
    // Failed attempts leave nothing behind in the manager.
    assert.equal((a as unknown as { duplexes: Set<unknown> }).duplexes.size, 0)
  })

  test('after stop() no socket or timer is left', async () => {
    const a = manager('a4')
    const b = manager('b4')
    const address = await b.listen({ host: '127.0.0.1', port: 0 })
    const c = await a.connect(address)
    const ch = c.mux.open('x')
    await ch.send(new Uint8Array(1000))
    await Promise.all(managers.map((m) => m.stop()))
    // Sockets close on the next turns of the event loop; give them a moment, then compare.
    const leftover = (): string[] => {
      const now = handleCounts()
      return ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].filter(
        (k) => (now[k] ?? 0) > (baseline[k] ?? 0),
      )
    }
    for (let i = 0; i < 100 && leftover().length > 0; i++) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.deepEqual(leftover(), [], JSON.stringify(handleCounts()))
    await assert.rejects(async () => a.connect(address), { code: 'PEER_E_GRAPH_SHUTTING_DOWN' })
  })
})

test('stop() ends dials in progress at once, and a later connect is refused', async () => {
  let aborted = false
  // A dial that hangs (a SYN into a black hole) until its signal fires.
  const hanging: StreamTransport = {
    listen: () => Promise.reject(new Error('not used')),
    dial: (_to, options) =>
      new Promise((_resolve, reject) => {
        options?.signal?.addEventListener('abort', () => {
          aborted = true
          reject(new PeerError('E_ABORT', 'aborted'))
        })
      }),
  }
  const m = new ConnectionManager({
    credentials: new SessionCredentials(
      Identity.create({ classifier: 'stopper', random, now: NOW }),
      random,
    ),
    context: 'graph:test',
    streams: hanging,
    clock: systemClock,
    random,
  })
  const dialling = m.connect({ address: '127.0.0.1', port: 9 })
  await m.stop()
  assert.equal(aborted, true)
  await assert.rejects(dialling)
  await assert.rejects(m.connect({ address: '127.0.0.1', port: 9 }), {
    code: 'PEER_E_GRAPH_SHUTTING_DOWN',
  })
})
