/**
 * The PNRP route cache of one node in one cloud (MS-PNRP 1.5; US 7,065,587): a multi-level
 * cache whose levels narrow by CACHE_LEVEL_RATIO towards the node's local IDs, plus a leaf set
 * of LEAF_SET_SIDE validated entries on each side of every local ID (MS-PNRP 1.6).
 *
 * A pure data structure: time comes in as `now` (ms), randomness from the injected Random.
 * Entries live in one Map; each knows its level and how many leaf lists hold it. Leaf-set
 * entries are always kept and do not count towards their level's capacity. The cache holds a
 * few hundred entries at most, so leaf-set repair and queries scan it; an add costs
 * O(local IDs x leaf side) plus one scan when a level is full.
 */
import { toHex } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import {
  CACHE_ENTRIES_PER_LEVEL,
  CACHE_LEVEL_RATIO,
  LEAF_SET_SIDE,
  MAX_CACHE_LEVELS,
  MAX_LOCAL_IDS,
} from './constants.ts'
import { clockwise, RING, ringDistance, type PnrpId } from './ids.ts'
import type { Endpoint, RouteEntry } from './types.ts'

export interface CacheEntry extends RouteEntry {
  /** Last time we heard from it or it was confirmed (ms). */
  lastSeen: number
  /** True when its CPA was validated (required for leaf-set membership, MS-PNRP 1.6). */
  validated: boolean
}

export interface AddResult {
  /**
   * 'added' (new), 'refreshed' (known: endpoints/lastSeen/validated updated), 'full' (not
   * kept: its level is full and it lost the draw, or a refreshed entry that lost its
   * validation fell out of its leaf set into a full level), 'ignored' (one of our local IDs,
   * which the cache never stores).
   */
  outcome: 'added' | 'refreshed' | 'full' | 'ignored'
  /** Local IDs whose leaf set the entry joined with this call (empty when none). */
  joinedLeafSetsOf: PnrpId[]
  /** Entries removed from the cache by this call (evicted to make room). */
  evicted: CacheEntry[]
}

export interface RouteCacheOptions {
  random: Random
  /** Entries a level holds, leaf-set entries not counted (default CACHE_ENTRIES_PER_LEVEL). */
  perLevel?: number
  /** Leaf-set entries on each side of a local ID (default LEAF_SET_SIDE). */
  leafSide?: number
}

export type LeafSide = 'below' | 'above'

/** A cache without local IDs (resolve-only) keeps all entries at level 0, this many levels' worth. */
export const RESOLVE_ONLY_LEVEL_FACTOR = 4

const HALF_RING = RING >> 1n

/** LEVEL_LIMITS[L] = floor(2^255 / CACHE_LEVEL_RATIO^L): the widest distance level L holds. */
const LEVEL_LIMITS: readonly bigint[] = Array.from(
  { length: MAX_CACHE_LEVELS },
  (_, level) => HALF_RING / BigInt(CACHE_LEVEL_RATIO) ** BigInt(level),
)

/**
 * The cache level of an entry at ring distance `distance` from the nearest local ID: the
 * deepest L with distance <= 2^255 / CACHE_LEVEL_RATIO^L, at most MAX_CACHE_LEVELS - 1.
 */
export function cacheLevel(distance: bigint): number {
  let level = 0
  while (level + 1 < MAX_CACHE_LEVELS && distance <= LEVEL_LIMITS[level + 1]!) level++
  return level
}

interface Slot {
  entry: CacheEntry
  level: number
  /** How many leaf lists (local ID and side) hold the entry; 0 for a normal entry. */
  leafRefs: number
}

/** Leaf lists of one local ID: entry IDs, nearest first. */
interface LeafLists {
  below: PnrpId[]
  above: PnrpId[]
}

const SIDES: readonly LeafSide[] = ['below', 'above']

