import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import type { PeerErrorCode } from '../../src/core/errors.ts'
import {
  attributesFromObject,
  attributesToObject,
  checkAttributeName,
  formatAttributesXml,
  normalizeAttributes,
  parseAttributesXml,
  RESERVED_ATTRIBUTES,
  type RecordAttribute,
  type RecordAttributes,
} from '../../src/graph/attributes.ts'
import {
  MAX_ATTRIBUTE_NAME_CHARS,
  MAX_ATTRIBUTE_STRING_CHARS,
  MAX_ATTRIBUTES_XML_BYTES,
  MAX_RECORD_ATTRIBUTES,
} from '../../src/graph/constants.ts'
import { MAX_W3C_DATE, MIN_W3C_DATE } from '../../src/graph/values.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

function xml(...items: string[]): string {
  return `<attributes>${items.join('')}</attributes>`
}

function item(name: string, type: string, value: string): string {
  return `<attribute name="${name}" type="${type}">${value}</attribute>`
}

function badXml(text: string, code: PeerErrorCode = 'PEER_E_INVALID_ATTRIBUTES', message?: RegExp) {
  return throwsPeerError(() => parseAttributesXml(text), code, message ?? text.slice(0, 120))
}

function badObject(
  obj: RecordAttributes,
  code: PeerErrorCode = 'PEER_E_INVALID_ATTRIBUTES',
  message?: RegExp,
) {
  return throwsPeerError(() => attributesFromObject(obj), code, message)
}

/** Object -> list -> XML -> list -> object. */
function roundTrip(obj: RecordAttributes): RecordAttributes {
  const list = attributesFromObject(obj)
  const text = formatAttributesXml(list)
  assert.ok(text !== undefined)
  const back = parseAttributesXml(text)
  assert.deepEqual(back, list)
  return attributesToObject(back)
}

