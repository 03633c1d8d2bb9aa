/**
 * `peerinfra graph ...`: Peer Graphing from the command line. With no daemon, each command
 * opens the graph's database in --home, does its work and closes it:
 *
 * - `create`, `open` and the record commands (add, update, delete, get, list, search) work
 *   offline on the local database. With `--connect host:port` they go online first: connect
 *   to that node of the graph, synchronise, do the operation (a change floods to every node),
 *   wait a second for the flood, and leave. A newcomer joins and adds this way.
 * - `listen`, `connect` and `watch` stay up, printing the graph's events, until Ctrl-C.
 *
 * Two terminals make a graph:
 *   peerinfra graph create chat && peerinfra graph listen chat --port 4000
 *   peerinfra --home /tmp/bob graph add chat --type <GUID> --data hi --connect 127.0.0.1:4000
 */
import { readFile } from 'node:fs/promises'
import { Command, InvalidArgumentError, Option } from 'commander'
import pc from 'picocolors'
import { fromUtf8, toBase64, utf8 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { EventOf } from '../core/events.ts'
import {
  GRAPH_EVENT_TYPES,
  type GraphEvents,
  type GraphEventType,
  type PeerGraph,
  type PeerRecord,
  type RecordAttributes,
  type SearchQuery,
} from '../graph/index.ts'
import { PeerNode } from '../node/peer-node.ts'
import { formatEndpoint, parseEndpoint } from '../pnrp/endpoints.ts'
import type { Endpoint } from '../pnrp/types.ts'
import { printFields, printJson, success, type GlobalOptions } from './output.ts'

interface GraphCliOptions extends GlobalOptions {
  identity?: string
  connect?: string
  peerId?: string
  timeout: number
}

interface RecordCliOptions {
  type?: string
  data?: string
  dataFile?: string
  attributes?: string
  expiresIn?: number
  autoRefresh?: boolean
}

/** After a change made online: time for the flood to leave before the graph closes. */
const FLOOD_WAIT_MS = 1000
/** After the first sync: time for reconciliation, which reports no event of its own. */
const RECONCILE_WAIT_MS = 500
const DEFAULT_EXPIRES_IN_S = 3600

const EVENT_TYPES = GRAPH_EVENT_TYPES
type EventName = GraphEventType
type GraphEvent = EventOf<GraphEvents, EventName>

// ---- argument parsing ------------------------------------------------------------------

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

function integer(name: string, min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text)
    if (!/^-?\d+$/.test(text) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`)
    }
    return n
  }
}

function eventTypes(text: string, previous: EventName[] = []): EventName[] {
  const types = text.split(',').map((t) => t.trim())
  for (const t of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(t)) {
      throw new InvalidArgumentError(`unknown event type "${t}": ${EVENT_TYPES.join(', ')}`)
    }
  }
  return [...previous, ...(types as EventName[])]
}

/** A value given inline, or `@file` for the file's text. */
async function textArg(value: string): Promise<string> {
  if (!value.startsWith('@')) return value
  return readFile(value.slice(1), 'utf8').catch((err: unknown) => {
    throw new PeerError('E_INVALIDARG', `could not read ${value.slice(1)}: ${String(err)}`)
  })
}

/** `--attributes`: Windows' attribute XML, or a JSON object of strings and integers. */
async function attributesArg(
  value: string | undefined,
): Promise<RecordAttributes | string | undefined> {
  if (value === undefined) return undefined
  const text = (await textArg(value)).trim()
  if (text.startsWith('<')) return text
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new PeerError(
      'PEER_E_INVALID_ATTRIBUTES',
      'attributes must be <attributes> XML or a JSON object such as {"author":"alice","n":3}',
    )
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new PeerError('PEER_E_INVALID_ATTRIBUTES', 'JSON attributes must be an object')
  }
  return parsed as RecordAttributes
}

/** A search: `<peersearch>` XML, or the typed query as JSON. */
async function searchArg(value: string): Promise<SearchQuery | string> {
  const text = (await textArg(value)).trim()
  if (text.startsWith('<')) return text
  try {
    return JSON.parse(text) as SearchQuery
  } catch {
    throw new PeerError(
      'PEER_E_INVALID_SEARCH',
      'a search is <peersearch> XML or JSON such as {"attribute":"author","value":"alice"}',
    )
  }
}

/** `--data text` or `--data-file f` (not both). */
async function dataArg(o: RecordCliOptions, c: Command): Promise<Uint8Array | undefined> {
  if (o.data !== undefined && o.dataFile !== undefined) {
    c.error('error: give --data or --data-file, not both', { exitCode: 2 })
  }
  if (o.data !== undefined) return utf8(o.data)
  if (o.dataFile === undefined) return undefined
  const bytes = await readFile(o.dataFile).catch((err: unknown) => {
    throw new PeerError('E_INVALIDARG', `could not read ${o.dataFile}: ${String(err)}`)
  })
  return new Uint8Array(bytes)
}

// ---- output ----------------------------------------------------------------------------

/** The bytes as text when they are printable UTF-8, else undefined. */
function printable(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return ''
  const text = fromUtf8(bytes)
  return /^[\P{Cc}\n\t]*$/u.test(text) && !text.includes('\uFFFD') ? text : undefined
}

function dataSummary(bytes: Uint8Array): string {
  const text = printable(bytes)
  if (text === undefined) return `${bytes.length} bytes (use --json for base64)`
  return JSON.stringify(text.length > 60 ? text.slice(0, 57) + '...' : text)
}

function recordJson(r: PeerRecord): Record<string, unknown> {
  return {
    id: r.id,
    type: r.type,
    version: r.version,
    creatorId: r.creatorId,
    modifiedById: r.modifiedById,
    createdAt: r.createdAt.toISOString(),
    modifiedAt: r.modifiedAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    autoRefresh: r.autoRefresh,
    deleted: r.deleted,
    attributes: r.attributes,
    attributesXml: r.attributesXml,
    data: toBase64(r.data),
    dataText: printable(r.data),
  }
}

function showRecord(r: PeerRecord): void {
  printFields({
    id: r.id,
    type: r.type,
    version: String(r.version),
    creator: r.creatorId,
    'modified by': r.modifiedById === r.creatorId ? undefined : r.modifiedById,
    created: r.createdAt.toISOString(),
    modified: r.modifiedAt.toISOString(),
    expires: r.expiresAt.toISOString() + (r.autoRefresh ? pc.dim(' (auto-refresh)') : ''),
    attributes: r.attributesXml,
    data: r.data.length === 0 ? undefined : dataSummary(r.data),
  })
}

function recordLine(r: PeerRecord): string {
  return `${pc.bold(r.id)}  ${pc.dim(`v${r.version} type ${r.type} by ${r.creatorId}`)}  ${dataSummary(r.data)}`
}

function printRecords(records: PeerRecord[], json: boolean | undefined): void {
  if (json) return printJson(records.map(recordJson))
  if (records.length === 0) process.stdout.write(pc.dim('no records\n'))
  for (const r of records) process.stdout.write(recordLine(r) + '\n')
}

/** One line per event: JSON lines with --json, text otherwise. */
function printEvent(graph: PeerGraph, ev: GraphEvent, json: boolean | undefined): void {
  let record: PeerRecord | undefined
  if (ev.type === 'record-changed' && !graph.isClosed) {
    record = graph.getRecord(ev.data.recordId)
  }
  if (json) {
    const data =
      ev.type === 'incoming-data'
        ? { ...ev.data, data: toBase64(ev.data.data), dataText: printable(ev.data.data) }
        : ev.data
    const line = { event: ev.type, ...data, ...(record ? { record: recordJson(record) } : {}) }
    process.stdout.write(JSON.stringify(line) + '\n')
    return
  }
  const time = pc.dim(new Date().toISOString().slice(11, 19))
  process.stdout.write(`${time} ${pc.cyan(ev.type.padEnd(19))} ${eventText(ev, record)}\n`)
}

function eventText(ev: GraphEvent, record: PeerRecord | undefined): string {
  switch (ev.type) {
    case 'record-changed': {
      const { change, recordId, recordType } = ev.data
      const body = record ? `  ${dataSummary(record.data)}` : ''
      return `${change} ${recordId} ${pc.dim(`type ${recordType}`)}${body}`
    }
    case 'incoming-data':
      return `from ${ev.data.connectionId} type ${ev.data.dataType}  ${dataSummary(ev.data.data)}`
    case 'direct-connection':
    case 'neighbor-connection': {
      const d = ev.data
      const failure = d.failure ? ` (${d.failure})` : ''
      return `${d.status}${failure} ${d.peerId || '?'} ${pc.dim(`connection ${d.connectionId || '-'}`)}`
    }
    case 'status-changed':
      return Object.entries(ev.data.status)
        .map(([k, v]) => `${k} ${v ? pc.green('yes') : 'no'}`)
        .join(', ')
    case 'node-changed':
      return `${ev.data.change} ${ev.data.peerId} ${pc.dim(`node ${ev.data.nodeId}`)}`
    case 'synchronized':
      return `record type ${ev.data.recordType}`
    case 'connection-required':
      return pc.dim('no neighbour left: this node should connect to another')
    default:
      return ''
  }
}

/** A one-off announcement in a stream (listening, connected...): a JSON line or a ✔ line. */
function announce(json: boolean | undefined, event: string, fields: object, text: string): void {
  if (json) process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
  else success(text)
}

// ---- running a node and a graph --------------------------------------------------------

function graphOptions(c: Command): GraphCliOptions {
  return c.optsWithGlobals<GraphCliOptions>()
}

async function withNode<T>(opts: GraphCliOptions, fn: (node: PeerNode) => Promise<T>): Promise<T> {
  const node = await PeerNode.start({
    ...(opts.home ? { dataDir: opts.home } : {}),
    ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
  })
  try {
    if (node.identities.list().length === 0) {
      throw new PeerError(
        'PEER_E_IDENTITY_NOT_FOUND',
        `there is no identity in ${node.dataDir}: a graph's peer id is an identity, and its key ` +
          'secures the connections. Create one first: peerinfra identity create --classifier NAME',
      )
    }
    return await fn(node)
  } finally {
    await node.stop()
  }
}

