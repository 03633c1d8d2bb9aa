/**
 * Partition detection and repair (MS-PPGRH 2.4): the signature record names the lowest node
 * id of the graph; a few nodes, the contacts, publish contact records with the signature
 * they see and their addresses. When the graph splits, each part soon elects its own
 * signature, while the contact records from the other part (stored before the split) still
 * carry the old one: a contact whose signature differs from the current one is a node of
 * another part, and a node that sees one connects to it, which rejoins the parts once the
 * network lets it.
 *
 * This module holds the records' shapes and the rules as pure functions; graph.ts runs them.
 */
import { toHex } from '../core/bytes.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import {
  CONTACT_RECORD_TYPE,
  CONTACT_SPREAD,
  MAX_CONTACTS,
  MAX_NODE_ADDRESSES,
  MIN_CONTACTS,
  NODE_ID_BYTES,
  SIGNATURE_BACKOFF_MAX_MS,
  SIGNATURE_RECORD_TYPE,
} from './constants.ts'
import { addressSchema } from './messages.ts'
import { fixedRecordId, internalRecord, type GraphRecord } from './records.ts'

/** MS-PPGRH 2.3: the signature record's fixed id (its low half here). */
const SIGNATURE_ID_LOW = '4c515c9400000000'

const nodeId = s.bytes({ length: NODE_ID_BYTES, max: NODE_ID_BYTES })
const signatureSchema = s.struct({ n: nodeId })
const contactSchema = s.struct({
  s: nodeId,
  n: nodeId,
  a: s.array(addressSchema, {
    min: 1,
    max: MAX_NODE_ADDRESSES,
  }),
})

export interface Contact {
  peerId: string
  nodeId: string
  /** The signature the contact saw when it last published. */
  signature: string
  addresses: { address: string; port: number }[]
}

export function signatureRecordId(graphCreator: string): string {
  return fixedRecordId(graphCreator, SIGNATURE_ID_LOW)
}

/** A contact record's id: one per node, apart from its presence record's. */
export function contactRecordId(peerId: string, node: string): string {
  const low = Buffer.from(node, 'hex').map((b) => b ^ 0x5a)
  return fixedRecordId(peerId, toHex(low))
}

/** Node ids compare as unsigned 64-bit numbers (16 hex digits compare as text). */
export function lowerNodeId(a: string, b: string): boolean {
  return a < b
}

/** The signature record saying the graph's lowest node id is `node`. */
export function signatureRecord(options: {
  graphCreator: string
  publisher: string
  node: string
  now: number
  lifetimeMs: number
  base: GraphRecord | undefined
}): GraphRecord {
  const { graphCreator, publisher, node, now, lifetimeMs, base } = options
  // The id is the graph creator's; any node may publish (modify) it.
  return internalRecord({
    type: SIGNATURE_RECORD_TYPE,
    id: signatureRecordId(graphCreator),
    creator: graphCreator,
    modifiedBy: publisher,
    now,
    lifetimeMs,
    base,
    data: encodeCbor({ n: Buffer.from(node, 'hex') }),
  })
}

/** The node id a signature record names; undefined when malformed. */
export function signatureOf(r: GraphRecord): string | undefined {
  try {
    return toHex(decodeMessage(r.data, signatureSchema, { what: 'signature', maxBytes: 64 }).n)
  } catch {
    return undefined
  }
}

export function contactRecord(options: {
  contact: Contact
  now: number
  lifetimeMs: number
  base: GraphRecord | undefined
}): GraphRecord {
  const { contact, now, lifetimeMs, base } = options
  return internalRecord({
    type: CONTACT_RECORD_TYPE,
    id: contactRecordId(contact.peerId, contact.nodeId),
    creator: contact.peerId,
    modifiedBy: contact.peerId,
    now,
    lifetimeMs,
    base,
    data: encodeCbor({
      s: Buffer.from(contact.signature, 'hex'),
      n: Buffer.from(contact.nodeId, 'hex'),
      a: contact.addresses.slice(0, MAX_NODE_ADDRESSES).map((a) => [a.address, a.port]),
    }),
  })
}

export function contactOf(r: GraphRecord): Contact | undefined {
  try {
    const w = decodeMessage(r.data, contactSchema, { what: 'contact', maxBytes: 4096 })
    const node = toHex(w.n)
    if (r.id !== contactRecordId(r.creator, node)) return undefined
    return {
      peerId: r.creator,
      nodeId: node,
      signature: toHex(w.s),
      addresses: w.a.map(([address, port]) => ({ address, port })),
    }
  } catch {
    return undefined
  }
}

/**
 * MS-PPGRH 2.4: Cmin = 5 when the signature S >= 2^60, else 60 - log2 S (about log2 N - 4 for
 * N nodes), bounded here by MAX_CONTACTS; Cmax = Cmin + 5.
 */
export function contactBounds(signature: string): { min: number; max: number } {
  const value = BigInt(`0x${signature}`)
  let min = MIN_CONTACTS
  if (value < 1n << 60n) {
    const log2 = value === 0n ? 0 : value.toString(2).length - 1
    min = Math.min(MAX_CONTACTS, Math.max(MIN_CONTACTS, 60 - log2))
  }
  return { min, max: min + CONTACT_SPREAD }
}

/**
 * How long a node waits before it publishes a missing signature: 0.1 s plus up to 29.9 s by
 * the top 8 bits of its node id, so that low ids go first. (MS-PPGRH prints d = 1 - e^(-N/65536)
 * for those 8 bits, which spreads almost nothing; we read it as N / 256.)
 */
export function signatureBackoffMs(node: string): number {
  const top = parseInt(node.slice(0, 2), 16)
  return 100 + Math.round((top / 256) * SIGNATURE_BACKOFF_MAX_MS)
}
