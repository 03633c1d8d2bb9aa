import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'

import { VirtualClock } from '../../src/core/clock.ts'
import { PeerError } from '../../src/core/errors.ts'
import { isWildcard, machineAddresses } from '../../src/transport/addresses.ts'
import { MAX_QUEUED_WRITE_BYTES, STREAM_HIGH_WATER_BYTES } from '../../src/transport/constants.ts'
import { createNodeNetwork } from '../../src/transport/node-network.ts'
import { TcpTransport, type TcpTransportOptions } from '../../src/transport/tcp.ts'
import type { Address, Duplex, StreamListener } from '../../src/transport/types.ts'
import { assertPeerError, rejectsPeerError } from '../helpers/assert-peer-error.ts'
import { turn, until, watchHandles } from '../helpers/handles.ts'

/** Every test must leave none of these handles and requests behind (sockets and timers). */
const handles = watchHandles([
  'TCPServerWrap',
  'TCPSocketWrap',
  'TCPConnectWrap',
  'ShutdownWrap',
  'WriteWrap',
  'UDPWrap',
  'SendWrap',
  'Timeout',
])

/** Whether this host can listen on ::1 (IPv6 loopback). */
async function canListen(host: string): Promise<boolean> {
  const server = net.createServer()
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen({ host, port: 0 }, () => resolve(true))
  })
  if (ok) await new Promise((resolve) => server.close(resolve))
  await turn() // the server's handle is released in the close phase after its 'close' event
  await turn()
  return ok
}

const HAS_IPV6 = await canListen('::1')

/** A duplex with recording handlers. */
class Probe {
  readonly chunks: Buffer[] = []
  bytes = 0
  closeCalls = 0
  closeError: PeerError | undefined
  readonly closed: Promise<PeerError | undefined>
  private resolveClosed!: (e: PeerError | undefined) => void
  private drainWaiters: (() => void)[] = []
  drains = 0
  /** Called after each chunk is recorded. */
  onChunk: ((chunk: Buffer) => void) | undefined

  constructor(
    readonly duplex: Duplex,
    setHandlers = true,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))
    if (setHandlers) this.install()
  }

  install(): void {
    this.duplex.setHandlers({
      data: (chunk) => {
        const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        this.chunks.push(b)
        this.bytes += b.byteLength
        this.onChunk?.(b)
      },
      drain: () => {
        this.drains++
        const waiters = this.drainWaiters
        this.drainWaiters = []
        for (const w of waiters) w()
      },
      close: (error) => {
        this.closeCalls++
        this.closeError = error
        this.resolveClosed(error)
      },
    })
  }

  received(): Buffer {
    return Buffer.concat(this.chunks)
  }

  waitDrain(): Promise<void> {
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  async waitBytes(n: number): Promise<void> {
    await until(() => this.bytes >= n, `${n} bytes`)
  }

  /** Writes all of `data` in `chunkSize` pieces, honouring backpressure; returns the stalls. */
  async writeAll(data: Uint8Array, chunkSize = 64 * 1024): Promise<number> {
    let stalls = 0
    for (let at = 0; at < data.byteLength; at += chunkSize) {
      if (!this.duplex.write(data.subarray(at, at + chunkSize))) {
        assert.equal(this.duplex.closed, false, 'write refused: the stream closed')
        stalls++
        await this.waitDrain()
      }
    }
    return stalls
  }
}

/** Deterministic bytes that differ by `seed`, so misordering or mixing shows. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

interface Pair {
  listener: StreamListener
  client: Duplex
  server: Duplex
}

/** Listens on `host`, dials it, and returns both ends (handlers not set). */
async function connectPair(transport: TcpTransport, host: string): Promise<Pair> {
  const accepted: Duplex[] = []
  const listener = await transport.listen({ host, port: 0 }, (d) => accepted.push(d))
  const client = await transport.dial(listener.address)
  await until(() => accepted.length === 1, 'the connection to be accepted')
  const server = accepted[0]
  assert.ok(server)
  return { listener, client, server }
}

/** Address of a port where nothing listens (just released by a listener). */
async function closedPort(transport: TcpTransport, host: string): Promise<Address> {
  const listener = await transport.listen({ host, port: 0 }, () => assert.fail('no connection'))
  await listener.close()
  return listener.address
}

