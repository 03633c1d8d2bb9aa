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
  MAX_HOP_USES,
  MAX_HOPS,
  MAX_PATH,
  MAX_SUSPICIOUS_REPLIES,
  MAX_VALIDATIONS_PER_RESOLVE,
  NONCE_BYTES,
  SMALL_CACHE_ENTRIES,
} from './constants.ts'
import { Cpa } from './cpa.ts'
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
  const candidates = new Map<PnrpId, RouteEntry>()
  const closer = (a: PnrpId, b: PnrpId): boolean => compareCloseness(target, a, b) < 0
  let best: RouteEntry | undefined
  /** The closest node that answered: entries farther than it are no longer worth a hop. */
  let closestAnswered: PnrpId | undefined
  let hops = 0
  let suspicious = 0

  const note = (entry: RouteEntry): void => {
    if (!met.has(entry.id)) met.set(entry.id, entry)
    if (!best || closer(entry.id, best.id)) best = entry
    if (matchesTarget(mode, target, entry.id) && !request.exclude?.(entry.id)) {
      candidates.set(entry.id, entry)
    }
  }

  // The stack holds the closest last, so it is tried first.
  const start = request.startFrom ?? cache.closest(target, 3)
  const stack: RouteEntry[] = [...start].sort((a, b) => compareCloseness(target, b.id, a.id))
  for (const entry of stack) note(entry)

  while (stack.length > 0 && hops < MAX_HOPS && suspicious <= MAX_SUSPICIOUS_REPLIES) {
    if (request.signal?.aborted) break
    const hop = stack.pop() as RouteEntry
    if (closestAnswered !== undefined && !closer(hop.id, closestAnswered)) continue
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
        stack.push(next)
      }
    }
  }

  const results: Cpa[] = []
  if (request.max > 0) {
    const ordered = [...candidates.values()].sort((a, b) => compareCloseness(target, a.id, b.id))
    for (const candidate of ordered.slice(0, MAX_VALIDATIONS_PER_RESOLVE)) {
      if (results.length >= request.max || request.signal?.aborted) break
      const cpa = await fetchValidCpa(ctx, candidate, request.signal)
      if (cpa && !cpa.revoke) {
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