/** Distance from `id` to `localId` going the way `side` looks: down for 'below', up for 'above'. */
function sideDistance(localId: PnrpId, side: LeafSide, id: PnrpId): bigint {
  return side === 'below' ? clockwise(id, localId) : clockwise(localId, id)
}

function checkId(id: PnrpId, what: string): void {
  if (typeof id !== 'bigint' || id < 0n || id >= RING) {
    throw new PeerError('E_INVALIDARG', `${what} must be a PNRP ID (0 .. 2^256-1)`)
  }
}

function checkCount(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new PeerError('E_INVALIDARG', `${what} must be a positive integer, got ${value}`)
  }
}

function copyEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  return endpoints.map((e) => ({ address: e.address, port: e.port }))
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return (
    a.length === b.length && a.every((e, i) => e.address === b[i]!.address && e.port === b[i]!.port)
  )
}

function compareIds(a: PnrpId, b: PnrpId): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The route cache of one node in one cloud. Returned CacheEntry objects are the cache's own:
 * read them, but change them only through add, touch and remove.
 */
export class RouteCache {
  readonly perLevel: number
  readonly leafSide: number
  private readonly random: Random
  private readonly slots = new Map<PnrpId, Slot>()
  /** Local IDs, in the order they were added, each with its leaf lists. */
  private readonly leaves = new Map<PnrpId, LeafLists>()
  /** Normal (non-leaf) entries per level. */
  private readonly levelCounts: number[] = new Array<number>(MAX_CACHE_LEVELS).fill(0)

  constructor(options: RouteCacheOptions) {
    this.random = options.random
    this.perLevel = options.perLevel ?? CACHE_ENTRIES_PER_LEVEL
    this.leafSide = options.leafSide ?? LEAF_SET_SIDE
    checkCount(this.perLevel, 'perLevel')
    checkCount(this.leafSide, 'leafSide')
  }

  // ---- local IDs --------------------------------------------------------------------------

  /**
   * Adds a local ID (a registration or the node's own ID) and builds its leaf set from the
   * cached validated entries. A cached entry with the same ID is dropped. Entries move to
   * deeper levels; levels left over capacity lose random normal entries. Returns the entries
   * removed. E_INVALIDARG beyond MAX_LOCAL_IDS. Adding a known local ID does nothing.
   */
  addLocalId(id: PnrpId): CacheEntry[] {
    checkId(id, 'a local ID')
    if (this.leaves.has(id)) return []
    if (this.leaves.size >= MAX_LOCAL_IDS) {
      throw new PeerError('E_INVALIDARG', `a cloud holds at most ${MAX_LOCAL_IDS} local IDs`, {
        details: { limit: MAX_LOCAL_IDS },
      })
    }
    const evicted: CacheEntry[] = []
    const same = this.remove(id)
    if (same) evicted.push(same)
    const lists: LeafLists = { below: [], above: [] }
    for (const side of SIDES) {
      const ranked: { id: PnrpId; d: bigint }[] = []
      for (const { entry } of this.slots.values()) {
        if (entry.validated) ranked.push({ id: entry.id, d: sideDistance(id, side, entry.id) })
      }
      ranked.sort((a, b) => compareIds(a.d, b.d))
      lists[side] = ranked.slice(0, this.leafSide).map((r) => r.id)
    }
    this.leaves.set(id, lists)
    this.rebuild(evicted)
    return evicted
  }

  /**
   * Removes a local ID and its leaf set; its leaf entries become normal entries. Levels are
   * recomputed and trimmed to capacity. Returns the entries removed.
   */
  removeLocalId(id: PnrpId): CacheEntry[] {
    if (!this.leaves.delete(id)) return []
    const evicted: CacheEntry[] = []
    this.rebuild(evicted)
    return evicted
  }

  localIds(): PnrpId[] {
    return [...this.leaves.keys()]
  }

  isLocal(id: PnrpId): boolean {
    return this.leaves.has(id)
  }

  // ---- entries ----------------------------------------------------------------------------

