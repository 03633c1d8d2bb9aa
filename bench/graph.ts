/**
 * Peer Graphing (issue 5 acceptance): flooding, full sync, resync and ingest of PeerNodes,
 * each figure beside a baseline measured in the same run.
 *
 * (a) flood: `--nodes` (100) PeerNodes on the simulator, each joining through a random earlier
 *     node, then `SETTLE_MS` of maintenance. From random nodes, `--flood-records` records of
 *     100 bytes and as many of 64 KiB are added one at a time; for each, the virtual time from
 *     the add to the last node's record-changed, and the record's payload received per node.
 *     The same build runs twice from the same seed: ours (large records announced and pulled)
 *     and plain flooding of whole records as MS-PPGRH does (tuning announceThresholdBytes:
 *     Infinity); the two topologies are compared edge by edge before the 64 KiB records.
 * (b) sync: one node's database is filled through addRecord with `--records` records or as
 *     many as `--build-seconds` of wall time allow (printed: each add costs time linear in the
 *     node's own records, a query of the AUTOREFRESH plan, so 100,000 do not fit in 3 minutes
 *     here), then a new node connects and full-syncs. Bounds measured in the same run: the
 *     record bytes over a raw TCP transfer on 127.0.0.1 (wire bound), and N Ed25519
 *     verifications (node:crypto verify of a 64-byte message with a KeyObject; verification
 *     bound).
 * (c) resync: the two nodes of (b) lose their link (a partition until the streams time out),
 *     0, 10 and 1,000 records are added while apart (half on each side), the partition heals
 *     and maintenance reconnects them: bytes of the real reconnect (Noise, CONNECT/WELCOME,
 *     RECONCILE, REQUEST, records) against MS-PPGRH Hash Sync on the same two sets of items,
 *     simulated as bench/reconcile.ts does (40 bytes per range of 10 records sent, then per
 *     differing range 52 bytes plus 20 per record of the responder).
 * (d) ingest: two PeerNodes on real TCP on 127.0.0.1 (no simulator); one adds
 *     `--ingest-records` records, which flood to the other; the receiver's rate (first add to its
 *     last record-changed) against the rate at which the same receiving node stores records
 *     through addRecord in a new graph with no network (before and after). Twice: the sender
 *     in a child process (this script again, BENCH_GRAPH_SENDER=1), then in this process.
 *
 * Payload and message bytes are counted by wrapping Link.prototype.send (the graph message and
 * its record) and Channel.prototype.send (the message's encoded size) in this process: what a
 * node sends on a link is what its neighbour receives, since simulated streams lose nothing
 * (they close instead, and (a) has no faults). Wire bytes are the simulator's stream counters
 * (Noise frames, mux headers, keepalives and all). Progress goes to stderr.
 *
 *   npx tsx bench/graph.ts [--part a,b,c,d] [--records 100000] [--seed S] [--nodes 100]
 *                          [--flood-records 10] [--ingest-records 10000] [--build-seconds 180]
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect as tcpConnect, type AddressInfo } from 'node:net'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import type { PeerGraph } from '../src/graph/graph.ts'
import { Link } from '../src/graph/link.ts'
import type { GraphMessage } from '../src/graph/messages.ts'
import { encodeRecord } from '../src/graph/record-codec.ts'
import { ArraySource } from '../src/graph/reconcile.ts'
import { hashSyncBytes } from './hash-sync.ts'
import type { RecordStore } from '../src/graph/store.ts'
import { PeerNode } from '../src/node/peer-node.ts'
import { drive } from '../test/helpers/sim.ts'
import { createSim, type Sim } from '../src/sim/index.ts'
import { Channel } from '../src/transport/mux.ts'

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'a,b,c,d' },
    records: { type: 'string', default: '100000' },
    seed: { type: 'string', default: 'bench:graph' },
    nodes: { type: 'string', default: '100' },
    'flood-records': { type: 'string', default: '10' },
    'ingest-records': { type: 'string', default: '10000' },
    'build-seconds': { type: 'string', default: '180' },
  },
})

function count(name: string, text: string, min: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`)
  return n
}

const PARTS = new Set(values.part.split(',').map((p) => p.trim()))
for (const p of PARTS) if (!['a', 'b', 'c', 'd'].includes(p)) throw new Error(`--part: ${p}?`)
const RECORDS = count('records', values.records, 100)
const NODES = count('nodes', values.nodes, 3)
const FLOOD_RECORDS = count('flood-records', values['flood-records'], 1)
const INGEST_RECORDS = count('ingest-records', values['ingest-records'], 10)
const BUILD_SECONDS = count('build-seconds', values['build-seconds'], 1)
const SEED = values.seed

const PORT = 3600
const TYPE = '0cc0c0c0-1111-4222-8333-444455556666'
const SECOND = 1000
const MINUTE = 60 * SECOND
const DAY = 24 * 60 * MINUTE
/** (a): simulated maintenance after the build, before measuring. */
const SETTLE_MS = 6 * MINUTE
/** Virtual time with no graph message sent that counts as "the exchange is over". */
const QUIET_MS = 5 * SECOND
/** Record sizes of (a), data bytes. */
const FLOOD_SIZES = [100, 64 * 1024]
/** Data bytes of the records of (b), (c) and (d). */
const SMALL = 100
const DIFFS = [0, 10, 1000]
/** (d): addRecord loops give the event loop a turn after this many adds. */
const YIELD_EVERY = 64
/** (b): the add rate is sampled per this many records. */
const BLOCK = 5000

// ---- counting graph messages ------------------------------------------------------------

interface TypeTally {
  messages: number
  bytes: number
}

