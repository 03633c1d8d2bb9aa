/**
 * Record attributes (windows-api.md section 1, "Attribute XML"): the Windows form
 * `<attributes><attribute name="N" type="string|int|date">v</attribute>*</attributes>` and the
 * typed object form `{ name: string | number | Date }`. Both normalise to one sorted list of
 * typed values, which the store indexes for search and the wire carries.
 *
 * Rules: names are alphanumeric only (no `-` or `_`); the reserved `peer*` names are
 * searchable but not settable; a name appears once; at most MAX_RECORD_ATTRIBUTES.
 */
import { PeerError } from '../core/errors.ts'
import { childElements, escapeXmlAttribute, escapeXmlText, parseXml, textOf } from '../wire/xml.ts'
import {
  MAX_ATTRIBUTE_NAME_CHARS,
  MAX_ATTRIBUTE_STRING_CHARS,
  MAX_ATTRIBUTES_XML_BYTES,
  MAX_RECORD_ATTRIBUTES,
} from './constants.ts'
import {
  formatTypedValue,
  isValueType,
  MAX_INT,
  MAX_W3C_DATE,
  MIN_INT,
  MIN_W3C_DATE,
  parseTypedValue,
  type TypedValue,
} from './values.ts'

/** One attribute of a record. */
export type RecordAttribute = TypedValue & { name: string }

/** The object form users pass and read: string -> "string", integer -> "int", Date -> "date". */
export type RecordAttributes = Record<string, string | number | Date>

/** Windows' reserved attribute names: searchable, never settable (windows-api.md section 1). */
export const RESERVED_ATTRIBUTES = [
  'peerlastmodifiedby',
  'peercreatorid',
  'peerlastmodificationtime',
  'peerrecordid',
  'peerrecordtype',
  'peercreationtime',
] as const

const NAME = /^[A-Za-z0-9]+$/
const NOT_XML_TEXT =
  /[\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function invalid(problem: string, details?: Record<string, unknown>): PeerError {
  return new PeerError('PEER_E_INVALID_ATTRIBUTES', `record attributes are not valid: ${problem}`, {
    details,
  })
}

/** Checks an attribute name: alphanumeric, bounded, not reserved. */
export function checkAttributeName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid(`the name ${JSON.stringify(name)} is not alphanumeric (no "-" or "_" either)`)
  }
  if (name.length > MAX_ATTRIBUTE_NAME_CHARS) {
    throw invalid(`the name "${name.slice(0, 20)}..." is longer than ${MAX_ATTRIBUTE_NAME_CHARS}`)
  }
  if ((RESERVED_ATTRIBUTES as readonly string[]).includes(name.toLowerCase())) {
    throw invalid(`"${name}" is a reserved attribute: it can be searched but not set`)
  }
}

function checkValue(attr: RecordAttribute): RecordAttribute {
  if (attr.type === 'string' && attr.value.length > MAX_ATTRIBUTE_STRING_CHARS) {
    throw invalid(`"${attr.name}" is longer than ${MAX_ATTRIBUTE_STRING_CHARS} characters`)
  }
  if (attr.type === 'string' && /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(attr.value)) {
    throw invalid(`"${attr.name}" holds a control character XML cannot carry`)
  }
  // U+FFFE, U+FFFF and unpaired surrogates are not XML characters either, and SQLite's UTF-8
  // would store an unpaired surrogate as U+FFFD: the record would change on its way through.
  if (attr.type === 'string' && NOT_XML_TEXT.test(attr.value)) {
    throw invalid(`"${attr.name}" holds U+FFFE, U+FFFF or an unpaired surrogate`)
  }
  return attr
}

function checkCount(count: number): void {
  if (count > MAX_RECORD_ATTRIBUTES) {
    throw new PeerError(
      'PEER_E_TOO_MANY_ATTRIBUTES',
      `a record has at most ${MAX_RECORD_ATTRIBUTES} attributes (MAX_RECORD_ATTRIBUTES), got ${count}`,
    )
  }
}

/** Sorts by name, and refuses duplicates. */
function finish(attrs: RecordAttribute[]): RecordAttribute[] {
  attrs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (let i = 1; i < attrs.length; i++) {
    if (attrs[i]!.name === attrs[i - 1]!.name) throw invalid(`"${attrs[i]!.name}" appears twice`)
  }
  // The bound applies to the canonical XML (what formatAttributesXml gives back and what is
  // stored), so that no accepted list formats to XML that parseAttributesXml refuses: the object
  // form has no size of its own, and escaping or date expansion can grow a parsed document.
  const bytes = Buffer.byteLength(formatAttributesXml(attrs) ?? '')
  if (bytes > MAX_ATTRIBUTES_XML_BYTES) {
    throw new PeerError(
      'PEER_E_TOO_LARGE',
      `record attributes are ${bytes} bytes of XML, more than ${MAX_ATTRIBUTES_XML_BYTES}`,
    )
  }
  return attrs
}

