/**
 * The XML used by Windows' peer formats (identity info and export, invitations, record
 * attributes, search queries), parsed with fast-xml-parser into a small element tree.
 * Safe by construction: DOCTYPE and entity declarations are refused outright (no expansion, no
 * external fetches), only the five predefined entities and numeric character references are
 * decoded, and size, depth, element-count and attribute-count limits are checked.
 *
 * Order of the checks: the size limit (MAX_XML_BYTES) is checked first, on the raw text. The
 * depth (MAX_XML_DEPTH), element (MAX_XML_ELEMENTS) and attribute (MAX_XML_ATTRIBUTES) limits
 * are checked afterwards, while fast-xml-parser's tree is converted into ours: fast-xml-parser
 * has already built its whole tree by then. That work is bounded by MAX_XML_BYTES (the tree is
 * linear in the input), and fast-xml-parser itself refuses nesting past about 100 levels
 * (PARSER_MAX_NESTED_TAGS, set explicitly below), which is reported as bad input like any other.
 * A `maxDepth` above that cannot raise the real bound.
 *
 * CDATA sections are literal text: their content is not entity-decoded
 * (`<![CDATA[a & b]]>` is the text "a & b"), but characters XML does not allow are still
 * refused. Adjacent text and CDATA are joined into one text child; empty text is dropped.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { PeerError, type PeerErrorCode } from '../core/errors.ts'
import { MAX_XML_ATTRIBUTES, MAX_XML_BYTES, MAX_XML_DEPTH, MAX_XML_ELEMENTS } from './constants.ts'

export interface XmlElement {
  name: string
  attributes: Record<string, string>
  children: XmlNode[]
}
export type XmlNode = XmlElement | string

export interface XmlParseOptions {
  what?: string
  code?: PeerErrorCode
  maxBytes?: number
  maxDepth?: number
  maxElements?: number
  maxAttributes?: number
}

/**
 * fast-xml-parser's own nesting cap (its default, set explicitly so an upgrade cannot drop it):
 * it refuses an element whose parent chain is longer, so 101 levels pass and 102 do not.
 */
const PARSER_MAX_NESTED_TAGS = 100

const TEXT = '#text'
const CDATA = '#cdata'

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  allowBooleanAttributes: false,
  maxNestedTags: PARSER_MAX_NESTED_TAGS,
  // CDATA content is kept apart from text, so it is not entity-decoded. `#` cannot start an
  // XML name, so no element can be mistaken for a CDATA section.
  cdataPropName: CDATA,
})

type Parsed = Record<string, unknown>

/** Parses one XML document; the root element is returned. */
export function parseXml(text: string, options: XmlParseOptions = {}): XmlElement {
  const what = options.what ?? 'XML document'
  const code = options.code ?? 'E_INVALIDARG'
  const maxBytes = options.maxBytes ?? MAX_XML_BYTES
  const bad = (problem: string): PeerError =>
    new PeerError(code, `${what} is not valid: ${problem}`)
  if (typeof text !== 'string') throw bad('expected text')
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw new PeerError('PEER_E_TOO_LARGE', `${what} is larger than ${maxBytes} bytes`)
  }
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw bad('DOCTYPE and entity declarations are not allowed')
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false })
  if (valid !== true) throw bad(`${valid.err.msg} (line ${valid.err.line})`)
  if (textAfterSelfClosedRoot(text)) throw bad('text after the root element')
  let parsed: Parsed[]
  try {
    parsed = parser.parse(text) as Parsed[]
  } catch (err) {
    // fast-xml-parser throws plain Errors for some documents the validator passes (nesting past
    // its own limit, names such as __proto__); they are bad input like any other.
    throw new PeerError(code, `${what} is not valid: ${(err as Error).message}`, { cause: err })
  }
  if (parsed.some((n) => CDATA in n)) throw bad('CDATA outside the root element')
  const roots = parsed.filter((n) => !(TEXT in n && isBlank(n[TEXT])))
  if (roots.length !== 1 || TEXT in (roots[0] as Parsed))
    throw bad('expected exactly one root element')
  const counter = { elements: 0 }
  return toElement(roots[0] as Parsed, 1, {
    bad,
    maxDepth: options.maxDepth ?? MAX_XML_DEPTH,
    maxElements: options.maxElements ?? MAX_XML_ELEMENTS,
    maxAttributes: options.maxAttributes ?? MAX_XML_ATTRIBUTES,
    counter,
  })
}

interface Ctx {
  bad: (problem: string) => PeerError
  maxDepth: number
  maxElements: number
  maxAttributes: number
  counter: { elements: number }
}

/**
 * fast-xml-parser's validator misses text after a self-closed root (`<a/>text`) and its parser
 * drops that text silently. This finds the root's start tag (the document is already known to
 * be well-formed otherwise) and, when it closes itself, looks at what follows it.
 */
function textAfterSelfClosedRoot(text: string): boolean {
  let i = skipMisc(text, 0)
  let quote = ''
  for (i++; i < text.length; i++) {
    const c = text[i]
    if (quote !== '') {
      if (c === quote) quote = ''
    } else if (c === '"' || c === "'") quote = c
    else if (c === '>') break
  }
  if (text[i - 1] !== '/') return false
  i = skipMisc(text, i + 1)
  // Another element after the root is left to the one-root check.
  return i < text.length && text[i] !== '<'
}