/**
 * Opens a graph. Unless `allowNew`, a graph with no data here is an error (open would leave
 * an empty database behind: it is removed again).
 */
async function openGraph(node: PeerNode, graphId: string, allowNew: boolean): Promise<PeerGraph> {
  if (!allowNew && !(await node.graphs.exists(graphId))) {
    throw new PeerError(
      'PEER_E_DATABASE_NOT_PRESENT',
      `graph "${graphId}" has no data in ${node.dataDir}: create it (peerinfra graph create), ` +
        'or join it with --connect host:port',
    )
  }
  return node.graphs.open(graphId)
}

/** Resolves once the graph is synchronized; PEER_E_TIMEOUT after `timeoutMs`. */
function whenSynchronized(
  graph: PeerGraph,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  if (graph.status.synchronized) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const done = (err?: PeerError): void => {
      clearTimeout(timer)
      off()
      signal?.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve()
    }
    const off = graph.on('status-changed', ({ status }) => {
      if (status.synchronized) done()
    })
    const onAbort = (): void => done(new PeerError('E_ABORT', 'stopped while synchronizing'))
    signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(
      () =>
        done(
          new PeerError(
            'PEER_E_TIMEOUT',
            `graph "${graph.graphId}" did not synchronize within ${timeoutMs / 1000} s`,
          ),
        ),
      timeoutMs,
    )
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Connects as a neighbour and waits for the sync (and a moment for reconciliation). */
async function goOnline(graph: PeerGraph, at: Endpoint, opts: GraphCliOptions): Promise<string> {
  const synced = whenSynchronized(graph, opts.timeout * 1000)
  synced.catch(() => undefined)
  const connectionId = await graph.connect({
    ...at,
    ...(opts.peerId !== undefined ? { peerId: opts.peerId } : {}),
  })
  await synced
  await sleep(RECONCILE_WAIT_MS)
  return connectionId
}

/**
 * Runs `fn` on an open graph: offline, or online with --connect (then a change has a second
 * to flood before the graph closes).
 */
async function withGraph<T>(
  c: Command,
  graphId: string,
  mode: 'read' | 'write',
  fn: (graph: PeerGraph, opts: GraphCliOptions) => Promise<T> | T,
): Promise<T> {
  const opts = graphOptions(c)
  const at = opts.connect === undefined ? undefined : parseEndpoint(opts.connect)
  return withNode(opts, async (node) => {
    const graph = await openGraph(node, graphId, at !== undefined)
    try {
      if (at) await goOnline(graph, at, opts)
      const result = await fn(graph, opts)
      if (at && mode === 'write') await sleep(FLOOD_WAIT_MS)
      return result
    } finally {
      await graph.close()
    }
  })
}

// Long-running commands stop on SIGINT or SIGTERM, or when stopGraphCommands() is called.
const stoppers = new Set<() => void>()

/** Stops every long-running graph command of this process, as Ctrl-C does (tests, embedders). */
export function stopGraphCommands(): void {
  for (const stop of [...stoppers]) stop()
}

function untilStopped(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const stop = (): void => controller.abort()
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  stoppers.add(stop)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      stoppers.delete(stop)
    },
  }
}

