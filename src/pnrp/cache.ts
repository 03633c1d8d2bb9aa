/**
 * The PNRP route cache of one node in one cloud (MS-PNRP 1.5; US 7,065,587): a multi-level
 * cache whose levels narrow by CACHE_LEVEL_RATIO towards the node's local IDs, plus a leaf set
 * of LEAF_SET_SIDE validated entries on each side of every local ID (MS-PNRP 1.6).
 *
 * A pure data structure: time comes in as `now` (ms), randomness from the injected Random.
 * Entries live in one Map; each knows its level and how many leaf lists hold it. Leaf-set
 * entries are always kept and do not count towards their level's capacity. A sorted array of
 * the cached IDs (the ring) answers closest, neighbours and leaf-set repair by walking out from
 * a binary-searched position, so a query costs O(log n + what it returns); an add costs
 * O(local IDs x leaf side) plus an array insert, and one scan when a level is full.
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
  // LEVEL_LIMITS decreases: find the last level whose limit is still >= distance.
  let low = 0
  let high = MAX_CACHE_LEVELS - 1
  while (low < high) {
    const mid = (low + high + 1) >> 1
    if (distance <= LEVEL_LIMITS[mid]!) low = mid
    else high = mid - 1
  }
  return low
}

/**
 * A cached entry with the cache's own bookkeeping, one object per entry (what get, closest
 * and the other queries return, as a CacheEntry).
 */
class Slot implements CacheEntry {
  constructor(
    public id: PnrpId,
    public endpoints: Endpoint[],
    public lastSeen: number,
    public validated: boolean,
    /** The level it counts towards (when it is a normal entry). */
    public level: number,
    /** How many leaf lists (local ID and side) hold the entry; 0 for a normal entry. */
    public leafRefs: number,
  ) {}
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

/**
 * Endpoint lists by value, shared by every cache in the process (a node sits in many caches,
 * and each would otherwise hold its own copy); held weakly, so unused lists go away.
 */
const sharedEndpointLists = new Map<string, WeakRef<Endpoint[]>>()
const endpointListsGone = new FinalizationRegistry<string>((key) => {
  if (sharedEndpointLists.get(key)?.deref() === undefined) sharedEndpointLists.delete(key)
})

/** A frozen copy of `endpoints`, the same object for every equal list. */
function shareEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  let key = ''
  for (const e of endpoints) key += `${e.address}|${e.port} `
  const known = sharedEndpointLists.get(key)?.deref()
  if (known) return known
  const copy = Object.freeze(
    endpoints.map((e) => Object.freeze({ address: e.address, port: e.port })),
  ) as Endpoint[]
  sharedEndpointLists.set(key, new WeakRef(copy))
  endpointListsGone.register(copy, key)
  return copy
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return (
    a.length === b.length && a.every((e, i) => e.address === b[i]!.address && e.port === b[i]!.port)
  )
}

