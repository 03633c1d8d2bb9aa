/**
 * Record search for Peer Graphing (windows-api.md section 1, "Search XML"; the Windows pages
 * "Record Search Query Format" and PeerGraphSearchRecords). A query is either Windows' XML
 *
 *   peersearch := <peersearch>(clause|and|or)</peersearch>       ; exactly ONE child
 *   and|or     := <and|or>(clause|and|or)+</and|or>               ; >= 1 child, nesting allowed
 *   clause     := <clause attrib="alnum" type="string|int|date"
 *                  compare="equal|notequal|less|greater|lessorequal|greaterorequal">value</clause>
 *
 * or the typed object form (SearchQuery). Both are checked and normalised into one tree
 * (SearchNode), which compiles to a parameterised SQL fragment over `records r` and
 * `record_attributes` (schema.ts): every value, name and type is a parameter, never SQL text.
 *
 * Semantics:
 * - A clause matches a record that HAS the attribute with that type and for which the
 *   comparison holds. A record without it, or with it under another type, never matches, not
 *   even `notequal`.
 * - Strings compare case-sensitively (BINARY: UTF-8 byte order, which is code point order).
 *   Attribute names are case-sensitive, except that the reserved names are recognised in any
 *   case (attributes.ts refuses every case variant of them as a record attribute).
 * - `*` matches 0..n characters and `?` exactly one (one code point, SQLite GLOB), with the
 *   escapes `\*`, `\?` and `\\`; any other backslash is E_INVALIDARG, as in Windows.
 *
 * Failures are PeerError PEER_E_INVALID_SEARCH naming the problem and where it is (the clause
 * number in document order and its path), except E_INVALIDARG for a bad escape and
 * PEER_E_TOO_LARGE for a query (or a string value) over MAX_SEARCH_XML_BYTES.
 */
import { PeerError } from '../core/errors.ts'
import { childElements, parseXml, textOf, type XmlElement } from '../wire/xml.ts'
import {
  MAX_ATTRIBUTE_NAME_CHARS,
  MAX_SEARCH_CLAUSES,
  MAX_SEARCH_DEPTH,
  MAX_SEARCH_XML_BYTES,
} from './constants.ts'
import {
  isValueType,
  MAX_INT,
  MIN_INT,
  parseInt32,
  parseW3cDate,
  type TypedValue,
  type ValueType,
} from './values.ts'

export type SearchCompare =
  'equal' | 'notequal' | 'less' | 'greater' | 'lessorequal' | 'greaterorequal'

export const SEARCH_COMPARES: readonly SearchCompare[] = [
  'equal',
  'notequal',
  'less',
  'greater',
  'lessorequal',
  'greaterorequal',
]

/** One clause in the typed object form; `type` is inferred from `value` when left out. */
export interface SearchClause {
  attribute: string
  type?: ValueType
  compare?: SearchCompare
  value: string | number | Date
}

export type SearchQuery = SearchClause | { and: SearchQuery[] } | { or: SearchQuery[] }

/** A checked clause. */
export interface SearchClauseNode {
  kind: 'clause'
  /** As given; a reserved name in its canonical lowercase. */
  attribute: string
  type: ValueType
  compare: SearchCompare
  /**
   * The value, of `type`. A string is kept as written (wildcards and backslash escapes in
   * place, already checked); a GUID for peerrecordid/peerrecordtype is lowercased, unbraced.
   */
  value: TypedValue
}

export interface SearchGroupNode {
  kind: 'and' | 'or'
  /** At least one. */
  children: SearchNode[]
}

/**
 * Validated, normalised tree (values parsed into TypedValue; type always set).
 * normalizeSearch accepts it again and returns an equal tree.
 */
export type SearchNode = SearchClauseNode | SearchGroupNode

/** The SQL fragment and its parameters, in order. */
export interface CompiledSearch {
  sql: string
  params: (string | number)[]
}

/**
 * Windows' reserved attributes (windows-api.md section 1): searchable, never settable, and
 * present on every record, so they compile to the `records` columns.
 */
