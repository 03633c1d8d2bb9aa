/** Simulated datagram sockets: the DatagramTransport of a SimNode (delivery in network.ts). */
import { PeerError } from '../core/errors.ts'
import type { Address, DatagramSocket, DatagramTransport } from '../transport/types.ts'
import { formatSimAddress, type SimNode } from './network.ts'
import { PortHolder } from './ports.ts'

export type DatagramHandler = (data: Uint8Array, from: Address) => void

/**
 * A bound datagram port. send() copies the payload, so the caller may reuse its buffer; what
 * the handler receives is its own copy, and `from` is a frozen address. A handler that throws
 * is counted (SimNetwork.handlerErrors), as the UDP transport counts it.
 */
export class SimDatagramSocket extends PortHolder implements DatagramSocket {
  readonly local: Address
  /** @internal `name:port`, for traces. */
  readonly tag: string
  /** @internal */ handler: DatagramHandler | undefined = undefined

  constructor(
    /** @internal */ readonly node: SimNode,
    port: number,
  ) {
    super(node.sockets, node.udpPorts, port)
    this.local = Object.freeze({ address: node.name, port })
    this.tag = formatSimAddress(this.local)
  }

  /**
   * Sends after the link's latency and jitter, or loses, or duplicates it. Refuses (throws)
   * an oversized payload (E_INVALIDARG) or a malformed address (PEER_E_INVALID_ADDRESS); a
   * send on a closed socket is counted as dropped, never thrown.
   */
  send(to: Address, data: Uint8Array): void {
    this.node.network.sendDatagram(this, to, data)
  }

  /** Installs (or replaces) the receive handler; datagrams arriving without one are dropped. */
  onMessage(handler: DatagramHandler): void {
    if (typeof handler !== 'function') {
      throw new PeerError('E_INVALIDARG', 'onMessage needs a function')
    }
    if (!this.closed) this.handler = handler
  }

  protected override onShut(): void {
    this.handler = undefined
  }
}

/** The DatagramTransport of one SimNode. */
export class SimDatagramTransport implements DatagramTransport {
  constructor(private readonly node: SimNode) {}

  /**
   * Binds `port` (0 or undefined: the next free port from 49152). `host` may be left out, or
   * be the node's name, a wildcard or loopback address. A port in use fails with
   * PEER_E_UNABLE_TO_LISTEN, as on real sockets.
   */
  bind(options: { host?: string; port?: number }): Promise<SimDatagramSocket> {
    return new Promise((resolve) => {
      const node = this.node
      const port = node.claimPort(node.udpPorts, options, 'bind')
      const socket = new SimDatagramSocket(node, port)
      node.sockets.set(port, socket)
      resolve(socket)
    })
  }

  /** Sockets of this node bound and not closed. */
  get openSockets(): number {
    return this.node.sockets.size
  }
}