describe('parseAttributesXml', () => {
  test('parses the three types, sorted by name', () => {
    const attrs = parseAttributesXml(
      '<?xml version="1.0"?>\n<attributes>\n' +
        '  <attribute name="title" type="string">Hello</attribute>\n' +
        '  <attribute name="count" type="int">-42</attribute>\n' +
        '  <attribute name="due" type="date">2026-03-15T11:20:30.5+01:00</attribute>\n' +
        '</attributes>\n',
    )
    assert.deepEqual(attrs, [
      { name: 'count', type: 'int', value: -42 },
      { name: 'due', type: 'date', value: Date.UTC(2026, 2, 15, 10, 20, 30, 500) },
      { name: 'title', type: 'string', value: 'Hello' },
    ])
  })

  test('sorts by code unit: upper case before lower case, digits first', () => {
    const attrs = parseAttributesXml(
      xml(
        item('b', 'int', '1'),
        item('a', 'int', '2'),
        item('B', 'int', '3'),
        item('9', 'int', '4'),
      ),
    )
    assert.deepEqual(
      attrs.map((a) => a.name),
      ['9', 'B', 'a', 'b'],
    )
  })

  test('names are case-sensitive: Name and name are two attributes', () => {
    const attrs = parseAttributesXml(xml(item('name', 'string', 'x'), item('Name', 'string', 'y')))
    assert.deepEqual(attrs, [
      { name: 'Name', type: 'string', value: 'y' },
      { name: 'name', type: 'string', value: 'x' },
    ])
  })

  test('string values keep their whitespace; empty values are allowed', () => {
    const attrs = parseAttributesXml(
      xml(
        item('a', 'string', '  two  words \n'),
        item('b', 'string', ''),
        '<attribute name="c" type="string"/>',
      ),
    )
    assert.deepEqual(attrs, [
      { name: 'a', type: 'string', value: '  two  words \n' },
      { name: 'b', type: 'string', value: '' },
      { name: 'c', type: 'string', value: '' },
    ])
  })

  test('entities, character references and CDATA are decoded', () => {
    const attrs = parseAttributesXml(
      xml(
        item('a', 'string', '&lt;&amp;&gt;&quot;&apos;'),
        item('b', 'string', '&#x1F600;&#233;'),
        item('c', 'string', '<![CDATA[<raw & text>]]>'),
      ),
    )
    assert.deepEqual(
      attrs.map((a) => a.value),
      ['<&>"\'', '😀é', '<raw & text>'],
    )
  })

  test('int and date values may carry surrounding whitespace', () => {
    const attrs = parseAttributesXml(xml(item('i', 'int', ' +7 '), item('d', 'date', '\n2026\n')))
    assert.deepEqual(attrs, [
      { name: 'd', type: 'date', value: Date.UTC(2026, 0, 1) },
      { name: 'i', type: 'int', value: 7 },
    ])
  })

  test('an empty <attributes> is an empty list', () => {
    assert.deepEqual(parseAttributesXml('<attributes/>'), [])
    assert.deepEqual(parseAttributesXml('<attributes>\n</attributes>'), [])
  })

  test('xmlns declarations are allowed on <attribute>', () => {
    const attrs = parseAttributesXml(
      xml(
        '<attribute xmlns:xs="http://www.w3.org/2001/XMLSchema" name="a" type="int">1</attribute>',
      ),
    )
    assert.deepEqual(attrs, [{ name: 'a', type: 'int', value: 1 }])
  })

  test('refuses a wrong root, unknown children and stray text', () => {
    badXml('<attribute name="a" type="int">1</attribute>', undefined, /root element/)
    badXml('<Attributes></Attributes>', undefined, /root element/)
    badXml('<peersearch/>', undefined, /root element/)
    badXml(xml('<attr name="a" type="int">1</attr>'), undefined, /<attr>/)
    badXml(xml('<Attribute name="a" type="int">1</Attribute>'))
    badXml(xml(item('a', 'int', '1'), 'stray'))
    badXml(xml(item('a', 'string', '<b>x</b>')), undefined, /holds elements/)
  })

  test('refuses missing or unknown XML attributes and bad types', () => {
    badXml(xml('<attribute type="int">1</attribute>'), undefined, /needs name and type/)
    badXml(xml('<attribute name="a">1</attribute>'), undefined, /needs name and type/)
    badXml(xml('<attribute name="a" type="int" extra="1">1</attribute>'), undefined, /extra/)
    for (const type of ['integer', 'INT', 'String', 'datetime', 'bool', '']) {
      badXml(xml(item('a', type, '1')), undefined, /not string, int or date/)
    }
  })

  test('refuses values that are not of their type', () => {
    for (const v of ['1.5', '1e3', '0x10', '', 'ten', '2147483648', '-2147483649', '12345678901']) {
      badXml(xml(item('a', 'int', v)), undefined, /not a valid int/)
    }
    for (const v of ['', '2026-02-30', '2026-13-01', '2026-03-15T10:20', '2026-03-15T24:00Z']) {
      badXml(xml(item('a', 'date', v)), undefined, /not a valid date/)
    }
  })

  test('refuses bad, overlong and reserved names', () => {
    for (const name of ['a-b', 'a_b', '', 'a b', 'a.b', 'é', 'naïve', 'Ａ', 'a:b']) {
      badXml(xml(item(name, 'int', '1')), undefined, /alphanumeric/)
    }
    badXml(xml(item('a'.repeat(MAX_ATTRIBUTE_NAME_CHARS + 1), 'int', '1')), undefined, /longer/)
    assert.equal(
      parseAttributesXml(xml(item('a'.repeat(MAX_ATTRIBUTE_NAME_CHARS), 'int', '1'))).length,
      1,
    )
    for (const name of RESERVED_ATTRIBUTES) {
      badXml(xml(item(name, 'string', 'x')), undefined, /reserved/)
      badXml(xml(item(name.toUpperCase(), 'string', 'x')), undefined, /reserved/)
    }
    badXml(xml(item('PeerCreatorId', 'string', 'x')), undefined, /reserved/)
    // Names that merely start with "peer" are fine.
    assert.equal(parseAttributesXml(xml(item('peerthing', 'int', '1'))).length, 1)
  })

  test('refuses duplicates, even with different types', () => {
    badXml(xml(item('a', 'int', '1'), item('a', 'int', '1')), undefined, /appears twice/)
    badXml(
      xml(item('a', 'int', '1'), item('b', 'int', '1'), item('a', 'string', 'x')),
      undefined,
      /twice/,
    )
  })

  test('MAX_RECORD_ATTRIBUTES attributes pass, one more is PEER_E_TOO_MANY_ATTRIBUTES', () => {
    const items = (n: number) =>
      Array.from({ length: n }, (_, i) => item(`a${i}`, 'int', String(i)))
    assert.equal(
      parseAttributesXml(xml(...items(MAX_RECORD_ATTRIBUTES))).length,
      MAX_RECORD_ATTRIBUTES,
    )
    badXml(xml(...items(MAX_RECORD_ATTRIBUTES + 1)), 'PEER_E_TOO_MANY_ATTRIBUTES')
  })

  test('string values: the character limit, and control characters', () => {
    const max = 'x'.repeat(MAX_ATTRIBUTE_STRING_CHARS)
    assert.equal(parseAttributesXml(xml(item('a', 'string', max)))[0]!.value, max)
    badXml(xml(item('a', 'string', max + 'x')), undefined, /longer than/)
    // Refused by the XML parser (raw or as a reference), with the attributes' code.
    badXml(xml(item('a', 'string', 'x\u0001y')))
    badXml(xml(item('a', 'string', 'x&#1;y')))
    badXml(xml(item('a', 'string', 'x&#xFFFF;y')))
    // A raw unpaired surrogate: SQLite would store it as U+FFFD.
    badXml(xml(item('a', 'string', 'x\ud800y')), undefined, /surrogate/)
    // Tab, LF and CR are XML characters.
    assert.equal(parseAttributesXml(xml(item('a', 'string', '\t&#13;\n')))[0]!.value, '\t\r\n')
  })

  test('malformed XML is PEER_E_INVALID_ATTRIBUTES', () => {
    badXml('')
    badXml('not xml')
    badXml('<attributes>')
    badXml('<attributes><attribute name="a" type="int">1</attribute>')
    badXml('<attributes></attributes><attributes></attributes>')
    badXml(xml(item('a', 'string', 'a & b')))
    badXml('<!DOCTYPE attributes [<!ENTITY x "y">]><attributes/>')
  })

  test(`XML over MAX_ATTRIBUTES_XML_BYTES is PEER_E_TOO_LARGE (the XML parser's code)`, () => {
    const head = xml(item('a', 'string', ''))
    const pad = (n: number) => head.replace('</attributes>', ' '.repeat(n) + '</attributes>')
    assert.deepEqual(parseAttributesXml(pad(MAX_ATTRIBUTES_XML_BYTES - head.length)), [
      { name: 'a', type: 'string', value: '' },
    ])
    badXml(pad(MAX_ATTRIBUTES_XML_BYTES - head.length + 1), 'PEER_E_TOO_LARGE')
    // Counted in UTF-8 bytes, not characters.
    const multi = xml(item('a', 'string', 'é'.repeat(MAX_ATTRIBUTES_XML_BYTES / 2)))
    assert.ok(multi.length < MAX_ATTRIBUTES_XML_BYTES)
    badXml(multi, 'PEER_E_TOO_LARGE')
  })

  test('refuses a document whose canonical XML would exceed the limit', () => {
    // 17 values of 1000 ">" fit in 64 KiB raw, but each ">" is written back as "&gt;".
    const items = Array.from({ length: 17 }, (_, i) => item(`a${i}`, 'string', '>'.repeat(1000)))
    const text = xml(...items)
    assert.ok(Buffer.byteLength(text) < MAX_ATTRIBUTES_XML_BYTES)
    badXml(text, 'PEER_E_TOO_LARGE')
  })
})