/** Prints the events until stopped (or the graph closes). */
async function pump(
  graph: PeerGraph,
  events: AsyncIterable<EventOf<GraphEvents>>,
  json: boolean | undefined,
  signal: AbortSignal,
): Promise<void> {
  try {
    for await (const ev of events) printEvent(graph, ev, json)
  } catch (err) {
    if (!signal.aborted) throw err
  }
}

/** Opens the graph, lets `start` bring it online, then streams events until stopped. */
async function runStreaming(
  c: Command,
  graphId: string,
  allowNew: boolean,
  filter: { types?: EventName[]; recordTypes?: string[] },
  start: (graph: PeerGraph, opts: GraphCliOptions, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const opts = graphOptions(c)
  const stop = untilStopped()
  try {
    await withNode(opts, async (node) => {
      const graph = await openGraph(node, graphId, allowNew)
      try {
        const events = graph.events({ ...filter, signal: stop.signal })
        try {
          await start(graph, opts, stop.signal)
        } catch (err) {
          if (stop.signal.aborted) return
          throw err
        }
        if (!opts.json) process.stdout.write(pc.dim('events follow; Ctrl-C stops\n'))
        await pump(graph, events, opts.json, stop.signal)
      } finally {
        await graph.close()
      }
      announce(opts.json, 'stopped', { graphId }, `closed ${graphId}`)
    })
  } finally {
    stop.dispose()
  }
}

function onlineOptions(cmd: Command): Command {
  return cmd
    .option('--connect <host:port>', 'go online first: connect to this node of the graph and sync')
    .option('--peer-id <id>', 'with --connect: the peer that must answer there')
}

function listening(graph: PeerGraph, json: boolean | undefined, at: Endpoint): void {
  announce(
    json,
    'listening',
    { graphId: graph.graphId, peerId: graph.peerId, nodeId: graph.nodeId, ...at },
    `${graph.graphId} listening on ${pc.bold(formatEndpoint(at))} as ${graph.peerId}`,
  )
}

function statusText(graph: PeerGraph): string {
  const s = graph.status
  return (
    [s.listening && 'listening', s.hasConnections && 'connected', s.synchronized && 'synchronized']
      .filter(Boolean)
      .join(', ') || 'not synchronized'
  )
}

function describeGraph(graph: PeerGraph, json: boolean | undefined): void {
  const ready = graph.status.synchronized
  const info = {
    graphId: graph.graphId,
    peerId: graph.peerId,
    dataCreated: graph.dataCreated,
    status: graph.status,
    ...(ready ? { properties: graph.properties, recordCount: graph.recordCount } : {}),
  }
  if (json) return printJson(info)
  const p = ready ? graph.properties : undefined
  printFields({
    graph: graph.graphId,
    'peer id': graph.peerId,
    status: statusText(graph),
    'data created': graph.dataCreated ? 'yes (empty until it syncs with a node: --connect)' : 'no',
    'friendly name': p?.friendlyName || undefined,
    comment: p?.comment || undefined,
    creator: p?.creatorId,
    'max record size': p && String(p.maxRecordSize),
    presence: p && `lifetime ${p.presenceLifetime} s, max ${p.presenceMax}`,
    'defer expiration': p && (p.deferExpiration ? 'yes' : 'no'),
    records: ready ? String(graph.recordCount) : undefined,
  })
}

function recordOptions(cmd: Command, expiresDefault: boolean): Command {
  return cmd
    .option('--data <text>', 'the record data, as UTF-8 text')
    .option('--data-file <file>', 'the record data, from a file')
    .option(
      '--attributes <xml|json|@file>',
      'attributes: <attributes> XML, or JSON such as {"author":"alice","n":3} (XML for dates)',
    )
    .option(
      '--expires-in <seconds>',
      `lifetime from now${expiresDefault ? ` (default ${DEFAULT_EXPIRES_IN_S})` : ''}`,
      integer('--expires-in', 1, 10 * 365 * 86_400),
    )
}

function expiry(graph: PeerGraph, seconds: number): Date {
  return new Date(graph.peerTime().getTime() + seconds * 1000)
}

// ---- the commands ----------------------------------------------------------------------

export function graphCommand(): Command {
  const cmd = new Command('graph')
    .description('replicated records shared by every node of a graph (Peer Graphing)')
    .option('--identity <name>', 'the identity to act as (default: the default identity)')
    .addOption(
      new Option('--timeout <seconds>', 'with --connect: give up syncing after this long')
        .argParser(integer('--timeout', 1, 600))
        .default(30),
    )
    .addHelpText(
      'after',
      `
Every graph command needs an identity in --home (peerinfra identity create --classifier NAME).
Record commands work on the local database; with --connect host:port they go online first,
connect to that node, sync, do the operation so that it floods to every node, wait a second,
and leave. That is how a newcomer joins and adds a record the others see:

  peerinfra --home a graph create chat
  peerinfra --home a graph listen chat --port 4000           # stays up, prints events
  peerinfra --home b graph add chat --type 0cc0c0c0-1111-4222-8333-444455556666 \\
      --data "hello" --connect 127.0.0.1:4000              # a prints record-changed added
  peerinfra --home b graph list chat                         # b now has the graph locally
`,
    )

  cmd
    .command('create <graphId>')
    .description('create a graph (needs an identity: it becomes the creator)')
    .option('--friendly-name <name>', 'a display name')
    .option('--comment <text>', 'a comment')
    .option(
      '--max-record-size <bytes>',
      'largest record (1024 to 62914560; default 60 MB)',
      integer('--max-record-size', 0, 60 * 1024 * 1024),
    )
    .option(
      '--presence-lifetime <seconds>',
      'how long a presence record lives (300 to 86400)',
      integer('--presence-lifetime', 0, 86_400),
    )
    .option(
      '--presence-max <n>',
      'nodes that publish presence (-1 all, 0 none)',
      integer('--presence-max', -1, 10_000),
    )
    .option('--defer-expiration', 'no record expires until the graph has connected to a node')
    .action(
      async (
        graphId: string,
        o: {
          friendlyName?: string
          comment?: string
          maxRecordSize?: number
          presenceLifetime?: number
          presenceMax?: number
          deferExpiration?: boolean
        },
        c: Command,
      ) => {
        const opts = graphOptions(c)
        await withNode(opts, async (node) => {
          const graph = await node.graphs.create({
            graphId,
            ...(o.friendlyName !== undefined ? { friendlyName: o.friendlyName } : {}),
            ...(o.comment !== undefined ? { comment: o.comment } : {}),
            ...(o.maxRecordSize !== undefined ? { maxRecordSize: o.maxRecordSize } : {}),
            ...(o.presenceLifetime !== undefined ? { presenceLifetime: o.presenceLifetime } : {}),
            ...(o.presenceMax !== undefined ? { presenceMax: o.presenceMax } : {}),
            deferExpiration: o.deferExpiration === true,
          })
          try {
            if (!opts.json) success(`created graph ${pc.bold(graphId)}`)
            describeGraph(graph, opts.json)
          } finally {
            await graph.close()
          }
        })
      },
    )

  onlineOptions(
    cmd
      .command('open <graphId>')
      .description(
        'open a graph and show it; a graph with no data here starts empty (data created) ' +
          'until it syncs: join with --connect',
      ),
  ).action(async (graphId: string, _o: unknown, c: Command) => {
    const opts = graphOptions(c)
    const at = opts.connect === undefined ? undefined : parseEndpoint(opts.connect)
    await withNode(opts, async (node) => {
      const graph = await openGraph(node, graphId, true)
      try {
        if (at) await goOnline(graph, at, opts)
        describeGraph(graph, opts.json)
      } finally {
        await graph.close()
      }
    })
  })

  cmd
    .command('listen <graphId>')
    .description('listen for nodes of the graph and print its events until Ctrl-C')
    .option('--host <address>', 'the address to listen on', '127.0.0.1')
    .option('--port <port>', 'the TCP port (0: any free port)', integer('--port', 0, 65_535), 0)
    .action(async (graphId: string, o: { host: string; port: number }, c: Command) =>
      runStreaming(c, graphId, false, {}, async (graph, opts) => {
        listening(graph, opts.json, await graph.listen({ host: o.host, port: o.port }))
      }),
    )

  cmd
    .command('connect <graphId> <hostPort>')
    .description(
      'connect to a node of the graph, sync, and print events until Ctrl-C (joins a new graph)',
    )
    .option('--peer-id <id>', 'the peer that must answer there')
    .option(
      '--listen-port <port>',
      'also listen on this port (0: any)',
      integer('--listen-port', 0, 65_535),
    )
    .option('--host <address>', 'with --listen-port: the address to listen on', '127.0.0.1')
    .action(
      async (
        graphId: string,
        hostPort: string,
        o: { listenPort?: number; host: string },
        c: Command,
      ) => {
        const at = parseEndpoint(hostPort)
        await runStreaming(c, graphId, true, {}, async (graph, opts, signal) => {
          const connectionId = await graph.connect({
            ...at,
            ...(opts.peerId !== undefined ? { peerId: opts.peerId } : {}),
            signal,
          })
          announce(
            opts.json,
            'connected',
            { graphId, connectionId, ...at },
            `connected to ${formatEndpoint(at)} (connection ${connectionId})`,
          )
          await whenSynchronized(graph, opts.timeout * 1000, signal)
          announce(opts.json, 'ready', { graphId, recordCount: graph.recordCount }, `synchronized`)
          if (o.listenPort !== undefined) {
            listening(graph, opts.json, await graph.listen({ host: o.host, port: o.listenPort }))
          }
        })
      },
    )

  cmd
    .command('watch <graphId>')
    .description("print the graph's events (JSON lines with --json) until Ctrl-C")
    .option('--connect <host:port>', 'connect to this node of the graph first')
    .option('--peer-id <id>', 'with --connect: the peer that must answer there')
    .option(
      '--types <types>',
      `event types, comma-separated (default all): ${EVENT_TYPES.join(', ')}`,
      eventTypes,
    )
    .option('--record-type <guid>', 'only record events of this record type (repeatable)', collect)
    .action(
      async (graphId: string, o: { types?: EventName[]; recordType?: string[] }, c: Command) => {
        const filter = {
          ...(o.types ? { types: o.types } : {}),
          ...(o.recordType ? { recordTypes: o.recordType } : {}),
        }
        const connectTo = graphOptions(c).connect
        await runStreaming(
          c,
          graphId,
          connectTo !== undefined,
          filter,
          async (graph, opts, signal) => {
            if (connectTo !== undefined) {
              await graph.connect({
                ...parseEndpoint(connectTo),
                ...(opts.peerId !== undefined ? { peerId: opts.peerId } : {}),
                signal,
              })
            }
            announce(opts.json, 'watching', { graphId }, `watching ${graphId}`)
          },
        )
      },
    )

  onlineOptions(
    recordOptions(
      cmd
        .command('add <graphId>')
        .description('add a record (with --connect: it floods to the graph)')
        .requiredOption('--type <guid>', 'the record type, a GUID'),
      true,
    ).option('--auto-refresh', 'keep it alive while a node of this peer is online'),
  ).action(async (graphId: string, o: RecordCliOptions, c: Command) => {
    const data = await dataArg(o, c)
    const attributes = await attributesArg(o.attributes)
    await withGraph(c, graphId, 'write', async (graph, opts) => {
      const recordId = await graph.addRecord({
        type: o.type!,
        ...(data ? { data } : {}),
        ...(attributes !== undefined ? { attributes } : {}),
        expiresAt: expiry(graph, o.expiresIn ?? DEFAULT_EXPIRES_IN_S),
        autoRefresh: o.autoRefresh === true,
      })
      const record = graph.getRecord(recordId)!
      if (opts.json) return printJson({ recordId, record: recordJson(record) })
      success(`added record ${pc.bold(recordId)}`)
      showRecord(record)
    })
  })

  onlineOptions(
    recordOptions(
      cmd
        .command('update <graphId> <recordId>')
        .description("update a record's data, attributes or expiration (the rest stays)"),
      false,
    ),
  ).action(async (graphId: string, recordId: string, o: RecordCliOptions, c: Command) => {
    const data = await dataArg(o, c)
    const attributes = await attributesArg(o.attributes)
    await withGraph(c, graphId, 'write', async (graph, opts) => {
      await graph.updateRecord(recordId, {
        ...(data ? { data } : {}),
        ...(attributes !== undefined ? { attributes } : {}),
        ...(o.expiresIn !== undefined ? { expiresAt: expiry(graph, o.expiresIn) } : {}),
      })
      const record = graph.getRecord(recordId)!
      if (opts.json) return printJson({ recordId, record: recordJson(record) })
      success(`updated record ${pc.bold(recordId)} (version ${record.version})`)
      showRecord(record)
    })
  })

  onlineOptions(
    cmd
      .command('delete <graphId> <recordId>')
      .description('delete a record graph-wide (it floods), or with --local from this node only')
      .option('--local', 'here only: it comes back with the next sync'),
  ).action(async (graphId: string, recordId: string, o: { local?: boolean }, c: Command) =>
    withGraph(c, graphId, 'write', async (graph, opts) => {
      await graph.deleteRecord(recordId, { local: o.local === true })
      if (opts.json) printJson({ deleted: recordId, local: o.local === true })
      else success(`deleted record ${pc.bold(recordId)}${o.local ? ' (here only)' : ''}`)
    }),
  )

  onlineOptions(cmd.command('get <graphId> <recordId>').description('show a record')).action(
    async (graphId: string, recordId: string, _o: unknown, c: Command) =>
      withGraph(c, graphId, 'read', (graph, opts) => {
        const record = graph.getRecord(recordId)
        if (!record) {
          throw new PeerError('PEER_E_RECORD_NOT_FOUND', `no record ${recordId} in ${graphId}`)
        }
        if (opts.json) printJson(recordJson(record))
        else showRecord(record)
      }),
  )

  onlineOptions(
    cmd
      .command('list <graphId>')
      .description('list records, by type and/or creator')
      .option('--type <guid>', 'only records of this type')
      .option('--creator <peerId>', 'only records made by this peer'),
  ).action(async (graphId: string, o: { type?: string; creator?: string }, c: Command) =>
    withGraph(c, graphId, 'read', (graph, opts) => {
      const records = [
        ...graph.records({
          ...(o.type !== undefined ? { type: o.type } : {}),
          ...(o.creator !== undefined ? { creator: o.creator } : {}),
        }),
      ]
      printRecords(records, opts.json)
    }),
  )

  onlineOptions(
    cmd
      .command('search <graphId> <query>')
      .description(
        'search records by attribute: <peersearch> XML, or JSON such as ' +
          '{"and":[{"attribute":"author","value":"alice"},{"attribute":"n","compare":"greater","value":2}]} ' +
          '(or @file)',
      ),
  ).action(async (graphId: string, query: string, _o: unknown, c: Command) => {
    const q = await searchArg(query)
    await withGraph(c, graphId, 'read', (graph, opts) => printRecords(graph.search(q), opts.json))
  })

  onlineOptions(
    cmd
      .command('nodes <graphId>')
      .description(
        'the nodes that publish presence in the graph (as this database knows them; with ' +
          '--connect, as the graph knows them now), this node, and its connections',
      ),
  ).action(async (graphId: string, _o: unknown, c: Command) =>
    withGraph(c, graphId, 'read', (graph, opts) => {
      const local = graph.localNode
      const nodes = graph.nodes()
      const connections = [...graph.connections('neighbor'), ...graph.connections('direct')]
      if (opts.json) return printJson({ local, nodes, connections })
      printFields({
        'this node': `${local.peerId} ${pc.dim(`node ${local.nodeId}`)}`,
        addresses: local.addresses.map(formatEndpoint).join(', ') || pc.dim('(not listening)'),
      })
      if (nodes.length === 0) process.stdout.write(pc.dim('no node publishes presence\n'))
      for (const n of nodes) {
        process.stdout.write(
          `node     ${n.peerId}  ${n.addresses.map(formatEndpoint).join(', ')}  ${pc.dim(`node ${n.nodeId}`)}` +
            `${n.attributes ? `  ${n.attributes}` : ''}\n`,
        )
      }
      if (connections.length === 0) process.stdout.write(pc.dim('no connections\n'))
      for (const k of connections) {
        process.stdout.write(
          `${k.kind.padEnd(8)} ${k.peerId}  ${formatEndpoint(k.address)}  ${pc.dim(`connection ${k.connectionId}`)}\n`,
        )
      }
    }),
  )

  cmd
    .command('send <graphId> <peerId>')
    .description(
      'send data to a node over a direct connection: go online (--connect), open a direct ' +
        'connection to PEERID, send, close. The receiver sees incoming-data (graph listen/watch)',
    )
    .requiredOption('--connect <host:port>', 'a node of the graph to sync with')
    .option('--to <host:port>', "PEERID's address, when it is not the --connect node")
    .option('--peer-id <id>', 'the peer that must answer at --connect')
    .requiredOption('--type <guid>', 'the data type, a GUID')
    .option('--data <text>', 'the data, as UTF-8 text')
    .option('--data-file <file>', 'the data, from a file')
    .action(
      async (
        graphId: string,
        peerId: string,
        o: RecordCliOptions & { to?: string },
        c: Command,
      ) => {
        const data = (await dataArg(o, c)) ?? new Uint8Array(0)
        const to = o.to === undefined ? undefined : parseEndpoint(o.to)
        await withGraph(c, graphId, 'read', async (graph, opts) => {
          const at = to ?? parseEndpoint(opts.connect!)
          const connectionId = await graph.openDirectConnection(peerId, at)
          await graph.sendData(connectionId, o.type!, data)
          await sleep(FLOOD_WAIT_MS)
          await graph.closeDirectConnection(connectionId)
          if (opts.json) printJson({ sent: data.length, peerId, connectionId })
          else success(`sent ${data.length} bytes to ${pc.bold(peerId)}`)
        })
      },
    )

  return cmd
}