/** Skips whitespace, comments and processing instructions from `i`; returns where they end. */
function skipMisc(text: string, i: number): number {
  for (;;) {
    while (i < text.length && ' \t\r\n'.includes(text[i] as string)) i++
    const comment = text.startsWith('<!--', i)
    if (!comment && !text.startsWith('<?', i)) return i
    const end = comment ? text.indexOf('-->', i + 4) : text.indexOf('?>', i + 2)
    if (end < 0) return text.length
    i = end + (comment ? 3 : 2)
  }
}

function isBlank(v: unknown): boolean {
  return typeof v === 'string' && /^[ \t\r\n]*$/.test(v)
}

function toElement(node: Parsed, depth: number, ctx: Ctx): XmlElement {
  if (depth > ctx.maxDepth) throw ctx.bad(`nesting deeper than ${ctx.maxDepth}`)
  if (++ctx.counter.elements > ctx.maxElements)
    throw ctx.bad(`more than ${ctx.maxElements} elements`)
  const name = Object.keys(node).find((k) => k !== ':@')
  if (name === undefined) throw ctx.bad('empty node')
  const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>
  const attributeCount = Object.keys(rawAttrs).length
  if (attributeCount > ctx.maxAttributes) {
    throw ctx.bad(`<${name}> has ${attributeCount} attributes, more than ${ctx.maxAttributes}`)
  }
  const attributes: Record<string, string> = {}
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (typeof v !== 'string') throw ctx.bad(`attribute ${k} has no value`)
    attributes[k] = decodeEntities(v, ctx)
  }
  const children: XmlNode[] = []
  let text = ''
  for (const child of (node[name] ?? []) as Parsed[]) {
    if (TEXT in child) text += decodeEntities(String(child[TEXT]), ctx)
    else if (CDATA in child) text += cdataText(child[CDATA], ctx)
    else {
      if (text !== '') children.push(text)
      text = ''
      children.push(toElement(child, depth + 1, ctx))
    }
  }
  if (text !== '') children.push(text)
  return { name, attributes, children }
}

/** The literal content of a CDATA section, as fast-xml-parser gives it: `[{ '#text': ... }]`. */
function cdataText(value: unknown, ctx: Ctx): string {
  if (!Array.isArray(value)) throw ctx.bad('malformed CDATA section')
  let text = ''
  for (const part of value as unknown[]) {
    if (typeof part !== 'object' || part === null || !(TEXT in part)) {
      throw ctx.bad('malformed CDATA section')
    }
    text += String((part as Parsed)[TEXT])
  }
  if (NOT_XML_CHAR.test(text)) throw ctx.bad('it contains a control character XML does not allow')
  return text
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

// Characters XML 1.0 does not allow, raw or as references (section 2.2).
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/

function decodeEntities(raw: string, ctx: Ctx): string {
  const decoded = expandReferences(raw, ctx)
  if (NOT_XML_CHAR.test(decoded))
    throw ctx.bad('it contains a control character XML does not allow')
  return decoded
}

function expandReferences(s: string, ctx: Ctx): string {
  if (!s.includes('&')) return s
  return s.replace(/&([^;&\s<]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw ctx.bad('bare "&" in text (write &amp;)')
    if (Object.hasOwn(PREDEFINED, ref)) return PREDEFINED[ref] as string
    const m = /^#(x[0-9a-fA-F]{1,6}|[0-9]{1,7})$/.exec(ref)
    if (m) {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
      if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        throw ctx.bad(`character reference &${ref}; is not a valid character`)
      }
      return String.fromCodePoint(cp)
    }
    throw ctx.bad(`unknown entity &${ref.slice(0, 40)};`)
  })
}

/** Text content of an element: its direct text children, concatenated. */
export function textOf(el: XmlElement): string {
  return el.children.filter((c): c is string => typeof c === 'string').join('')
}

/** Child elements, skipping whitespace between them; non-blank stray text is refused. */
export function childElements(el: XmlElement, bad: (problem: string) => Error): XmlElement[] {
  const out: XmlElement[] = []
  for (const c of el.children) {
    if (typeof c !== 'string') out.push(c)
    else if (!isBlank(c)) throw bad(`unexpected text inside <${el.name}>`)
  }
  return out
}

export function escapeXmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export function escapeXmlAttribute(s: string): string {
  return escapeXmlText(s).replace(/"/g, '&quot;')
}

/** Serialises an element tree compactly (no added whitespace), attributes in the given order. */
export function serializeXml(el: XmlElement): string {
  const attrs = Object.entries(el.attributes)
    .map(([k, v]) => ` ${k}="${escapeXmlAttribute(v)}"`)
    .join('')
  if (el.children.length === 0) return `<${el.name}${attrs}/>`
  const inner = el.children
    .map((c) => (typeof c === 'string' ? escapeXmlText(c) : serializeXml(c)))
    .join('')
  return `<${el.name}${attrs}>${inner}</${el.name}>`
}