describe('attributesFromObject', () => {
  test('maps string, integer and Date, sorted by name', () => {
    const due = new Date(Date.UTC(2026, 2, 15, 10, 20, 30, 5))
    assert.deepEqual(attributesFromObject({ title: 'Hello', count: -42, due }), [
      { name: 'count', type: 'int', value: -42 },
      { name: 'due', type: 'date', value: due.getTime() },
      { name: 'title', type: 'string', value: 'Hello' },
    ])
    assert.deepEqual(attributesFromObject({}), [])
  })

  test('-0 becomes 0', () => {
    const [a] = attributesFromObject({ n: -0 })
    assert.ok(Object.is(a!.value, 0))
  })

  test('refuses non-integer, out of range and non-finite numbers', () => {
    for (const v of [1.5, -0.1, 2 ** 31, -(2 ** 31) - 1, NaN, Infinity, -Infinity, 2 ** 53]) {
      badObject({ a: v }, undefined, /32-bit signed integer/)
    }
    assert.deepEqual(attributesFromObject({ a: 2 ** 31 - 1, b: -(2 ** 31) }), [
      { name: 'a', type: 'int', value: 2 ** 31 - 1 },
      { name: 'b', type: 'int', value: -(2 ** 31) },
    ])
  })

  test('refuses invalid Dates and Dates without a W3C form (outside years 0000-9999)', () => {
    badObject({ a: new Date(NaN) }, undefined, /valid Date/)
    badObject({ a: new Date(MAX_W3C_DATE + 1) }, undefined, /valid Date/)
    badObject({ a: new Date(MIN_W3C_DATE - 1) }, undefined, /valid Date/)
    badObject({ a: new Date(8.64e15) }, undefined, /valid Date/)
    assert.equal(attributesFromObject({ a: new Date(MAX_W3C_DATE) })[0]!.value, MAX_W3C_DATE)
    assert.equal(attributesFromObject({ a: new Date(MIN_W3C_DATE) })[0]!.value, MIN_W3C_DATE)
  })

  test('refuses other value kinds', () => {
    for (const v of [true, null, undefined, {}, [], 10n, Symbol('x')]) {
      badObject({ a: v } as unknown as RecordAttributes, undefined, /neither/)
    }
  })

  test('refuses a non-object', () => {
    for (const v of [null, [], 'x', 5]) {
      throwsPeerError(
        () => attributesFromObject(v as unknown as RecordAttributes),
        'PEER_E_INVALID_ATTRIBUTES',
      )
    }
  })

  test('refuses bad and reserved names in any case', () => {
    for (const name of ['a-b', 'a_b', '', ' a', 'é', 'Ωmega', '__proto__']) {
      badObject({ [name]: 1 }, undefined, /alphanumeric/)
    }
    for (const name of RESERVED_ATTRIBUTES) {
      badObject({ [name]: 'x' }, undefined, /reserved/)
      badObject({ [name.toUpperCase()]: 'x' }, undefined, /reserved/)
      badObject({ [name[0]!.toUpperCase() + name.slice(1)]: 'x' }, undefined, /reserved/)
    }
  })

  test('more than MAX_RECORD_ATTRIBUTES is PEER_E_TOO_MANY_ATTRIBUTES', () => {
    const obj = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, i]))
    assert.equal(attributesFromObject(obj(MAX_RECORD_ATTRIBUTES)).length, MAX_RECORD_ATTRIBUTES)
    badObject(obj(MAX_RECORD_ATTRIBUTES + 1), 'PEER_E_TOO_MANY_ATTRIBUTES')
  })

  test('string limits and characters XML cannot carry', () => {
    badObject({ a: 'x'.repeat(MAX_ATTRIBUTE_STRING_CHARS + 1) }, undefined, /longer than/)
    assert.equal(attributesFromObject({ a: 'x'.repeat(MAX_ATTRIBUTE_STRING_CHARS) }).length, 1)
    for (const c of ['\u0000', '\u0001', '\u0008', '\u000b', '\u000c', '\u000e', '\u001f']) {
      badObject({ a: `x${c}y` }, undefined, /control character/)
    }
    for (const s of ['\ufffe', '\uffff', '\ud800', 'a\udc00', '\udc00\ud800', 'x\ud83d']) {
      badObject({ a: s }, undefined, /surrogate/)
    }
    // A proper surrogate pair is fine.
    assert.equal(attributesFromObject({ a: '\ud83d\ude00' })[0]!.value, '😀')
  })

  test('the canonical XML of the object form is bounded too (PEER_E_TOO_LARGE)', () => {
    // 17 strings of 4096 characters are 69,632 bytes of values alone.
    const obj = Object.fromEntries(
      Array.from({ length: 17 }, (_, i) => [`a${i}`, 'x'.repeat(MAX_ATTRIBUTE_STRING_CHARS)]),
    )
    badObject(obj, 'PEER_E_TOO_LARGE')
    // ...and every accepted list formats to XML parseAttributesXml accepts.
    const fits = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [`a${i}`, '&'.repeat(1000)]),
    )
    const text = formatAttributesXml(attributesFromObject(fits))!
    assert.ok(Buffer.byteLength(text) <= MAX_ATTRIBUTES_XML_BYTES)
    assert.equal(parseAttributesXml(text).length, 12)
  })
})