const RESERVED = new Map<string, { column: string; type: ValueType; guid: boolean }>([
  ['peerrecordid', { column: 'id', type: 'string', guid: true }],
  ['peerrecordtype', { column: 'type', type: 'string', guid: true }],
  ['peercreatorid', { column: 'creator', type: 'string', guid: false }],
  ['peerlastmodifiedby', { column: 'modified_by', type: 'string', guid: false }],
  ['peercreationtime', { column: 'created_at', type: 'date', guid: false }],
  ['peerlastmodificationtime', { column: 'modified_at', type: 'date', guid: false }],
])

const SQL_OPERATORS: Record<SearchCompare, string> = {
  equal: '=',
  notequal: '<>',
  less: '<',
  greater: '>',
  lessorequal: '<=',
  greaterorequal: '>=',
}

// Windows: attribute names are alphanumeric only (no "-" or "_"), as in the attribute XML.
const NAME = /^[A-Za-z0-9]+$/
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
// The characters XML 1.0 cannot carry: refused in the object form too, so both forms agree.
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/

function invalid(problem: string, details?: Record<string, unknown>): PeerError {
  return new PeerError('PEER_E_INVALID_SEARCH', `search is not valid: ${problem}`, { details })
}

interface Walk {
  clauses: number
}

/** Parses Windows' `<peersearch>` XML into the normalised tree. */
export function parseSearchXml(xml: string): SearchNode {
  if (typeof xml !== 'string') throw invalid('the search XML must be text')
  const root = parseXml(xml, {
    what: 'search XML',
    code: 'PEER_E_INVALID_SEARCH',
    maxBytes: MAX_SEARCH_XML_BYTES,
  })
  if (root.name !== 'peersearch') {
    throw invalid(`the root element is <${root.name}>, not <peersearch>`)
  }
  // The Windows examples declare xmlns:xs on <peersearch>: namespace declarations are ignored.
  for (const name of Object.keys(root.attributes)) {
    if (!name.startsWith('xmlns:')) throw invalid(`unknown XML attribute "${name}" on <peersearch>`)
  }
  const children = childElements(root, invalid)
  // Windows: exactly ONE child; two siblings at the top level are invalid.
  if (children.length !== 1) {
    throw invalid(
      `<peersearch> must hold exactly one <clause>, <and> or <or>, not ${children.length}`,
    )
  }
  const only = children[0] as XmlElement
  return xmlNode(only, `/peersearch/${only.name}`, 0, { clauses: 0 })
}

function xmlNode(el: XmlElement, path: string, depth: number, walk: Walk): SearchNode {
  if (el.name === 'and' || el.name === 'or') {
    checkDepth(depth + 1, path)
    const names = Object.keys(el.attributes)
    if (names.length > 0) throw invalid(`unknown XML attribute "${names[0]}" on <${el.name}>`)
    const elements = childElements(el, invalid)
    // Windows: and/or hold one or more clause, and or or.
    if (elements.length === 0) throw invalid(`<${el.name}> at ${path} has no children`)
    const children = elements.map((child, i) =>
      xmlNode(child, `${path}/${child.name}[${i + 1}]`, depth + 1, walk),
    )
    return { kind: el.name, children }
  }
  if (el.name !== 'clause') {
    throw invalid(`unknown element <${el.name}> at ${path}: expected <clause>, <and> or <or>`)
  }
  const where = clauseWhere(walk, path)
  const fields: { attrib?: string; type?: string; compare?: string } = {}
  for (const [name, value] of Object.entries(el.attributes)) {
    if (name !== 'attrib' && name !== 'type' && name !== 'compare') {
      throw invalid(`${where}: unknown XML attribute "${name}" on <clause>`)
    }
    fields[name] = value
  }
  // The value is the clause's text: `<and>` written as text there is literal (Windows), but an
  // element inside a clause is not part of the grammar.
  const inner = el.children.find((c): c is XmlElement => typeof c !== 'string')
  if (inner !== undefined) {
    throw invalid(`${where}: <${inner.name}> inside <clause>; the value must be text`)
  }
  if (fields.attrib === undefined) throw invalid(`${where}: the "attrib" attribute is missing`)
  // The grammar says type and compare "must be provided", yet compare defaults to equal;
  // type is required in XML (there is no value to infer it from).
  if (fields.type === undefined) throw invalid(`${where}: the "type" attribute is missing`)
  return clauseNode(where, fields.attrib, fields.type, fields.compare, textOf(el))
}

