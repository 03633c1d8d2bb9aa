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
  // `+ 0` turns "-0" into 0: -0 would print as "0" and not round-trip through the XML.
  const n = Number(t) + 0
  return n >= MIN_INT && n <= MAX_INT ? n : undefined
}

/**
 * The dates a W3C NOTE-datetime can carry once in UTC: years 0000 to 9999. Outside them
 * formatW3cDate (toISOString) writes the expanded `+010000-...` form, which the note (and so
 * parseW3cDate) does not accept, so such dates are refused to keep every date round-tripping.
 */
export const MIN_W3C_DATE = new Date(0).setUTCFullYear(0, 0, 1) // 0000-01-01T00:00:00.000Z
export const MAX_W3C_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

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
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999 (so 0000-02-29, a
  // leap day in the proleptic Gregorian calendar, is not checked against 1900).
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, ms)
  // 31 February rolls into March: such a date is refused.
  if (date.getUTCDate() !== day) return undefined
  let t = date.getTime()
  if (tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1
    const zh = Number(tz.slice(1, 3))
    const zm = Number(tz.slice(4, 6))
    if (zh > 23 || zm > 59) return undefined
    t -= sign * (zh * 60 + zm) * 60_000
  }
  return t >= MIN_W3C_DATE && t <= MAX_W3C_DATE ? t : undefined
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
