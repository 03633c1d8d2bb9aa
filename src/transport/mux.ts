/**
 * Channels: several ordered message streams over one secure session (one per graph, per
 * application, per direct connection), each with credit-based flow control so one busy channel
 * cannot starve the others or make the receiver buffer without bound.
 *
 * Every secure message is one channel frame: `type(1) | channel id(4, big-endian) | body`.
 *   OPEN  0x01  body: channel name (UTF-8)
 *   DATA  0x02  body: the last (or only) fragment of a message
 *   MORE  0x03  body: a fragment; more follow
 *   CLOSE 0x04  body: reason (UTF-8, may be empty)
 *   CREDIT 0x05 body: uint32 big-endian, bytes the sender may send more
 * The session's initiator numbers its channels odd, the responder even, so ids never collide.
 * A sender may have at most its window of message bytes unacknowledged; the receiver grants
 * credit back as it delivers messages.
 */
import { fromUtf8, utf8 } from '../core/bytes.ts'
import { PeerError, toPeerError } from '../core/errors.ts'
import { TypedEmitter } from '../core/events.ts'
import { createLogger } from '../core/log.ts'
import {
  CHANNEL_HEADER_BYTES,
  CHANNEL_MAX_MESSAGE_BYTES,
  CHANNEL_MAX_QUEUE_BYTES,
  CHANNEL_WINDOW_BYTES,
  FRAGMENT_CREDIT_OVERHEAD,
  MAX_CHANNEL_NAME_BYTES,
  MAX_CHANNELS_PER_SESSION,
  MAX_SECURE_MESSAGE_BYTES,
  SESSION_MAX_REASSEMBLY_BYTES,
} from './constants.ts'
import { joinParts } from './framing.ts'
import type { SecureSession } from './secure-session.ts'

const log = createLogger('transport')

const OPEN = 0x01
const DATA = 0x02
const MORE = 0x03
const CLOSE = 0x04
const CREDIT = 0x05

const MAX_FRAGMENT = MAX_SECURE_MESSAGE_BYTES - CHANNEL_HEADER_BYTES
/**
 * Fragments an honest sender may split the largest message into: full fragments, plus one
 * short fragment wherever its credit ran out (credit comes back in quarter windows), plus slack.
 * A message in more, smaller fragments is refused as too large.
 */
const MAX_FRAGMENTS =
  2 * Math.ceil(CHANNEL_MAX_MESSAGE_BYTES / MAX_FRAGMENT) +
  Math.ceil(CHANNEL_MAX_MESSAGE_BYTES / (CHANNEL_WINDOW_BYTES / 4)) +
  1024

function header(type: number, id: number): Uint8Array {
  const out = new Uint8Array(CHANNEL_HEADER_BYTES)
  out[0] = type
  new DataView(out.buffer).setUint32(1, id)
  return out
}

function frame(type: number, id: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHANNEL_HEADER_BYTES + body.length)
  out[0] = type
  new DataView(out.buffer).setUint32(1, id)
  out.set(body, CHANNEL_HEADER_BYTES)
  return out
}

/** The first `n` bytes of `parts` (joined) and the pieces after them (views, not copies). */
function splitAt(parts: readonly Uint8Array[], n: number): [Uint8Array, Uint8Array[]] {
  const first = parts[0] as Uint8Array
  if (first.length >= n) {
    const rest = parts.slice(1)
    if (first.length > n) rest.unshift(first.subarray(n))
    return [first.subarray(0, n), rest]
  }
  const joined = joinParts(parts)
  return [joined.subarray(0, n), joined.length > n ? [joined.subarray(n)] : []]
}

function protocolError(why: string): PeerError {
  return new PeerError('PEER_E_MALFORMED_MESSAGE', `channel protocol violation: ${why}`)
}

export interface ChannelEvents extends Record<string, unknown> {
  message: Uint8Array
  close: PeerError | undefined
}

interface Outgoing {
  message: Uint8Array
  offset: number
  resolve: () => void
  reject: (err: PeerError) => void
}

