/**
 * Iterative resolution (MS-PNRP 1.6 "Resolve"): the resolver itself contacts every hop. A
 * NextHop stack (last in, first out) starts with the cached entries closest to the target;
 * each LOOKUP answer names a closer entry (pushed) or says the target is in the answering
 * node's leaf set but unknown there (L, "suspicious"). The walk stops when the stack is empty,
 * after MAX_HOPS hops or more than MAX_SUSPICIOUS_REPLIES suspicious answers. Matches found on
 * the way are then validated one by one with an INQUIRE carrying a fresh nonce: the CPA must
 * verify (signature, name authority, time, nonce, ID) or the match is dropped.
 */
import { createHash } from 'node:crypto'
import type { Clock } from '../core/clock.ts'
import type { Random } from '../core/random.ts'
import type { Address } from '../transport/types.ts'
import type { RouteCache } from './cache.ts'
import {
  MAX_AUTHORITY_LEAVES,
  MAX_HOP_USES,
  RESOLVE_START_ENTRIES as START_ENTRIES,
  MAX_HOPS,
  MAX_PATH,
  MAX_SUSPICIOUS_REPLIES,
  MAX_VALIDATIONS_PER_RESOLVE,
  NONCE_BYTES,
  SMALL_CACHE_ENTRIES,
} from './constants.ts'
import { Cpa } from './cpa.ts'
import { isRoutable } from './endpoints.ts'
import { compareCloseness, matchesTarget, type MatchMode, type PnrpId } from './ids.ts'
import type { LookupReason } from './messages.ts'
import { addressKey, type PnrpRpc } from './rpc.ts'
import type { Endpoint, RouteEntry } from './types.ts'

export interface ResolveRequest {
  target: PnrpId
  mode: MatchMode
  reason: LookupReason
  /** Validated results wanted (0: only walk, as registration does). */
  max: number
  /** Our own entry, attached to every LOOKUP while registering (MS-PNRP 1.6 "Register"). */
  entry?: RouteEntry
  /** Leave out matches whose ID satisfies this (the caller's own registrations). */
  exclude?: (id: PnrpId) => boolean
  /** Called with each validated result as it is found (streaming resolve). */
  onResult?: (cpa: Cpa) => void
  /** Start from these instead of the cache (split detection starts at a seed). */
  startFrom?: RouteEntry[]
  signal?: AbortSignal
}

export interface ResolveOutcome {
  results: Cpa[]
  hops: number
  /** The closest entry met (whether or not it matched). */
  best: RouteEntry | undefined
  /** Entries the walk met, for the caller's cache (admitted after their own checks). */
  met: RouteEntry[]
}

export interface ResolverContext {
  rpc: PnrpRpc
  cache: RouteCache
  clock: Clock
  random: Random
  /** Our own endpoint, first on every flagged path. */
  self: Endpoint
  /** Counts a failed validation (a forged or stale CPA). */
  onInvalid: () => void
}

export function hashNonce(nonce: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(nonce).digest())
}