describe('checkAttributeName', () => {
  test('accepts alphanumerics only, refuses reserved names', () => {
    for (const name of ['a', 'A1', '123', 'peer', 'peerx', 'x'.repeat(MAX_ATTRIBUTE_NAME_CHARS)]) {
      checkAttributeName(name)
    }
    for (const name of [
      'a-b',
      'a_b',
      '',
      'x'.repeat(MAX_ATTRIBUTE_NAME_CHARS + 1),
      'PEERRECORDID',
    ]) {
      throwsPeerError(() => checkAttributeName(name), 'PEER_E_INVALID_ATTRIBUTES', name)
    }
  })
})

describe('formatAttributesXml and round trips', () => {
  test('an empty list has no XML (NULL pwzAttributes)', () => {
    assert.equal(formatAttributesXml([]), undefined)
  })

  test('writes the Windows form', () => {
    const attrs: RecordAttribute[] = [
      { name: 'count', type: 'int', value: 5 },
      { name: 'due', type: 'date', value: Date.UTC(2026, 2, 15) },
      { name: 'title', type: 'string', value: 'a<b' },
    ]
    assert.equal(
      formatAttributesXml(attrs),
      '<attributes>' +
        '<attribute name="count" type="int">5</attribute>' +
        '<attribute name="due" type="date">2026-03-15T00:00:00.000Z</attribute>' +
        '<attribute name="title" type="string">a&lt;b</attribute>' +
        '</attributes>',
    )
  })

  test('object -> XML -> object keeps every value', () => {
    const due = new Date(Date.UTC(2026, 2, 15, 10, 20, 30, 999))
    const obj: RecordAttributes = {
      title: 'Hello <World> & "friends" \'all\'',
      count: -2147483648,
      big: 2147483647,
      zero: 0,
      due,
      old: new Date(MIN_W3C_DATE),
      y99: new Date(new Date(0).setUTCFullYear(99, 0, 1)),
      empty: '',
      spaces: '  \t x \n ',
      crlf: 'line1\r\nline2\rline3',
      unicode: 'héllo 😀 世界',
      looksLikeXml: '<attributes><attribute name="x" type="int">1</attribute></attributes>',
      entities: '&amp; &lt; &#65;',
      brackets: ']]> <![CDATA[',
    }
    const back = roundTrip(obj)
    assert.deepEqual(back, obj)
    assert.ok(back['due'] instanceof Date)
  })

  test('XML -> list -> XML is canonical and stable', () => {
    const text = xml(
      item('z', 'string', '&quot;q&quot; &apos;a&apos; &gt;'),
      item('a', 'int', '+0007'),
      item('d', 'date', '2026-03-15T11:20+01:00'),
    )
    const first = formatAttributesXml(parseAttributesXml(text))!
    assert.equal(
      first,
      '<attributes>' +
        '<attribute name="a" type="int">7</attribute>' +
        '<attribute name="d" type="date">2026-03-15T10:20:00.000Z</attribute>' +
        '<attribute name="z" type="string">"q" \'a\' &gt;</attribute>' +
        '</attributes>',
    )
    assert.equal(formatAttributesXml(parseAttributesXml(first)), first)
  })

  test('normalizeAttributes takes either form', () => {
    assert.deepEqual(normalizeAttributes(undefined), [])
    assert.deepEqual(normalizeAttributes({ a: 1 }), [{ name: 'a', type: 'int', value: 1 }])
    assert.deepEqual(normalizeAttributes(xml(item('a', 'int', '1'))), [
      { name: 'a', type: 'int', value: 1 },
    ])
    throwsPeerError(() => normalizeAttributes('<nope/>'), 'PEER_E_INVALID_ATTRIBUTES')
  })

  test('attributesToObject maps dates back to Date', () => {
    const obj = attributesToObject([
      { name: 'd', type: 'date', value: 1000 },
      { name: 'i', type: 'int', value: 3 },
      { name: 's', type: 'string', value: '3' },
    ])
    assert.deepEqual(obj, { d: new Date(1000), i: 3, s: '3' })
  })
})