/** Checks the typed object form (or XML text, or an already normalised tree) into the tree. */
export function normalizeSearch(query: SearchQuery | SearchNode | string): SearchNode {
  if (typeof query === 'string') return parseSearchXml(query)
  return objectNode(query, 'query', 0, { clauses: 0 })
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
}

function objectNode(q: unknown, path: string, depth: number, walk: Walk): SearchNode {
  if (!isRecord(q)) {
    throw invalid(`${path} is not a clause, { and: [...] } or { or: [...] }`)
  }
  const keys = Object.keys(q)
  let op: 'and' | 'or' | undefined
  let list: unknown
  if (keys.includes('and') || keys.includes('or')) {
    if (keys.length !== 1) {
      throw invalid(`${path} mixes ${keys.map((k) => `"${k}"`).join(', ')}: use one of and, or`)
    }
    op = keys[0] as 'and' | 'or'
    list = q[op]
  } else if (keys.includes('kind') && (q['kind'] === 'and' || q['kind'] === 'or')) {
    // An already normalised group node.
    if (keys.length !== 2 || !keys.includes('children')) {
      throw invalid(`${path} is a "${q['kind']}" node with keys other than kind and children`)
    }
    op = q['kind']
    list = q['children']
  }
  if (op !== undefined) {
    checkDepth(depth + 1, path)
    if (!Array.isArray(list)) throw invalid(`${path}.${op} is not an array`)
    if (list.length === 0) throw invalid(`${path}.${op} is empty: and/or need at least one child`)
    const children = (list as unknown[]).map((child, i) =>
      objectNode(child, `${path}.${op}[${i}]`, depth + 1, walk),
    )
    return { kind: op, children }
  }
  const where = clauseWhere(walk, path)
  let value: unknown = q['value']
  if (keys.includes('kind')) {
    // An already normalised clause node: its value is a TypedValue.
    if (q['kind'] !== 'clause') throw invalid(`${where}: unknown node kind ${String(q['kind'])}`)
    const tv = q['value']
    if (!isRecord(tv) || tv['type'] !== q['type']) {
      throw invalid(`${where}: the value is not a typed value of type ${String(q['type'])}`)
    }
    value =
      tv['type'] === 'date' && typeof tv['value'] === 'number' ? new Date(tv['value']) : tv['value']
  }
  for (const key of keys) {
    if (!['attribute', 'type', 'compare', 'value', 'kind'].includes(key)) {
      throw invalid(`${where}: unknown key "${key}" (a clause has attribute, type, compare, value)`)
    }
  }
  if (!keys.includes('attribute')) throw invalid(`${where}: "attribute" is missing`)
  if (!keys.includes('value') || value === undefined) throw invalid(`${where}: "value" is missing`)
  return clauseNode(where, q['attribute'], q['type'], q['compare'], value)
}

function clauseWhere(walk: Walk, path: string): string {
  const index = ++walk.clauses
  if (index > MAX_SEARCH_CLAUSES) {
    throw invalid(`more than ${MAX_SEARCH_CLAUSES} clauses (MAX_SEARCH_CLAUSES)`, {
      limit: MAX_SEARCH_CLAUSES,
    })
  }
  return `clause ${index} (${path})`
}

function checkDepth(depth: number, path: string): void {
  if (depth > MAX_SEARCH_DEPTH) {
    throw invalid(`and/or nested deeper than ${MAX_SEARCH_DEPTH} (MAX_SEARCH_DEPTH) at ${path}`, {
      limit: MAX_SEARCH_DEPTH,
    })
  }
}

