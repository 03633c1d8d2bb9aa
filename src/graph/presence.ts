/**
 * Presence (MS-PPGRH 2.3-2.4, windows-api.md "Nodes, presence, connections"): a node makes
 * itself known to the graph with a presence record (internal type 00000400-...), one per node
 * id, carrying its node id, listening addresses and free-text attributes. It lives
 * presenceLifetime seconds and is kept alive by AUTOREFRESH while the node is up.
 *
 * Policy: a listening node publishes when presence is forced (setPresence(true)) or when
 * presenceMax is -1 (everyone). With presenceMax N > 0, nodes balance towards N: each one
 * looks again after a random 30-180 s and publishes when fewer than N are published, and
 * withdraws its own when more than N + 10 are. presenceMax 0 publishes nothing automatically.
 */
import { toHex } from '../core/bytes.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import {
  MAX_NODE_ADDRESSES,
  MAX_NODE_ATTRIBUTES_CHARS,
  NODE_ID_BYTES,
  PRESENCE_OVERSHOOT,
  PRESENCE_RECORD_TYPE,
  RECORD_FLAG_AUTOREFRESH,
} from './constants.ts'
import { addressSchema } from './messages.ts'
import { fixedRecordId, internalRecord, type GraphRecord } from './records.ts'

/** Windows' PEER_NODE_INFO. */
export interface NodeInfo {
  nodeId: string
  peerId: string
  addresses: { address: string; port: number }[]
  /** Free text set with setNodeAttributes; undefined when none. */
  attributes: string | undefined
}

const presenceSchema = s.struct({
  n: s.bytes({ length: NODE_ID_BYTES, max: NODE_ID_BYTES }),
  a: s.array(addressSchema, {
    max: MAX_NODE_ADDRESSES,
  }),
  t: s.optional(s.text({ maxBytes: MAX_NODE_ATTRIBUTES_CHARS * 4 })),
})

export function isPresence(r: Pick<GraphRecord, 'type'>): boolean {
  return r.type === PRESENCE_RECORD_TYPE
}

/** A node's presence record (a new one, or the next version of `base`). */
export function presenceRecord(
  node: NodeInfo,
  lifetimeMs: number,
  now: number,
  base: GraphRecord | undefined,
): GraphRecord {
  const data = encodeCbor({
    n: Buffer.from(node.nodeId, 'hex'),
    a: node.addresses.slice(0, MAX_NODE_ADDRESSES).map((a) => [a.address, a.port]),
    ...(node.attributes !== undefined ? { t: node.attributes } : {}),
  })
  return internalRecord({
    type: PRESENCE_RECORD_TYPE,
    // MS-PPGRH 2.3: one presence record per node: its id comes from the peer and the node id.
    id: fixedRecordId(node.peerId, node.nodeId),
    creator: node.peerId,
    modifiedBy: node.peerId,
    flags: RECORD_FLAG_AUTOREFRESH,
    now,
    lifetimeMs,
    base,
    data,
  })
}

/** The node a presence record describes; undefined when its data is malformed. */
export function nodeFromPresence(r: GraphRecord): NodeInfo | undefined {
  try {
    const w = decodeMessage(r.data, presenceSchema, { what: 'presence record', maxBytes: 32_768 })
    const nodeId = toHex(w.n)
    if (r.id !== fixedRecordId(r.creator, nodeId)) return undefined
    return {
      nodeId,
      peerId: r.creator,
      addresses: w.a.map(([address, port]) => ({ address, port })),
      attributes: w.t,
    }
  } catch {
    return undefined
  }
}

/**
 * What the policy asks of this node now: 'publish', 'withdraw' or 'keep' (its state stays).
 * `published`: presence records in the graph now, this node's included when it has one.
 */
export function presenceDecision(options: {
  forced: boolean
  presenceMax: number
  listening: boolean
  mine: boolean
  published: number
}): 'publish' | 'withdraw' | 'keep' {
  const { forced, presenceMax, listening, mine, published } = options
  if (forced) return mine ? 'keep' : 'publish'
  if (!listening) return 'keep'
  if (presenceMax === -1) return mine ? 'keep' : 'publish'
  if (presenceMax === 0) return 'keep'
  if (!mine && published < presenceMax) return 'publish'
  if (mine && published > presenceMax + PRESENCE_OVERSHOOT) return 'withdraw'
  return 'keep'
}
