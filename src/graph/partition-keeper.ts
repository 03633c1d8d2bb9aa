/**
 * Runs partition detection and repair for one graph (MS-PPGRH 2.4 maintenance steps 1-3) with
 * the rules of partition.ts: every PARTITION_PASS_MS it keeps the signature published, keeps
 * the number of contacts between Cmin and Cmax, and connects to contacts of another part.
 * The graph gives it what it needs through PartitionHost.
 */
import type { Timer } from '../core/clock.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import {
  AUTOREFRESH_LEAD_MS,
  CONTACT_DELAY_MAX_MS,
  CONTACT_DELAY_MIN_MS,
  CONTACT_LIFETIME_MS,
  CONTACT_RECORD_TYPE,
  MAX_REPAIRS_PER_PASS,
  PARTITION_PASS_MS,
  PARTITION_RECHECK_MAX_MS,
  PARTITION_RECHECK_MIN_MS,
  RECORD_FLAG_DELETED,
  SIGNATURE_LIFETIME_MS,
} from './constants.ts'
import type { GraphNetwork } from './network.ts'
import {
  contactBounds,
  contactOf,
  contactRecord,
  contactRecordId,
  lowerNodeId,
  signatureBackoffMs,
  signatureOf,
  signatureRecord,
  signatureRecordId,
  type Contact,
} from './partition.ts'
import { isDeleted } from './records.ts'

import type { KeeperHost } from './keeper-host.ts'

const log = createLogger('graph')

/** The graph as the partition keeper sees it. */
export interface PartitionHost extends KeeperHost {
  network(): GraphNetwork | undefined
  neighbourPeerIds(): string[]
}

export class PartitionKeeper {
  private readonly g: PartitionHost
  private partitionTimer: Timer | undefined
  private signatureTimer: Timer | undefined
  /** Since when no signature record is in force (MS-PPGRH 2.4 back-off). */
  private signatureMissingSince: number | undefined
  /** When this node promotes or demotes itself as a contact. */
  private contactChangeAt: number | undefined
  /** Contacts of another part, by node id: when to check them again. */
  private readonly partitionSuspects = new Map<string, number>()

  constructor(host: PartitionHost) {
    this.g = host
  }

  stop(): void {
    this.partitionTimer?.cancel()
    this.partitionTimer = undefined
    this.signatureTimer?.cancel()
    this.signatureTimer = undefined
  }

  /** Starts the passes (once the graph is online); idempotent. */
  start(): void {
    if (this.partitionTimer || this.g.closing()) return
    this.partitionTimer = this.g.clock.setTimeout(() => {
      this.partitionTimer = undefined
      this.g
        .serial(() => this.pass())
        .catch((err: unknown) => {
          if (!this.g.closing())
            log.warn('partition pass failed', { error: (err as Error).message })
        })
        .finally(() => this.start())
    }, PARTITION_PASS_MS)
  }

  /**
   * MS-PPGRH 2.4 maintenance steps 1-3: keep the signature (the lowest node id) published,
   * keep the number of contacts between Cmin and Cmax, and connect to a contact that saw
   * another signature: it is in another part of a split graph.
   */
  async pass(): Promise<void> {
    const network = this.g.network()
    if (this.g.closing() || !this.g.props() || !this.g.synchronized() || !network) return
    const now = this.g.now()
    const signature = await this.keepSignature(now)
    if (signature === undefined) return
    const contacts: Contact[] = []
    for (const r of this.g.store.list({ type: CONTACT_RECORD_TYPE, includeInternal: true })) {
      const c = r.expiresAt > now ? contactOf(r) : undefined
      if (c) contacts.push(c)
    }
    await this.keepContacts(now, signature, contacts)
    const neighbours = new Set(this.g.neighbourPeerIds())
    // Contact records are written by the graph's nodes, and as many as they like: a pass looks
    // at Cmax of them, picked at random, and repairs at most MAX_REPAIRS_PER_PASS.
    const considered = sample(contacts, contactBounds(signature).max, this.g.random)
    // Suspects whose contact record is gone are forgotten.
    const live = new Set(contacts.map((c) => c.nodeId))
    for (const nodeId of this.partitionSuspects.keys()) {
      if (!live.has(nodeId)) this.partitionSuspects.delete(nodeId)
    }
    let repairs = 0
    for (const c of considered) {
      if (c.signature === signature || c.peerId === this.g.peerId || neighbours.has(c.peerId)) {
        this.partitionSuspects.delete(c.nodeId)
        continue
      }
      // MS-PPGRH 2.4: a suspected partition is checked again after a random 5-30 s.
      const checkAt = this.partitionSuspects.get(c.nodeId)
      if (checkAt === undefined) {
        const span = PARTITION_RECHECK_MAX_MS - PARTITION_RECHECK_MIN_MS
        this.partitionSuspects.set(
          c.nodeId,
          now + PARTITION_RECHECK_MIN_MS + this.g.random.int(span),
        )
        continue
      }
      if (now < checkAt || repairs >= MAX_REPAIRS_PER_PASS) continue
      this.partitionSuspects.delete(c.nodeId)
      repairs++
      network.repairPartition({ peerId: c.peerId, ...c.addresses[0]! })
    }
  }

