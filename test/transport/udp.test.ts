import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'

import { MAX_DATAGRAM_BYTES } from '../../src/transport/constants.ts'
import type { Address } from '../../src/transport/types.ts'
import { UdpTransport, type UdpSocket } from '../../src/transport/udp.ts'
import { rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { turn, until, watchHandles } from '../helpers/handles.ts'

/** Every test must leave none of these handles and requests behind (sockets and timers). */
const handles = watchHandles(['UDPWrap', 'SendWrap', 'TCPServerWrap', 'TCPSocketWrap', 'Timeout'])

/** Whether this host can bind a UDP socket on ::1. */
async function canBind6(): Promise<boolean> {
  const socket = dgram.createSocket('udp6')
  const ok = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false))
    socket.bind({ address: '::1', port: 0 }, () => resolve(true))
  })
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  await turn()
  await turn()
  return ok
}

const HAS_IPV6 = await canBind6()

interface Inbox {
  items: { data: Buffer; from: Address }[]
}

function inbox(socket: UdpSocket): Inbox {
  const box: Inbox = { items: [] }
  socket.onMessage((data, from) => {
    box.items.push({ data: Buffer.from(data), from })
  })
  return box
}

/** A UdpTransport whose sockets are closed after the test. */
function udp(): UdpTransport {
  const transport = new UdpTransport()
  handles.cleanup(() => transport.close())
  return transport
}

/** Each test gets a few seconds; a hang fails the test instead of the run. */
const T = { timeout: 10_000 }

for (const host of ['127.0.0.1', '::1']) {
  describe(`UDP on ${host}`, () => {
    test('two sockets on port 0 exchange datagrams both ways', T, async (t) => {
      if (host === '::1' && !HAS_IPV6) return t.skip('::1 cannot be bound here')
      const transport = udp()
      const a = await transport.bind({ host })
      const b = await transport.bind({ host, port: 0 })
      assert.equal(a.local.address, host)
      assert.ok(a.local.port > 0 && b.local.port > 0 && a.local.port !== b.local.port)
      const inA = inbox(a)
      const inB = inbox(b)
      a.send(b.local, Buffer.from('ping'))
      b.send(a.local, new Uint8Array([1, 2, 3]))
      const full = Buffer.alloc(MAX_DATAGRAM_BYTES, 9)
      a.send(b.local, full) // the largest datagram allowed goes through loopback
      await until(() => inB.items.length === 2 && inA.items.length === 1, 'the datagrams')
      assert.equal(inB.items[0]?.data.toString(), 'ping')
      assert.deepEqual(inB.items[0]?.from, a.local)
      assert.ok(inB.items[1]?.data.equals(full))
      assert.deepEqual([...(inA.items[0]?.data ?? [])], [1, 2, 3])
      assert.deepEqual(inA.items[0]?.from, b.local)
      await until(() => a.counters.sent === 2, 'send callbacks')
      assert.deepEqual(a.counters, {
        sent: 2,
        received: 1,
        dropped: 0,
        sendErrors: 0,
        receiveErrors: 0,
        handlerErrors: 0,
      })
      assert.equal(b.counters.received, 2)
      await Promise.all([a.close(), b.close()])
      assert.equal(transport.openSockets, 0)
    })
  })
}

