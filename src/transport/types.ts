/**
 * The shapes every transport implements, so the same protocol code runs over TCP/UDP sockets
 * and over the simulator's in-memory network (DESIGN.md section 7).
 *
 * Streams are reliable and ordered (TCP, in-memory pipes); datagrams may be lost, duplicated or
 * reordered (UDP, the simulated network). Both are callback-based, not Node streams: simple to
 * implement exactly in the simulator, and cheap.
 */
import type { PeerError } from '../core/errors.ts'

/** An IP address (v4 or v6 text, or a simulator node name) and a port. */
export interface Address {
  address: string
  port: number
}

export interface DuplexHandlers {
  /** A chunk of bytes, in order. Chunk boundaries carry no meaning. */
  data(chunk: Uint8Array): void
  /** The write buffer fell below its high-water mark: writing may go on. */
  drain(): void
  /** Called exactly once: `error` undefined for an orderly close by either side. */
  close(error?: PeerError): void
}

/** One reliable, ordered byte stream. */
export interface Duplex {
  readonly local: Address
  readonly remote: Address
  readonly closed: boolean
  /**
   * Installs the handlers; set once (a second call throws E_UNEXPECTED), right after the duplex
   * is obtained. Data that arrived before is delivered when they are set. Handlers are never
   * called synchronously from write() or close(); the close handler runs exactly once.
   */
  setHandlers(handlers: DuplexHandlers): void
  /**
   * Queues bytes; false when the buffer is over its high-water mark (wait for drain), or when
   * closed. The chunk must not be modified afterwards (TCP does not copy it). A writer that
   * ignores backpressure far beyond the mark has its stream closed (PEER_E_TOO_LARGE).
   */
  write(chunk: Uint8Array): boolean
  /**
   * Optional: queues several chunks as one write (one system call for TCP), with write()'s
   * result. Callers fall back to joining the chunks when a duplex lacks it.
   */
  writev?(chunks: readonly Uint8Array[]): boolean
  /** Stops and resumes delivery of incoming data (receive-side backpressure). */
  pause(): void
  resume(): void
  /** Closes both directions, after queued writes when `error` is undefined; idempotent. */
  close(error?: PeerError): void
}

export interface StreamListener {
  /** The address it is bound to (a wildcard when bound to every interface). */
  readonly address: Address
  /** Where peers reach it: the bound address, or a wildcard's interface addresses. */
  readonly reachable: readonly Address[]
  /** Stops accepting; connections already accepted stay open. */
  close(): Promise<void>
}

export interface DialOptions {
  signal?: AbortSignal
  /** Gives up with PEER_E_TIMEOUT after this long (default DIAL_TIMEOUT_MS). */
  timeoutMs?: number
}

export interface StreamTransport {
  /** Listens on `host`:`port` (port 0: any free port); PEER_E_UNABLE_TO_LISTEN when taken. */
  listen(
    options: { host?: string; port?: number },
    onConnection: (duplex: Duplex) => void,
  ): Promise<StreamListener>
  /**
   * Opens a stream. PEER_E_CONNECTION_REFUSED when nothing listens there,
   * PEER_E_CONNECTION_FAILED for other failures, PEER_E_TIMEOUT, E_ABORT,
   * PEER_E_INVALID_ADDRESS for a malformed address.
   */
  dial(to: Address, options?: DialOptions): Promise<Duplex>
}

export interface DatagramSocket {
  readonly local: Address
  /** Fire and forget: a datagram may be lost. Oversized datagrams are refused (E_INVALIDARG). */
  send(to: Address, data: Uint8Array): void
  /** Installs the receive handler; datagrams arriving before it is set are dropped. */
  onMessage(handler: (data: Uint8Array, from: Address) => void): void
  close(): Promise<void>
}

export interface DatagramTransport {
  bind(options: { host?: string; port?: number }): Promise<DatagramSocket>
}

/** The network a protocol component is given: streams and datagrams. */
export interface Network {
  streams: StreamTransport
  datagrams: DatagramTransport
}