  /**
   * Adds or refreshes an entry (copied; the caller keeps its object). A new validated entry
   * that enters a leaf set is always kept; entries it pushes out of the leaf set stay as
   * normal entries if their level has room, otherwise they are evicted. A new normal entry
   * at a full level replaces a random normal entry of that level with probability 1/2 and is
   * otherwise not kept ('full').
   *
   * On refresh, `validated` keeps its previous value unless `options.validated` says
   * otherwise, or the endpoints changed (a validation covers the addresses it saw, MS-PNRP
   * 1.6), in which case it is false unless given. A refreshed entry that loses its
   * validation leaves its leaf sets like a pushed-out entry.
   */
  add(entry: RouteEntry, now: number, options: { validated?: boolean } = {}): AddResult {
    checkId(entry.id, 'a route entry ID')
    const evicted: CacheEntry[] = []
    if (this.leaves.has(entry.id)) return { outcome: 'ignored', joinedLeafSetsOf: [], evicted }
    const existing = this.slots.get(entry.id)
    if (existing) return this.refresh(existing, entry, now, options.validated)

    const slot: Slot = {
      entry: {
        id: entry.id,
        endpoints: copyEndpoints(entry.endpoints),
        lastSeen: now,
        validated: options.validated ?? false,
      },
      level: this.levelOf(entry.id),
      leafRefs: 0,
    }
    this.slots.set(entry.id, slot)
    if (slot.entry.validated) {
      const joined = this.enterLeafSets(slot, evicted)
      if (joined.length > 0) return { outcome: 'added', joinedLeafSetsOf: joined, evicted }
    }
    if (this.levelCounts[slot.level]! < this.capacity) {
      this.levelCounts[slot.level]!++
      return { outcome: 'added', joinedLeafSetsOf: [], evicted }
    }
    // The level is full: a fair draw between the newcomer and a random normal entry.
    const victim = this.random.int(2) === 0 ? this.randomNormal(slot.level, slot) : undefined
    if (!victim) {
      this.slots.delete(entry.id)
      return { outcome: 'full', joinedLeafSetsOf: [], evicted }
    }
    this.slots.delete(victim.entry.id)
    evicted.push(victim.entry)
    return { outcome: 'added', joinedLeafSetsOf: [], evicted }
  }

  /** Removes an entry; a leaf set it leaves takes the next nearest validated entry. */
  remove(id: PnrpId): CacheEntry | undefined {
    const slot = this.slots.get(id)
    if (!slot) return undefined
    this.slots.delete(id)
    if (slot.leafRefs > 0) this.detachFromLeafSets(id)
    else this.levelCounts[slot.level]!--
    return slot.entry
  }

  get(id: PnrpId): CacheEntry | undefined {
    return this.slots.get(id)?.entry
  }

  has(id: PnrpId): boolean {
    return this.slots.has(id)
  }

  /** Records that we heard from `id` at `now` (never moves lastSeen back). */
  touch(id: PnrpId, now: number): void {
    const slot = this.slots.get(id)
    if (slot) slot.entry.lastSeen = Math.max(slot.entry.lastSeen, now)
  }

  get size(): number {
    return this.slots.size
  }

  *entries(): IterableIterator<CacheEntry> {
    for (const slot of this.slots.values()) yield slot.entry
  }

  /** Entries not seen since `before` (for maintenance checks). */
  staleEntries(before: number): CacheEntry[] {
    const stale: CacheEntry[] = []
    for (const { entry } of this.slots.values()) if (entry.lastSeen < before) stale.push(entry)
    return stale
  }

  // ---- levels -----------------------------------------------------------------------------

  /** Normal entries a level holds: perLevel, or perLevel * 4 at level 0 without local IDs. */
  get capacity(): number {
    return this.leaves.size === 0 ? this.perLevel * RESOLVE_ONLY_LEVEL_FACTOR : this.perLevel
  }

