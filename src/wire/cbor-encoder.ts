/**
 * A direct encoder for the CBOR subset peerinfra uses, in RFC 8949 core deterministic form
 * (section 4.2.1): integers within 2^53, byte strings, UTF-8 text, arrays, plain objects as
 * maps with their keys in bytewise order of their encodings, booleans and null. It gives
 * cborg's rfc8949 output byte for byte, several times faster; for anything else it returns
 * undefined and the caller takes cborg's path (and its checks and errors).
 */

const MAJOR_UINT = 0
const MAJOR_NEGATIVE = 1
const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5
const FALSE = 0xf4
const TRUE = 0xf5
const NULL = 0xf6
/** The scratch buffer encodings are written into (it doubles as needed, kept up to MAX_KEPT). */
const SCRATCH_BYTES = 64 * 1024
const MAX_KEPT_BYTES = 1024 * 1024

const textEncoder = new TextEncoder()

/** Thrown inside the encoder when a value is outside the subset (never escapes it). */
const OUTSIDE = new Error('outside the CBOR subset')

class Writer {
  bytes: Uint8Array
  length = 0

  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }

  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return
    let size = this.bytes.length * 2
    while (size < this.length + n) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
  }

  /** A header in its shortest form: major type and argument (0 .. 2^53 - 1). */
  header(major: number, arg: number): void {
    this.reserve(9)
    const b = this.bytes
    let at = this.length
    const m = major << 5
    if (arg < 24) {
      b[at++] = m | arg
    } else if (arg < 0x100) {
      b[at++] = m | 24
      b[at++] = arg
    } else if (arg < 0x10000) {
      b[at++] = m | 25
      b[at++] = arg >>> 8
      b[at++] = arg & 0xff
    } else if (arg < 0x100000000) {
      b[at++] = m | 26
      b[at++] = arg >>> 24
      b[at++] = (arg >>> 16) & 0xff
      b[at++] = (arg >>> 8) & 0xff
      b[at++] = arg & 0xff
    } else {
      const high = Math.floor(arg / 0x100000000)
      const low = arg >>> 0
      b[at++] = m | 27
      b[at++] = high >>> 24
      b[at++] = (high >>> 16) & 0xff
      b[at++] = (high >>> 8) & 0xff
      b[at++] = high & 0xff
      b[at++] = low >>> 24
      b[at++] = (low >>> 16) & 0xff
      b[at++] = (low >>> 8) & 0xff
      b[at++] = low & 0xff
    }
    this.length = at
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.bytes.set(bytes, this.length)
    this.length += bytes.length
  }

  byte(b: number): void {
    this.reserve(1)
    this.bytes[this.length++] = b
  }
}

/** The encoding of a text string (header and UTF-8), as map keys are sorted by it. */
function textBytes(text: string): Uint8Array {
  const utf8 = textEncoder.encode(text)
  const w = new Writer(new Uint8Array(utf8.length + 9))
  w.header(MAJOR_TEXT, utf8.length)
  w.raw(utf8)
  return w.bytes.subarray(0, w.length)
}

/**
 * Map shapes seen (their keys in insertion order) and their keys' encodings in
 * deterministic order: messages of one protocol come in a handful of shapes.
 */
const shapes = new Map<string, { key: string; bytes: Uint8Array }[]>()
/** Shapes remembered at most (then the cache starts again). */
const MAX_SHAPES = 512

function sortedKeys(keys: string[]): { key: string; bytes: Uint8Array }[] {
  // JSON names every key list unambiguously (keys may hold any character).
  const shape = JSON.stringify(keys)
  let sorted = shapes.get(shape)
  if (!sorted) {
    sorted = keys.map((key) => ({ key, bytes: textBytes(key) }))
    sorted.sort((a, b) => compareBytes(a.bytes, b.bytes))
    if (shapes.size >= MAX_SHAPES) shapes.clear()
    shapes.set(shape, sorted)
  }
  return sorted
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

function write(w: Writer, value: unknown): void {
  switch (typeof value) {
    case 'number':
      // Safe integers (cborg writes -2^53 as a float, which the subset refuses).
      if (!Number.isSafeInteger(value)) throw OUTSIDE
      if (value >= 0) w.header(MAJOR_UINT, value)
      else w.header(MAJOR_NEGATIVE, -1 - value)
      return
    case 'string':
      writeText(w, value)
      return
    case 'boolean':
      w.byte(value ? TRUE : FALSE)
      return
    case 'object':
      if (value === null) {
        w.byte(NULL)
        return
      }
      if (value instanceof Uint8Array) {
        if (value.constructor !== Uint8Array && !Buffer.isBuffer(value)) throw OUTSIDE
        w.header(MAJOR_BYTES, value.length)
        w.raw(value)
        return
      }
      if (Array.isArray(value)) {
        w.header(MAJOR_ARRAY, value.length)
        for (const item of value) write(w, item)
        return
      }
      if (!isPlainObject(value)) throw OUTSIDE
      writeMap(w, value as Record<string, unknown>)
      return
    default:
      throw OUTSIDE
  }
}

/** Text as UTF-8; ASCII (the usual case) is copied without an intermediate buffer. */
function writeText(w: Writer, text: string): void {
  const n = text.length
  let ascii = true
  for (let i = 0; i < n && ascii; i++) ascii = text.charCodeAt(i) < 0x80
  if (!ascii) {
    const utf8 = textEncoder.encode(text)
    w.header(MAJOR_TEXT, utf8.length)
    w.raw(utf8)
    return
  }
  w.header(MAJOR_TEXT, n)
  w.reserve(n)
  const b = w.bytes
  for (let i = 0, at = w.length; i < n; i++) b[at + i] = text.charCodeAt(i)
  w.length += n
}

function writeMap(w: Writer, map: Record<string, unknown>): void {
  const keys = Object.keys(map)
  // An undefined property is not a CBOR value: cborg's path decides what it means.
  for (const key of keys) if (map[key] === undefined) throw OUTSIDE
  w.header(MAJOR_MAP, keys.length)
  for (const { key, bytes } of sortedKeys(keys)) {
    w.raw(bytes)
    write(w, map[key])
  }
}

let scratch: Uint8Array | undefined = new Uint8Array(SCRATCH_BYTES)

/** The deterministic encoding of `value`, or undefined when it is outside the subset. */
export function encodeSubset(value: unknown): Uint8Array | undefined {
  // One shared scratch buffer; a nested call (a getter that encodes) takes its own.
  const w = new Writer(scratch ?? new Uint8Array(SCRATCH_BYTES))
  scratch = undefined
  try {
    write(w, value)
    return w.bytes.slice(0, w.length)
  } catch (err) {
    if (err === OUTSIDE) return undefined
    throw err
  } finally {
    scratch = w.bytes.length <= MAX_KEPT_BYTES ? w.bytes : new Uint8Array(SCRATCH_BYTES)
  }
}
