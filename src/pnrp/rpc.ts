/**
 * Requests and replies over one datagram socket (MS-PNRP 1.1, 1.7): random message ids,
 * retransmission every RETRANSMIT_MS up to RETRY_COUNT times, replies matched by id AND by the
 * address the request went to (a reply from elsewhere is dropped: return routability), and a
 * per-source token bucket. Every datagram that is dropped is counted by reason; none throws.
 */
import type { Clock, Timer } from '../core/clock.ts'
import { PeerError, isPeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import type { Address, DatagramSocket } from '../transport/types.ts'
import {
  MAX_PENDING_REQUESTS,
  MAX_TRACKED_SOURCES,
  MIN_PNRP_PORT,
  RETRANSMIT_MS,
  RETRY_COUNT,
  SOURCE_BURST,
  SOURCE_RATE_PER_SECOND,
  SOURCE_SWEEP_SIZE,
} from './constants.ts'
import {
  decodePnrpMessage,
  encodePnrpMessage,
  type MessageTypeName,
  type PnrpMessage,
  type PnrpMessageOf,
} from './messages.ts'

/** Why an incoming datagram was dropped. */
export type DropReason =
  | 'malformed'
  | 'too-large'
  | 'version'
  | 'rate-limited'
  | 'unexpected-reply'
  | 'bad-port'
  | 'handler-error'
  | 'invalid'

export interface RpcCounters {
  sent: number
  received: number
  retransmits: number
  timeouts: number
  /** Messages sent and received by type. */
  sentByType: Partial<Record<MessageTypeName, number>>
  receivedByType: Partial<Record<MessageTypeName, number>>
  dropped: Partial<Record<DropReason, number>>
}

type ReplyType = 'authority' | 'ack' | 'advertise'

interface Pending {
  to: string
  expect: ReplyType
  bytes: Uint8Array
  address: Address
  triesLeft: number
  timer: Timer | undefined
  resolve: (reply: PnrpMessage | undefined) => void
}

interface Bucket {
  tokens: number
  at: number
}

/** How long an empty bucket takes to refill to SOURCE_BURST. */
const REFILL_MS = (SOURCE_BURST / SOURCE_RATE_PER_SECOND) * 1000

export const addressKey = (a: Address): string => `${a.address}|${a.port}`

export class PnrpRpc {
  readonly counters: RpcCounters = {
    sent: 0,
    received: 0,
    retransmits: 0,
    timeouts: 0,
    sentByType: {},
    receivedByType: {},
    dropped: {},
  }
  private readonly pending = new Map<number, Pending>()
  private readonly buckets = new Map<string, Bucket>()
  private handler: ((message: PnrpMessage, from: Address) => void) | undefined
  /** When the bucket table was last swept of full buckets. */
  private sweptAt = -Infinity
  private closed = false

  constructor(
    private readonly socket: DatagramSocket,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {
    socket.onMessage((data, from) => this.onDatagram(data, from))
  }

  get local(): Address {
    return this.socket.local
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.pending.size
  }

  /** Handles every message that is not a reply to one of our requests. */
  onRequest(handler: (message: PnrpMessage, from: Address) => void): void {
    this.handler = handler
  }

  /** A fresh random message id (MS-PNRP 1.1: must not repeat within a round trip). */
  newId(): number {
    for (;;) {
      const id = this.random.int(0x1_0000_0000)
      if (!this.pending.has(id)) return id
    }
  }

  /** Sends without waiting for anything. */
  send(to: Address, message: PnrpMessage): void {
    if (this.closed) return
    this.transmit(to, encodePnrpMessage(message), message.type)
  }

  /**
   * Sends `message` and resolves with the reply of type `expect` from `to`, or undefined when
   * none came after the retries (or the rpc closed, or `signal` fired). Never rejects for the
   * network; PEER_E_TOO_MUCH_LOAD when MAX_PENDING_REQUESTS are in flight.
   */
  request<T extends ReplyType>(
    to: Address,
    message: PnrpMessage,
    expect: T,
    signal?: AbortSignal,
  ): Promise<PnrpMessageOf<T> | undefined> {
    if (this.closed || signal?.aborted) return Promise.resolve(undefined)
    if (this.pending.size >= MAX_PENDING_REQUESTS) {
      return Promise.reject(
        new PeerError(
          'PEER_E_TOO_MUCH_LOAD',
          `${MAX_PENDING_REQUESTS} PNRP requests are in flight (MAX_PENDING_REQUESTS)`,
        ),
      )
    }
    const bytes = encodePnrpMessage(message)
    return new Promise((resolve) => {
      const entry: Pending = {
        to: addressKey(to),
        expect,
        bytes,
        address: to,
        triesLeft: RETRY_COUNT,
        timer: undefined,
        resolve: (reply) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(reply as PnrpMessageOf<T> | undefined)
        },
      }
      const onAbort = (): void => this.finish(message.id, undefined)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.set(message.id, entry)
      this.transmit(to, bytes, message.type)
      this.arm(message.id, entry)
    })
  }

  /** Stops: pending requests resolve undefined, timers are cleared. */
  close(): void {
    this.closed = true
    for (const id of [...this.pending.keys()]) this.finish(id, undefined)
    this.buckets.clear()
  }

  private arm(id: number, entry: Pending): void {
    entry.timer = this.clock.setTimeout(() => {
      if (this.pending.get(id) !== entry) return
      if (entry.triesLeft <= 0) {
        this.counters.timeouts++
        this.finish(id, undefined)
        return
      }
      entry.triesLeft--
      this.counters.retransmits++
      this.transmit(entry.address, entry.bytes, undefined)
      this.arm(id, entry)
    }, RETRANSMIT_MS)
  }

  private finish(id: number, reply: PnrpMessage | undefined): void {
    const entry = this.pending.get(id)
    if (!entry) return
    this.pending.delete(id)
    entry.timer?.cancel()
    entry.resolve(reply)
  }

  private transmit(to: Address, bytes: Uint8Array, type: MessageTypeName | undefined): void {
    try {
      this.socket.send(to, bytes)
      this.counters.sent++
      if (type) this.counters.sentByType[type] = (this.counters.sentByType[type] ?? 0) + 1
    } catch {
      // An unreachable or invalid destination is the same as a lost datagram.
    }
  }

  private drop(reason: DropReason): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1
  }

  /** Token bucket per source (`key`: addressKey), SOURCE_RATE_PER_SECOND, burst SOURCE_BURST. */
  private admit(key: string): boolean {
    const now = this.clock.now()
    if (this.buckets.size >= SOURCE_SWEEP_SIZE && now - this.sweptAt >= REFILL_MS) {
      this.sweep(now)
    }
    let bucket = this.buckets.get(key)
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED_SOURCES) {
        // Forget the oldest source (Map order is insertion order).
        this.buckets.delete(this.buckets.keys().next().value as string)
      }
      bucket = { tokens: SOURCE_BURST, at: now }
      this.buckets.set(key, bucket)
    }
    bucket.tokens = Math.min(
      SOURCE_BURST,
      bucket.tokens + ((now - bucket.at) * SOURCE_RATE_PER_SECOND) / 1000,
    )
    bucket.at = now
    if (bucket.tokens < 1) return false
    bucket.tokens--
    return true
  }

  /**
   * Forgets the buckets that have refilled to SOURCE_BURST: a full bucket and no bucket are the
   * same thing, so the table holds only the sources heard from in the last REFILL_MS.
   */
  private sweep(now: number): void {
    this.sweptAt = now
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) * SOURCE_RATE_PER_SECOND) / 1000 >= SOURCE_BURST) {
        this.buckets.delete(key)
      }
    }
  }

  private onDatagram(data: Uint8Array, from: Address): void {
    if (this.closed) return
    // MS-PNRP 1.1: packets from ports <= 1024 are dropped (our simulator uses high ports too).
    if (from.port < MIN_PNRP_PORT) return this.drop('bad-port')
    const fromKey = addressKey(from)
    if (!this.admit(fromKey)) return this.drop('rate-limited')
    let message: PnrpMessage
    try {
      message = decodePnrpMessage(data)
    } catch (err) {
      const code = isPeerError(err) ? err.code : undefined
      return this.drop(
        code === 'PEER_E_TOO_LARGE'
          ? 'too-large'
          : code === 'PEER_E_UNSUPPORTED_VERSION'
            ? 'version'
            : 'malformed',
      )
    }
    this.counters.received++
    this.counters.receivedByType[message.type] =
      (this.counters.receivedByType[message.type] ?? 0) + 1
    if (message.type === 'authority' || message.type === 'ack' || message.type === 'advertise') {
      const entry = this.pending.get(message.replyTo)
      if (!entry || entry.expect !== message.type || entry.to !== fromKey) {
        return this.drop('unexpected-reply')
      }
      this.finish(message.replyTo, message)
      return
    }
    try {
      this.handler?.(message, from)
    } catch {
      this.drop('handler-error')
    }
  }

  /** Counts a message a handler found invalid (forged CPA, bad request). */
  countInvalid(): void {
    this.drop('invalid')
  }
}
