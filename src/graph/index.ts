/** Peer Graphing: replicated records with a consistent view on every node (DESIGN.md 5.3). */
export * from './constants.ts'
export { GraphManager, type GraphCreateOptions, type GraphOpenOptions } from './graphs.ts'
export {
  PeerGraph,
  type RecordInput,
  type RecordUpdate,
  type RecordFilter,
  type GraphEventOptions,
  type GraphTuning,
  type ListenOptions,
  type GraphConnectOptions,
  type GraphConnectionInfo,
  type LocalNodeInfo,
} from './graph.ts'
export { GRAPH_EVENT_TYPES } from './events.ts'
export type { GraphEvents, GraphEventType, RecordChangeType, ConnectionEvent } from './events.ts'
export type { PeerRecord } from './peer-record.ts'
export type {
  GraphProperties,
  GraphCreateProperties,
  MutableGraphProperties,
  GraphScope,
} from './properties.ts'
export type {
  GraphSecurityProvider,
  RecordChange,
  Validation,
  RemoteCredentials,
} from './security.ts'
export type { GraphStatus } from './status.ts'
export { statusFlags } from './status.ts'
export {
  parseAttributesXml,
  formatAttributesXml,
  RESERVED_ATTRIBUTES,
  type RecordAttributes,
} from './attributes.ts'
export {
  parseSearchXml,
  normalizeSearch,
  compileSearch,
  type SearchQuery,
  type SearchClause,
  type SearchCompare,
} from './search.ts'