/** Graph messages handed to channels, by type, and record payloads, since the last reset. */
const traffic = {
  byType: new Map<string, TypeTally>(),
  /** Record bytes (the `r` of FLOOD messages) of all floods. */
  recordBytes: 0,
  floods: 0,
  /** The record followed in (a): its id's bytes, and its payload by receiving peer. */
  tracked: undefined as Buffer | undefined,
  trackedBytes: 0,
  trackedTo: new Map<string, number>(),
  /** Virtual time of the last graph message sent (the clock of the current world). */
  lastSendAt: 0,
  clock: undefined as { now(): number } | undefined,
}

function resetTraffic(): void {
  traffic.byType.clear()
  traffic.recordBytes = 0
  traffic.floods = 0
  traffic.trackedBytes = 0
  traffic.trackedTo.clear()
}

function tally(type: string): TypeTally {
  let t = traffic.byType.get(type)
  if (!t) traffic.byType.set(type, (t = { messages: 0, bytes: 0 }))
  return t
}

const bytesOf = (...types: string[]): number =>
  types.reduce((sum, t) => sum + (traffic.byType.get(t)?.bytes ?? 0), 0)

const allBytes = (): number => [...traffic.byType.values()].reduce((s, t) => s + t.bytes, 0)

let sendingType: string | undefined
// The originals, called with their `this` below.
// eslint-disable-next-line @typescript-eslint/unbound-method
const channelSend = Channel.prototype.send
Channel.prototype.send = function (this: Channel, message: Uint8Array): Promise<void> {
  if (sendingType !== undefined) {
    const t = tally(sendingType)
    t.messages++
    t.bytes += message.length
  }
  return channelSend.call(this, message)
}
// eslint-disable-next-line @typescript-eslint/unbound-method
const linkSend = Link.prototype.send
Link.prototype.send = function (this: Link, m: GraphMessage): Promise<void> {
  if (traffic.clock) traffic.lastSendAt = traffic.clock.now()
  if (m.type === 'flood') {
    traffic.floods++
    traffic.recordBytes += m.r.length
    const id = traffic.tracked
    if (id && Buffer.from(m.r.buffer, m.r.byteOffset, m.r.length).indexOf(id) >= 0) {
      traffic.trackedBytes += m.r.length
      traffic.trackedTo.set(this.peerId, (traffic.trackedTo.get(this.peerId) ?? 0) + m.r.length)
    }
  }
  sendingType = m.type
  try {
    return linkSend.call(this, m)
  } finally {
    sendingType = undefined
  }
}

// ---- helpers ----------------------------------------------------------------------------

const wall0 = performance.now()

function progress(what: string): void {
  const wall = ((performance.now() - wall0) / 1000).toFixed(0)
  const heap = (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)
  process.stderr.write(`  [${wall} s, heap ${heap} MiB] ${what}\n`)
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const fix = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : String(n))
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const max = (xs: readonly number[]): number => xs.reduce((a, b) => Math.max(a, b), -Infinity)