/** One ordered message stream inside a session. */
export class Channel extends TypedEmitter<ChannelEvents> {
  readonly id: number
  readonly name: string
  private credit = CHANNEL_WINDOW_BYTES
  private readonly queue: Outgoing[] = []
  private queuedBytes = 0
  private assembling: Uint8Array[] = []
  private assembled = 0
  /** Bytes received and not yet granted back (a sender may never exceed the window). */
  private outstanding = 0
  /** Of those, bytes the application has taken, which may be granted back. */
  private releasable = 0
  /** Bytes of the message being assembled that arrived while no one was listening. */
  private assemblingHeld = 0
  /** Messages that arrived before anyone listened; their bytes stay ungranted (backpressure). */
  private held: { message: Uint8Array; bytes: number }[] = []
  /** Open messages() iterators, and the ones waiting for a message. */
  private readers = 0
  private wakeups: (() => void)[] = []
  private state: 'open' | 'closed' = 'open'

  constructor(
    private readonly mux: Mux,
    id: number,
    name: string,
  ) {
    super()
    this.id = id
    this.name = name
  }

  get closed(): boolean {
    return this.state === 'closed'
  }

  /**
   * Queues a message; resolves once it has been handed to the session. Refuses with
   * PEER_E_TOO_MUCH_LOAD when more than CHANNEL_MAX_QUEUE_BYTES wait: await earlier sends.
   */
  send(message: Uint8Array): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new PeerError('PEER_E_CONNECTION_NOT_FOUND', `channel ${this.name} is closed`),
      )
    }
    if (message.length > CHANNEL_MAX_MESSAGE_BYTES) {
      return Promise.reject(
        new PeerError(
          'PEER_E_TOO_LARGE',
          `a channel message holds at most ${CHANNEL_MAX_MESSAGE_BYTES} bytes`,
        ),
      )
    }
    if (this.queuedBytes + message.length > CHANNEL_MAX_QUEUE_BYTES && this.queue.length > 0) {
      return Promise.reject(
        new PeerError(
          'PEER_E_TOO_MUCH_LOAD',
          `channel ${this.name} has ${this.queuedBytes} bytes waiting; await earlier sends before sending more`,
        ),
      )
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ message, offset: 0, resolve, reject })
      this.queuedBytes += message.length
      this.mux.flush()
    })
  }

  /** Closes this channel (the session stays open). */
  close(reason = ''): void {
    if (this.closed) return
    this.mux.sendControl(frame(CLOSE, this.id, utf8(reason)))
    this.finish(undefined)
  }

  /**
   * @internal Sends up to `fragments` fragments as credit and the session allow: 'blocked' when
   * the session is full, 'more' when the budget ran out with more to send, else 'idle'.
   */
  pump(fragments: number): 'blocked' | 'more' | 'idle' {
    let budget = fragments
    while (this.queue.length > 0) {
      if (budget-- <= 0) return 'more'
      const head = this.queue[0] as Outgoing
      const remaining = head.message.length - head.offset
      // Each fragment costs its bytes plus FRAGMENT_CREDIT_OVERHEAD; wait for enough credit.
      // Fragments fit the session's messages (smaller than MAX_FRAGMENT under a smaller frame
      // limit), so a send can never be refused for its size and stall the queue.
      const fragment = this.mux.session.maxMessageBytes - CHANNEL_HEADER_BYTES
      const size = Math.min(remaining, fragment, this.credit - FRAGMENT_CREDIT_OVERHEAD)
      if (size < 0 || (size === 0 && remaining > 0)) return 'idle'
      const end = head.offset + size
      const type = end === head.message.length ? DATA : MORE
      const ok = this.mux.sendFrame(header(type, this.id), head.message.subarray(head.offset, end))
      head.offset = end
      this.credit -= size + FRAGMENT_CREDIT_OVERHEAD
      this.queuedBytes -= size
      if (type === DATA) {
        this.queue.shift()
        head.resolve()
      }
      if (!ok) return 'blocked'
    }
    return 'idle'
  }

  /** @internal `body` comes in the pieces it was decrypted in; a message is joined once. */
  receive(type: number, body: readonly Uint8Array[]): void {
    if (this.closed) return
    switch (type) {
      case DATA:
      case MORE: {
        let length = 0
        for (const piece of body) length += piece.length
        // Every fragment costs its bytes plus a fixed overhead, so empty or tiny fragments
        // cannot pile up for free (FRAGMENT_CREDIT_OVERHEAD covers their bookkeeping).
        const cost = length + FRAGMENT_CREDIT_OVERHEAD
        this.outstanding += cost
        this.assembled += cost
        if (this.outstanding > CHANNEL_WINDOW_BYTES)
          throw protocolError(`channel ${this.id} sent beyond its credit`)
        if (this.assembled > CHANNEL_MAX_MESSAGE_BYTES + FRAGMENT_CREDIT_OVERHEAD * MAX_FRAGMENTS)
          throw protocolError(`channel ${this.id} message too large`)
        this.mux.reassembling(cost)
        for (const piece of body) if (piece.length > 0) this.assembling.push(piece)
        if (type === MORE) {
          // A fragment is taken on arrival when someone reads, so a message larger than the
          // window cannot stall (reassembly is bounded by CHANNEL_MAX_MESSAGE_BYTES).
          // Not while whole messages wait unread: the reader is behind, and the sender must wait.
          if (this.reading && this.held.length === 0) this.releasable += cost
          else this.assemblingHeld += cost
        } else {
          const message = joinParts(this.assembling)
          const heldBytes = this.assemblingHeld + cost
          this.mux.reassembling(-this.assembled)
          this.assembling = []
          this.assembled = 0
          this.assemblingHeld = 0
          if (this.listenerCount('message') > 0 && this.held.length === 0) {
            this.deliver(message, heldBytes)
          } else {
            this.held.push({ message, bytes: heldBytes })
            this.wakeups.shift()?.()
          }
        }
        this.maybeGrant()
        return
      }
      case CREDIT: {
        const grant = joinParts(body)
        if (grant.length !== 4) throw protocolError('CREDIT body is not 4 bytes')
        this.credit += new DataView(grant.buffer, grant.byteOffset, 4).getUint32(0)
        if (this.credit > CHANNEL_WINDOW_BYTES)
          throw protocolError(`channel ${this.id} granted beyond the window`)
        this.mux.flush()
        return
      }
      case CLOSE:
        this.finish(undefined)
        return
      default:
        throw protocolError(`unknown frame type ${type}`)
    }
  }

  /** Hands a message to the application; its bytes may then be granted back. */
  private deliver(message: Uint8Array, bytes: number): void {
    this.releasable += bytes
    this.emit('message', message)
  }

  /** Delivers messages that waited for a listener (called when one is added). */
  private release(): void {
    while (this.held.length > 0 && !this.closed && this.listenerCount('message') > 0) {
      const next = this.held.shift() as { message: Uint8Array; bytes: number }
      this.deliver(next.message, next.bytes)
    }
    this.settle()
  }

  /**
   * Grants credit back in quarter-window steps (keeping CREDIT frames rare). A sender stops
   * only with a whole window outstanding; by then a quarter has been taken here unless no one
   * listens, and then stopping the sender is the point.
   */
  private maybeGrant(): void {
    if (this.releasable < CHANNEL_WINDOW_BYTES / 4 || this.closed) return
    const body = new Uint8Array(4)
    new DataView(body.buffer).setUint32(0, this.releasable)
    this.outstanding -= this.releasable
    this.releasable = 0
    this.mux.sendControl(frame(CREDIT, this.id, body))
  }

  /** Messages that arrived before a listener was added are delivered to the first one. */
  override on<K extends keyof ChannelEvents>(
    type: K,
    listener: (data: ChannelEvents[K]) => void,
  ): () => void {
    const off = super.on(type, listener)
    if (type === 'message') queueMicrotask(() => this.release())
    return off
  }

  /** Once no message waits unread, fragments of the one arriving count as taken; then grant. */
  private settle(): void {
    if (this.held.length === 0 && this.reading) {
      this.releasable += this.assemblingHeld
      this.assemblingHeld = 0
    }
    this.maybeGrant()
  }

  /** True when someone takes this channel's messages: a listener or a messages() iterator. */
  private get reading(): boolean {
    return this.listenerCount('message') > 0 || this.readers > 0
  }

  /**
   * The channel's messages as an async iterator. Credit goes back to the sender only as the
   * iterator hands messages out, so a slow reader slows the sender instead of buffering.
   */
  messages(): AsyncIterableIterator<Uint8Array> {
    this.readers++
    let open = true
    const next = (): Promise<IteratorResult<Uint8Array>> => {
      const held = this.held.shift()
      if (held) {
        this.releasable += held.bytes
        this.settle()
        return Promise.resolve({ value: held.message, done: false })
      }
      if (!open || this.closed) return Promise.resolve({ value: undefined, done: true })
      return new Promise((resolve) => this.wakeups.push(() => resolve(next())))
    }
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next,
      return: () => {
        if (open) {
          open = false
          this.readers--
        }
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]: () => iterator,
    }
    queueMicrotask(() => this.release())
    return iterator
  }

  /** @internal */
  finish(error: PeerError | undefined): void {
    if (this.closed) return
    this.state = 'closed'
    const err = error ?? new PeerError('PEER_E_CONNECTION_NOT_FOUND', `channel ${this.name} closed`)
    for (const o of this.queue.splice(0)) o.reject(err)
    this.queuedBytes = 0
    this.mux.reassembling(-this.assembled)
    this.assembling = []
    this.assembled = 0
    this.mux.forget(this)
    for (const wake of this.wakeups.splice(0)) wake()
    this.emit('close', error)
    this.endSubscriptions()
  }
}