function compareIds(a: PnrpId, b: PnrpId): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The first index of the ascending `ids` whose ID is >= `id` (ids.length when none is). */
function lowerBound(ids: readonly PnrpId[], id: PnrpId): number {
  let low = 0
  let high = ids.length
  while (low < high) {
    const mid = (low + high) >> 1
    if (ids[mid]! < id) low = mid + 1
    else high = mid
  }
  return low
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
  /** The IDs of `slots`, ascending: the ring that queries walk. */
  private readonly ring: PnrpId[] = []
  /** Local IDs, in the order they were added, each with its leaf lists. */
  private readonly leaves = new Map<PnrpId, LeafLists>()
  /** Normal (non-leaf) entries per level. */
  private readonly levelCounts = new Uint32Array(MAX_CACHE_LEVELS)

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
      const list = lists[side]
      this.walk(id, side, (slot) => {
        if (slot.validated) list.push(slot.id)
        return list.length < this.leafSide
      })
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
   * `replace`: the caller already held the draw (wouldKeep said yes), so a full level makes
   * room for the newcomer.
   *
   * On refresh, `validated` keeps its previous value unless `options.validated` says
   * otherwise, or the endpoints changed (a validation covers the addresses it saw, MS-PNRP
   * 1.6), in which case it is false unless given. A refreshed entry that loses its
   * validation leaves its leaf sets like a pushed-out entry.
   */
  add(
    entry: RouteEntry,
    now: number,
    options: { validated?: boolean; replace?: boolean } = {},
  ): AddResult {
    checkId(entry.id, 'a route entry ID')
    const evicted: CacheEntry[] = []
    if (this.leaves.has(entry.id)) return { outcome: 'ignored', joinedLeafSetsOf: [], evicted }
    const existing = this.slots.get(entry.id)
    if (existing) return this.refresh(existing, entry, now, options.validated)

    const slot = new Slot(
      entry.id,
      shareEndpoints(entry.endpoints),
      now,
      options.validated ?? false,
      this.levelOf(entry.id),
      0,
    )
    this.insertSlot(slot)
    if (slot.validated) {
      const joined = this.enterLeafSets(slot, evicted)
      if (joined.length > 0) return { outcome: 'added', joinedLeafSetsOf: joined, evicted }
    }
    if (this.levelCounts[slot.level]! < this.capacity) {
      this.levelCounts[slot.level]!++
      return { outcome: 'added', joinedLeafSetsOf: [], evicted }
    }
    // The level is full: a fair draw between the newcomer and a random normal entry (unless
    // the caller drew already, with wouldKeep).
    const won = options.replace === true || this.random.int(2) === 0
    const victim = won ? this.randomNormal(slot.level, slot) : undefined
    if (!victim) {
      this.deleteSlot(entry.id)
      return { outcome: 'full', joinedLeafSetsOf: [], evicted }
    }
    this.deleteSlot(victim.id)
    evicted.push(victim)
    return { outcome: 'added', joinedLeafSetsOf: [], evicted }
  }

  /** Removes an entry; a leaf set it leaves takes the next nearest validated entry. */
  remove(id: PnrpId): CacheEntry | undefined {
    const slot = this.slots.get(id)
    if (!slot) return undefined
    this.deleteSlot(id)
    if (slot.leafRefs > 0) this.detachFromLeafSets(id)
    else this.levelCounts[slot.level]!--
    return slot
  }

  get(id: PnrpId): CacheEntry | undefined {
    return this.slots.get(id)
  }

  has(id: PnrpId): boolean {
    return this.slots.has(id)
  }

  /** Records that we heard from `id` at `now` (never moves lastSeen back). */
  touch(id: PnrpId, now: number): void {
    const slot = this.slots.get(id)
    if (slot) slot.lastSeen = Math.max(slot.lastSeen, now)
  }

  get size(): number {
    return this.slots.size
  }

  *entries(): IterableIterator<CacheEntry> {
    yield* this.slots.values()
  }

  /** Entries not seen since `before` (for maintenance checks). */
  staleEntries(before: number): CacheEntry[] {
    const stale: CacheEntry[] = []
    for (const entry of this.slots.values()) if (entry.lastSeen < before) stale.push(entry)
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
    return Array.from(this.levelCounts.subarray(0, last + 1))
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

  /**
   * Whether a new entry `id` would be kept, drawn before the caller spends messages on it: yes
   * when it is cached already, would join a leaf set (if validated) or its level has room;
   * otherwise the full level's fair draw (1/2), which the caller then honours with
   * add(..., { replace: true }).
   */
  wouldKeep(id: PnrpId): boolean {
    if (this.leaves.has(id)) return false
    if (this.slots.has(id) || this.wouldJoinLeafSet(id)) return true
    if (this.levelCounts[this.levelOf(id)]! < this.capacity) return true
    return this.random.int(2) === 0
  }

  /**
   * Of `ids` (candidates checked together), those that would be in some local ID's leaf set
   * if all of them were validated and added: the nearest leafSide on a side among them and
   * the current leaf entries.
   */
  leafCandidates(ids: readonly PnrpId[]): Set<PnrpId> {
    const out = new Set<PnrpId>()
    const fresh = [...new Set(ids)].filter((id) => !this.leaves.has(id))
    if (fresh.length === 0) return out
    for (const [localId, lists] of this.leaves) {
      for (const side of SIDES) {
        const pool = [...new Set([...lists[side], ...fresh])]
        const distance = new Map(pool.map((id) => [id, sideDistance(localId, side, id)]))
        pool.sort((a, b) => compareIds(distance.get(a)!, distance.get(b)!))
        for (const id of pool.slice(0, this.leafSide)) if (!lists[side].includes(id)) out.add(id)
      }
    }
    return out
  }

  /**
   * Cached entries without a validation that would be in a leaf set if they had one (nearer a
   * local ID than its leafSide-th validated entry on that side), nearest first per side: the
   * ones to validate to complete the leaf sets.
   */
  leafGaps(): CacheEntry[] {
    const out = new Set<CacheEntry>()
    for (const localId of this.leaves.keys()) {
      for (const side of SIDES) {
        let validated = 0
        let unvalidated = 0
        this.walk(localId, side, (slot) => {
          if (slot.validated) validated++
          else if (unvalidated++ < this.leafSide) out.add(slot)
          return validated < this.leafSide && unvalidated < this.leafSide
        })
      }
    }
    return [...out]
  }

  /** Whether `id` is currently in some local ID's leaf set. */
  inLeafSet(id: PnrpId): boolean {
    return (this.slots.get(id)?.leafRefs ?? 0) > 0
  }

  // ---- queries ----------------------------------------------------------------------------

  /** Up to `count` entries closest to target (compareCloseness order), skipping those `skip` returns true for. */
  closest(target: PnrpId, count: number, skip?: (e: CacheEntry) => boolean): CacheEntry[] {
    const out: CacheEntry[] = []
    const ring = this.ring
    const n = ring.length
    if (count <= 0 || n === 0) return out
    // Two walkers from the target: `up` clockwise over IDs >= target, `down` counter-clockwise.
    // Each step takes the nearer; an equal distance goes to the one above (compareCloseness).
    // After n steps together they have met every entry exactly once, nearest first.
    let up = lowerBound(ring, target)
    let down = up - 1
    let upD = -1n
    let downD = -1n
    for (let steps = 0; steps < n && out.length < count; steps++) {
      if (upD < 0n) upD = clockwise(target, ring[up % n]!)
      if (downD < 0n) downD = clockwise(ring[(down + n) % n]!, target)
      let id: PnrpId
      if (upD <= downD) {
        id = ring[up % n]!
        up++
        upD = -1n
      } else {
        id = ring[(down + n) % n]!
        down--
        downD = -1n
      }
      const entry = this.slots.get(id)!
      if (!skip?.(entry)) out.push(entry)
    }
    return out
  }

  /**
   * The nearest cached entries strictly below and strictly above `id` (for flooding), other
   * than `id` itself and those `skip` returns true for. With one candidate, it is both.
   */
  neighbours(
    id: PnrpId,
    skip?: (e: CacheEntry) => boolean,
  ): { below?: CacheEntry; above?: CacheEntry } {
    const pick = (side: LeafSide): CacheEntry | undefined => {
      let found: CacheEntry | undefined
      this.walk(id, side, (slot) => {
        if (skip?.(slot)) return true
        found = slot
        return false
      })
      return found
    }
    const below = pick('below')
    const above = pick('above')
    return { ...(below ? { below } : {}), ...(above ? { above } : {}) }
  }

  /**
   * About `count` entries spread evenly over the ring (for ADVERTISE, MS-PNRP 1.3): the
   * entries closest to `count` evenly spaced points from a random offset, each entry once.
   * All entries, in ring order, when there are no more than `count`.
   */
  spread(count: number): CacheEntry[] {
    if (count <= 0 || this.slots.size === 0) return []
    if (count >= this.slots.size) return this.ring.map((id) => this.slots.get(id)!)
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
    const ids =
      this.leaves.size === 0 ? this.ring : [...this.ring, ...this.leaves.keys()].sort(compareIds)
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
   * Cache balancing (MS-PNRP 1.5: Windows looks up the middle of a large gap): a random point
   * in the band of the shallowest level that holds fewer than half its capacity although a
   * cloud of `cloudSize` nodes puts at least `perLevel` nodes there (a level L band, both
   * sides of a local ID, is (1 - 1/ratio) / ratio^L of the ring). Undefined when every level
   * is as full as the cloud allows, so a settled cache stops balancing.
   */
  balancePoint(cloudSize: number): PnrpId | undefined {
    const locals = [...this.leaves.keys()]
    if (locals.length === 0 || !(cloudSize > 0)) return undefined
    for (let level = 0; level + 1 < MAX_CACHE_LEVELS; level++) {
      const share = (1 - 1 / CACHE_LEVEL_RATIO) / CACHE_LEVEL_RATIO ** level
      if (cloudSize * share < this.perLevel) return undefined
      if (this.levelCounts[level]! >= this.perLevel / 2) continue
      const local = locals[this.random.int(locals.length)]!
      const inner = LEVEL_LIMITS[level + 1]!
      const width = LEVEL_LIMITS[level]! - inner
      const offset = inner + 1n + (BigInt('0x' + toHex(this.random.bytes(32))) % width)
      const point = this.random.int(2) === 0 ? local + offset : local - offset
      return ((point % RING) + RING) % RING
    }
    return undefined
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
    const current = slot
    const changed = !sameEndpoints(current.endpoints, entry.endpoints)
    if (changed) current.endpoints = shareEndpoints(entry.endpoints)
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
          this.deleteSlot(current.id)
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
    const id = slot.id
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
        this.deleteSlot(out.id)
        evicted.push(out)
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
        // The nearest validated entry beyond the list's last member (or from the local ID).
        const last = list[list.length - 1]
        let next: Slot | undefined
        this.walk(last ?? localId, side, (slot) => {
          const e = slot
          if (!e.validated || e.id === id || list.includes(e.id)) return true
          next = slot
          return false
        })
        if (!next) continue
        // Farther than every member left, so it goes last.
        list.push(next.id)
        if (next.leafRefs === 0) this.levelCounts[next.level]!--
        next.leafRefs++
      }
    }
  }

  /** Recomputes every level, leaf count and level count, then trims levels to capacity. */
  private rebuild(evicted: CacheEntry[]): void {
    for (const slot of this.slots.values()) {
      slot.level = this.levelOf(slot.id)
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
        this.deleteSlot(victim.id)
        this.levelCounts[level]!--
        evicted.push(victim)
      }
    }
  }

  /** Stores a new slot and puts its ID into the ring. */
  private insertSlot(slot: Slot): void {
    this.slots.set(slot.id, slot)
    this.ring.splice(lowerBound(this.ring, slot.id), 0, slot.id)
  }

  /** Forgets a slot and takes its ID out of the ring. */
  private deleteSlot(id: PnrpId): void {
    if (!this.slots.delete(id)) return
    const at = lowerBound(this.ring, id)
    if (this.ring[at] === id) this.ring.splice(at, 1)
  }

  /**
   * Visits cached slots going `side`-wards ('above': clockwise) from `from` (excluded), nearest
   * first, each at most once, while `visit` returns true.
   */
  private walk(from: PnrpId, side: LeafSide, visit: (slot: Slot) => boolean): void {
    const ring = this.ring
    const n = ring.length
    if (n === 0) return
    let at = lowerBound(ring, from)
    if (side === 'above') {
      if (ring[at % n] === from) at++
      for (let k = 0; k < n; k++) {
        const id = ring[(at + k) % n]!
        if (id === from) continue
        if (!visit(this.slots.get(id)!)) return
      }
    } else {
      for (let k = 1; k <= n; k++) {
        const id = ring[(((at - k) % n) + n) % n]!
        if (id === from) continue
        if (!visit(this.slots.get(id)!)) return
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
    return ids.map((id) => this.slots.get(id)!)
  }
}