function printTable(headers: string[], rows: string[][]): void {
  const all = [headers, ...rows]
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  for (const r of all) console.log(r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  '))
}

/** True while a file operation started by the process has not completed. */

async function simPeer(sim: Sim, root: string, name: string): Promise<PeerNode> {
  const node = await drive(
    sim,
    PeerNode.start({
      dataDir: join(root, name),
      clock: sim.clock,
      random: sim.random.fork(`peer/${name}`),
      network: sim.addNode(name),
    }),
  )
  await drive(sim, node.identities.create({ classifier: name }))
  return node
}

/** The graph's record store (private): its sync items, for the Hash Sync baseline. */
function storeOf(graph: PeerGraph): RecordStore {
  return (graph as unknown as { store: RecordStore }).store
}

function recordData(sim: Sim, size: number): Uint8Array {
  return sim.random.bytes(size)
}

const idBytes = (id: string): Buffer => Buffer.from(id.replace(/-/g, ''), 'hex')

// ---- (a) flooding -----------------------------------------------------------------------

interface FloodStats {
  size: number
  encoded: number[]
  /** Virtual ms from the add to the last node's record-changed. */
  times: number[]
  /** Nodes (of NODES - 1) that got each record. */
  reached: number[]
  /** Per record: record payload received per node / encoded record size. */
  copies: number[]
  /** Per record: the most payload any one node received / encoded size. */
  maxCopies: number[]
  /** Per record: all graph-message bytes per node / encoded size. */
  graphCopies: number[]
  /** Per record: simulator stream bytes delivered per node / encoded size. */
  wireCopies: number[]
}

interface FloodWorld {
  label: string
  stats: FloodStats[]
  /** Neighbour pairs just before the first large record, sorted. */
  edges: string[]
  buildWall: number
}

function edgesOf(graphs: PeerGraph[], names: string[]): string[] {
  const byPeer = new Map(graphs.map((g, i) => [g.peerId, names[i]!]))
  const out = new Set<string>()
  for (let i = 0; i < graphs.length; i++) {
    for (const c of graphs[i]!.connections('neighbor')) {
      const other = byPeer.get(c.peerId) ?? c.peerId
      out.add([names[i]!, other].sort().join('-'))
    }
  }
  return [...out].sort()
}

async function floodWorld(root: string, label: string, threshold?: number): Promise<FloodWorld> {
  const sim = createSim('graph-flood', `${SEED}/flood`)
  traffic.clock = sim.clock
  const t0 = performance.now()
  const rnd = sim.random.fork('bench')
  const tuning = threshold === undefined ? undefined : { announceThresholdBytes: threshold }
  const names: string[] = []
  const graphs: PeerGraph[] = []
  const nodes: PeerNode[] = []
  const tracking = { id: '', seen: new Set<number>(), last: 0 }
  for (let i = 0; i < NODES; i++) {
    const name = `n${i}`
    const node = await simPeer(sim, join(root, label), name)
    const graph = await drive(
      sim,
      i === 0
        ? node.graphs.create({ graphId: 'flood', ...(tuning ? { tuning } : {}) })
        : node.graphs.open('flood', tuning ? { tuning } : {}),
    )
    graph.on('record-changed', (e) => {
      if (e.recordId === tracking.id && e.change === 'added' && !tracking.seen.has(i)) {
        tracking.seen.add(i)
        tracking.last = sim.clock.now()
      }
    })
    if (i > 0) {
      const target = names[rnd.int(i)]!
      await drive(sim, graph.connect({ address: target, port: PORT }))
      await sim.runUntil(() => graph.status.synchronized, { maxMs: MINUTE, what: 'first sync' })
    }
    await drive(sim, graph.listen({ port: PORT }))
    names.push(name)
    graphs.push(graph)
    nodes.push(node)
    if ((i + 1) % 25 === 0) progress(`(a) ${label}: ${i + 1} of ${NODES} nodes joined`)
  }
  await sim.run(SETTLE_MS)
  const buildWall = (performance.now() - t0) / 1000
  progress(`(a) ${label}: built and settled (${fix(buildWall, 1)} s wall)`)

  const stats: FloodStats[] = []
  let edges: string[] = []
  for (const size of FLOOD_SIZES) {
    if (size > 16 * 1024) edges = edgesOf(graphs, names)
    const s: FloodStats = {
      size,
      encoded: [],
      times: [],
      reached: [],
      copies: [],
      maxCopies: [],
      graphCopies: [],
      wireCopies: [],
    }
    for (let k = 0; k < FLOOD_RECORDS; k++) {
      const from = rnd.int(NODES)
      const data = recordData(sim, size)
      resetTraffic()
      const wire0 = sim.network.counters.stream.deliveredBytes
      tracking.id = ''
      tracking.seen = new Set([from])
      const start = sim.clock.now()
      const id = await graphs[from]!.addRecord({
        type: TYPE,
        data,
        expiresAt: new Date(sim.clock.now() + DAY),
      })
      tracking.id = id
      traffic.tracked = idBytes(id)
      const encoded = encodedSize(graphs[from]!, id)
      await sim.runUntil(() => tracking.seen.size === NODES, {
        maxMs: 2 * MINUTE,
        throwOnTimeout: false,
      })
      tracking.last = tracking.seen.size === NODES ? tracking.last : NaN
      // Let ACKs and late announces finish before reading the counters.
      await sim.runUntil(() => sim.clock.now() - traffic.lastSendAt >= QUIET_MS, {
        maxMs: MINUTE,
        throwOnTimeout: false,
      })
      const receivers = NODES - 1
      s.encoded.push(encoded)
      s.times.push(tracking.last - start)
      s.reached.push(tracking.seen.size - 1)
      s.copies.push(traffic.trackedBytes / receivers / encoded)
      s.maxCopies.push(max([...traffic.trackedTo.values()]) / encoded)
      s.graphCopies.push(allBytes() / receivers / encoded)
      s.wireCopies.push((sim.network.counters.stream.deliveredBytes - wire0) / receivers / encoded)
      traffic.tracked = undefined
      await sim.run(SECOND)
    }
    stats.push(s)
    progress(`(a) ${label}: ${FLOOD_RECORDS} records of ${fmt(size)} bytes flooded`)
  }
  for (const node of nodes) await drive(sim, node.stop())
  traffic.clock = undefined
  return { label, stats, edges, buildWall }
}

/** A stored record's wire size (record-codec.ts), through the store. */
function encodedSize(graph: PeerGraph, id: string): number {
  const entry = storeOf(graph).getEntry(id)
  return entry ? encodeRecord(entry.record).length : NaN
}

async function partA(root: string): Promise<void> {
  const ours = await floodWorld(root, 'announce')
  const plain = await floodWorld(root, 'plain', Infinity)
  const same = ours.edges.join() === plain.edges.join()
  const shared = ours.edges.filter((e) => plain.edges.includes(e)).length

  console.log(`\n== (a) flood: ${NODES} nodes on the simulator, seed ${SEED}/flood`)
  console.log(
    `Each node joined through a random earlier node, then ${SETTLE_MS / MINUTE} simulated ` +
      `minutes of maintenance; ${FLOOD_RECORDS} records per size, each from a random node, one ` +
      'at a time. Links: the simulator default (10 ms one way, no loss, unlimited bandwidth).',
  )
  console.log(
    `Topology before the 64 KiB records: ${ours.edges.length} links (ours) and ` +
      `${plain.edges.length} (plain), ${shared} in common` +
      (same ? ' (identical).' : ' (the runs diverged after the build: maintenance).'),
  )
  const rows: string[][] = []
  for (let i = 0; i < FLOOD_SIZES.length; i++) {
    const o = ours.stats[i]!
    const p = plain.stats[i]!
    const size = o.size >= 1024 ? `${o.size / 1024} KiB` : `${o.size} B`
    const large = o.size > 16 * 1024
    const enc = `${fmt(mean(o.encoded))} B encoded`
    rows.push([
      `${size} (${enc}): nodes reached`,
      `${fix(mean(o.reached), 1)} of ${NODES - 1}`,
      `${fix(mean(p.reached), 1)} of ${NODES - 1}`,
      '',
      '',
    ])
    rows.push([
      `${size}: time to all nodes, mean (max)`,
      `${fix(mean(o.times), 0)} (${fix(max(o.times), 0)}) ms`,
      `${fix(mean(p.times), 0)} (${fix(max(p.times), 0)}) ms`,
      '',
      fix(mean(o.times) / mean(p.times)),
    ])
    rows.push([
      `${size}: payload copies per node, mean (worst node)`,
      `${fix(mean(o.copies))} (${fix(max(o.maxCopies))})`,
      `${fix(mean(p.copies))} (${fix(max(p.maxCopies))})`,
      large ? '<= 1.3' : '',
      large
        ? `${fix(mean(o.copies) / 1.3)} of goal; ${fix(mean(o.copies) / mean(p.copies))} of plain`
        : fix(mean(o.copies) / mean(p.copies)),
    ])
    rows.push([
      `${size}: payload bytes per node per record`,
      fmt(mean(o.copies) * mean(o.encoded)),
      fmt(mean(p.copies) * mean(p.encoded)),
      '',
      fix(mean(o.copies) / mean(p.copies)),
    ])
    rows.push([
      `${size}: all graph messages per node / record size`,
      fix(mean(o.graphCopies)),
      fix(mean(p.graphCopies)),
      '',
      fix(mean(o.graphCopies) / mean(p.graphCopies)),
    ])
    rows.push([
      `${size}: wire bytes per node / record size`,
      fix(mean(o.wireCopies)),
      fix(mean(p.wireCopies)),
      '',
      fix(mean(o.wireCopies) / mean(p.wireCopies)),
    ])
  }
  printTable(['figure', 'ours (announce > 16 KiB)', 'plain flooding', 'goal', 'ratio'], rows)
  console.log(
    'payload copies per node = bytes of FLOOD messages carrying the record (their record ' +
      `field), summed over all nodes, / ${NODES - 1} receivers / the record's encoded size; ` +
      'counted by wrapping Link.prototype.send. "all graph messages" adds ANNOUNCE, REQUEST, ' +
      'ACK and message framing; "wire" is the simulator\'s delivered stream bytes (Noise, ' +
      'mux, keepalives) over the same window. Ratio = ours / plain.',
  )
  console.log(
    `build + ${SETTLE_MS / MINUTE} min settle: ${fix(ours.buildWall, 1)} s and ` +
      `${fix(plain.buildWall, 1)} s wall`,
  )
}

// ---- (b) sync and (c) resync ------------------------------------------------------------

interface SyncWorld {
  sim: Sim
  nodes: PeerNode[]
  a: PeerGraph
  b: PeerGraph
  n: number
  /** Live application records each side holds, followed through record-changed. */
  counts: { a: number; b: number }
}

interface SyncFigures {
  requested: number
  n: number
  buildSeconds: number
  /** addRecord rate per BLOCK records, in order. */
  blocks: number[]
  wall: number
  virtual: number
  wireBytes: number
  graphBytes: number
  recordBytes: number
  floods: number
  reconcileAfter: number
  loopbackBps: number
  verifyRate: number
}

/** MB/s of a raw TCP transfer on 127.0.0.1 (64 KiB writes), measured now. */
async function loopbackThroughput(bytes = 256 * 2 ** 20): Promise<number> {
  const server = createServer()
  let received = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => (done = resolve))
  server.on('connection', (s) =>
    s.on('data', (d: Buffer) => {
      received += d.length
      if (received >= bytes) done()
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const socket = tcpConnect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.on('connect', resolve))
  const chunk = Buffer.alloc(64 * 1024, 7)
  const start = performance.now()
  let sent = 0
  while (sent < bytes) {
    sent += chunk.length
    if (!socket.write(chunk)) await new Promise<void>((resolve) => socket.once('drain', resolve))
  }
  await finished
  const seconds = (performance.now() - start) / 1000
  socket.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return received / seconds
}

/** Ed25519 verifications per second (node:crypto, KeyObject, 64-byte message). */
function verifyRate(ms = 1500): number {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const message = Buffer.alloc(64, 1)
  const signature = sign(null, message, privateKey)
  for (let i = 0; i < 200; i++) verify(null, message, publicKey, signature)
  let n = 0
  const start = performance.now()
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) {
      if (!verify(null, message, publicKey, signature)) throw new Error('verify failed')
    }
    n += 100
  }
  return n / ((performance.now() - start) / 1000)
}

