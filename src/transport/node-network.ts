/**
 * The real network: TCP streams and UDP datagrams on Node's sockets. Protocol code receives a
 * Network from its caller; the simulator passes its in-memory one instead (DESIGN.md section 7).
 */
import type { Clock } from '../core/clock.ts'
import type { PeerError } from '../core/errors.ts'
import { TcpTransport, type TcpTransportOptions } from './tcp.ts'
import type { Network } from './types.ts'
import { UdpTransport } from './udp.ts'

export interface NodeNetworkOptions {
  /** Timers for dial timeouts and close grace periods (default systemClock). */
  clock?: Clock
  /** Grace period of an orderly stream close (default CLOSE_GRACE_MS). */
  closeGraceMs?: TcpTransportOptions['closeGraceMs']
}

export interface NodeNetwork extends Network {
  streams: TcpTransport
  datagrams: UdpTransport
  /**
   * Closes every listener, stream and datagram socket opened through this network; streams
   * close in order, or are reset at once with `error` (see TcpTransport.close).
   */
  close(error?: PeerError): Promise<void>
}

export function createNodeNetwork(options: NodeNetworkOptions = {}): NodeNetwork {
  const streams = new TcpTransport(options)
  const datagrams = new UdpTransport(options)
  return {
    streams,
    datagrams,
    close: async (error?: PeerError) => {
      await Promise.all([streams.close(error), datagrams.close()])
    },
  }
}