/** Runs one resolve to its end (it never throws for the network). */
export async function resolveIteratively(
  ctx: ResolverContext,
  request: ResolveRequest,
): Promise<ResolveOutcome> {
  const { rpc, cache } = ctx
  const { target, mode } = request
  const uses = new Map<string, number>()
  const path: Endpoint[] = [ctx.self]
  const met = new Map<PnrpId, RouteEntry>()
  /**
   * Matches to validate, one per (ID, endpoint) reported: an answer that lists a known ID at
   * another address adds a candidate, it does not replace the one we had (a forged listing
   * then costs one refused INQUIRE, never the real registration).
   */
  const candidates = new Map<string, { entry: RouteEntry; seq: number }>()
  /** IDs taken off the stack. */
  const tried = new Set<PnrpId>()
  const closer = (a: PnrpId, b: PnrpId): boolean => compareCloseness(target, a, b) < 0
  let best: RouteEntry | undefined
  /** The closest node that answered: entries farther than it are no longer worth a hop. */
  let closestAnswered: PnrpId | undefined
  let hops = 0
  let suspicious = 0

  /** Whether the walk has what it came for: a match, or it wants none (it only walks). */
  const settled = (): boolean => request.max === 0 || candidates.size > 0

  /** Pushes cached entries not tried yet, closest last; false when there is none. */
  const refill = (into: RouteEntry[]): boolean => {
    const fresh = cache.closest(
      target,
      START_ENTRIES,
      (e) =>
        tried.has(e.id) ||
        (settled() && closestAnswered !== undefined && !closer(e.id, closestAnswered)) ||
        uses.has(addressKey(e.endpoints[0] as Endpoint)),
    )
    for (let i = fresh.length - 1; i >= 0; i--) into.push(fresh[i] as RouteEntry)
    return fresh.length > 0
  }

  const note = (entry: RouteEntry): void => {
    // An entry we could not contact (a well-known port, a broadcast address) is not a hop.
    if (!isRoutable(entry.endpoints[0] as Endpoint)) return
    if (!met.has(entry.id)) met.set(entry.id, entry)
    if (!best || closer(entry.id, best.id)) best = entry
    if (matchesTarget(mode, target, entry.id) && !request.exclude?.(entry.id)) {
      const key = `${entry.id}|${addressKey(entry.endpoints[0] as Endpoint)}`
      if (!candidates.has(key)) candidates.set(key, { entry, seq: candidates.size })
    }
  }

  // The stack holds the closest last, so it is tried first.
  const start = request.startFrom ?? cache.closest(target, START_ENTRIES)
  const stack: RouteEntry[] = [...start].sort((a, b) => compareCloseness(target, b.id, a.id))
  for (const entry of stack) note(entry)
  const fromCache = request.startFrom === undefined
  // Matches our own cache holds are candidates from the start (a walk past dead or lying
  // hops still ends with them).
  if (fromCache && matchesTarget(mode, target, target)) {
    for (const entry of cache.closest(target, MAX_AUTHORITY_LEAVES)) {
      if (matchesTarget(mode, target, entry.id)) note(entry)
    }
  }

  while (hops < MAX_HOPS && suspicious <= MAX_SUSPICIOUS_REPLIES) {
    if (request.signal?.aborted) break
    if (stack.length === 0) {
      // Every hop we had failed or was spent: start again from the cache's closest entries not
      // tried yet (the ones that failed were removed from it).
      if (!fromCache || !refill(stack)) break
    }
    const hop = stack.pop() as RouteEntry
    tried.add(hop.id)
    // Nothing farther than the closest node that answered is worth a hop, once the walk has
    // what it came for. A resolve that has not met a match yet backtracks through all of its
    // stack (MS-PNRP 1.6: until the stack is empty), which gets it around a node whose leaf
    // set misses the way, or an entry planted close to the target that answers nothing.
    if (settled() && closestAnswered !== undefined && closer(closestAnswered, hop.id)) continue
    const endpoint = hop.endpoints[0] as Endpoint
    const key = addressKey(endpoint)
    const used = uses.get(key) ?? 0
    if (used >= MAX_HOP_USES) continue
    uses.set(key, used + 1)
    hops++
    if (!path.some((p) => addressKey(p) === key)) {
      path.push(endpoint)
      if (path.length > MAX_PATH) path.splice(1, 1)
    }
    const reply = await rpc.request(
      endpoint,
      {
        type: 'lookup',
        id: rpc.newId(),
        target,
        validate: hop.id,
        mode,
        reason: request.reason,
        acceptNotCloser: cache.size < SMALL_CACHE_ENTRIES,
        ...(best && best.id !== hop.id ? { best } : {}),
        path: [...path],
        ...(request.entry ? { entry: request.entry } : {}),
      },
      'authority',
      request.signal,
    )
    if (!reply || reply.notHere) {
      // Gone, or no longer holds that ID: forget it (MS-PNRP 1.6, the N flag purges).
      cache.remove(hop.id)
      continue
    }
    cache.touch(hop.id, ctx.clock.now())
    if (closestAnswered === undefined || closer(hop.id, closestAnswered)) closestAnswered = hop.id
    if (reply.leafGap) suspicious++
    for (const leaf of reply.leaves) note(leaf)
    const next = reply.next
    if (next && next.id !== hop.id) {
      note(next)
      const visited = uses.has(addressKey(next.endpoints[0] as Endpoint))
      // Push only progress (MS-PNRP 1.6), or anything while our cache is too small to judge.
      if (!visited && (closer(next.id, hop.id) || cache.size < SMALL_CACHE_ENTRIES)) {
        // The hop stays under it: if the next one fails, we come back and ask the hop again,
        // with the failed node on the flagged path (MS-PNRP 1.6 backtracking, 3 uses a hop).
        if (used + 1 < MAX_HOP_USES) stack.push(hop)
        stack.push(next)
      }
    }
  }

  const results: Cpa[] = []
  if (request.max > 0) {
    // Closest first; for one ID, the latest report first (the freshest knowledge of it).
    const ordered = [...candidates.values()].sort(
      (a, b) => compareCloseness(target, a.entry.id, b.entry.id) || b.seq - a.seq,
    )
    const found = new Set<PnrpId>()
    for (const { entry } of ordered.slice(0, MAX_VALIDATIONS_PER_RESOLVE)) {
      if (results.length >= request.max || request.signal?.aborted) break
      if (found.has(entry.id)) continue
      const cpa = await fetchValidCpa(ctx, entry, request.signal)
      if (cpa && !cpa.revoke) {
        found.add(entry.id)
        results.push(cpa)
        request.onResult?.(cpa)
      }
    }
  }
  return { results, hops, best, met: [...met.values()] }
}

/**
 * INQUIREs `entry`'s node for its CPA with a fresh nonce; the CPA if it verifies for that ID
 * and nonce, otherwise undefined (counted as invalid when something answered wrongly).
 */
export async function fetchValidCpa(
  ctx: ResolverContext,
  entry: RouteEntry,
  signal?: AbortSignal,
): Promise<Cpa | undefined> {
  const nonce = ctx.random.bytes(NONCE_BYTES)
  const reply = await ctx.rpc.request(
    entry.endpoints[0] as Address,
    { type: 'inquire', id: ctx.rpc.newId(), target: entry.id, nonce, wantCpa: true },
    'authority',
    signal,
  )
  if (!reply || reply.notHere || !reply.cpa) {
    if (reply?.notHere) ctx.cache.remove(entry.id)
    return undefined
  }
  try {
    const cpa = Cpa.decode(reply.cpa)
    cpa.verify({ now: ctx.clock.now(), nonce, id: entry.id })
    return cpa
  } catch {
    ctx.onInvalid()
    return undefined
  }
}