async function syncWorld(root: string): Promise<{ world: SyncWorld; figures: SyncFigures }> {
  const sim = createSim('graph-sync', `${SEED}/sync`)
  traffic.clock = sim.clock
  const na = await simPeer(sim, join(root, 'sync'), 'a')
  const nb = await simPeer(sim, join(root, 'sync'), 'b')
  const a = await drive(sim, na.graphs.create({ graphId: 'sync' }))
  const counts = { a: 0, b: 0 }
  a.on('record-changed', (e) => {
    if (e.change === 'added') counts.a++
  })

  // The source's database, through addRecord, one virtual ms apart, until RECORDS or the
  // wall-time budget: the add rate falls as the database grows (see the module comment).
  const expiresAt = new Date(sim.clock.now() + 30 * DAY)
  const data = recordData(sim, SMALL)
  const blocks: number[] = []
  const b0 = performance.now()
  let block0 = b0
  let n = 0
  while (n < RECORDS && performance.now() - b0 < BUILD_SECONDS * 1000) {
    await a.addRecord({ type: TYPE, data, expiresAt })
    sim.clock.advance(1)
    if (++n % BLOCK === 0) {
      const t = performance.now()
      blocks.push(BLOCK / ((t - block0) / 1000))
      block0 = t
      if (n % (4 * BLOCK) === 0) {
        progress(`(b) ${fmt(n)} records added, the last ${fmt(BLOCK)} at ${fmt(blocks.at(-1)!)}/s`)
      }
    }
  }
  const buildSeconds = (performance.now() - b0) / 1000
  progress(`(b) ${fmt(n)} records added in ${fix(buildSeconds, 0)} s`)
  await drive(sim, a.listen({ port: PORT }))
  // The records are older than the sync (as in a graph that has been running a while).
  await sim.run(10 * MINUTE)

  const b = await drive(sim, nb.graphs.open('sync'))
  b.on('record-changed', (e) => {
    if (e.change === 'added') counts.b++
  })
  resetTraffic()
  const wire0 = sim.network.counters.stream.deliveredBytes
  const v0 = sim.clock.now()
  const t0 = performance.now()
  let last = 0
  const connected = b.connect({ address: 'a', port: PORT })
  await sim.runUntil(
    () => {
      if (counts.b - last >= 20_000) {
        last = counts.b
        progress(`(b) ${fmt(counts.b)} of ${fmt(n)} records synced`)
      }
      return b.status.synchronized && counts.b >= n
    },
    { maxMs: 3_600_000, what: 'the full sync' },
  )
  await connected
  const wall = (performance.now() - t0) / 1000
  const virtual = (sim.clock.now() - v0) / 1000
  // The reconciliation that follows the full sync, until nothing more is sent.
  await sim.runUntil(() => sim.clock.now() - traffic.lastSendAt >= QUIET_MS, {
    maxMs: 10 * MINUTE,
    what: 'the exchange after the sync going quiet',
  })
  const wireBytes = sim.network.counters.stream.deliveredBytes - wire0
  const graphBytes = allBytes()
  const recordBytes = traffic.recordBytes
  const floods = traffic.floods
  const reconcileAfter = bytesOf('reconcile', 'request')
  progress(`(b) synced ${fmt(counts.b)} records in ${fix(wall, 1)} s; measuring the bounds`)
  const loopbackBps = await loopbackThroughput()
  const rate = verifyRate()
  counts.a = n
  return {
    world: { sim, nodes: [na, nb], a, b, n, counts },
    figures: {
      requested: RECORDS,
      n,
      buildSeconds,
      blocks,
      wall,
      virtual,
      wireBytes,
      graphBytes,
      recordBytes,
      floods,
      reconcileAfter,
      loopbackBps,
      verifyRate: rate,
    },
  }
}

