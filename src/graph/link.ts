/**
 * A link: one graph channel to one peer, a neighbour or a direct connection (MS-PPGRH 2.1).
 * Both kinds ride on the one secure connection the transport keeps per peer and graph, as
 * channels named `graph/neighbor` and `graph/direct`. A link decodes and checks every message
 * before its owner sees it; a malformed message is dropped and counted, and too many of them
 * end the link. Messages are handled one at a time, so a slow receiver slows its sender
 * (channel backpressure) instead of buffering without bound.
 */
import { PeerError } from '../core/errors.ts'
import { createLogger } from '../core/log.ts'
import type { Channel } from '../transport/mux.ts'
import type { PeerConnection } from '../transport/connections.ts'
import {
  MAX_BAD_MESSAGES_PER_LINK,
  MAX_UNACKED_FLOODS_PER_LINK,
  UTILITY_DECAY,
  UTILITY_USEFUL,
} from './constants.ts'
import { decodeGraphMessage, encodeGraphMessage, type GraphMessage } from './messages.ts'

const log = createLogger('graph')

export type LinkKind = 'neighbor' | 'direct'

export const CHANNEL_NAMES: Record<LinkKind, string> = {
  neighbor: 'graph/neighbor',
  direct: 'graph/direct',
}

export interface LinkHandlers {
  message(link: Link, message: GraphMessage): void | Promise<void>
  /** A message that did not decode was dropped. */
  malformed(link: Link): void
  closed(link: Link, error: PeerError | undefined): void
}

export class Link {
  readonly kind: LinkKind
  readonly connectionId: string
  readonly connection: PeerConnection
  readonly channel: Channel
  /** The remote's node id (hex), known after CONNECT/WELCOME. */
  nodeId = ''
  /** Addresses the remote listens on, from its CONNECT. */
  addresses: { address: string; port: number }[] = []
  /** MS-PPGRH 2.4 link utility: decays by 31/32 per record, +128 when the record was new. */
  utility = 0
  /** Dropped malformed messages. */
  bad = 0
  /** CONNECT/WELCOME done. */
  established = false
  /** Chunked records being sent, by digest (hex). */
  readonly chunksOut = new Set<string>()
  /** Digests (hex) of records flooded here and not yet ACKed: only their ACKs earn utility. */
  readonly unacked = new Set<string>()
  /** The peer has asked for a sync / started a reconciliation here (each once per link). */
  peerSolicited = false
  peerReconciled = false
  /** The last chunked record queued: the next one starts after it. */
  private chunkTurn: Promise<void> = Promise.resolve()
  /** Chunked records being received, by digest (hex). */
  readonly chunks = new Map<string, { parts: Uint8Array[]; bytes: number; count: number }>()
  private handlers: LinkHandlers | undefined
  private closed_ = false

  /** True on the side that opened the channel (and sent CONNECT). */
  readonly opener: boolean

  constructor(
    kind: LinkKind,
    connectionId: string,
    connection: PeerConnection,
    channel: Channel,
    opener: boolean,
  ) {
    this.kind = kind
    this.opener = opener
    this.connectionId = connectionId
    this.connection = connection
    this.channel = channel
    channel.on('close', (error) => this.finish(error))
  }

  get peerId(): string {
    return this.connection.remote.peerName
  }

  get closed(): boolean {
    return this.closed_
  }

  /** Starts reading; each message reaches `handlers.message` in order, one at a time. */
  start(handlers: LinkHandlers): void {
    this.handlers = handlers
    void this.read()
  }

  private async read(): Promise<void> {
    for await (const bytes of this.channel.messages()) {
      if (this.closed_) break
      let message: GraphMessage
      try {
        message = decodeGraphMessage(bytes)
      } catch (err) {
        this.bad++
        this.handlers!.malformed(this)
        log.debug('dropped a malformed graph message', {
          peer: this.peerId,
          error: (err as Error).message,
        })
        if (this.bad > MAX_BAD_MESSAGES_PER_LINK) {
          this.close(new PeerError('PEER_E_MALFORMED_MESSAGE', 'too many malformed messages'))
        }
        continue
      }
      try {
        await this.handlers!.message(this, message)
      } catch (err) {
        log.warn('a graph message handler failed', {
          peer: this.peerId,
          type: message.type,
          error: (err as Error).message,
        })
      }
    }
  }

  /** Sends a message; resolves when the channel took it (backpressure), rejects when closed. */
  send(message: GraphMessage): Promise<void> {
    if (this.closed_) {
      return Promise.reject(
        new PeerError('PEER_E_CONNECTION_NOT_FOUND', `link ${this.connectionId} is closed`),
      )
    }
    let bytes: Uint8Array
    try {
      bytes = encodeGraphMessage(message)
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
    return this.channel.send(bytes)
  }

  /** Sends and forgets: a failure (the link closing) is logged, not thrown. */
  post(message: GraphMessage): void {
    this.send(message).catch((err: unknown) => {
      if (!this.closed_) {
        log.debug('graph send failed', { peer: this.peerId, error: (err as Error).message })
      }
    })
  }

  /** MS-PPGRH 2.4: LU <- (31/32) LU, plus 128 when the record was useful. */
  recordUtility(useful: boolean): void {
    this.utility = this.utility * UTILITY_DECAY + (useful ? UTILITY_USEFUL : 0)
  }

  /** A record flooded here, whose ACK may then count (the oldest is forgotten beyond the cap). */
  flooded(digest: string): void {
    this.unacked.add(digest)
    if (this.unacked.size > MAX_UNACKED_FLOODS_PER_LINK) {
      this.unacked.delete(this.unacked.values().next().value as string)
    }
  }

  /** An ACK: it counts once, for a record flooded here. */
  acked(digest: string, useful: boolean): void {
    if (this.unacked.delete(digest)) this.recordUtility(useful)
  }

  /**
   * Runs `send` (a chunked record's pieces) once the chunked records queued before it are sent:
   * a receiver takes only MAX_CHUNKED_RECORDS_PER_LINK at once, in order.
   */
  inTurn(send: () => Promise<void>): Promise<void> {
    const turn = this.chunkTurn.then(send)
    this.chunkTurn = turn.catch(() => undefined)
    return turn
  }

  close(error?: PeerError): void {
    if (this.closed_) return
    this.channel.close(error?.message ?? '')
    this.finish(error)
  }

  private finish(error: PeerError | undefined): void {
    if (this.closed_) return
    this.closed_ = true
    this.handlers?.closed(this, error)
  }
}
