/**
 * The graph security provider (windows-api.md section 1, PEER_SECURITY_INTERFACE): how
 * Grouping, or an application, signs and checks records. Graphing calls `secureRecord` on each
 * local add, update and delete, and `validateRecord` on every record, local or received.
 * Callbacks must not call back into the graph and should return quickly.
 */
import type { Channel } from '../transport/mux.ts'
import type { GraphRecord } from './records.ts'

export type RecordChange = 'added' | 'updated' | 'deleted'

/** ValidateRecord's answer: keep it, drop it (PEER_E_INVALID_RECORD), or park it (deferred). */
export type Validation = 'accept' | 'reject' | 'defer'

/** The other side of a connection, as the Noise handshake proved it. */
export interface RemoteCredentials {
  /** Its peer id (the peer name its identity key signs for). */
  peerId: string
  /** Its raw Ed25519 identity key. */
  publicKey: Uint8Array
  /** What its provider put in the handshake (connectionPayload); empty when nothing. */
  payload: Uint8Array
}

/**
 * authenticateConnection's answer: true admits the peer, false refuses it, 'restricted' admits
 * it to the provider's own channels only (Grouping: a password joiner, not yet a member).
 */
export type ConnectionVerdict = boolean | 'restricted'

/** Serves one of the provider's own channels, opened by the other side of a connection. */
export type ProviderChannelHandler = (
  channel: Channel,
  remote: RemoteCredentials,
  handshakeHash: Uint8Array,
) => void

export interface GraphSecurityProvider {
  /** Names the provider; a graph opens only with the provider it was created with. */
  readonly name: string
  /** Returns the record's security data (a signature, say); throw PEER_E_NOT_AUTHORIZED to refuse. */
  secureRecord(record: GraphRecord, change: RecordChange): Uint8Array | Promise<Uint8Array>
  validateRecord(record: GraphRecord, change: RecordChange): Validation | Promise<Validation>
  /**
   * What this node puts in its side of every handshake of the graph (Grouping: its
   * membership chain). Windows' SSP handshake, carried inside Noise here.
   */
  connectionPayload?(): Uint8Array
  /**
   * Decides whether the other side may connect (both directions, before CONNECT): false or a
   * throw refuses it, and the connect fails with PEER_E_CONNECTION_NOT_AUTHENTICATED.
   */
  authenticateConnection?(remote: RemoteCredentials): ConnectionVerdict | Promise<ConnectionVerdict>
  /**
   * Channels the provider serves itself, by name (never a graph channel's name). They are the
   * only channels a 'restricted' peer may open.
   */
  readonly providerChannels?: Readonly<Record<string, ProviderChannelHandler>>
  /** Told when authentication refused a connection (Windows' pfnAuthFailed). */
  authenticationFailed?(remote: RemoteCredentials, reason: string): void
}
