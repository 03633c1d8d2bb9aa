/**
 * An in-process pipe: two connected Duplex ends with no latency, for components wired together
 * in one process and for unit tests. Delivery is asynchronous (a microtask) and in order, like
 * a socket; `write` reports backpressure above STREAM_HIGH_WATER_BYTES of undelivered data, and
 * a writer that goes on past MAX_QUEUED_WRITE_BYTES has the pipe closed (PEER_E_TOO_LARGE), as
 * TCP does: nothing buffers without bound.
 * The simulator's network (src/sim) is the version with latency, loss and faults.
 */
import { PeerError } from '../core/errors.ts'
import { MAX_QUEUED_WRITE_BYTES, STREAM_HIGH_WATER_BYTES } from './constants.ts'
import type { Address, Duplex, DuplexHandlers } from './types.ts'

class PipeEnd implements Duplex {
  peer!: PipeEnd
  private handlers: DuplexHandlers | undefined
  private inbox: Uint8Array[] = []
  private paused = false
  private inFlight = 0
  private wantDrain = false
  private closeState: 'open' | 'closing' | 'closed' = 'open'
  private closeError: PeerError | undefined
  private scheduled = false

  constructor(
    readonly local: Address,
    readonly remote: Address,
  ) {}

  get closed(): boolean {
    return this.closeState !== 'open'
  }

  setHandlers(handlers: DuplexHandlers): void {
    if (this.handlers) throw new PeerError('E_UNEXPECTED', 'a duplex takes its handlers once')
    this.handlers = handlers
    this.schedule()
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed) return false
    if (this.inFlight > 0 && this.inFlight + chunk.length > MAX_QUEUED_WRITE_BYTES) {
      this.close(
        new PeerError(
          'PEER_E_TOO_LARGE',
          `the pipe holds ${this.inFlight} undelivered bytes and may hold at most ` +
            `${MAX_QUEUED_WRITE_BYTES} (MAX_QUEUED_WRITE_BYTES): the writer ignored backpressure`,
          { details: { queued: this.inFlight, limit: MAX_QUEUED_WRITE_BYTES } },
        ),
      )
      return false
    }
    const copy = new Uint8Array(chunk)
    this.inFlight += copy.length
    this.peer.inbox.push(copy)
    this.peer.schedule()
    if (this.inFlight > STREAM_HIGH_WATER_BYTES) {
      this.wantDrain = true
      return false
    }
    return true
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.schedule()
  }

  close(error?: PeerError): void {
    if (this.closed) return
    this.closeState = 'closing'
    this.closeError = error
    // Closing ends both directions: what had not been read yet is dropped.
    this.inbox = []
    // The peer sees the close after the data already sent (orderly) or at once (error).
    this.peer.remoteClosed(error)
    this.schedule()
  }

  private remoteClosed(error?: PeerError): void {
    if (this.closeState === 'closed') return
    if (error) this.inbox = []
    this.closeState = 'closing'
    this.closeError ??= error
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    const handlers = this.handlers
    if (!handlers) return
    while (!this.paused && this.inbox.length > 0) {
      const chunk = this.inbox.shift() as Uint8Array
      this.peer.delivered(chunk.length)
      handlers.data(chunk)
    }
    if (this.closeState === 'closing' && this.inbox.length === 0) {
      this.closeState = 'closed'
      handlers.close(this.closeError)
    }
  }

  private delivered(bytes: number): void {
    this.inFlight -= bytes
    if (this.wantDrain && this.inFlight <= STREAM_HIGH_WATER_BYTES / 2 && !this.closed) {
      this.wantDrain = false
      queueMicrotask(() => this.handlers?.drain())
    }
  }
}

/** Two connected ends: what one writes, the other receives. */
export function createDuplexPair(
  a: Address = { address: 'pipe-a', port: 1 },
  b: Address = { address: 'pipe-b', port: 1 },
): [Duplex, Duplex] {
  const left = new PipeEnd(a, b)
  const right = new PipeEnd(b, a)
  left.peer = right
  right.peer = left
  return [left, right]
}
