/**
 * UDP datagrams on `node:dgram`: the real-socket DatagramTransport (DESIGN.md sections 3 and 6).
 *
 * Fire and forget, never crash: a send that fails is counted (`sendErrors`), a receive handler
 * that throws is caught and counted (`handlerErrors`), socket errors are counted
 * (`receiveErrors`). Only misuse by the caller throws, synchronously: an oversized datagram
 * (E_INVALIDARG) or an address that is not an IP literal and port (PEER_E_INVALID_ADDRESS).
 */
import dgram from 'node:dgram'
import net from 'node:net'

import { systemClock, type Clock } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { checkAddress, listenAddress } from './addresses.ts'
import { MAX_DATAGRAM_BYTES } from './constants.ts'
import { listenFailed } from './failures.ts'
import { afterHandlesReleased, whenListening } from './handles.ts'
import type { Address, DatagramSocket, DatagramTransport } from './types.ts'

export interface UdpTransportOptions {
  /** Kept for symmetry with the other transports; UDP sockets set no timers today. */
  clock?: Clock
}

/** What a UdpSocket has seen since it was bound. */
export interface UdpCounters {
  /** Datagrams handed to the operating system successfully. */
  sent: number
  /** Datagrams that arrived, delivered or not. */
  received: number
  /** Arrived datagrams not delivered: no handler set, over MAX_DATAGRAM_BYTES, or closing. */
  dropped: number
  /** Sends that failed (unreachable, wrong address family, socket closed, ...). */
  sendErrors: number
  /** Errors the socket reported while receiving. */
  receiveErrors: number
  /** Calls of the receive handler that threw. */
  handlerErrors: number
}

/**
 * A bound UDP socket. Datagrams given to send() are not copied: do not modify them until the
 * next turn of the event loop.
 */
export class UdpSocket implements DatagramSocket {
  readonly local: Address
  private readonly count: UdpCounters = {
    sent: 0,
    received: 0,
    dropped: 0,
    sendErrors: 0,
    receiveErrors: 0,
    handlerErrors: 0,
  }
  private handler: ((data: Uint8Array, from: Address) => void) | undefined
  private closing: Promise<void> | undefined
  /** The last error a send or the socket reported, for diagnostics. */
  lastError: unknown

  constructor(
    private readonly socket: dgram.Socket,
    private readonly onClosed: (socket: UdpSocket) => void = () => {},
  ) {
    const bound = socket.address()
    this.local = { address: bound.address, port: bound.port }
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo))
    socket.on('error', (err) => {
      this.count.receiveErrors++
      this.lastError = err
    })
  }

  /** The counters, live (read them; they change as datagrams come and go). */
  get counters(): Readonly<UdpCounters> {
    return this.count
  }

  get closed(): boolean {
    return this.closing !== undefined
  }

  send(to: Address, data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      throw new PeerError('E_INVALIDARG', 'a datagram must be a Uint8Array')
    }
    if (data.byteLength > MAX_DATAGRAM_BYTES) {
      throw new PeerError(
        'E_INVALIDARG',
        `a datagram of ${data.byteLength} bytes is over the ${MAX_DATAGRAM_BYTES}-byte limit ` +
          `(MAX_DATAGRAM_BYTES); split the message`,
        { details: { size: data.byteLength, limit: MAX_DATAGRAM_BYTES } },
      )
    }
    checkAddress(to.address, to.port, 'send', false)
    if (this.closing) {
      this.count.sendErrors++
      return
    }
    try {
      this.socket.send(data, to.port, to.address, (err) => {
        if (err) {
          this.count.sendErrors++
          this.lastError = err
        } else {
          this.count.sent++
        }
      })
    } catch (err) {
      this.count.sendErrors++
      this.lastError = err
    }
  }

  /** Installs (or replaces) the receive handler. */
  onMessage(handler: (data: Uint8Array, from: Address) => void): void {
    this.handler = handler
  }

  /** Closes the socket; resolves when its handle is released. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.handler = undefined
      try {
        this.socket.close(() => resolve())
      } catch {
        resolve() // already closed
      }
    })
      .then(afterHandlesReleased)
      .then(() => this.onClosed(this))
    return this.closing
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.count.received++
    const handler = this.handler
    if (!handler || msg.byteLength > MAX_DATAGRAM_BYTES) {
      this.count.dropped++
      return
    }
    try {
      handler(msg, { address: rinfo.address, port: rinfo.port })
    } catch (err) {
      this.count.handlerErrors++
      this.lastError = err
    }
  }
}

/**
 * DatagramTransport over real UDP sockets. It keeps track of the sockets it bound, so close()
 * can stop a node; it stays usable afterwards.
 */
export class UdpTransport implements DatagramTransport {
  readonly clock: Clock
  private readonly sockets = new Set<UdpSocket>()

  constructor(options: UdpTransportOptions = {}) {
    this.clock = options.clock ?? systemClock
  }

  /**
   * Binds a socket on `host` (an IP literal, default DEFAULT_LISTEN_HOST: a library listens on
   * all interfaces only when told, with '0.0.0.0' or '::') and `port` (default 0: any free port).
   * The host picks udp4 or udp6. Fails with PEER_E_UNABLE_TO_LISTEN (cause kept), or
   * PEER_E_IPV6_NOT_INSTALLED for IPv6 on a host without it.
   */
  async bind(options: { host?: string; port?: number }): Promise<UdpSocket> {
    const { address: host, port } = listenAddress(options, 'bind')
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' })
    await whenListening(
      socket,
      () => socket.bind({ address: host, port }),
      (err) => {
        // A failed bind leaves the handle open: release it.
        socket.close()
        return listenFailed(err, 'bind', host, port)
      },
    )
    const bound = new UdpSocket(socket, (s) => this.sockets.delete(s))
    this.sockets.add(bound)
    return bound
  }

  /** Sockets bound and not yet closed. */
  get openSockets(): number {
    return this.sockets.size
  }

  /** Closes every socket this transport bound; resolves when their handles are released. */
  async close(): Promise<void> {
    await Promise.all([...this.sockets].map((s) => s.close()))
  }
}