/** A plain node:net server, for peers that behave in ways our Duplex never does. */
async function rawServer(
  options: net.ServerOpts,
  onSocket: (socket: net.Socket) => void,
): Promise<{ address: Address; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(options, (socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    onSocket(socket)
  })
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const { address, port } = server.address() as net.AddressInfo
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    })()
    return closing
  }
  handles.cleanup(close)
  return { address: { address, port }, close }
}

/** A TcpTransport that is closed (streams reset) after the test. */
function tcp(options?: TcpTransportOptions): TcpTransport {
  const transport = new TcpTransport(options)
  handles.cleanup(() => transport.close(new PeerError('E_ABORT', 'test cleanup')))
  return transport
}

/** A connected pair on `host` (its listener closed again), with a Probe on each end. */
async function probedPair(
  host: string,
): Promise<{ client: Duplex; server: Duplex; a: Probe; b: Probe }> {
  const { listener, client, server } = await connectPair(tcp(), host)
  await listener.close()
  return { client, server, a: new Probe(client), b: new Probe(server) }
}

/** Each test gets a few seconds; a hang fails the test instead of the run. */
const T = { timeout: 10_000 }

for (const host of ['127.0.0.1', '::1']) {
  describe(`TCP on ${host}`, () => {
    test('listen on port 0, dial, addresses as node reports them', T, async (t) => {
      if (host === '::1' && !HAS_IPV6) return t.skip('::1 cannot be bound here')
      const transport = tcp()
      const { listener, client, server } = await connectPair(transport, host)
      assert.equal(listener.address.address, host)
      assert.ok(listener.address.port > 0)
      assert.deepEqual(client.remote, listener.address)
      assert.deepEqual(server.local, listener.address)
      assert.deepEqual(server.remote, client.local)
      assert.equal(client.local.address, host)
      assert.equal(client.closed, false)
      assert.equal(transport.openStreams, 2)
      const a = new Probe(client)
      const b = new Probe(server)
      await listener.close()
      client.close()
      assert.equal(client.closed, true)
      assert.equal(await a.closed, undefined)
      assert.equal(await b.closed, undefined)
      assert.equal(transport.openStreams, 0)
    })

    test(
      'several MB both ways with backpressure, then an orderly close seen by both',
      T,
      async (t) => {
        if (host === '::1' && !HAS_IPV6) return t.skip('::1 cannot be bound here')
        const { client, server, a, b } = await probedPair(host)
        // The server also pauses its reading now and then (receive-side backpressure).
        let pauses = 0
        b.onChunk = () => {
          if (b.bytes > (pauses + 1) * 2 * STREAM_HIGH_WATER_BYTES) {
            pauses++
            server.pause()
            setImmediate(() => server.resume())
          }
        }
        const size = 8 * 1024 * 1024
        const up = pattern(size, 1)
        const down = pattern(size, 2)
        const [upStalls, downStalls] = await Promise.all([a.writeAll(up), b.writeAll(down)])
        await Promise.all([a.waitBytes(size), b.waitBytes(size)])
        assert.ok(b.received().equals(up), 'client to server bytes differ')
        assert.ok(a.received().equals(down), 'server to client bytes differ')
        assert.ok(upStalls + downStalls > 0, 'write() never reported backpressure')
        assert.ok(a.drains + b.drains > 0)
        assert.ok(pauses > 0)

        client.close()
        client.close() // idempotent
        assert.equal(await a.closed, undefined)
        assert.equal(await b.closed, undefined)
        assert.equal(server.closed, true)
        assert.equal(server.write(Buffer.from('late')), false, 'a closed stream refuses writes')
        await turn()
        assert.equal(a.closeCalls, 1)
        assert.equal(b.closeCalls, 1)
      },
    )

    test(
      'close(error) resets: the peer sees a close with PEER_E_CONNECTION_FAILED',
      T,
      async (t) => {
        if (host === '::1' && !HAS_IPV6) return t.skip('::1 cannot be bound here')
        const { client, server, a, b } = await probedPair(host)
        const reason = new PeerError('PEER_E_NOT_AUTHORIZED', 'go away')
        server.close(reason)
        assert.equal(server.closed, true)
        assert.equal(await b.closed, reason, 'the closing side sees its own error')
        const seen = assertPeerError(await a.closed, 'PEER_E_CONNECTION_FAILED')
        assert.equal((seen.cause as NodeJS.ErrnoException).code, 'ECONNRESET')
        client.close() // a no-op now
        await turn()
        assert.equal(a.closeCalls, 1)
        assert.equal(b.closeCalls, 1)
      },
    )

    test('dial to a closed port: PEER_E_CONNECTION_REFUSED, cause kept', T, async (t) => {
      if (host === '::1' && !HAS_IPV6) return t.skip('::1 cannot be bound here')
      const transport = tcp()
      const to = await closedPort(transport, host)
      const err = await rejectsPeerError(transport.dial(to), 'PEER_E_CONNECTION_REFUSED')
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED')
    })
  })
}