export interface MuxEvents extends Record<string, unknown> {
  /** The remote opened a channel. */
  channel: Channel
  close: PeerError | undefined
}

/** Channels over one SecureSession. */
export class Mux extends TypedEmitter<MuxEvents> {
  readonly session: SecureSession
  private readonly channels = new Map<number, Channel>()
  private nextId: number
  private blocked = false
  private flushing = false
  private closed = false
  /** Where the next flush starts among the channels (round-robin). */
  private rotation = 0
  /** Bytes of partly received messages over all channels (SESSION_MAX_REASSEMBLY_BYTES). */
  private reassemblyBytes = 0

  constructor(session: SecureSession) {
    super()
    this.session = session
    this.nextId = session.initiator ? 1 : 2
    // Attached a moment later, so whoever made this Mux can add its `channel` listener before
    // channels the remote opened early (already waiting in the session) are announced.
    queueMicrotask(() => this.attach())
  }

  /** @internal A channel's partly received bytes grew (or, negative, were delivered). */
  reassembling(delta: number): void {
    this.reassemblyBytes += delta
    if (this.reassemblyBytes > SESSION_MAX_REASSEMBLY_BYTES) {
      throw protocolError(
        `partly received messages exceed ${SESSION_MAX_REASSEMBLY_BYTES} bytes (SESSION_MAX_REASSEMBLY_BYTES)`,
      )
    }
  }