/** Checks and normalises one clause; `type` undefined means infer it from the value. */
function clauseNode(
  where: string,
  attribute: unknown,
  type: unknown,
  compare: unknown,
  value: unknown,
): SearchClauseNode {
  if (typeof attribute !== 'string' || !NAME.test(attribute)) {
    throw invalid(
      `${where}: the attribute name ${JSON.stringify(attribute)} is not alphanumeric ` +
        `(no "-" or "_" either)`,
    )
  }
  if (attribute.length > MAX_ATTRIBUTE_NAME_CHARS) {
    throw invalid(
      `${where}: the attribute name "${attribute.slice(0, 20)}..." is longer than ` +
        `${MAX_ATTRIBUTE_NAME_CHARS} characters`,
    )
  }
  // compare defaults to equal (windows-api.md section 1).
  const cmp = compare === undefined ? 'equal' : compare
  if (typeof cmp !== 'string' || !(SEARCH_COMPARES as readonly string[]).includes(cmp)) {
    throw invalid(
      `${where}: compare ${JSON.stringify(cmp)} is not one of ${SEARCH_COMPARES.join(', ')}`,
    )
  }
  let t: ValueType
  if (type === undefined) t = inferType(where, value)
  else if (typeof type === 'string' && isValueType(type)) t = type
  else throw invalid(`${where}: type ${JSON.stringify(type)} is not string, int or date`)
  const reserved = RESERVED.get(attribute.toLowerCase())
  const name = reserved ? attribute.toLowerCase() : attribute
  if (reserved && reserved.type !== t) {
    throw invalid(
      `${where}: "${name}" is a reserved ${reserved.type} attribute; it cannot be searched as ${t}`,
    )
  }
  const typed = typedValue(where, t, value)
  if (typed.type === 'string') {
    // Records store GUIDs lowercase without braces (schema.ts); a GUID searched for the record
    // id or type is normalised the same way. A pattern with wildcards is left as written.
    const v = typed.value
    const bare = v.startsWith('{') && v.endsWith('}') ? v.slice(1, -1) : v
    if (reserved?.guid && GUID.test(bare)) typed.value = bare.toLowerCase()
    decodeString(where, typed.value)
  }
  return { kind: 'clause', attribute: name, type: t, compare: cmp as SearchCompare, value: typed }
}

function inferType(where: string, value: unknown): ValueType {
  if (typeof value === 'string') return 'string'
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return 'int'
    throw invalid(`${where}: the value ${value} is not an integer (int is a 32-bit integer)`)
  }
  if (value instanceof Date) return 'date'
  throw invalid(`${where}: the value must be a string, an integer or a Date`)
}