describe('TCP dialling', () => {
  test(
    'times out with PEER_E_TIMEOUT on the injected clock, destroying the socket',
    T,
    async () => {
      const clock = new VirtualClock()
      const transport = tcp({ clock })
      const accepted: Probe[] = []
      const listener = await transport.listen({}, (d) => accepted.push(new Probe(d)))
      const dialling = transport.dial(listener.address, { timeoutMs: 1000 })
      assert.equal(clock.pendingTimers, 1)
      clock.advance(999)
      clock.advance(1) // before any I/O could complete the connect
      const err = await rejectsPeerError(dialling, 'PEER_E_TIMEOUT', /timed out after 1000 ms/)
      assert.deepEqual(err.details, { timeoutMs: 1000 })
      assert.equal(clock.pendingTimers, 0)
      // The kernel may have completed the handshake: the server then sees the socket go away.
      await turn()
      await turn()
      for (const p of accepted) await p.closed
      await listener.close()
      assert.equal(transport.openStreams, 0)
    },
  )

  test('abort: E_ABORT, before and during the dial; the timer is cancelled', T, async () => {
    const clock = new VirtualClock()
    const transport = tcp({ clock })
    const accepted: Probe[] = []
    const listener = await transport.listen({}, (d) => accepted.push(new Probe(d)))
    await rejectsPeerError(
      transport.dial(listener.address, { signal: AbortSignal.abort() }),
      'E_ABORT',
    )
    const controller = new AbortController()
    const dialling = transport.dial(listener.address, { signal: controller.signal })
    controller.abort()
    await rejectsPeerError(dialling, 'E_ABORT')
    assert.equal(clock.pendingTimers, 0)
    // An abort reason that is a PeerError is passed through.
    const c2 = new AbortController()
    const d2 = transport.dial(listener.address, { signal: c2.signal })
    c2.abort(new PeerError('PEER_E_GRAPH_SHUTTING_DOWN', 'stopping'))
    await rejectsPeerError(d2, 'PEER_E_GRAPH_SHUTTING_DOWN')
    await turn()
    await turn()
    for (const p of accepted) await p.closed
    await listener.close()
  })

  test('a dial that connects cancels its timer and abort listener', T, async () => {
    const clock = new VirtualClock()
    const transport = tcp({ clock })
    const controller = new AbortController()
    const accepted: Probe[] = []
    const listener = await transport.listen({}, (d) => accepted.push(new Probe(d)))
    const client = new Probe(await transport.dial(listener.address, { signal: controller.signal }))
    assert.equal(clock.pendingTimers, 0)
    controller.abort() // too late to matter
    assert.equal(client.duplex.closed, false)
    await transport.close()
    assert.equal(await client.closed, undefined)
    await until(() => accepted.length === 1, 'the accepted end')
    assert.equal(await accepted[0]?.closed, undefined)
  })

  test('refuses host names, bad ports and bad timeouts', T, async () => {
    const transport = tcp()
    await rejectsPeerError(
      transport.dial({ address: 'localhost', port: 80 }),
      'PEER_E_INVALID_ADDRESS',
      /not an IPv4 or IPv6 address/,
    )
    await rejectsPeerError(
      transport.dial({ address: '127.0.0.1', port: 0 }),
      'PEER_E_INVALID_ADDRESS',
    )
    await rejectsPeerError(
      transport.dial({ address: '127.0.0.1', port: 65_536 }),
      'PEER_E_INVALID_ADDRESS',
    )
    await rejectsPeerError(
      transport.dial({ address: '127.0.0.1', port: 1 }, { timeoutMs: -1 }),
      'E_INVALIDARG',
    )
    await rejectsPeerError(
      transport.listen({ host: 'example.org' }, () => {}),
      'PEER_E_INVALID_ADDRESS',
    )
    await rejectsPeerError(
      transport.listen({ port: 1.5 }, () => {}),
      'PEER_E_INVALID_ADDRESS',
    )
  })
})

