/**
 * The three typed values of record attributes and search clauses (windows-api.md section 1):
 * `string`, `int` (xs:int, a signed 32-bit integer) and `date` (W3C NOTE-datetime). Parsing
 * refuses what Windows' schema refuses; dates are held as milliseconds since the Unix epoch.
 */

export type ValueType = 'string' | 'int' | 'date'
export const VALUE_TYPES: readonly ValueType[] = ['string', 'int', 'date']

/** A typed value as stored and compared: a string, an int, or a date in ms since the epoch. */
export type TypedValue =
  | { type: 'string'; value: string }
  | { type: 'int'; value: number }
  | { type: 'date'; value: number }

export const MIN_INT = -(2 ** 31)
export const MAX_INT = 2 ** 31 - 1

export function isValueType(s: string): s is ValueType {
  return (VALUE_TYPES as readonly string[]).includes(s)
}

/** An xs:int in decimal (optional sign, digits); undefined when not one or out of range. */
export function parseInt32(text: string): number | undefined {
  const t = text.trim()
  if (!/^[+-]?\d{1,10}$/.test(t)) return undefined
  const n = Number(t)
  return n >= MIN_INT && n <= MAX_INT ? n : undefined
}

// W3C NOTE-datetime: YYYY, YYYY-MM, YYYY-MM-DD, and with a time hh:mm[:ss[.s+]] plus a zone
// designator (Z or +hh:mm / -hh:mm), which the note requires whenever a time is given.
const W3C_DATETIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/

/** A W3C NOTE-datetime as ms since the epoch; undefined when malformed or not a real date. */
export function parseW3cDate(text: string): number | undefined {
  const m = W3C_DATETIME.exec(text.trim())
  if (!m) return undefined
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', frac = '', tz = 'Z'] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined
  const ms = Number((frac + '000').slice(0, 3))
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  // Date.UTC rolls 31 February into March: such a date is refused.
  if (new Date(t).getUTCDate() !== day) return undefined
  if (year < 100) t = new Date(t).setUTCFullYear(year)
  if (tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1
    const zh = Number(tz.slice(1, 3))
    const zm = Number(tz.slice(4, 6))
    if (zh > 23 || zm > 59) return undefined
    t -= sign * (zh * 60 + zm) * 60_000
  }
  return t
}

/** The canonical text of a date: UTC with milliseconds, `2026-01-01T00:00:00.000Z`. */
export function formatW3cDate(ms: number): string {
  return new Date(ms).toISOString()
}

/** Parses the text of a typed value; undefined when it is not a value of that type. */
export function parseTypedValue(type: ValueType, text: string): TypedValue | undefined {
  switch (type) {
    case 'string':
      return { type, value: text }
    case 'int': {
      const value = parseInt32(text)
      return value === undefined ? undefined : { type, value }
    }
    case 'date': {
      const value = parseW3cDate(text)
      return value === undefined ? undefined : { type, value }
    }
  }
}

/** The text form of a typed value, as the attribute XML carries it. */
export function formatTypedValue(v: TypedValue): string {
  switch (v.type) {
    case 'string':
      return v.value
    case 'int':
      return String(v.value)
    case 'date':
      return formatW3cDate(v.value)
  }
}
