import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import {
  formatTypedValue,
  formatW3cDate,
  isValueType,
  MAX_INT,
  MAX_W3C_DATE,
  MIN_INT,
  MIN_W3C_DATE,
  parseInt32,
  parseTypedValue,
  parseW3cDate,
  type TypedValue,
} from '../../src/graph/values.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

describe('parseInt32', () => {
  test('accepts the whole signed 32-bit range and nothing beyond it', () => {
    assert.equal(MIN_INT, -2147483648)
    assert.equal(MAX_INT, 2147483647)
    assert.equal(parseInt32('-2147483648'), -2147483648)
    assert.equal(parseInt32('2147483647'), 2147483647)
    assert.equal(parseInt32('-2147483649'), undefined)
    assert.equal(parseInt32('2147483648'), undefined)
    assert.equal(parseInt32('9999999999'), undefined)
    assert.equal(parseInt32('-9999999999'), undefined)
  })

  test('accepts a sign, surrounding whitespace and leading zeros (xs:int)', () => {
    assert.equal(parseInt32('+5'), 5)
    assert.equal(parseInt32('-5'), -5)
    assert.equal(parseInt32(' 7 '), 7)
    assert.equal(parseInt32('\t\n42\n'), 42)
    assert.equal(parseInt32('0000000012'), 12)
    assert.equal(parseInt32('0'), 0)
  })

  test('"-0" is 0, not -0', () => {
    assert.ok(Object.is(parseInt32('-0'), 0))
    assert.ok(Object.is(parseInt32('+0'), 0))
  })

  test('refuses what is not a decimal integer', () => {
    for (const text of [
      '',
      ' ',
      '+',
      '-',
      '1e3',
      '0x10',
      '1.0',
      '1.5',
      '1,000',
      '1 000',
      '12345678901', // 11 digits
      '00000000001', // 11 digits, small value
      '--1',
      '+-1',
      'NaN',
      'Infinity',
      '٣', // an Arabic-Indic digit
      '5a',
    ]) {
      assert.equal(parseInt32(text), undefined, JSON.stringify(text))
    }
  })
})