/** Parses the Windows attribute XML. */
export function parseAttributesXml(xml: string): RecordAttribute[] {
  const root = parseXml(xml, {
    what: 'record attribute XML',
    code: 'PEER_E_INVALID_ATTRIBUTES',
    maxBytes: MAX_ATTRIBUTES_XML_BYTES,
  })
  if (root.name !== 'attributes')
    throw invalid(`the root element is <${root.name}>, not <attributes>`)
  const elements = childElements(root, invalid)
  checkCount(elements.length)
  const attrs: RecordAttribute[] = []
  for (const el of elements) {
    if (el.name !== 'attribute') throw invalid(`<${el.name}> inside <attributes>`)
    const { name, type, ...rest } = el.attributes
    const extra = Object.keys(rest).filter((k) => !k.startsWith('xmlns'))
    if (extra.length > 0) throw invalid(`unknown XML attribute "${extra[0]}" on <attribute>`)
    if (name === undefined || type === undefined) throw invalid('<attribute> needs name and type')
    checkAttributeName(name)
    if (!isValueType(type)) throw invalid(`"${name}" has type "${type}", not string, int or date`)
    if (el.children.some((c) => typeof c !== 'string')) throw invalid(`"${name}" holds elements`)
    const value = parseTypedValue(type, textOf(el))
    if (!value) throw invalid(`"${name}" is not a valid ${type}`)
    attrs.push(checkValue({ name, ...value }))
  }
  return finish(attrs)
}

/** Builds the list from the object form. */
export function attributesFromObject(obj: RecordAttributes): RecordAttribute[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw invalid('expected an object of name: string | integer | Date, or attribute XML')
  }
  const entries = Object.entries(obj)
  checkCount(entries.length)
  const attrs: RecordAttribute[] = []
  for (const [name, v] of entries) {
    checkAttributeName(name)
    if (typeof v === 'string') attrs.push(checkValue({ name, type: 'string', value: v }))
    else if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < MIN_INT || v > MAX_INT) {
        throw invalid(`"${name}" is ${v}: an int attribute is a 32-bit signed integer`)
      }
      attrs.push({ name, type: 'int', value: v + 0 }) // -0 as 0, as the XML gives it
    } else if (v instanceof Date && v.getTime() >= MIN_W3C_DATE && v.getTime() <= MAX_W3C_DATE) {
      // Years 0000-9999 only (NaN fails too): other dates have no W3C NOTE-datetime form.
      attrs.push({ name, type: 'date', value: v.getTime() })
    } else throw invalid(`"${name}" is neither a string, an integer nor a valid Date`)
  }
  return finish(attrs)
}

/**
 * Checks a list that arrived in another form (a record from the network): the same name, value
 * and size rules as the other two forms; its order must already be by name.
 */
export function checkAttributeList(attrs: readonly RecordAttribute[]): RecordAttribute[] {
  checkCount(attrs.length)
  const out: RecordAttribute[] = []
  for (const a of attrs) {
    checkAttributeName(a.name)
    const ok =
      a.type === 'string'
        ? typeof a.value === 'string'
        : Number.isInteger(a.value) &&
          (a.type === 'int'
            ? a.value >= MIN_INT && a.value <= MAX_INT
            : a.value >= MIN_W3C_DATE && a.value <= MAX_W3C_DATE)
    if (!ok) throw invalid(`"${a.name}" is not a valid ${a.type}`)
    out.push(checkValue(a))
  }
  for (let i = 1; i < out.length; i++) {
    if (out[i - 1]!.name >= out[i]!.name) throw invalid('attributes are not sorted by name')
  }
  return finish(out)
}

/** Either form (XML text or object) to the list; undefined means none. */
export function normalizeAttributes(
  input: RecordAttributes | string | undefined,
): RecordAttribute[] {
  if (input === undefined) return []
  return typeof input === 'string' ? parseAttributesXml(input) : attributesFromObject(input)
}

export function attributesToObject(attrs: readonly RecordAttribute[]): RecordAttributes {
  const out: RecordAttributes = {}
  for (const a of attrs) out[a.name] = a.type === 'date' ? new Date(a.value) : a.value
  return out
}

/** The Windows XML of a list; undefined when empty (Windows' NULL pwzAttributes). */
export function formatAttributesXml(attrs: readonly RecordAttribute[]): string | undefined {
  if (attrs.length === 0) return undefined
  const items = attrs.map(
    (a) =>
      `<attribute name="${escapeXmlAttribute(a.name)}" type="${a.type}">` +
      // A raw CR would come back as LF (XML end-of-line handling), so it is written as &#13;.
      `${escapeXmlText(formatTypedValue(a)).replace(/\r/g, '&#13;')}</attribute>`,
  )
  return `<attributes>${items.join('')}</attributes>`
}
