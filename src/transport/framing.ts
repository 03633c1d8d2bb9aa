/**
 * Framing (DESIGN.md section 3): each frame is a 4-byte big-endian length followed by that many
 * bytes, over any ordered byte stream. A frame announcing more than the configured maximum
 * closes the connection (PEER_E_TOO_LARGE) before any of it is buffered, so a peer can never
 * make us hold more than one maximum-size frame plus one incoming chunk.
 */
import { concatByteArray } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, MAX_FRAME_PIECES } from './constants.ts'
import type { Duplex } from './types.ts'

/** The parts as one array (the part itself when there is just one). */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? (parts[0] as Uint8Array) : concatByteArray(parts)
}

/** `length(4, big-endian) || payload`. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/** Turns stream chunks into whole frames. */
export class FrameDecoder {
  private chunks: Uint8Array[] = []
  private buffered = 0
  /** Length of the frame being assembled, once its header has arrived. */
  private expected: number | undefined
  /**
   * A frame arriving in more than MAX_FRAME_PIECES pieces is copied into one buffer of its
   * size as it comes (each byte once): tiny reads cannot make us hold an object per byte.
   */
  private assembly: { frame: Uint8Array; filled: number } | undefined

  constructor(readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  get bufferedBytes(): number {
    return this.buffered
  }

  /** Adds a chunk; returns the frames it completes. Throws PEER_E_TOO_LARGE on an oversized header. */
  push(chunk: Uint8Array): Uint8Array[] {
    return this.pushParts(chunk).map(joinParts)
  }

  /**
   * Like push, but each frame comes as the pieces of the chunks it arrived in (views, no copy):
   * a frame split across reads need not be reassembled when its reader can take pieces.
   */
  pushParts(chunk: Uint8Array): Uint8Array[][] {
    const frames: Uint8Array[][] = []
    let rest = chunk
    const assembly = this.assembly
    if (assembly) {
      const n = Math.min(assembly.frame.length - assembly.filled, rest.length)
      assembly.frame.set(rest.subarray(0, n), assembly.filled)
      assembly.filled += n
      this.buffered += n
      rest = rest.subarray(n)
      if (assembly.filled < assembly.frame.length) return frames
      frames.push([assembly.frame])
      this.buffered -= assembly.frame.length
      this.assembly = undefined
      this.expected = undefined
    }
    if (rest.length > 0) {
      this.chunks.push(rest)
      this.buffered += rest.length
    }
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break
        const header = joinParts(this.take(FRAME_HEADER_BYTES))
        const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
        if (length > this.maxFrameBytes) {
          throw new PeerError(
            'PEER_E_TOO_LARGE',
            `a frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
            { details: { length, limit: this.maxFrameBytes } },
          )
        }
        this.expected = length
      }
      if (this.buffered < this.expected) {
        if (this.chunks.length > MAX_FRAME_PIECES) this.startAssembly(this.expected)
        break
      }
      frames.push(this.take(this.expected))
      this.expected = undefined
    }
    return frames
  }

  /** Copies the buffered start of a frame of `length` bytes into one buffer for the rest. */
  private startAssembly(length: number): void {
    const frame = new Uint8Array(length)
    let filled = 0
    for (const piece of this.chunks) {
      frame.set(piece, filled)
      filled += piece.length
    }
    this.chunks = []
    this.assembly = { frame, filled }
  }

  /** Removes the first `n` buffered bytes (n <= buffered), as views of the chunks. */
  private take(n: number): Uint8Array[] {
    const parts: Uint8Array[] = []
    let left = n
    while (left > 0) {
      const chunk = this.chunks[0] as Uint8Array
      if (chunk.length <= left) {
        parts.push(chunk)
        this.chunks.shift()
        left -= chunk.length
      } else {
        parts.push(chunk.subarray(0, left))
        this.chunks[0] = chunk.subarray(left)
        left = 0
      }
    }
    this.buffered -= n
    return parts
  }
}

export interface FramedHandlers {
  /** One frame, as the pieces it arrived in (see joinParts for a contiguous copy). */
  frame(parts: readonly Uint8Array[]): void
  drain(): void
  close(error?: PeerError): void
}

/**
 * A Duplex speaking frames: send() whole frames, receive whole frames. Handlers may be replaced
 * (the secure handshake hands over to the session); frames arriving while none are set wait.
 */
export class FramedConnection {
  private readonly decoder: FrameDecoder
  private handlers: FramedHandlers | undefined
  private waiting: Uint8Array[][] = []
  private closing = false

  constructor(
    readonly duplex: Duplex,
    maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes)
    duplex.setHandlers({
      data: (chunk) => this.onData(chunk),
      drain: () => this.handlers?.drain(),
      close: (error) => this.handlers?.close(error),
    })
  }

  setHandlers(handlers: FramedHandlers): void {
    this.handlers = handlers
    const waiting = this.waiting
    this.waiting = []
    for (const frame of waiting) {
      if (this.closing || this.handlers !== handlers) return
      handlers.frame(frame)
    }
  }

  get closed(): boolean {
    return this.duplex.closed
  }

  /** Sends one frame; false when the stream asks to wait for drain. */
  send(payload: Uint8Array): boolean {
    if (payload.length > this.decoder.maxFrameBytes) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `a frame of ${payload.length} bytes exceeds the limit of ${this.decoder.maxFrameBytes}`,
      )
    }
    return this.duplex.write(encodeFrame(payload))
  }

  /** The largest frame body this connection sends or accepts. */
  get maxFrameBytes(): number {
    return this.decoder.maxFrameBytes
  }

  /**
   * Sends one frame whose body is `pieces`, in one write where the duplex can (writev), so the
   * body is never copied into a single buffer first.
   */
  sendPieces(pieces: readonly Uint8Array[]): boolean {
    let length = 0
    for (const piece of pieces) length += piece.length
    if (length > this.decoder.maxFrameBytes) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `a frame of ${length} bytes exceeds the limit of ${this.decoder.maxFrameBytes}`,
      )
    }
    const header = new Uint8Array(FRAME_HEADER_BYTES)
    new DataView(header.buffer).setUint32(0, length)
    const chunks = [header, ...pieces]
    return this.duplex.writev ? this.duplex.writev(chunks) : this.duplex.write(joinParts(chunks))
  }

  close(error?: PeerError): void {
    this.closing = true
    this.duplex.close(error)
  }

  private onData(chunk: Uint8Array): void {
    if (this.closing) return
    let frames: Uint8Array[][]
    try {
      frames = this.decoder.pushParts(chunk)
    } catch (err) {
      this.closing = true
      this.duplex.close(err as PeerError)
      return
    }
    for (const frame of frames) {
      // Only our own close stops delivery: frames that arrived before the remote's orderly
      // close are still delivered (the Duplex contract: data before close).
      if (this.closing) return
      if (this.handlers) this.handlers.frame(frame)
      else this.waiting.push(frame)
    }
  }
}