describe('UDP sockets', () => {
  test('binds 127.0.0.1 by default, never all interfaces', T, async () => {
    const transport = udp()
    const socket = await transport.bind({})
    assert.equal(socket.local.address, '127.0.0.1')
    await socket.close()
  })

  test('oversized datagrams and bad addresses are refused synchronously', T, async () => {
    const transport = udp()
    const a = await transport.bind({})
    const err = throwsPeerError(
      () => a.send(a.local, new Uint8Array(MAX_DATAGRAM_BYTES + 1)),
      'E_INVALIDARG',
      /MAX_DATAGRAM_BYTES/,
    )
    assert.deepEqual(err.details, { size: MAX_DATAGRAM_BYTES + 1, limit: MAX_DATAGRAM_BYTES })
    throwsPeerError(
      () => a.send({ address: 'localhost', port: 9 }, new Uint8Array(1)),
      'PEER_E_INVALID_ADDRESS',
    )
    throwsPeerError(
      () => a.send({ address: '127.0.0.1', port: 0 }, new Uint8Array(1)),
      'PEER_E_INVALID_ADDRESS',
    )
    assert.equal(a.counters.sendErrors, 0)
    await rejectsPeerError(transport.bind({ host: 'example.org' }), 'PEER_E_INVALID_ADDRESS')
    await a.close()
  })

  test('a throwing handler is caught and counted; the socket keeps working', T, async () => {
    const transport = udp()
    const a = await transport.bind({})
    const b = await transport.bind({})
    let calls = 0
    b.onMessage((data) => {
      calls++
      if (data[0] === 0) throw new Error('handler bug')
    })
    a.send(b.local, new Uint8Array([0]))
    await until(() => b.counters.handlerErrors === 1, 'the handler error')
    a.send(b.local, new Uint8Array([1]))
    await until(() => calls === 2, 'the next datagram')
    assert.equal(b.counters.handlerErrors, 1)
    assert.equal((b.lastError as Error).message, 'handler bug')
    assert.equal(b.counters.received, 2)
    await Promise.all([a.close(), b.close()])
  })

  test('datagrams without a handler are dropped and counted', T, async () => {
    const transport = udp()
    const a = await transport.bind({})
    const b = await transport.bind({})
    a.send(b.local, new Uint8Array([1]))
    await until(() => b.counters.dropped === 1, 'the drop')
    assert.equal(b.counters.received, 1)
    await transport.close()
    assert.equal(transport.openSockets, 0)
  })

  test(
    'sending to a closed port, to the wrong family, or after close never throws',
    T,
    async () => {
      const transport = udp()
      const gone = await transport.bind({})
      const to = gone.local
      await gone.close()
      const a = await transport.bind({})
      const inA = inbox(a)
      for (let i = 0; i < 5; i++) a.send(to, Buffer.from('anyone?'))
      a.send({ address: '::1', port: 9 }, Buffer.from('wrong family'))
      await until(() => a.counters.sent + a.counters.sendErrors === 6, 'the send callbacks')
      assert.equal(a.counters.sendErrors, 1, 'only the IPv6 destination fails (EINVAL)')
      assert.equal((a.lastError as NodeJS.ErrnoException).code, 'EINVAL')
      // ICMP port unreachable is not reported on an unconnected socket; the socket stays usable.
      a.send(a.local, Buffer.from('self'))
      await until(() => inA.items.length === 1, 'the datagram to itself')
      await a.close()
      assert.equal(a.closed, true)
      a.send(to, Buffer.from('after close'))
      assert.equal(a.counters.sendErrors, 2)
      await a.close() // idempotent
    },
  )

  test(
    'a port in use is PEER_E_UNABLE_TO_LISTEN, and the failed socket is released',
    T,
    async () => {
      const transport = udp()
      const a = await transport.bind({})
      const before = handles.counts()
      const err = await rejectsPeerError(
        transport.bind({ port: a.local.port }),
        'PEER_E_UNABLE_TO_LISTEN',
        /in use/,
      )
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE')
      await turn()
      await turn()
      assert.deepEqual(handles.counts(), before)
      await a.close()
    },
  )
})

describe('UDP handle hygiene', () => {
  test('close() releases the socket handle', T, async () => {
    const before = handles.counts()
    const transport = udp()
    const a = await transport.bind({})
    const b = await transport.bind({})
    const inB = inbox(b)
    assert.equal(handles.counts()['UDPWrap'], (before['UDPWrap'] ?? 0) + 2)
    for (let i = 0; i < 10; i++) a.send(b.local, Buffer.from([i]))
    await until(() => inB.items.length === 10, 'ten datagrams')
    await a.close()
    await b.close()
    assert.deepEqual(handles.counts(), before)
  })
})