  /** Partly received bytes held across all channels. */
  get reassemblyLoad(): number {
    return this.reassemblyBytes
  }

  private attach(): void {
    this.session.setHandlers({
      message: (m) => this.onMessage([m]),
      messageParts: (parts) => this.onMessage(parts),
      drain: () => {
        this.blocked = false
        this.flush()
      },
      close: (error) => this.onClose(error),
    })
  }

  get openChannels(): number {
    return this.channels.size
  }

  /** Opens a channel named `name` (its purpose); the remote sees a `channel` event. */
  open(name: string): Channel {
    if (this.closed) throw new PeerError('PEER_E_CONNECTION_NOT_FOUND', 'the session is closed')
    const nameBytes = utf8(name)
    if (nameBytes.length > MAX_CHANNEL_NAME_BYTES) {
      throw new PeerError(
        'E_INVALIDARG',
        `a channel name holds at most ${MAX_CHANNEL_NAME_BYTES} bytes`,
      )
    }
    if (this.channels.size >= MAX_CHANNELS_PER_SESSION) {
      throw new PeerError(
        'PEER_E_TOO_MUCH_LOAD',
        `a session holds at most ${MAX_CHANNELS_PER_SESSION} channels`,
      )
    }
    const id = this.nextId
    this.nextId += 2
    const channel = new Channel(this, id, name)
    this.channels.set(id, channel)
    this.sendControl(frame(OPEN, id, nameBytes))
    return channel
  }

