/**
 * Runs this node's presence for one graph (MS-PPGRH 2.4, presence.ts's rules): publishes,
 * republishes (new addresses or attributes) and withdraws its presence record as the policy
 * asks, balances towards presenceMax after a random 30-180 s, and reads the nodes that publish.
 * The graph gives it what it needs through PresenceHost.
 */
import type { Timer } from '../core/clock.ts'
import { createLogger } from '../core/log.ts'
import {
  PRESENCE_BALANCE_MAX_MS,
  PRESENCE_BALANCE_MIN_MS,
  PRESENCE_RECORD_TYPE,
  RECORD_FLAG_DELETED,
} from './constants.ts'
import { nodeFromPresence, presenceDecision, presenceRecord, type NodeInfo } from './presence.ts'
import { fixedRecordId, type GraphRecord } from './records.ts'

import type { KeeperHost } from './keeper-host.ts'

const log = createLogger('graph')

/** The graph as the presence keeper sees it. */
export interface PresenceHost extends KeeperHost {
  listening(): boolean
  addresses(): { address: string; port: number }[]
}

export class PresenceKeeper {
  private readonly g: PresenceHost
  private timer: Timer | undefined
  /** SetPresence(TRUE): publish whatever presenceMax says. */
  forced = false
  /** SetNodeAttributes text. */
  attributes: string | undefined

  constructor(host: PresenceHost) {
    this.g = host
  }

  /** Nodes whose presence this database holds. */
  nodes(): NodeInfo[] {
    const out: NodeInfo[] = []
    for (const r of this.g.store.list({ type: PRESENCE_RECORD_TYPE, includeInternal: true })) {
      const node = nodeFromPresence(r)
      if (node) out.push(node)
    }
    return out
  }

  /** Publishes again with the current addresses and attributes, if published. */
  async refresh(): Promise<void> {
    const own = this.own()
    if (own) await this.publish(own)
  }

  /** Publishes or withdraws this node's presence as the policy asks (presence.ts). */
  async applyPolicy(): Promise<void> {
    const props = this.g.props()
    if (this.g.closing() || !props || !this.g.synchronized()) return
    const own = this.own()
    const decision = presenceDecision({
      forced: this.forced,
      presenceMax: props.presenceMax,
      listening: this.g.listening(),
      mine: own !== undefined,
      published: this.nodes().length,
    })
    if (decision === 'publish') await this.publish(own)
    if (decision === 'withdraw' && own) await this.withdraw(own)
    this.scheduleBalance()
  }

  stop(): void {
    this.timer?.cancel()
    this.timer = undefined
  }

  private own(): GraphRecord | undefined {
    return this.g.store.get(fixedRecordId(this.g.peerId, this.g.nodeId))
  }

  private async publish(base: GraphRecord | undefined): Promise<void> {
    const node = {
      nodeId: this.g.nodeId,
      peerId: this.g.peerId,
      addresses: this.g.addresses(),
      attributes: this.attributes,
    }
    const lifetimeMs = this.g.props()!.presenceLifetime * 1000
    await this.g.applyLocal(
      presenceRecord(node, lifetimeMs, this.g.now(), base),
      base ? 'updated' : 'added',
    )
  }

  private async withdraw(own: GraphRecord): Promise<void> {
    await this.g.applyLocal(
      {
        ...own,
        version: own.version + 1,
        flags: own.flags | RECORD_FLAG_DELETED,
        modifiedAt: Math.max(this.g.now(), own.modifiedAt),
      },
      'deleted',
    )
  }

  /** MS-PPGRH 2.4: with presenceMax N, look again after a random 30-180 s. */
  private scheduleBalance(): void {
    this.stop()
    const props = this.g.props()
    if (this.g.closing() || !props || props.presenceMax <= 0) return
    const span = PRESENCE_BALANCE_MAX_MS - PRESENCE_BALANCE_MIN_MS
    this.timer = this.g.clock.setTimeout(
      () => {
        this.timer = undefined
        this.g
          .serial(() => this.applyPolicy())
          .catch((err: unknown) => {
            if (!this.g.closing()) {
              log.warn('presence balance failed', { error: (err as Error).message })
            }
          })
      },
      PRESENCE_BALANCE_MIN_MS + this.g.random.int(span),
    )
  }
}