describe('parseW3cDate', () => {
  test('accepts each W3C NOTE-datetime form', () => {
    const cases: [string, number][] = [
      ['2026', Date.UTC(2026, 0, 1)],
      ['2026-03', Date.UTC(2026, 2, 1)],
      ['2026-03-15', Date.UTC(2026, 2, 15)],
      ['2026-03-15T10:20Z', Date.UTC(2026, 2, 15, 10, 20)],
      ['2026-03-15T10:20:30Z', Date.UTC(2026, 2, 15, 10, 20, 30)],
      ['2026-03-15T10:20:30.5Z', Date.UTC(2026, 2, 15, 10, 20, 30, 500)],
      ['2026-03-15T10:20:30.45Z', Date.UTC(2026, 2, 15, 10, 20, 30, 450)],
      ['2026-03-15T10:20:30.123Z', Date.UTC(2026, 2, 15, 10, 20, 30, 123)],
      // Digits beyond milliseconds are dropped, not rounded.
      ['2026-03-15T10:20:30.123999Z', Date.UTC(2026, 2, 15, 10, 20, 30, 123)],
      ['2024-02-29', Date.UTC(2024, 1, 29)],
      ['2000-02-29', Date.UTC(2000, 1, 29)],
      ['1969-12-31T23:59:59.999Z', -1],
      ['9999-12-31T23:59:59.999Z', MAX_W3C_DATE],
    ]
    for (const [text, ms] of cases) assert.equal(parseW3cDate(text), ms, text)
  })

  test('computes zone offsets: +hh:mm is ahead of UTC, -hh:mm behind', () => {
    const utc = Date.UTC(2026, 2, 15, 10, 20)
    assert.equal(parseW3cDate('2026-03-15T10:20+00:00'), utc)
    assert.equal(parseW3cDate('2026-03-15T10:20-00:00'), utc)
    assert.equal(parseW3cDate('2026-03-15T11:20+01:00'), utc)
    assert.equal(parseW3cDate('2026-03-15T05:50-04:30'), utc)
    assert.equal(parseW3cDate('2026-03-15T15:50:00+05:30'), utc)
    assert.equal(parseW3cDate('2026-03-15T10:20:30.250+02:00'), utc - 2 * HOUR + 30_250)
    // An offset can move the date across a day, month and year boundary.
    assert.equal(parseW3cDate('2026-01-01T00:30+01:00'), Date.UTC(2025, 11, 31, 23, 30))
    assert.equal(parseW3cDate('2025-12-31T23:30-01:00'), Date.UTC(2026, 0, 1, 0, 30))
    assert.equal(
      parseW3cDate('2026-03-15T00:00+23:59'),
      Date.UTC(2026, 2, 15) - 23 * HOUR - 59 * MINUTE,
    )
  })

  test('years below 100 are not read as 19xx', () => {
    const y99 = parseW3cDate('0099-03-01')
    assert.notEqual(y99, undefined)
    assert.equal(new Date(y99!).getUTCFullYear(), 99)
    assert.equal(new Date(y99!).getUTCMonth(), 2)
    assert.equal(new Date(y99!).getUTCDate(), 1)
    assert.equal(formatW3cDate(y99!), '0099-03-01T00:00:00.000Z')
    const y5 = parseW3cDate('0005-06-07T08:09:10Z')!
    assert.equal(formatW3cDate(y5), '0005-06-07T08:09:10.000Z')
    assert.equal(parseW3cDate('0000'), MIN_W3C_DATE)
    // Year 0 is a leap year in the proleptic Gregorian calendar (1900 is not); 0001 is not.
    assert.equal(formatW3cDate(parseW3cDate('0000-02-29')!), '0000-02-29T00:00:00.000Z')
    assert.equal(parseW3cDate('0001-02-29'), undefined)
    assert.equal(formatW3cDate(parseW3cDate('0004-02-29')!), '0004-02-29T00:00:00.000Z')
    // The offset applies to small years as well.
    assert.equal(formatW3cDate(parseW3cDate('0050-01-01T01:00+01:00')!), '0050-01-01T00:00:00.000Z')
  })

  test('refuses times without a zone, impossible dates and bad zones', () => {
    for (const text of [
      '',
      '26',
      '202',
      '20260',
      '2026-3-15',
      '2026-03-5',
      '2026-03-15T10:20', // a time needs a zone designator
      '2026-03-15T10:20:30',
      '2026-03-15T10:20:30.5',
      '2026-03-15T10Z', // hours without minutes
      '2026-03-15 10:20Z',
      '2026-03-15t10:20Z',
      '2026-03-15T10:20z',
      '2026-03-15Z', // a zone without a time
      '2026-02-30',
      '2025-02-29',
      '1900-02-29',
      '2026-04-31',
      '2026-13-01',
      '2026-00-10',
      '2026-01-00',
      '2026-01-32',
      '2026-03-15T24:00Z',
      '2026-03-15T23:60Z',
      '2026-03-15T23:59:60Z',
      '2026-03-15T10:20+24:00',
      '2026-03-15T10:20+01:60',
      '2026-03-15T10:20+0100',
      '2026-03-15T10:20+01',
      '2026-03-15T10:20 +01:00',
      '2026-03-15T10:20UTC',
      '2026-03-15T10:20:30.Z',
      '2026-03-15T10:20.5Z', // fractions only on seconds
      '+2026-03-15',
      '-2026-03-15',
      '+010000-01-01T00:00:00.000Z',
      'not a date',
      '2026-03-15T10:20Zjunk',
    ]) {
      assert.equal(parseW3cDate(text), undefined, JSON.stringify(text))
    }
  })

  test('refuses a date whose UTC time falls outside years 0000-9999', () => {
    assert.equal(parseW3cDate('0000-01-01T00:30+01:00'), undefined)
    assert.equal(parseW3cDate('9999-12-31T23:30-01:00'), undefined)
    assert.equal(parseW3cDate('0000-01-01T00:00-01:00'), MIN_W3C_DATE + HOUR)
  })

  test('surrounding whitespace is allowed', () => {
    assert.equal(parseW3cDate('  2026-03-15\n'), Date.UTC(2026, 2, 15))
  })
})

