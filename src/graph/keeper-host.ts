/** What the presence and partition keepers (presence-keeper.ts, partition-keeper.ts) share of the graph. */
import type { Clock } from '../core/clock.ts'
import type { Random } from '../core/random.ts'
import type { GraphProperties } from './properties.ts'
import type { GraphRecord } from './records.ts'
import type { RecordChange } from './security.ts'
import type { RecordStore } from './store.ts'

export interface KeeperHost {
  readonly clock: Clock
  readonly random: Random
  readonly peerId: string
  readonly nodeId: string
  readonly store: RecordStore
  props(): GraphProperties | undefined
  closing(): boolean
  synchronized(): boolean
  now(): number
  /** Secures, validates, stores and floods a record made here (graph.ts applyLocal). */
  applyLocal(record: GraphRecord, change: RecordChange): Promise<void>
  /** Runs `fn` after the graph's other writes (graph.ts serial). */
  serial<T>(fn: () => T | Promise<T>): Promise<T>
}