function typedValue(where: string, type: ValueType, value: unknown): TypedValue {
  switch (type) {
    case 'string': {
      if (typeof value !== 'string') {
        throw invalid(`${where}: a string clause needs a string value, not ${kindOf(value)}`)
      }
      if (value.length > MAX_SEARCH_XML_BYTES || Buffer.byteLength(value) > MAX_SEARCH_XML_BYTES) {
        throw new PeerError(
          'PEER_E_TOO_LARGE',
          `search is not valid: ${where}: the value is larger than ${MAX_SEARCH_XML_BYTES} bytes`,
        )
      }
      if (NOT_XML_CHAR.test(value)) {
        throw invalid(`${where}: the value holds a control character XML cannot carry`)
      }
      return { type, value }
    }
    case 'int': {
      let n: number | undefined
      if (typeof value === 'string') n = parseInt32(value)
      else if (typeof value === 'number' && Number.isInteger(value)) n = value
      else if (typeof value !== 'number') {
        throw invalid(`${where}: an int clause needs an integer or its text, not ${kindOf(value)}`)
      }
      if (n === undefined || n < MIN_INT || n > MAX_INT) {
        throw invalid(`${where}: ${JSON.stringify(value)} is not an int (a 32-bit signed integer)`)
      }
      return { type, value: n }
    }
    case 'date': {
      let ms: number | undefined
      if (typeof value === 'string') ms = parseW3cDate(value)
      else if (value instanceof Date) ms = value.getTime()
      else
        throw invalid(`${where}: a date clause needs a Date or W3C date text, not ${kindOf(value)}`)
      if (ms === undefined || !Number.isFinite(ms)) {
        const shown = value instanceof Date ? 'Invalid Date' : JSON.stringify(value)
        throw invalid(`${where}: ${shown} is not a date (W3C NOTE-datetime)`)
      }
      return { type, value: ms }
    }
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Date) return 'a Date'
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

/**
 * A string value with its escapes decoded. `text` is the literal text (every `*` and `?` a
 * character); `glob` is the SQLite GLOB pattern, set only when there is an unescaped wildcard.
 * Windows: `\*`, `\?` and `\\` are the only escapes; any other backslash, or a lone one at the
 * end, is E_INVALIDARG.
 */
function decodeString(where: string, raw: string): { text: string; glob: string | undefined } {
  let text = ''
  let glob = ''
  let wildcard = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string
    if (c === '\\') {
      const next = raw[i + 1]
      if (next !== '*' && next !== '?' && next !== '\\') {
        const seq = next === undefined ? 'a trailing "\\"' : `"\\${next}"`
        throw new PeerError(
          'E_INVALIDARG',
          `search is not valid: ${where}: ${seq} is not an escape (only \\*, \\? and \\\\ are)`,
        )
      }
      text += next
      glob += globLiteral(next)
      i++
    } else if (c === '*' || c === '?') {
      wildcard = true
      text += c
      glob += c
    } else {
      text += c
      glob += globLiteral(c)
    }
  }
  return { text, glob: wildcard ? glob : undefined }
}

/** GLOB's special characters as literals: `[*]`, `[?]`, `[[]` (`]` alone is literal). */
function globLiteral(c: string): string {
  return c === '*' || c === '?' || c === '[' ? `[${c}]` : c
}

/**
 * Compiles a query to an SQL boolean expression over `records r`, with its parameters. The
 * store runs it as `... FROM records r WHERE (r.flags & 2) = 0 AND r.deferred = 0 AND (<sql>)`.
 */
export function compileSearch(query: SearchQuery | SearchNode | string): CompiledSearch {
  // Always checked again, so a hand-built SearchNode cannot slip anything past the rules.
  const node = normalizeSearch(query)
  const params: (string | number)[] = []
  const sql = compileNode(node, params)
  return { sql, params }
}

function compileNode(node: SearchNode, params: (string | number)[]): string {
  if (node.kind !== 'clause') {
    const parts = node.children.map((child) => compileNode(child, params))
    return parts.length === 1
      ? (parts[0] as string)
      : `(${parts.join(` ${node.kind.toUpperCase()} `)})`
  }
  let op = SQL_OPERATORS[node.compare]
  let operand: string | number = node.value.value
  if (node.value.type === 'string') {
    const { text, glob } = decodeString(`clause ${node.attribute}`, node.value.value)
    operand = text
    // Wildcards apply to equal and notequal only. For less, greater, lessorequal and
    // greaterorequal the escapes are decoded but `*` and `?` are literal characters: an
    // ordering against a pattern has no meaning.
    if (glob !== undefined && (node.compare === 'equal' || node.compare === 'notequal')) {
      op = node.compare === 'equal' ? 'GLOB' : 'NOT GLOB'
      operand = glob
    }
  }
  const reserved = RESERVED.get(node.attribute)
  if (reserved) {
    params.push(operand)
    return `r.${reserved.column} ${op} ?`
  }
  // Only a record that has the attribute, with this type, can match (even for notequal).
  params.push(node.attribute, node.type, operand)
  return (
    'EXISTS (SELECT 1 FROM record_attributes a WHERE a.record = r.seq' +
    ` AND a.name = ? AND a.type = ? AND a.value ${op} ?)`
  )
}
