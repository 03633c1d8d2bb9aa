/**
 * Schemas for decoded wire values: small combinators that check type, size, range and shape,
 * and give the checked value its TypeScript type. Every bound is explicit (a bytes or text
 * schema has a maximum), so nothing a peer sends can make us hold more than we planned for.
 */
import { PeerError, type PeerErrorCode } from '../core/errors.ts'
import { decodeCbor, type CborLimits } from './cbor.ts'

/** Thrown by schemas; decodeMessage turns it into a PeerError with the caller's code. */
export class SchemaError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path || 'value'}: ${problem}`)
  }
}

export interface Schema<T> {
  readonly description: string
  /** Returns the value typed, or throws SchemaError naming the path. */
  check(value: unknown, path?: string): T
}

export type Infer<S> = S extends Schema<infer T> ? T : never

interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true
}

function schema<T>(description: string, check: (value: unknown, path: string) => T): Schema<T> {
  return { description, check: (value, path = '') => check(value, path) }
}

function fail(path: string, problem: string): never {
  throw new SchemaError(path, problem)
}

/** A value for an error message: short primitives as JSON, anything else by its type. */
function shown(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    return typeName(value)
  const json = JSON.stringify(value)
  return json.length > 40 ? `${json.slice(0, 40)}...` : json
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Uint8Array) return 'bytes'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

export interface IntRange {
  min?: number
  max?: number
}

export function int(range: IntRange = {}): Schema<number> {
  const min = range.min ?? Number.MIN_SAFE_INTEGER
  const max = range.max ?? Number.MAX_SAFE_INTEGER
  return schema(`integer ${min}..${max}`, (v, path) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      fail(path, `expected an integer, got ${typeName(v)}`)
    if (v < min || v > max) fail(path, `${v} is outside ${min}..${max}`)
    return v
  })
}

export function uint(max: number = Number.MAX_SAFE_INTEGER): Schema<number> {
  return int({ min: 0, max })
}

export function bool(): Schema<boolean> {
  return schema('boolean', (v, path) =>
    typeof v === 'boolean' ? v : fail(path, `expected a boolean, got ${typeName(v)}`),
  )
}

export interface BytesBounds {
  /** Exact length; or use min/max. */
  length?: number
  min?: number
  max: number
}

export function bytes(bounds: BytesBounds): Schema<Uint8Array> {
  const min = bounds.length ?? bounds.min ?? 0
  const max = bounds.length ?? bounds.max
  return schema(`bytes ${min}..${max}`, (v, path) => {
    if (!(v instanceof Uint8Array)) fail(path, `expected bytes, got ${typeName(v)}`)
    if (v.length < min || v.length > max) {
      fail(
        path,
        bounds.length !== undefined
          ? `expected ${max} bytes, got ${v.length}`
          : `${v.length} bytes is outside ${min}..${max}`,
      )
    }
    return v
  })
}

export interface TextBounds {
  /** Most UTF-8 bytes. */
  maxBytes: number
  minBytes?: number
  pattern?: RegExp
}

export function text(bounds: TextBounds): Schema<string> {
  const min = bounds.minBytes ?? 0
  return schema(`text of ${min}..${bounds.maxBytes} bytes`, (v, path) => {
    if (typeof v !== 'string') fail(path, `expected text, got ${typeName(v)}`)
    // A UTF-8 byte count is at least the UTF-16 length / 2 ... at most 3x; check cheaply first.
    if (v.length > bounds.maxBytes) fail(path, `text longer than ${bounds.maxBytes} bytes`)
    const size = Buffer.byteLength(v, 'utf8')
    if (size < min || size > bounds.maxBytes)
      fail(path, `text of ${size} bytes is outside ${min}..${bounds.maxBytes}`)
    if (bounds.pattern && !bounds.pattern.test(v))
      fail(path, `text does not match ${String(bounds.pattern)}`)
    return v
  })
}

export function literal<const T extends string | number | boolean | null>(expected: T): Schema<T> {
  return schema(JSON.stringify(expected), (v, path) =>
    v === expected ? (v as T) : fail(path, `expected ${JSON.stringify(expected)}, got ${shown(v)}`),
  )
}

export function oneOf<const T extends readonly string[]>(choices: T): Schema<T[number]> {
  const set = new Set<string>(choices)
  return schema(`one of ${choices.join('|')}`, (v, path) =>
    typeof v === 'string' && set.has(v)
      ? (v as T[number])
      : fail(path, `expected one of ${choices.join(', ')}`),
  )
}

export function array<T>(item: Schema<T>, bounds: { max: number; min?: number }): Schema<T[]> {
  const min = bounds.min ?? 0
  return schema(`array of ${min}..${bounds.max} ${item.description}`, (v, path) => {
    if (!Array.isArray(v)) fail(path, `expected an array, got ${typeName(v)}`)
    if (v.length < min || v.length > bounds.max)
      fail(path, `${v.length} entries is outside ${min}..${bounds.max}`)
    return v.map((entry, i) => item.check(entry, `${path}[${i}]`))
  })
}

/** A fixed-length array whose positions have their own schemas. */
export function tuple<const S extends readonly Schema<unknown>[]>(
  items: S,
): Schema<{ [K in keyof S]: Infer<S[K]> }> {
  return schema(`tuple of ${items.length}`, (v, path) => {
    if (!Array.isArray(v)) fail(path, `expected an array, got ${typeName(v)}`)
    if (v.length !== items.length) fail(path, `expected ${items.length} entries, got ${v.length}`)
    return items.map((s, i) => s.check(v[i], `${path}[${i}]`)) as { [K in keyof S]: Infer<S[K]> }
  })
}

export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return {
    description: `optional ${inner.description}`,
    optional: true,
    check: (v, path = '') => (v === undefined ? undefined : inner.check(v, path)),
  }
}

type Fields = Record<string, Schema<unknown>>
type OptionalKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends OptionalSchema<unknown> ? K : never
}[keyof F]
type RequiredKeys<F extends Fields> = Exclude<keyof F, OptionalKeys<F>>
export type StructOf<F extends Fields> = { [K in RequiredKeys<F>]: Infer<F[K]> } & {
  [K in OptionalKeys<F>]?: Exclude<Infer<F[K]>, undefined>
}

/** A map with exactly these text keys (optional ones may be absent); unknown keys are refused. */
export function struct<F extends Fields>(fields: F): Schema<StructOf<F>> {
  const names = Object.keys(fields)
  return schema(`map {${names.join(', ')}}`, (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
      fail(path, `expected a map, got ${typeName(v)}`)
    }
    const record = v as Record<string, unknown>
    for (const key of Object.keys(record)) {
      if (!Object.hasOwn(fields, key)) fail(path, `unknown field "${key}"`)
    }
    const out: Record<string, unknown> = {}
    for (const name of names) {
      const field = fields[name] as Schema<unknown>
      const value = Object.hasOwn(record, name) ? record[name] : undefined
      if (value === undefined && !('optional' in field))
        fail(path ? `${path}.${name}` : name, 'missing')
      const checked = field.check(value, path ? `${path}.${name}` : name)
      if (checked !== undefined) out[name] = checked
    }
    return out as StructOf<F>
  })
}

export interface DecodeMessageOptions extends CborLimits {
  /** What is being decoded, for error messages. */
  what: string
  /** Error code for a value that does not fit the schema (default PEER_E_MALFORMED_MESSAGE). */
  code?: PeerErrorCode
  /**
   * Versions understood. When given, the decoded value must be a map whose `v` is one of them;
   * any other `v` is PEER_E_UNSUPPORTED_VERSION, checked before the rest of the schema.
   */
  versions?: readonly number[]
}

/** Bytes to a checked value: size limit, bounded CBOR decode, version, schema. */
export function decodeMessage<T>(
  bytes: Uint8Array,
  shape: Schema<T>,
  options: DecodeMessageOptions,
): T {
  const code = options.code ?? 'PEER_E_MALFORMED_MESSAGE'
  const value = decodeCbor(bytes, { ...options, code })
  return checkValue(value, shape, options)
}

/** Checks an already decoded value: version, then schema. */
export function checkValue<T>(value: unknown, shape: Schema<T>, options: DecodeMessageOptions): T {
  const code = options.code ?? 'PEER_E_MALFORMED_MESSAGE'
  if (options.versions) {
    const v =
      typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)['v']
        : undefined
    if (typeof v !== 'number' || !options.versions.includes(v)) {
      throw new PeerError(
        'PEER_E_UNSUPPORTED_VERSION',
        `${options.what} has version ${shown(v)}; this peerinfra understands ${options.versions.join(', ')}`,
        { details: { version: v } },
      )
    }
  }
  try {
    return shape.check(value)
  } catch (err) {
    if (err instanceof SchemaError) {
      throw new PeerError(code, `${options.what} is invalid: ${err.message}`, {
        details: { path: err.path },
      })
    }
    throw err
  }
}