describe('TCP listening', () => {
  test('defaults to 127.0.0.1; a port in use is PEER_E_UNABLE_TO_LISTEN', T, async () => {
    const transport = tcp()
    const listener = await transport.listen({}, () => {})
    assert.equal(listener.address.address, '127.0.0.1')
    const err = await rejectsPeerError(
      transport.listen({ port: listener.address.port }, () => {}),
      'PEER_E_UNABLE_TO_LISTEN',
      /in use/,
    )
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE')
    assert.deepEqual(listener.reachable, [listener.address])
    await listener.close()
    await listener.close() // idempotent
  })

  test(
    'bound to every interface, it is reachable at the machine addresses, never 0.0.0.0',
    T,
    async () => {
      const transport = tcp()
      const listener = await transport.listen({ host: '0.0.0.0' }, () => {})
      const { port } = listener.address
      assert.equal(listener.address.address, '0.0.0.0')
      assert.deepEqual(
        listener.reachable,
        machineAddresses('ipv4').map((address) => ({ address, port })),
      )
      assert.ok(listener.reachable.every((a) => net.isIPv4(a.address) && !isWildcard(a.address)))
      // Only reached through loopback here: no traffic leaves the machine.
      const duplex = await transport.dial({ address: '127.0.0.1', port })
      duplex.close()
      await listener.close()
      await transport.close()
    },
  )

  test('close() stops accepting; accepted connections stay open', T, async () => {
    const transport = tcp()
    const { listener, client, server } = await connectPair(transport, '127.0.0.1')
    const a = new Probe(client)
    const b = new Probe(server)
    await listener.close()
    await rejectsPeerError(transport.dial(listener.address), 'PEER_E_CONNECTION_REFUSED')
    assert.equal(client.closed, false)
    assert.equal(server.closed, false)
    client.write(Buffer.from('still here'))
    await b.waitBytes(10)
    server.write(Buffer.from('yes'))
    await a.waitBytes(3)
    assert.equal(b.received().toString(), 'still here')
    assert.equal(a.received().toString(), 'yes')
    server.close()
    assert.equal(await a.closed, undefined)
    assert.equal(await b.closed, undefined)
  })

  test('a throwing connection handler closes that connection, not the listener', T, async () => {
    const transport = tcp()
    let calls = 0
    const listener = await transport.listen({}, () => {
      calls++
      throw new Error('handler bug')
    })
    // The reset can reach the client before Node reports the connect: then the dial fails.
    const outcome = async (): Promise<unknown> => {
      try {
        return await new Probe(await transport.dial(listener.address)).closed
      } catch (err) {
        return err
      }
    }
    assertPeerError(await outcome(), 'PEER_E_CONNECTION_FAILED')
    assertPeerError(await outcome(), 'PEER_E_CONNECTION_FAILED')
    assert.equal(calls, 2)
    await listener.close()
  })
})