describe('formatW3cDate', () => {
  test('writes UTC with milliseconds', () => {
    assert.equal(formatW3cDate(0), '1970-01-01T00:00:00.000Z')
    assert.equal(formatW3cDate(Date.UTC(2026, 2, 15, 10, 20, 30, 7)), '2026-03-15T10:20:30.007Z')
  })

  test('round-trips through parseW3cDate over the whole range', () => {
    const samples = [
      MIN_W3C_DATE,
      MAX_W3C_DATE,
      0,
      -1,
      1,
      Date.UTC(2026, 1, 28, 23, 59, 59, 999),
      Date.UTC(1600, 1, 29),
      Date.UTC(2400, 11, 31, 12),
      new Date(0).setUTCFullYear(42, 6, 4),
    ]
    for (let i = 0; i < 200; i++) {
      samples.push(MIN_W3C_DATE + Math.floor(((MAX_W3C_DATE - MIN_W3C_DATE) * i) / 199))
    }
    for (const ms of samples) assert.equal(parseW3cDate(formatW3cDate(ms)), ms, formatW3cDate(ms))
  })
})

describe('typed values', () => {
  test('isValueType knows exactly string, int and date', () => {
    assert.ok(isValueType('string'))
    assert.ok(isValueType('int'))
    assert.ok(isValueType('date'))
    for (const t of ['String', 'INT', 'integer', 'datetime', '', 'bool']) {
      assert.equal(isValueType(t), false, t)
    }
  })

  test('parseTypedValue', () => {
    assert.deepEqual(parseTypedValue('string', ' a <b> '), { type: 'string', value: ' a <b> ' })
    assert.deepEqual(parseTypedValue('string', ''), { type: 'string', value: '' })
    assert.deepEqual(parseTypedValue('int', ' -12 '), { type: 'int', value: -12 })
    assert.deepEqual(parseTypedValue('date', '2026-03-15T11:20+01:00'), {
      type: 'date',
      value: Date.UTC(2026, 2, 15, 10, 20),
    })
    assert.equal(parseTypedValue('int', '1.5'), undefined)
    assert.equal(parseTypedValue('int', '2147483648'), undefined)
    assert.equal(parseTypedValue('date', '2026-02-30'), undefined)
    assert.equal(parseTypedValue('date', '2026-03-15T10:20'), undefined)
  })

  test('formatTypedValue', () => {
    assert.equal(formatTypedValue({ type: 'string', value: ' x&y ' }), ' x&y ')
    assert.equal(formatTypedValue({ type: 'int', value: MIN_INT }), '-2147483648')
    assert.equal(formatTypedValue({ type: 'int', value: 0 }), '0')
    assert.equal(formatTypedValue({ type: 'date', value: 0 }), '1970-01-01T00:00:00.000Z')
  })

  test('format then parse gives the value back', () => {
    const values: TypedValue[] = [
      { type: 'string', value: 'héllo 😀 <&>' },
      { type: 'string', value: '' },
      { type: 'int', value: MIN_INT },
      { type: 'int', value: MAX_INT },
      { type: 'int', value: -1 },
      { type: 'date', value: Date.UTC(2026, 2, 15, 10, 20, 30, 999) },
      { type: 'date', value: MIN_W3C_DATE },
      { type: 'date', value: -123_456_789 },
    ]
    for (const v of values) assert.deepEqual(parseTypedValue(v.type, formatTypedValue(v)), v)
  })
})