function printSync(f: SyncFigures): void {
  console.log(
    `\n== (b) full sync of ${fmt(f.n)} records from one node (simulator, seed ${SEED}/sync)`,
  )
  const first = f.blocks[0]
  const last = f.blocks.at(-1)
  const curve =
    first === undefined || last === undefined
      ? ''
      : ` The add rate fell from ${fmt(first)}/s over the first ${fmt(BLOCK)} records to ` +
        `${fmt(last)}/s over the last ${fmt(BLOCK)}.`
  if (f.n < f.requested) {
    console.log(
      `N = ${fmt(f.n)}, NOT the ${fmt(f.requested)} asked for: the source's database is built ` +
        `through addRecord, which gave ${fmt(f.n)} records in the ${BUILD_SECONDS} s budget ` +
        `(--build-seconds; ${fmt(f.n / f.buildSeconds)}/s on average).${curve}`,
    )
  } else {
    console.log(
      `N = ${fmt(f.n)}; the source was built through addRecord in ${fix(f.buildSeconds, 0)} s ` +
        `(${fmt(f.n / f.buildSeconds)}/s on average).${curve}`,
    )
  }
  const wireBound = f.recordBytes / f.loopbackBps
  const verifyBound = f.n / f.verifyRate
  const bound = Math.max(wireBound, verifyBound)
  printTable(
    ['figure', 'measured', 'bound', 'ratio (measured / bound)'],
    [
      [
        'wall time, connect to the last record stored',
        `${fix(f.wall, 1)} s`,
        `${fix(bound, 2)} s`,
        fix(f.wall / bound, 1),
      ],
      ['  verification bound: N / Ed25519 verifies per s', '', `${fix(verifyBound, 2)} s`, ''],
      ['  wire bound: record bytes / loopback TCP throughput', '', `${fix(wireBound, 3)} s`, ''],
      ['virtual time (10 ms links, unlimited bandwidth)', `${fix(f.virtual, 2)} s`, '', ''],
      [
        'records per second (wall)',
        fmt(f.n / f.wall),
        fmt(f.n / bound),
        fix(f.n / f.wall / (f.n / bound), 3),
      ],
      [
        'record bytes (FLOOD record fields)',
        `${fmt(f.recordBytes)} (${fmt(f.recordBytes / f.floods)} per record)`,
        '',
        '',
      ],
      [
        'graph message bytes, both ways',
        fmt(f.graphBytes),
        fmt(f.recordBytes),
        fix(f.graphBytes / f.recordBytes, 3),
      ],
      [
        'wire bytes (simulator streams), both ways',
        fmt(f.wireBytes),
        fmt(f.recordBytes),
        fix(f.wireBytes / f.recordBytes, 3),
      ],
      ['of which RECONCILE + REQUEST after SYNC_END', `${fmt(f.reconcileAfter)}`, '', ''],
    ],
  )
  console.log(
    `In-run references: Ed25519 verify ${fmt(f.verifyRate)}/s (node:crypto, KeyObject, 64-byte ` +
      `message); raw TCP on 127.0.0.1 ${fix(f.loopbackBps / 1e6, 0)} MB/s (256 MiB, 64 KiB ` +
      'writes). Bound = the larger of the two (they could overlap). The graph has no security ' +
      'provider here, so no record is actually verified: the bound is what verifying every ' +
      'record would cost. Wall time includes both nodes (one process, one core).',
  )
}

