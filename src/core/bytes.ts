/** Small byte helpers shared by every layer. */
import { timingSafeEqual } from 'node:crypto'

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text)
}

/** Decodes UTF-8, throwing TypeError on malformed input (never substitutes U+FFFD). */
export function fromUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes)
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Strict hex: even length, [0-9a-fA-F] only; undefined otherwise. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/**
 * Strict base64: only the canonical encoding of some byte string is accepted (padding present,
 * no whitespace, unused trailing bits zero), so two different texts never decode to the same
 * bytes. Returns undefined for anything else.
 */
export function fromBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64')
  if (bytes.toString('base64') !== text) return undefined
  return new Uint8Array(bytes)
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatByteArray(parts)
}

/**
 * A byte array the caller overwrites entirely, so it need not be zeroed first: large ones come
 * uninitialized from Buffer.allocUnsafeSlow (zeroing was a sixth to a third of the time of
 * joining 256 KiB here), as a plain Uint8Array over their own memory (nothing pooled or shared).
 */
function allocFilledLater(length: number): Uint8Array {
  if (length < UNZEROED_MIN_BYTES) return new Uint8Array(length)
  return new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length)
}
const UNZEROED_MIN_BYTES = 4096

/** concatBytes for a list of any length (spreading a huge list would overflow the stack). */
export function concatByteArray(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = allocFilledLater(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** Constant-time equality for secrets; false for different lengths. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}