  /** The level an entry with `id` has (0 without local IDs). */
  levelOf(id: PnrpId): number {
    if (this.leaves.size === 0) return 0
    let nearest = RING
    for (const localId of this.leaves.keys()) {
      const d = ringDistance(id, localId)
      if (d < nearest) nearest = d
    }
    return cacheLevel(nearest)
  }

  /** Normal (non-leaf) entries per level, up to the deepest non-empty level. */
  levelSizes(): number[] {
    let last = this.levelCounts.length - 1
    while (last >= 0 && this.levelCounts[last] === 0) last--
    return this.levelCounts.slice(0, last + 1)
  }

  // ---- leaf sets --------------------------------------------------------------------------

  /**
   * The leaf set of a local ID: the leafSide closest validated entries below
   * (counter-clockwise) and above (clockwise), nearest first. With fewer than 2 * leafSide
   * validated entries an entry can be on both sides (the ring wraps). E_INVALIDARG for an ID
   * that is not local.
   */
  leafSet(localId: PnrpId): { below: CacheEntry[]; above: CacheEntry[] } {
    const lists = this.leaves.get(localId)
    if (!lists) throw new PeerError('E_INVALIDARG', 'not a local ID of this cache')
    return { below: this.entriesOf(lists.below), above: this.entriesOf(lists.above) }
  }

  /** Whether `id` would be in the leaf set of some local ID if it were validated and added. */
  wouldJoinLeafSet(id: PnrpId): boolean {
    if (this.leaves.has(id)) return false
    if (this.inLeafSet(id)) return true
    for (const [localId, lists] of this.leaves) {
      for (const side of SIDES) {
        const list = lists[side]
        const last = list[list.length - 1]
        if (
          last === undefined ||
          list.length < this.leafSide ||
          sideDistance(localId, side, id) < sideDistance(localId, side, last)
        ) {
          return true
        }
      }
    }
    return false
  }

  /** Whether `id` is currently in some local ID's leaf set. */
  inLeafSet(id: PnrpId): boolean {
    return (this.slots.get(id)?.leafRefs ?? 0) > 0
  }

  // ---- queries ----------------------------------------------------------------------------

  /** Up to `count` entries closest to target (compareCloseness order), skipping those `skip` returns true for. */
  closest(target: PnrpId, count: number, skip?: (e: CacheEntry) => boolean): CacheEntry[] {
    const best: { entry: CacheEntry; d: bigint; cw: bigint }[] = []
    if (count <= 0) return []
    for (const { entry } of this.slots.values()) {
      const cw = clockwise(target, entry.id)
      const d = cw > HALF_RING ? RING - cw : cw
      const last = best[best.length - 1]
      // Equal distance on both sides: the one above the target (smaller cw) is closer.
      if (best.length >= count && last && (d > last.d || (d === last.d && cw > last.cw))) continue
      if (skip?.(entry)) continue
      let i = best.length
      while (i > 0) {
        const prev = best[i - 1]!
        if (prev.d < d || (prev.d === d && prev.cw < cw)) break
        i--
      }
      best.splice(i, 0, { entry, d, cw })
      if (best.length > count) best.pop()
    }
    return best.map((b) => b.entry)
  }

  /**
   * The nearest cached entries strictly below and strictly above `id` (for flooding), other
   * than `id` itself and those `skip` returns true for. With one candidate, it is both.
   */
  neighbours(
    id: PnrpId,
    skip?: (e: CacheEntry) => boolean,
  ): { below?: CacheEntry; above?: CacheEntry } {
    let below: CacheEntry | undefined
    let above: CacheEntry | undefined
    let belowD = RING
    let aboveD = RING
    for (const { entry } of this.slots.values()) {
      if (entry.id === id || skip?.(entry)) continue
      const up = clockwise(id, entry.id)
      const down = RING - up
      if (up < aboveD) {
        aboveD = up
        above = entry
      }
      if (down < belowD) {
        belowD = down
        below = entry
      }
    }
    return { ...(below ? { below } : {}), ...(above ? { above } : {}) }
  }