function itemKeys(graph: PeerGraph): Set<string> {
  return new Set(
    storeOf(graph)
      .syncItems()
      .map((i) => Buffer.from(i.digest).toString('hex')),
  )
}

interface ResyncRow {
  diffs: number
  byType: Map<string, TypeTally>
  wire: number
  recordBytes: number
  floods: number
  baseline: number
  virtual: number
  /** Virtual s from the heal to the link being back (maintenance). */
  reconnect: number
  converged: boolean
}

async function resync(world: SyncWorld): Promise<ResyncRow[]> {
  const { sim, a, b } = world
  const rows: ResyncRow[] = []
  let serial = 0
  for (const diffs of DIFFS) {
    const cut = sim.network.partition(['a'], ['b'])
    await sim.runUntil(() => !a.status.hasConnections && !b.status.hasConnections, {
      maxMs: 10 * MINUTE,
      what: 'the link closing across the partition',
    })
    const expiresAt = new Date(sim.clock.now() + 30 * DAY)
    for (let i = 0; i < diffs; i++) {
      const side = i < Math.ceil(diffs / 2) ? a : b
      await side.addRecord({ type: TYPE, data: recordData(sim, SMALL), expiresAt })
      serial++
    }
    const sa = new ArraySource(storeOf(a).syncItems())
    const sb = new ArraySource(storeOf(b).syncItems())
    const baseline = hashSyncBytes(sa, sb).bytes
    const expected = world.n + serial
    resetTraffic()
    const wire0 = sim.network.counters.stream.deliveredBytes
    sim.network.heal(cut)
    const v0 = sim.clock.now()
    await sim.runUntil(() => a.status.hasConnections && b.status.hasConnections, {
      maxMs: 30 * MINUTE,
      what: 'the link coming back after the heal',
    })
    const linkedAt = sim.clock.now()
    await sim.runUntil(
      () =>
        world.counts.a >= expected &&
        world.counts.b >= expected &&
        sim.clock.now() - traffic.lastSendAt >= QUIET_MS,
      { maxMs: 30 * MINUTE, what: `the resync of ${diffs} differences` },
    )
    const virtual = (traffic.lastSendAt - linkedAt) / 1000
    const reconnect = (linkedAt - v0) / 1000
    const ka = itemKeys(a)
    const kb = itemKeys(b)
    const converged = ka.size === kb.size && [...ka].every((k) => kb.has(k))
    rows.push({
      diffs,
      byType: new Map([...traffic.byType].map(([k, v]) => [k, { ...v }])),
      wire: sim.network.counters.stream.deliveredBytes - wire0,
      recordBytes: traffic.recordBytes,
      floods: traffic.floods,
      baseline,
      virtual,
      reconnect,
      converged,
    })
    progress(`(c) ${diffs} differences resynced (${converged ? 'converged' : 'NOT converged'})`)
  }
  return rows
}

function printResync(world: SyncWorld, rows: ResyncRow[]): void {
  console.log(
    `\n== (c) resync: two nodes of ${fmt(world.n)} records, link lost (partition), records ` +
      'added apart (half on each side), partition healed, maintenance reconnects',
  )
  const b = (r: ResyncRow, ...types: string[]): number =>
    types.reduce((s, t) => s + (r.byType.get(t)?.bytes ?? 0), 0)
  const nonRecord = (r: ResyncRow): number =>
    [...r.byType.values()].reduce((s, t) => s + t.bytes, 0) - r.recordBytes
  printTable(
    [
      'diffs',
      'RECONCILE B (msgs)',
      'REQUEST B',
      'other graph B',
      'ours: non-record B',
      'records moved',
      'wire B (all)',
      'Hash Sync B',
      'ours / Hash Sync',
      'goal',
      'reconnect / resync s',
      'same items',
    ],
    rows.map((r) => {
      const ratio = nonRecord(r) / r.baseline
      return [
        fmt(r.diffs),
        `${fmt(b(r, 'reconcile'))} (${r.byType.get('reconcile')?.messages ?? 0})`,
        fmt(b(r, 'request')),
        fmt(nonRecord(r) - b(r, 'reconcile', 'request')),
        fmt(nonRecord(r)),
        `${fmt(r.floods)} (${fmt(r.recordBytes)} B)`,
        fmt(r.wire),
        fmt(r.baseline),
        fix(ratio, 4),
        r.diffs === 10 ? (ratio < 0.1 ? '< 0.1 ok' : '< 0.1 NO') : '',
        `${fix(r.reconnect, 1)} / ${fix(r.virtual, 2)}`,
        r.converged ? 'yes' : 'NO',
      ]
    }),
  )
  const types = [...new Set(rows.flatMap((r) => [...r.byType.keys()]))].sort()
  console.log('graph messages by type (messages / bytes):')
  for (const r of rows) {
    const parts = types
      .filter((t) => r.byType.has(t))
      .map((t) => `${t} ${r.byType.get(t)!.messages}/${fmt(r.byType.get(t)!.bytes)}`)
    console.log(`  ${fmt(r.diffs)} diffs: ${parts.join(', ')}`)
  }
  console.log(
    'ours: non-record B = every graph message of the reconnect (CONNECT, WELCOME, RECONCILE, ' +
      'REQUEST, ACK, SOLICIT/SYNC_END if any, FLOOD framing) less the record bytes the FLOODs ' +
      'carry; Hash Sync B = SOLICIT_HASH (40 B per range of 10) plus ADVERTISE for the ranges ' +
      'that differ (52 B + 20 B per record), headers and records left out, computed on the ' +
      "two stores' items at the heal with the first node as initiator. wire = simulator stream " +
      'bytes of the whole reconnect, Noise handshake and records included.',
  )
}

