/**
 * The graph security provider (windows-api.md section 1, PEER_SECURITY_INTERFACE): how
 * Grouping, or an application, signs and checks records. Graphing calls `secureRecord` on each
 * local add, update and delete, and `validateRecord` on every record, local or received.
 * Callbacks must not call back into the graph and should return quickly.
 */
import type { GraphRecord } from './records.ts'

export type RecordChange = 'added' | 'updated' | 'deleted'

/** ValidateRecord's answer: keep it, drop it (PEER_E_INVALID_RECORD), or park it (deferred). */
export type Validation = 'accept' | 'reject' | 'defer'

export interface GraphSecurityProvider {
  /** Names the provider; a graph opens only with the provider it was created with. */
  readonly name: string
  /** Returns the record's security data (a signature, say); throw PEER_E_NOT_AUTHORIZED to refuse. */
  secureRecord(record: GraphRecord, change: RecordChange): Uint8Array | Promise<Uint8Array>
  validateRecord(record: GraphRecord, change: RecordChange): Validation | Promise<Validation>
}