  /**
   * About `count` entries spread evenly over the ring (for ADVERTISE, MS-PNRP 1.3): the
   * entries closest to `count` evenly spaced points from a random offset, each entry once.
   * All entries, in ring order, when there are no more than `count`.
   */
  spread(count: number): CacheEntry[] {
    if (count <= 0 || this.slots.size === 0) return []
    if (count >= this.slots.size) {
      return [...this.slots.values()].map((s) => s.entry).sort((a, b) => compareIds(a.id, b.id))
    }
    const offset = BigInt('0x' + toHex(this.random.bytes(32)))
    const step = RING / BigInt(count)
    const chosen: CacheEntry[] = []
    const taken = new Set<PnrpId>()
    for (let i = 0; i < count; i++) {
      const point = (offset + BigInt(i) * step) % RING
      const [entry] = this.closest(point, 1, (e) => taken.has(e.id))
      if (!entry) break
      taken.add(entry.id)
      chosen.push(entry)
    }
    return chosen
  }

  /**
   * The widest gap between consecutive known IDs (cached and local), as its two ends going
   * clockwise from `from` to `to` (it may wrap past 0), when there are at least 2 IDs (for
   * cache balancing: a LOOKUP into its middle).
   */
  largestGap(): { from: PnrpId; to: PnrpId } | undefined {
    const ids = [...this.slots.keys(), ...this.leaves.keys()].sort(compareIds)
    if (ids.length < 2) return undefined
    let best: { from: PnrpId; to: PnrpId } | undefined
    let widest = -1n
    for (let i = 0; i < ids.length; i++) {
      const from = ids[i]!
      const to = ids[(i + 1) % ids.length]!
      const gap = clockwise(from, to)
      if (gap > widest) {
        widest = gap
        best = { from, to }
      }
    }
    return best
  }

  /**
   * MS-PNRP 1.6 cloud-size estimate: the average over local IDs of 2 * 2^256 / (B - A), where
   * A and B are the nearest leaf entries below and above (the clockwise span from A to B, the
   * whole ring when they are the same entry). Estimates >= 2^32 are ignored; undefined when
   * no local ID has leaf entries on both sides.
   */
  estimateCloudSize(): number | undefined {
    let sum = 0
    let used = 0
    for (const lists of this.leaves.values()) {
      const a = lists.below[0]
      const b = lists.above[0]
      if (a === undefined || b === undefined) continue
      const span = a === b ? RING : clockwise(a, b)
      const estimate = Number((2n * RING) / span)
      if (estimate >= 2 ** 32) continue
      sum += estimate
      used++
    }
    return used === 0 ? undefined : sum / used
  }

  // ---- internals --------------------------------------------------------------------------

  private refresh(
    slot: Slot,
    entry: RouteEntry,
    now: number,
    validated: boolean | undefined,
  ): AddResult {
    const evicted: CacheEntry[] = []
    const current = slot.entry
    const changed = !sameEndpoints(current.endpoints, entry.endpoints)
    if (changed) current.endpoints = copyEndpoints(entry.endpoints)
    current.lastSeen = Math.max(current.lastSeen, now)
    const nowValidated = validated ?? (changed ? false : current.validated)
    let joined: PnrpId[] = []
    if (nowValidated && !current.validated) {
      current.validated = true
      const wasNormal = slot.leafRefs === 0
      joined = this.enterLeafSets(slot, evicted)
      if (wasNormal && slot.leafRefs > 0) this.levelCounts[slot.level]!--
    } else if (!nowValidated && current.validated) {
      current.validated = false
      if (slot.leafRefs > 0) {
        this.detachFromLeafSets(current.id)
        slot.leafRefs = 0
        if (this.levelCounts[slot.level]! < this.capacity) this.levelCounts[slot.level]!++
        else {
          this.slots.delete(current.id)
          evicted.push(current)
          return { outcome: 'full', joinedLeafSetsOf: [], evicted }
        }
      }
    }
    return { outcome: 'refreshed', joinedLeafSetsOf: joined, evicted }
  }