describe('TCP duplex buffering and bounds', () => {
  test('data that arrives before setHandlers is delivered, then the close', T, async () => {
    const transport = tcp()
    const { listener, client, server } = await connectPair(transport, '127.0.0.1')
    await listener.close()
    const b = new Probe(server)
    const sent = pattern(200_000, 3)
    await b.writeAll(sent)
    server.close()
    await b.closed
    // The client's socket is gone by now; its bytes and its close wait for the handlers.
    await until(() => client.closed, 'the client to see the end')
    const a = new Probe(client, false)
    a.install()
    assert.equal(a.bytes, 0, 'buffered data is delivered after setHandlers returns')
    assert.equal(await a.closed, undefined)
    assert.ok(a.received().equals(sent))
    assert.throws(
      () => a.install(),
      (e) => e instanceof PeerError && e.code === 'E_UNEXPECTED',
    )
  })

  test('a data handler that throws on buffered data after the end is reported', T, async () => {
    const transport = tcp()
    const { listener, client, server } = await connectPair(transport, '127.0.0.1')
    await listener.close()
    const b = new Probe(server)
    await b.writeAll(pattern(300_000, 7))
    server.close()
    await b.closed
    await until(() => client.closed, 'the client to see the end')
    let chunks = 0
    let closeError: PeerError | undefined
    let closes = 0
    await new Promise<void>((resolve) =>
      client.setHandlers({
        data: () => {
          chunks++
          throw new Error('bug on buffered data')
        },
        drain: () => {},
        close: (e) => {
          closes++
          closeError = e
          resolve()
        },
      }),
    )
    assertPeerError(closeError, 'E_UNEXPECTED', /bug on buffered data/)
    assert.equal(chunks, 1, 'nothing more is delivered after the handler threw')
    await turn()
    assert.equal(closes, 1)
  })

  test('more than STREAM_HIGH_WATER_BYTES before setHandlers: PEER_E_TOO_LARGE', T, async () => {
    const transport = tcp()
    const { listener, client, server } = await connectPair(transport, '127.0.0.1')
    await listener.close()
    const b = new Probe(server)
    const big = pattern(STREAM_HIGH_WATER_BYTES + 200_000, 4)
    server.write(big)
    const seen = assertPeerError(await b.closed, 'PEER_E_CONNECTION_FAILED')
    assert.equal((seen.cause as NodeJS.ErrnoException).code, 'ECONNRESET')
    const a = new Probe(client, false)
    a.install()
    assertPeerError(await a.closed, 'PEER_E_TOO_LARGE', /before the stream's handlers were set/)
    assert.equal(a.bytes, 0, 'the over-limit buffer is dropped')
  })

  test('pause holds delivery; resume delivers what was held, in order', T, async () => {
    const { client, server, a, b } = await probedPair('127.0.0.1')
    server.pause()
    client.write(Buffer.from('one,'))
    client.write(Buffer.from('two'))
    for (let i = 0; i < 20; i++) await turn()
    assert.equal(b.bytes, 0, 'nothing is delivered while paused')
    server.resume()
    await b.waitBytes(7)
    assert.equal(b.received().toString(), 'one,two')
    client.close()
    await Promise.all([a.closed, b.closed])
  })

  test('a writer that ignores backpressure is stopped at MAX_QUEUED_WRITE_BYTES', T, async () => {
    const { client, server, a, b } = await probedPair('127.0.0.1')
    server.pause() // the reader stops: kernel buffers fill, then Node's queue
    const chunk = Buffer.alloc(64 * 1024, 7)
    let written = 0
    let falses = 0
    const safety = 256 * 1024 * 1024
    while (!client.closed && written < safety) {
      if (!client.write(chunk)) falses++
      written += chunk.byteLength
    }
    assert.equal(client.closed, true, `still open after ${written} bytes`)
    assert.ok(falses > 0)
    const err = assertPeerError(await a.closed, 'PEER_E_TOO_LARGE', /ignored backpressure/)
    assert.equal(err.details?.['limit'], MAX_QUEUED_WRITE_BYTES)
    assert.equal(client.write(chunk), false)
    // The reset finds the server with unread data: libuv may report it as an orderly end.
    server.resume()
    const seen = await b.closed
    if (seen) assertPeerError(seen, 'PEER_E_CONNECTION_FAILED')
  })

  test(
    'an orderly close that cannot flush gives up after the grace: PEER_E_TIMEOUT',
    T,
    async () => {
      // A raw server that never reads: the kernel buffers fill and Node keeps the rest queued.
      const raw = await rawServer({ pauseOnConnect: true }, () => {})
      const clock = new VirtualClock()
      const transport = tcp({ clock, closeGraceMs: 100 })
      const a = new Probe(await transport.dial(raw.address))
      const chunk = Buffer.alloc(64 * 1024)
      let written = 0
      while (a.duplex.write(chunk)) {
        written += chunk.byteLength
        assert.ok(written < 256 * 1024 * 1024, 'write() never reported backpressure')
      }
      a.duplex.close()
      assert.equal(clock.pendingTimers, 1)
      for (let i = 0; i < 10; i++) await turn()
      assert.equal(a.closeCalls, 0, 'still waiting for the queued bytes to go out')
      clock.advance(100)
      const err = assertPeerError(await a.closed, 'PEER_E_TIMEOUT', /could not send/)
      assert.ok((err.details?.['queued'] as number) > 0)
      await raw.close()
    },
  )

  test(
    'a peer that never closes its side is dropped after the grace, without error',
    T,
    async () => {
      // allowHalfOpen: the raw server reads our FIN but never sends its own.
      let ended = false
      const raw = await rawServer({ allowHalfOpen: true }, (socket) => {
        socket.on('end', () => (ended = true))
        socket.resume()
      })
      const clock = new VirtualClock()
      const transport = tcp({ clock, closeGraceMs: 100 })
      const a = new Probe(await transport.dial(raw.address))
      a.duplex.write(Buffer.from('bye'))
      a.duplex.close()
      await until(() => ended, 'the server to read the FIN')
      for (let i = 0; i < 10; i++) await turn()
      assert.equal(a.closeCalls, 0, 'still waiting for the peer to close')
      clock.advance(100)
      assert.equal(await a.closed, undefined)
      await raw.close()
    },
  )

  test(
    'close(error) while the automatic shutdown is pending does not leak the socket',
    T,
    async () => {
      // Node 20: resetAndDestroy() while a shutdown is pending fails with EINVAL, never emits
      // 'close' and leaks the handle. Right after the peer's FIN Node shuts our side down too.
      const { client, server, a, b } = await probedPair('127.0.0.1')
      const socket = (client as unknown as { socket: net.Socket }).socket
      const reason = new PeerError('E_ABORT', 'closing late')
      socket.once('end', () => queueMicrotask(() => client.close(reason)))
      server.close()
      assert.equal(await a.closed, reason)
      assert.equal(await b.closed, undefined)
    },
  )

  test('a throwing data handler closes the stream with E_UNEXPECTED', T, async () => {
    const transport = tcp()
    const { listener, client, server } = await connectPair(transport, '127.0.0.1')
    await listener.close()
    const a = new Probe(client)
    let closeError: PeerError | undefined
    const closed = new Promise<void>((resolve) =>
      server.setHandlers({
        data: () => {
          throw new Error('bug in data')
        },
        drain: () => {},
        close: (e) => {
          closeError = e
          resolve()
        },
      }),
    )
    client.write(Buffer.from('x'))
    await closed
    const err = assertPeerError(closeError, 'E_UNEXPECTED', /data handler threw: bug in data/)
    assert.equal((err.cause as Error).message, 'bug in data')
    assertPeerError(await a.closed, 'PEER_E_CONNECTION_FAILED')
  })
})

describe('TCP handle hygiene', () => {
  test(
    'after a listen/dial/exchange/close cycle no socket, request or timer remains',
    T,
    async () => {
      const before = handles.counts()
      const transport = tcp()
      const { listener, client, server } = await connectPair(transport, '127.0.0.1')
      const a = new Probe(client)
      const b = new Probe(server)
      assert.ok(handles.counts()['TCPServerWrap']! > before['TCPServerWrap']!)
      assert.ok(handles.counts()['TCPSocketWrap']! >= before['TCPSocketWrap']! + 2)
      await Promise.all([a.writeAll(pattern(1_000_000, 5)), b.writeAll(pattern(1_000_000, 6))])
      await Promise.all([a.waitBytes(1_000_000), b.waitBytes(1_000_000)])
      client.close() // sets the grace timer: a Timeout until the close completes
      await listener.close()
      assert.equal(await a.closed, undefined)
      assert.equal(await b.closed, undefined)
      await turn()
      await turn()
      assert.deepEqual(handles.counts(), before)
    },
  )

  test('transport.close() closes listeners, streams and dials in progress', T, async () => {
    const before = handles.counts()
    const network = createNodeNetwork()
    handles.cleanup(() => network.close(new PeerError('E_ABORT', 'test cleanup')))
    const transport = network.streams
    const accepted: Probe[] = []
    const listener = await transport.listen({}, (d) => accepted.push(new Probe(d)))
    const clients = [
      new Probe(await transport.dial(listener.address)),
      new Probe(await transport.dial(listener.address)),
    ]
    await until(() => accepted.length === 2, 'two accepted')
    const udp = await network.datagrams.bind({})
    assert.equal(transport.openStreams, 4)
    assert.equal(network.datagrams.openSockets, 1)
    const dialling = rejectsPeerError(
      transport.dial(listener.address),
      'E_ABORT',
      /transport was closed/,
    )
    await network.close()
    await dialling
    assert.equal(udp.closed, true)
    for (const p of [...clients, ...accepted]) assert.equal(await p.closed, undefined)
    assert.equal(transport.openStreams, 0)
    assert.equal(network.datagrams.openSockets, 0)
    assert.deepEqual(handles.counts(), before)
    // The transport stays usable.
    const again = await transport.listen({}, () => {})
    await again.close()
  })
})