// ---- (d) ingest over TCP ----------------------------------------------------------------

interface IngestRun {
  /** Records that arrived (of n). */
  received: number
  /** CPU seconds this process used meanwhile (only the receiver's when the sender is apart). */
  cpu: number
  /** Receiver's records/s, first add to its last record-changed. */
  ingest: number
  /** The sender's addRecord rate while it flooded. */
  senderAdds: number
  /** The sender's adds per CPU second of its process (sender apart only). */
  senderCpuRate?: number
}

interface IngestFigures {
  n: number
  local: AddRate[]
  /** Sender in a child process (its own core). */
  apart: IngestRun
  /** Sender in this process (one JavaScript thread for both nodes). */
  together: IngestRun
}

interface AddRate {
  /** Adds per wall second. */
  rate: number
  /** Adds per CPU second of this process (user + system). */
  cpuRate: number
}

/** Adds `n` records to `graph` as fast as addRecord allows. */
async function addMany(graph: PeerGraph, n: number, fill: number): Promise<AddRate> {
  const data = new Uint8Array(SMALL).fill(fill)
  const expiresAt = new Date(Date.now() + DAY)
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    await graph.addRecord({ type: TYPE, data, expiresAt })
    // addRecord settles in microtasks: let I/O (channel credit, the other node) run now and then.
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r))
  }
  const cpu = process.cpuUsage(cpu0)
  return {
    rate: n / ((performance.now() - start) / 1000),
    cpuRate: n / ((cpu.user + cpu.system) / 1e6),
  }
}

/** Waits until `n` records arrived, or nothing arrived for 10 s; returns [received, lastAt]. */
async function arrivals(graph: PeerGraph, n: number, start: () => void): Promise<[number, number]> {
  let received = 0
  let lastAt = 0
  const onChange = (e: { change: string }): void => {
    if (e.change === 'added') {
      received++
      lastAt = performance.now()
    }
  }
  graph.on('record-changed', onChange)
  start()
  let seen = -1
  let idleSince = performance.now()
  while (received < n) {
    await new Promise((r) => setTimeout(r, 20))
    if (received !== seen) {
      seen = received
      idleSince = performance.now()
    } else if (performance.now() - idleSince > 10_000) break
  }
  graph.off('record-changed', onChange)
  return [received, lastAt]
}

/**
 * The sender of (d) in a child process: a PeerNode with graph `ingest` listening on
 * 127.0.0.1; prints `{"port"}`, adds the records on `go`, prints `{"adds"}`, stops on `stop`.
 */
async function senderChild(): Promise<void> {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  const node = await PeerNode.start({ dataDir: process.env['BENCH_GRAPH_DIR']! })
  await node.identities.create({ classifier: 'sender' })
  await addMany(await node.graphs.create({ graphId: 'warm-up' }), 500, 4) // JIT, unrecorded
  const graph = await node.graphs.create({ graphId: 'ingest' })
  const { port } = await graph.listen({ host: '127.0.0.1' })
  process.stdout.write(`${JSON.stringify({ port })}\n`)
  await lines.next()
  const { rate: adds, cpuRate: addsCpu } = await addMany(graph, INGEST_RECORDS, 5)
  process.stdout.write(`${JSON.stringify({ adds, addsCpu })}\n`)
  await lines.next()
  await node.stop()
}

/** Connects `receiver` to a fresh graph `ingest` at `port` and waits for its first sync. */
async function join127(receiver: PeerNode, port: number, id: string): Promise<PeerGraph> {
  const graph = await receiver.graphs.open('ingest', { peerId: id })
  await graph.connect({ address: '127.0.0.1', port })
  while (!graph.status.synchronized) await new Promise((r) => setTimeout(r, 10))
  return graph
}

async function ingestApart(root: string, receiver: PeerNode, id: string): Promise<IngestRun> {
  const n = INGEST_RECORDS
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, BENCH_GRAPH_SENDER: '1', BENCH_GRAPH_DIR: join(root, 'tcp-child') },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const out = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<Record<string, number>> => {
    const line = await out.next()
    if (line.done) throw new Error('the sender process ended early')
    return JSON.parse(line.value) as Record<string, number>
  }
  const { port } = await next()
  const graph = await join127(receiver, port!, id)
  let start = 0
  let cpu0 = process.cpuUsage()
  const [received, lastAt] = await arrivals(graph, n, () => {
    start = performance.now()
    cpu0 = process.cpuUsage()
    child.stdin.write('go\n')
  })
  const cpu = process.cpuUsage(cpu0)
  const { adds, addsCpu } = await next()
  child.stdin.write('stop\n')
  await new Promise((resolve) => child.on('exit', resolve))
  await graph.close()
  return {
    received,
    cpu: (cpu.user + cpu.system) / 1e6,
    ingest: received / ((lastAt - start) / 1000),
    senderAdds: adds!,
    senderCpuRate: addsCpu!,
  }
}

async function ingestTogether(root: string, receiver: PeerNode, id: string): Promise<IngestRun> {
  const n = INGEST_RECORDS
  const sender = await PeerNode.start({ dataDir: join(root, 'tcp-sender') })
  await sender.identities.create({ classifier: 'sender' })
  await addMany(await sender.graphs.create({ graphId: 'warm-up' }), 500, 4) // JIT, unrecorded
  const source = await sender.graphs.create({ graphId: 'ingest' })
  const { port } = await source.listen({ host: '127.0.0.1' })
  const graph = await join127(receiver, port, id)
  let start = 0
  let cpu0 = process.cpuUsage()
  let adding: Promise<AddRate> = Promise.resolve({ rate: 0, cpuRate: 0 })
  const [received, lastAt] = await arrivals(graph, n, () => {
    start = performance.now()
    cpu0 = process.cpuUsage()
    adding = addMany(source, n, 6)
  })
  const cpu = process.cpuUsage(cpu0)
  const senderAdds = (await adding).rate
  await graph.close()
  await sender.stop()
  return {
    received,
    cpu: (cpu.user + cpu.system) / 1e6,
    ingest: received / ((lastAt - start) / 1000),
    senderAdds,
  }
}