  /** Closes every channel and the session. */
  close(error?: PeerError): void {
    this.session.close(error)
    this.onClose(error)
  }

  /** @internal A frame as its header and body, joined by the cipher. */
  sendFrame(head: Uint8Array, body?: Uint8Array): boolean {
    // The session may have closed before we were told; then nothing more is sent.
    if (this.closed || this.session.closed) return false
    const ok = this.session.send(body ? [head, body] : head)
    if (!ok) this.blocked = true
    return ok
  }

  /** @internal Control frames (OPEN, CLOSE, CREDIT) go out at once, whatever the backpressure. */
  sendControl(bytes: Uint8Array): void {
    if (this.closed) return
    this.sendFrame(bytes)
  }

  /** @internal Lets channels with credit send, round-robin, until the session pushes back. */
  flush(): void {
    if (this.flushing || this.closed) return
    this.flushing = true
    try {
      // One fragment per channel per round, starting where the last flush stopped, so a bulk
      // transfer on one channel cannot starve the others.
      const all = [...this.channels.values()]
      const start = all.length > 0 ? this.rotation % all.length : 0
      let active = [...all.slice(start), ...all.slice(0, start)]
      while (active.length > 0 && !this.blocked) {
        const again: Channel[] = []
        for (const channel of active) {
          this.rotation++
          const state = channel.pump(1)
          if (state === 'blocked') return
          if (state === 'more') again.push(channel)
        }
        active = again
      }
    } finally {
      this.flushing = false
    }
  }

  /** @internal */
  forget(channel: Channel): void {
    this.channels.delete(channel.id)
  }

  private onMessage(parts: readonly Uint8Array[]): void {
    // Closed (a protocol violation in an earlier frame of the same read): nothing more counts.
    if (this.closed) return
    try {
      let length = 0
      for (const part of parts) length += part.length
      if (length < CHANNEL_HEADER_BYTES) throw protocolError('frame shorter than its header')
      const [head, body] = splitAt(parts, CHANNEL_HEADER_BYTES)
      const type = head[0] as number
      const id = new DataView(head.buffer, head.byteOffset, head.length).getUint32(1)
      if (type === OPEN) return this.onOpen(id, joinParts(body))
      const channel = this.channels.get(id)
      // Frames for a channel closed on our side are late, not wrong.
      if (channel) channel.receive(type, body)
      else if (type !== CLOSE && type !== CREDIT && type !== DATA && type !== MORE) {
        throw protocolError(`unknown frame type ${type}`)
      }
    } catch (err) {
      log.warn('closing a session after a channel protocol violation', { error: String(err) })
      this.close(toPeerError(err, 'PEER_E_MALFORMED_MESSAGE', 'channel protocol violation'))
    }
  }

  private onOpen(id: number, body: Uint8Array): void {
    // The remote numbers its channels with the other parity.
    const remoteParity = this.session.initiator ? 0 : 1
    if (id % 2 !== remoteParity || this.channels.has(id))
      throw protocolError(`bad channel id ${id}`)
    if (body.length > MAX_CHANNEL_NAME_BYTES) throw protocolError('channel name too long')
    if (this.channels.size >= MAX_CHANNELS_PER_SESSION) {
      this.sendControl(frame(CLOSE, id, utf8('too many channels')))
      return
    }
    let name: string
    try {
      name = fromUtf8(body)
    } catch {
      throw protocolError('channel name is not UTF-8')
    }
    const channel = new Channel(this, id, name)
    this.channels.set(id, channel)
    if (!this.hasConsumers('channel')) {
      channel.close('no one accepts channels here')
      return
    }
    this.emit('channel', channel)
  }

  private onClose(error?: PeerError): void {
    if (this.closed) return
    this.closed = true
    for (const channel of [...this.channels.values()]) channel.finish(error)
    this.emit('close', error)
    this.endSubscriptions()
  }
}