  /** Signature step: returns the signature in force after it (undefined while waiting). */
  private async keepSignature(now: number): Promise<string | undefined> {
    const id = signatureRecordId(this.g.props()!.creatorId)
    const stored = this.g.store.get(id)
    const live = stored && stored.expiresAt > now ? stored : undefined
    const current = live && signatureOf(live)
    const publish = async (): Promise<string> => {
      const base = this.g.store.getEntry(id)?.record
      await this.g.applyLocal(
        signatureRecord({
          graphCreator: this.g.props()!.creatorId,
          publisher: this.g.peerId,
          node: this.g.nodeId,
          now,
          lifetimeMs: SIGNATURE_LIFETIME_MS,
          base,
        }),
        base ? 'updated' : 'added',
      )
      return this.g.nodeId
    }
    if (current === undefined) {
      this.signatureMissingSince ??= now
      const wait = this.signatureMissingSince + signatureBackoffMs(this.g.nodeId) - now
      if (wait > 0) {
        // Come back when this node's back-off ends, not only at the next pass.
        this.signatureTimer ??= this.g.clock.setTimeout(() => {
          this.signatureTimer = undefined
          this.g.serial(() => this.pass()).catch(() => undefined)
        }, wait)
        return undefined
      }
      this.signatureMissingSince = undefined
      return publish()
    }
    this.signatureMissingSince = undefined
    // A lower id takes the signature over; its holder refreshes it before it expires.
    if (lowerNodeId(this.g.nodeId, current)) return publish()
    const lead = PARTITION_PASS_MS + AUTOREFRESH_LEAD_MS
    if (current === this.g.nodeId && live!.expiresAt - now < lead) return publish()
    return current
  }

  /** Contacts step: promote or demote this node after a random 10-180 s; keep its record fresh. */
  private async keepContacts(now: number, signature: string, contacts: Contact[]): Promise<void> {
    const address = this.g.network()?.address
    const id = contactRecordId(this.g.peerId, this.g.nodeId)
    const mine = contacts.find((c) => c.nodeId === this.g.nodeId)
    const ours = contacts.filter((c) => c.signature === signature).length
    const { min, max } = contactBounds(signature)
    const wanted = mine ? ours <= max : address !== undefined && ours < min
    if (wanted !== (mine !== undefined)) {
      if (this.contactChangeAt === undefined) {
        const span = CONTACT_DELAY_MAX_MS - CONTACT_DELAY_MIN_MS
        this.contactChangeAt = now + CONTACT_DELAY_MIN_MS + this.g.random.int(span)
        return
      }
      if (now < this.contactChangeAt) return
    }
    this.contactChangeAt = undefined
    const base = this.g.store.getEntry(id)?.record
    if (!wanted) {
      if (base && !isDeleted(base)) {
        await this.g.applyLocal(
          {
            ...base,
            version: base.version + 1,
            flags: base.flags | RECORD_FLAG_DELETED,
            modifiedAt: Math.max(now, base.modifiedAt),
          },
          'deleted',
        )
      }
      return
    }
    const stale =
      !mine ||
      mine.signature !== signature ||
      // Refreshed at half its life: a part that splits off keeps this contact record for at least
      // half its lifetime, longer than the signature it names lives without its holder.
      (base !== undefined && base.expiresAt - now < CONTACT_LIFETIME_MS / 2)
    if (!stale || !address) return
    const contact = {
      peerId: this.g.peerId,
      nodeId: this.g.nodeId,
      signature,
      addresses: [address],
    }
    await this.g.applyLocal(
      contactRecord({
        contact,
        now,
        lifetimeMs: CONTACT_LIFETIME_MS,
        base,
      }),
      base ? 'updated' : 'added',
    )
  }
}

/** At most `count` of `items`, chosen at random (all of them when there are no more). */
function sample<T>(items: T[], count: number, random: Random): T[] {
  if (items.length <= count) return items
  const pool = [...items]
  for (let i = 0; i < count; i++) {
    const j = i + random.int(pool.length - i)
    ;[pool[i], pool[j]] = [pool[j] as T, pool[i] as T]
  }
  return pool.slice(0, count)
}