async function partD(root: string): Promise<IngestFigures> {
  const n = INGEST_RECORDS
  const receiver = await PeerNode.start({ dataDir: join(root, 'tcp-receiver') })
  // One identity per graph database: each run below opens `ingest` as a new peer.
  const ids = await Promise.all(
    ['r1', 'r2'].map(async (c) => (await receiver.identities.create({ classifier: c })).peerName),
  )
  // Each local measurement starts from an empty graph, as the ingest does.
  const local = async (name: string): Promise<AddRate> =>
    addMany(await receiver.graphs.create({ graphId: name }), n, 3)
  await addMany(await receiver.graphs.create({ graphId: 'warm-up' }), 500, 3) // JIT, unrecorded
  const rates = [await local('local-1')]
  progress(`(d) local addRecord: ${fmt(rates[0]!.rate)}/s`)
  const apart = await ingestApart(root, receiver, ids[0]!)
  progress(`(d) sender in a child process: ${fmt(apart.received)} arrived, ${fmt(apart.ingest)}/s`)
  const together = await ingestTogether(root, receiver, ids[1]!)
  progress(
    `(d) sender in this process: ${fmt(together.received)} arrived, ${fmt(together.ingest)}/s`,
  )
  rates.push(await local('local-2'))
  await receiver.stop()
  return { n, local: rates, apart, together }
}

function printIngest(f: IngestFigures): void {
  console.log(`\n== (d) ingest over TCP on 127.0.0.1: ${fmt(f.n)} records of ${SMALL} data bytes`)
  const local = mean(f.local.map((r) => r.rate))
  const localCpu = mean(f.local.map((r) => r.cpuRate))
  const { apart, together } = f
  const rows = [
    [
      'local addRecord on the receiving node, no network (before / after)',
      `${fmt(local)} (${f.local.map((r) => fmt(r.rate)).join(' / ')})`,
      '1.00',
    ],
    ['  per CPU second', fmt(localCpu), '1.00 (CPU)'],
    [
      'ingest, sender in its own process: first add to the last record-changed',
      `${fmt(apart.ingest)} (${fmt(apart.received)} of ${fmt(f.n)} arrived)`,
      fix(apart.ingest / local),
    ],
    [
      '  per CPU second of the receiving process',
      fmt(apart.received / apart.cpu),
      `${fix(apart.received / apart.cpu / localCpu)} (CPU)`,
    ],
    ["  the sender's addRecord meanwhile", fmt(apart.senderAdds), fix(apart.senderAdds / local)],
    [
      "  the sender's addRecord per CPU second of its process",
      fmt(apart.senderCpuRate ?? NaN),
      `${fix((apart.senderCpuRate ?? NaN) / localCpu)} (CPU)`,
    ],
    [
      'ingest, sender in the same process: first add to the last record-changed',
      `${fmt(together.ingest)} (${fmt(together.received)} of ${fmt(f.n)} arrived)`,
      fix(together.ingest / local),
    ],
    [
      "  the sender's addRecord meanwhile",
      fmt(together.senderAdds),
      fix(together.senderAdds / local),
    ],
  ]
  printTable(['figure', 'records/s', 'ratio to local addRecord'], rows)
  for (const run of [apart, together]) {
    if (run.received < f.n) {
      console.log(`WARNING: only ${fmt(run.received)} of ${fmt(f.n)} records arrived (10 s idle).`)
    }
  }
  console.log(
    'The receiver decodes, checks and stores each record with the store.put the local loop ' +
      'uses and emits record-changed. "Own process": the sender is a child process (the ' +
      'second core); "same process": one JavaScript thread for both nodes. Every addRecord ' +
      `loop yields to the event loop every ${YIELD_EVERY} adds. Per CPU second = records / ` +
      '(user + system CPU of the process over the run).',
  )
}

// ---- main -------------------------------------------------------------------------------

if (process.env['BENCH_GRAPH_SENDER'] === '1') {
  await senderChild()
  process.exit(0)
}
const root = await mkdtemp(join(tmpdir(), 'peerinfra-bench-graph-'))
const [l1, l5] = loadavg()
console.log(
  `bench/graph.ts: parts ${[...PARTS].sort().join(',')}; seed ${SEED}; node ${process.version}; ` +
    `${availableParallelism()} cores; load average ${fix(l1!)} / ${fix(l5!)} (1 / 5 min) at start`,
)
try {
  if (PARTS.has('a')) await partA(root)
  if (PARTS.has('b') || PARTS.has('c')) {
    const { world, figures } = await syncWorld(root)
    if (PARTS.has('b')) printSync(figures)
    if (PARTS.has('c')) printResync(world, await resync(world))
    for (const node of world.nodes) await drive(world.sim, node.stop())
    traffic.clock = undefined
  }
  if (PARTS.has('d')) printIngest(await partD(root))
} finally {
  await rm(root, { recursive: true, force: true })
}
const [e1, e5] = loadavg()
console.log(
  `\ntotal ${fix((performance.now() - wall0) / 1000, 0)} s wall; load average ${fix(e1!)} / ` +
    `${fix(e5!)} at the end`,
)
process.exit(0)