  /**
   * Puts a validated slot (already in `slots`) into every leaf list it belongs in. Entries
   * pushed out of all their leaf lists become normal entries, or are evicted when their level
   * is full. Does not adjust the slot's own level count. Returns the local IDs it joined.
   */
  private enterLeafSets(slot: Slot, evicted: CacheEntry[]): PnrpId[] {
    const id = slot.entry.id
    const joined: PnrpId[] = []
    const pushedOut: Slot[] = []
    for (const [localId, lists] of this.leaves) {
      let joinedThis = false
      for (const side of SIDES) {
        const list = lists[side]
        const d = sideDistance(localId, side, id)
        let i = list.length
        while (i > 0 && sideDistance(localId, side, list[i - 1]!) > d) i--
        if (i >= this.leafSide) continue
        list.splice(i, 0, id)
        slot.leafRefs++
        joinedThis = true
        if (list.length > this.leafSide) pushedOut.push(this.slots.get(list.pop()!)!)
      }
      if (joinedThis) joined.push(localId)
    }
    for (const out of pushedOut) {
      out.leafRefs--
      if (out.leafRefs > 0) continue
      if (this.levelCounts[out.level]! < this.capacity) this.levelCounts[out.level]!++
      else {
        this.slots.delete(out.entry.id)
        evicted.push(out.entry)
      }
    }
    return joined
  }

  /**
   * Takes `id` out of every leaf list; each list it leaves takes the next nearest validated
   * cached entry. The caller settles the slot of `id` itself.
   */
  private detachFromLeafSets(id: PnrpId): void {
    for (const [localId, lists] of this.leaves) {
      for (const side of SIDES) {
        const list = lists[side]
        const at = list.indexOf(id)
        if (at < 0) continue
        list.splice(at, 1)
        let next: Slot | undefined
        let nextD = RING
        for (const slot of this.slots.values()) {
          const e = slot.entry
          if (!e.validated || e.id === id || list.includes(e.id)) continue
          const d = sideDistance(localId, side, e.id)
          if (d < nextD) {
            nextD = d
            next = slot
          }
        }
        if (!next) continue
        // Farther than every member left, so it goes last.
        list.push(next.entry.id)
        if (next.leafRefs === 0) this.levelCounts[next.level]!--
        next.leafRefs++
      }
    }
  }

  /** Recomputes every level, leaf count and level count, then trims levels to capacity. */
  private rebuild(evicted: CacheEntry[]): void {
    for (const slot of this.slots.values()) {
      slot.level = this.levelOf(slot.entry.id)
      slot.leafRefs = 0
    }
    for (const lists of this.leaves.values()) {
      for (const side of SIDES) for (const id of lists[side]) this.slots.get(id)!.leafRefs++
    }
    this.levelCounts.fill(0)
    for (const slot of this.slots.values()) if (slot.leafRefs === 0) this.levelCounts[slot.level]!++
    for (let level = 0; level < MAX_CACHE_LEVELS; level++) {
      while (this.levelCounts[level]! > this.capacity) {
        const victim = this.randomNormal(level)!
        this.slots.delete(victim.entry.id)
        this.levelCounts[level]!--
        evicted.push(victim.entry)
      }
    }
  }

  /** A uniformly random normal entry of `level` other than `except`. */
  private randomNormal(level: number, except?: Slot): Slot | undefined {
    const candidates: Slot[] = []
    for (const slot of this.slots.values()) {
      if (slot.level === level && slot.leafRefs === 0 && slot !== except) candidates.push(slot)
    }
    return candidates.length === 0 ? undefined : candidates[this.random.int(candidates.length)]
  }

  private entriesOf(ids: readonly PnrpId[]): CacheEntry[] {
    return ids.map((id) => this.slots.get(id)!.entry)
  }
}
