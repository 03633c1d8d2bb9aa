/**
 * Deterministic CBOR (RFC 8949 section 4.2.1, "core deterministic encoding"): our own encoder
 * and decoder for the subset we use (cbor-encoder.ts, cbor-decoder.ts), cborg for the rest.
 *
 * Decoding is strict and bounded. Before anything is allocated, `scanCbor` walks the item
 * headers and checks every declared length and count against the bytes actually present, the
 * nesting depth and the item count, and refuses everything outside our subset: tags,
 * indefinite lengths, floats, `undefined`, simple values other than false/true/null, map keys
 * other than text, integers beyond 2^53 - 1, trailing bytes; and everything that is not the
 * deterministic encoding: arguments not in their shortest form, map keys not in strictly
 * increasing bytewise order (so no duplicates), text that is not UTF-8. So each value has
 * exactly one encoding (no malleability under signatures), checked in the same walk rather
 * than by encoding the decoded value again.
 */
import { isUtf8 } from 'node:buffer'
import { encode as cborgEncode, rfc8949EncodeOptions } from 'cborg'
import { PeerError, type PeerErrorCode } from '../core/errors.ts'
import { decodeScanned } from './cbor-decoder.ts'
import { encodeSubset } from './cbor-encoder.ts'
import { MAX_CBOR_BYTES, MAX_CBOR_DEPTH, MAX_CBOR_ITEMS } from './constants.ts'

export interface CborLimits {
  maxBytes?: number
  maxDepth?: number
  maxItems?: number
}

export interface CborDecodeOptions extends CborLimits {
  /** Error code for malformed input (default PEER_E_MALFORMED_MESSAGE). */
  code?: PeerErrorCode
  /** What is being decoded, for the error message ("certificate", "PNRP message"). */
  what?: string
}

/** Deterministic encoding: shortest forms, map keys in bytewise order of their encodings. */
export function encodeCbor(value: unknown): Uint8Array {
  // The usual values take the direct encoder; anything else cborg's path and checks.
  const direct = encodeSubset(value)
  if (direct) return direct
  let bytes: Uint8Array
  try {
    bytes = cborgEncode(value, rfc8949EncodeOptions)
  } catch (err) {
    throw new PeerError('E_INVALIDARG', `cannot encode as CBOR: ${(err as Error).message}`, {
      cause: err,
    })
  }
  // Refuse to write what our own decoders would refuse (floats, undefined, huge integers).
  const problem = scanCbor(bytes, { maxDepth: Infinity, maxItems: Infinity })
  if (problem)
    throw new PeerError(
      'E_INVALIDARG',
      `value is outside the CBOR subset peerinfra uses: ${problem}`,
    )
  return bytes
}

export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): unknown {
  const code = options.code ?? 'PEER_E_MALFORMED_MESSAGE'
  const what = options.what ?? 'CBOR data'
  const maxBytes = options.maxBytes ?? MAX_CBOR_BYTES
  if (!(bytes instanceof Uint8Array)) {
    throw new PeerError(code, `${what}: expected bytes, got ${typeof bytes}`)
  }
  if (bytes.length > maxBytes) {
    throw new PeerError(
      'PEER_E_TOO_LARGE',
      `${what} is ${bytes.length} bytes; the limit is ${maxBytes}`,
      {
        details: { size: bytes.length, limit: maxBytes },
      },
    )
  }
  const problem = scanCbor(bytes, options)
  if (problem) throw new PeerError(code, `${what} is malformed: ${problem}`)
  return decodeScanned(bytes)
}

/**
 * Walks the CBOR item headers without decoding; returns a description of the first problem,
 * or undefined when the document is inside our subset and limits.
 */
