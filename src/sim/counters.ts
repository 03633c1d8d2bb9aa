/**
 * What crossed the simulated network: messages and bytes sent, delivered, dropped and
 * duplicated, in total, per kind (datagrams, stream chunks) and per label (from the network's
 * `classify` function, or counted by the caller with `count`), plus drops per reason.
 *
 * For traffic the network carries, sent + duplicated = delivered + dropped + still in flight.
 */
import { PeerError } from '../core/errors.ts'

/** What the network carries: datagrams and stream chunks. */
export type SimKind = 'datagram' | 'stream'

export type CounterOutcome = 'sent' | 'delivered' | 'dropped' | 'duplicated'

/** Messages and bytes per outcome. */
export interface Tally {
  sent: number
  sentBytes: number
  delivered: number
  deliveredBytes: number
  dropped: number
  droppedBytes: number
  /** Extra copies the link made (each is then delivered or dropped like any message). */
  duplicated: number
  duplicatedBytes: number
}

/** Why a message was dropped. */
export type DropReason =
  /** The link lost it (LinkModel.loss). */
  | 'lost'
  /** It would have crossed a partition. */
  | 'partitioned'
  /** No node has that name. */
  | 'no-route'
  /** The destination (or, for a stream, either end's) node is crashed. */
  | 'node-down'
  /** Nothing is bound to that datagram port. */
  | 'no-port'
  /** The socket there has no receive handler yet. */
  | 'no-handler'
  /** Sent on, or arriving at, a closed socket or stream. */
  | 'closed'
  /** Discarded by an abrupt close (close(error)) of the stream. */
  | 'reset'

/** A plain, key-sorted copy of the counters: compare or hash it across runs. */
export interface CountersSnapshot {
  total: Tally
  kinds: Record<SimKind, Tally>
  labels: Record<string, Tally>
  dropReasons: Record<string, number>
}

export function emptyTally(): Tally {
  return {
    sent: 0,
    sentBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    dropped: 0,
    droppedBytes: 0,
    duplicated: 0,
    duplicatedBytes: 0,
  }
}

/** The byte field of each outcome's count. */
const BYTES_OF: Readonly<Record<CounterOutcome, keyof Tally>> = {
  sent: 'sentBytes',
  delivered: 'deliveredBytes',
  dropped: 'droppedBytes',
  duplicated: 'duplicatedBytes',
}

const OUTCOMES = Object.keys(BYTES_OF) as readonly CounterOutcome[]

function add(t: Tally, outcome: CounterOutcome, bytes: number): void {
  t[outcome]++
  t[BYTES_OF[outcome]] += bytes
}

export class SimCounters {
  readonly total: Tally = emptyTally()
  readonly datagram: Tally = emptyTally()
  readonly stream: Tally = emptyTally()
  private readonly labels = new Map<string, Tally>()
  private readonly reasons = new Map<string, number>()

  /** The tally of `kind` (live). */
  kind(kind: SimKind): Readonly<Tally> {
    return kind === 'datagram' ? this.datagram : this.stream
  }

  /** The tally of `label` (live; an empty one when nothing carried it yet). */
  label(label: string): Readonly<Tally> {
    return this.labels.get(label) ?? emptyTally()
  }

  /** Messages dropped for `reason`. */
  dropped(reason: DropReason): number {
    return this.reasons.get(reason) ?? 0
  }

  /**
   * Counts a message under `label` only (not in the totals, which are what the network itself
   * carried): for callers that classify their own messages.
   */
  count(label: string, bytes: number, outcome: CounterOutcome = 'sent'): void {
    if (typeof label !== 'string' || label.length === 0) {
      throw new PeerError('E_INVALIDARG', `a counter label must be a non-empty string`)
    }
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new PeerError('E_INVALIDARG', `a byte count must be an integer >= 0, got ${bytes}`)
    }
    if (!OUTCOMES.includes(outcome)) {
      throw new PeerError('E_INVALIDARG', `unknown counter outcome '${String(outcome)}'`)
    }
    add(this.labelTally(label), outcome, bytes)
  }

  /** @internal The network's hot path. */
  record(
    kind: Tally,
    outcome: CounterOutcome,
    bytes: number,
    label: string | undefined,
    reason?: DropReason,
  ): void {
    add(this.total, outcome, bytes)
    add(kind, outcome, bytes)
    if (label !== undefined) add(this.labelTally(label), outcome, bytes)
    if (reason !== undefined) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1)
  }

  snapshot(): CountersSnapshot {
    const labels: Record<string, Tally> = {}
    for (const key of [...this.labels.keys()].sort()) {
      labels[key] = { ...(this.labels.get(key) as Tally) }
    }
    const dropReasons: Record<string, number> = {}
    for (const key of [...this.reasons.keys()].sort()) {
      dropReasons[key] = this.reasons.get(key) as number
    }
    return {
      total: { ...this.total },
      kinds: { datagram: { ...this.datagram }, stream: { ...this.stream } },
      labels,
      dropReasons,
    }
  }

  /** Zeroes everything. */
  reset(): void {
    Object.assign(this.total, emptyTally())
    Object.assign(this.datagram, emptyTally())
    Object.assign(this.stream, emptyTally())
    this.labels.clear()
    this.reasons.clear()
  }

  private labelTally(label: string): Tally {
    let t = this.labels.get(label)
    if (!t) this.labels.set(label, (t = emptyTally()))
    return t
  }
}