export function scanCbor(bytes: Uint8Array, limits: CborLimits = {}): string | undefined {
  const maxDepth = limits.maxDepth ?? MAX_CBOR_DEPTH
  const maxItems = limits.maxItems ?? MAX_CBOR_ITEMS
  const end = bytes.length
  // Items still expected at each open level (a map of n entries expects 2n: keys and values).
  const remaining: number[] = [1]
  const isMap: boolean[] = [false]
  // Where the previous key of each open map starts and ends (-1: none yet).
  const keyStart: number[] = [-1]
  const keyEnd: number[] = [-1]
  let pos = 0
  let items = 0
  while (remaining.length > 0) {
    const level = remaining.length - 1
    if (remaining[level] === 0) {
      remaining.pop()
      isMap.pop()
      keyStart.pop()
      keyEnd.pop()
      continue
    }
    const atKey = (isMap[level] ?? false) && (remaining[level] as number) % 2 === 0
    remaining[level] = (remaining[level] as number) - 1
    if (pos >= end) return `truncated at byte ${pos}`
    if (++items > maxItems) return `more than ${maxItems} items`
    const start = pos
    const initial = bytes[pos] as number
    const major = initial >> 5
    const info = initial & 31
    pos++
    let arg: number
    if (info < 24) arg = info
    else if (info === 24 || info === 25 || info === 26 || info === 27) {
      const size = 1 << (info - 24)
      if (pos + size > end) return `truncated header at byte ${pos - 1}`
      // An 8-byte argument may exceed 2^53; it is then refused below as an integer or
      // overruns the input as a length, either way before it is used.
      arg =
        size === 8
          ? readUint(bytes, pos, 4) * 2 ** 32 + readUint(bytes, pos + 4, 4)
          : readUint(bytes, pos, size)
      pos += size
    } else if (info === 31) return `indefinite length at byte ${pos - 1}`
    else return `reserved header value at byte ${pos - 1}`

    if (atKey && major !== 3) return `map key that is not text at byte ${pos - 1}`
    // RFC 8949 4.2.1: the shortest form of every argument (integers, lengths and counts).
    if (major <= 5 && info >= 24 && arg < SHORTEST_FROM[info - 24]!) {
      return `argument not in its shortest (deterministic) form at byte ${start}`
    }
    switch (major) {
      case 0:
      case 1:
        // Safe integers only: up to 2^53 - 1, down to -(2^53 - 1) (argument 2^53 - 2).
        if (arg > Number.MAX_SAFE_INTEGER - major) {
          return `integer beyond 2^53-1 at byte ${start}`
        }
        break
      case 2:
      case 3:
        if (arg > end - pos) return `string of ${arg} bytes overruns the input at byte ${pos}`
        if (major === 3 && arg > 0 && !isUtf8(bytes.subarray(pos, pos + arg))) {
          return `text that is not UTF-8 at byte ${start}`
        }
        pos += arg
        if (atKey) {
          // RFC 8949 4.2.1: keys in bytewise order of their encodings, each one once.
          const previous = keyStart[level] as number
          if (previous >= 0 && compareBytes(bytes, previous, keyEnd[level]!, start, pos) >= 0) {
            return `map keys not in deterministic order (or repeated) at byte ${start}`
          }
          keyStart[level] = start
          keyEnd[level] = pos
        }
        break
      case 4:
      case 5: {
        const entries = major === 5 ? arg * 2 : arg
        // Every item takes at least one byte, so a count beyond the bytes left is a lie.
        if (entries > end - pos) return `count of ${arg} overruns the input at byte ${pos}`
        // remaining[0] is the document itself, so this container is at depth remaining.length.
        if (remaining.length > maxDepth) return `nesting deeper than ${maxDepth}`
        remaining.push(entries)
        isMap.push(major === 5)
        keyStart.push(-1)
        keyEnd.push(-1)
        break
      }
      case 6:
        return `tag at byte ${pos - 1} (tags are not used)`
      default:
        if (info < 20 || info > 22) return `simple value or float at byte ${pos - 1} (not used)`
    }
  }
  if (pos !== end) return `${end - pos} trailing bytes`
  return undefined
}

/** The smallest argument each of the 1-, 2-, 4- and 8-byte forms may carry. */
const SHORTEST_FROM = [24, 2 ** 8, 2 ** 16, 2 ** 32] as const

/** Bytewise order of bytes[a0, a1) and bytes[b0, b1) (a prefix comes first). */
function compareBytes(bytes: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0)
  for (let i = 0; i < n; i++) {
    const d = (bytes[a0 + i] as number) - (bytes[b0 + i] as number)
    if (d !== 0) return d
  }
  return a1 - a0 - (b1 - b0)
}

function readUint(bytes: Uint8Array, pos: number, size: number): number {
  let v = 0
  for (let i = 0; i < size; i++) v = v * 256 + (bytes[pos + i] as number)
  return v
}
