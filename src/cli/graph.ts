/**
 * `peerinfra graph ...`: Peer Graphing from the command line. With no daemon, each command
 * opens the graph's database in --home, does its work and closes it:
 *
 * - `create`, `open`, `set` and the record commands (add, update, delete, get, list, search) work
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
import { Command, Option } from 'commander'
import pc from 'picocolors'
import { PeerError } from '../core/errors.ts'
import type { EventOf } from '../core/events.ts'
import {
  GRAPH_EVENT_TYPES,
  type GraphEvents,
  type GraphEventType,
  type MutableGraphProperties,
  type PeerGraph,
  type PeerRecord,
} from '../graph/index.ts'
import type { PeerNode } from '../node/peer-node.ts'
import { formatEndpoint, parseEndpoint } from '../pnrp/endpoints.ts'
import type { Endpoint } from '../pnrp/types.ts'
import { printFields, printJson, success } from './output.ts'
import * as shared from './records.ts'

type GraphCliOptions = shared.OnlineCliOptions

interface RecordCliOptions extends shared.RecordCliOptions {
  autoRefresh?: boolean
}

const EVENT_TYPES = GRAPH_EVENT_TYPES
type EventName = GraphEventType
type GraphEvent = EventOf<GraphEvents, EventName>

/** Graph records print with their auto-refresh and deleted flags. */
const VIEW: shared.RecordView = { lifecycle: true }

// ---- argument parsing ------------------------------------------------------------------

/** The text of an `@file` argument. */
const readText = (path: string): Promise<string> =>
  readFile(path, 'utf8').catch((err: unknown) => {
    throw new PeerError('E_INVALIDARG', `could not read ${path}: ${String(err)}`)
  })

/** The bytes of --data-file. */
const readBytes = async (path: string): Promise<Uint8Array> =>
  new Uint8Array(
    await readFile(path).catch((err: unknown) => {
      throw new PeerError('E_INVALIDARG', `could not read ${path}: ${String(err)}`)
    }),
  )

// ---- output ----------------------------------------------------------------------------

const recordJson = (r: PeerRecord): Record<string, unknown> => shared.recordJson(r, VIEW)
const showRecord = (r: PeerRecord): void => shared.showRecord(r, VIEW)
const printRecords = (records: PeerRecord[], json: boolean | undefined): void =>
  shared.printRecords(records, json, VIEW)

/** One line per event: JSON lines with --json, text otherwise. */
function printEvent(graph: PeerGraph, ev: GraphEvent, json: boolean | undefined): void {
  let record: PeerRecord | undefined
  if (ev.type === 'record-changed' && !graph.isClosed) {
    record = graph.getRecord(ev.data.recordId)
  }
  shared.printEvent(ev, record, json, { ...VIEW, width: 19 }, () => eventText(ev, record))
}

function eventText(ev: GraphEvent, record: PeerRecord | undefined): string {
  switch (ev.type) {
    case 'node-changed':
      return `${ev.data.change} ${ev.data.peerId} ${pc.dim(`node ${ev.data.nodeId}`)}`
    case 'connection-required':
      return pc.dim('no neighbour left: this node should connect to another')
    default:
      return shared.sharedEventText(ev, record)
  }
}

// ---- running a node and a graph --------------------------------------------------------

function graphOptions(c: Command): GraphCliOptions {
  return c.optsWithGlobals<GraphCliOptions>()
}

function withNode<T>(opts: GraphCliOptions, fn: (node: PeerNode) => Promise<T>): Promise<T> {
  return shared.withNode(
    opts,
    "a graph's peer id is an identity, and its key secures the connections",
    fn,
  )
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
  return shared.whenSynchronized(graph, `graph "${graph.graphId}"`, timeoutMs, signal)
}

/** Connects as a neighbour and waits for the sync (and a moment for reconciliation). */
async function goOnline(graph: PeerGraph, at: Endpoint, opts: GraphCliOptions): Promise<string> {
  const synced = whenSynchronized(graph, opts.timeout * 1000)
  synced.catch(() => undefined)
  const connectionId = await graph.connect({
    ...at,
    ...(opts.peerId !== undefined ? { peerId: opts.peerId } : {}),
  })
  await synced
  await shared.sleep(shared.RECONCILE_WAIT_MS)
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
    const online = at && (() => goOnline(graph, at, opts))
    return shared.runOnline(graph, online, mode, () => fn(graph, opts))
  })
}

const commands = shared.stoppableCommands()

/** Stops every long-running graph command of this process, as Ctrl-C does (tests, embedders). */
export function stopGraphCommands(): void {
  commands.stopAll()
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
  await commands.run((signal) =>
    withNode(opts, async (node) => {
      const graph = await openGraph(node, graphId, allowNew)
      const streaming = {
        target: graph,
        events: () => graph.events({ ...filter, signal }),
        start: () => start(graph, opts, signal),
        print: (ev: GraphEvent) => printEvent(graph, ev, opts.json),
      }
      if (await shared.streamEvents(streaming, signal, opts.json)) {
        shared.announce(opts.json, 'stopped', { graphId }, `closed ${graphId}`)
      }
    }),
  )
}

function onlineOptions(cmd: Command): Command {
  return shared.onlineOptions(cmd, { where: 'this node of the graph', who: 'the peer' })
}

/** The options of the four properties a graph may change (create and set). */
function propertyOptions(cmd: Command): Command {
  return shared
    .nameOptions(cmd)
    .option(
      '--presence-lifetime <seconds>',
      'how long a presence record lives (300 to 86400)',
      shared.integer('--presence-lifetime', 0, 86_400),
    )
    .option(
      '--presence-max <n>',
      'nodes that publish presence (-1 all, 0 none)',
      shared.integer('--presence-max', -1, 10_000),
    )
}

function listening(graph: PeerGraph, json: boolean | undefined, at: Endpoint): void {
  shared.announce(
    json,
    'listening',
    { graphId: graph.graphId, peerId: graph.peerId, nodeId: graph.nodeId, ...at },
    `${graph.graphId} listening on ${pc.bold(formatEndpoint(at))} as ${graph.peerId}`,
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
    status: shared.statusText(graph.status, 'not synchronized'),
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

// ---- the commands ----------------------------------------------------------------------

export function graphCommand(): Command {
  const cmd = new Command('graph')
    .description('replicated records shared by every node of a graph (Peer Graphing)')
    .option('--identity <name>', 'the identity to act as (default: the default identity)')
    .addOption(
      new Option('--timeout <seconds>', 'with --connect: give up syncing after this long')
        .argParser(shared.integer('--timeout', 1, 600))
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

  propertyOptions(
    cmd
      .command('create <graphId>')
      .description('create a graph (needs an identity: it becomes the creator)'),
  )
    .option(
      '--max-record-size <bytes>',
      'largest record (1024 to 62914560; default 60 MB)',
      shared.integer('--max-record-size', 0, 60 * 1024 * 1024),
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

  onlineOptions(
    propertyOptions(
      cmd
        .command('set <graphId>')
        .description(
          "change the graph's friendly name, comment or presence settings (with --connect: " +
            'they reach every node)',
        ),
    ),
  ).action(async (graphId: string, o: Partial<MutableGraphProperties>, c: Command) => {
    const change = Object.fromEntries(
      Object.entries(o).filter(([k]) =>
        ['friendlyName', 'comment', 'presenceLifetime', 'presenceMax'].includes(k),
      ),
    ) as Partial<MutableGraphProperties>
    if (Object.keys(change).length === 0) {
      c.error(
        'error: nothing to change: give --friendly-name, --comment, --presence-lifetime or ' +
          '--presence-max',
        { exitCode: 2 },
      )
    }
    await withGraph(c, graphId, 'write', async (graph, opts) => {
      await graph.setProperties(change)
      if (!opts.json) success(`changed the properties of ${pc.bold(graphId)}`)
      describeGraph(graph, opts.json)
    })
  })

  shared
    .presenceOptions(
      shared.listenOptions(
        cmd
          .command('listen <graphId>')
          .description('listen for nodes of the graph and print its events until Ctrl-C'),
      ),
    )
    .action(
      async (
        graphId: string,
        o: { host: string; port: number } & shared.PresenceCliOptions,
        c: Command,
      ) =>
        runStreaming(c, graphId, false, {}, async (graph, opts) => {
          listening(graph, opts.json, await graph.listen({ host: o.host, port: o.port }))
          await shared.applyPresence(graph, o)
        }),
    )

  shared
    .presenceOptions(
      cmd
        .command('connect <graphId> <hostPort>')
        .description(
          'connect to a node of the graph, sync, and print events until Ctrl-C (joins a new graph)',
        )
        .option('--peer-id <id>', 'the peer that must answer there')
        .option(
          '--listen-port <port>',
          'also listen on this port (0: any)',
          shared.integer('--listen-port', 0, 65_535),
        )
        .option('--host <address>', 'with --listen-port: the address to listen on', '127.0.0.1'),
    )
    .action(
      async (
        graphId: string,
        hostPort: string,
        o: { listenPort?: number; host: string } & shared.PresenceCliOptions,
        c: Command,
      ) => {
        const at = parseEndpoint(hostPort)
        await runStreaming(c, graphId, true, {}, async (graph, opts, signal) => {
          const connectionId = await graph.connect({
            ...at,
            ...(opts.peerId !== undefined ? { peerId: opts.peerId } : {}),
            signal,
          })
          shared.announce(
            opts.json,
            'connected',
            { graphId, connectionId, ...at },
            `connected to ${formatEndpoint(at)} (connection ${connectionId})`,
          )
          await whenSynchronized(graph, opts.timeout * 1000, signal)
          shared.announce(
            opts.json,
            'ready',
            { graphId, recordCount: graph.recordCount },
            `synchronized`,
          )
          if (o.listenPort !== undefined) {
            listening(graph, opts.json, await graph.listen({ host: o.host, port: o.listenPort }))
          }
          await shared.applyPresence(graph, o)
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
      shared.eventTypes(EVENT_TYPES),
    )
    .option(
      '--record-type <guid>',
      'only record events of this record type (repeatable)',
      shared.collect,
    )
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
            shared.announce(opts.json, 'watching', { graphId }, `watching ${graphId}`)
          },
        )
      },
    )

  onlineOptions(
    shared
      .recordOptions(
        cmd
          .command('add <graphId>')
          .description('add a record (with --connect: it floods to the graph)')
          .requiredOption('--type <guid>', 'the record type, a GUID'),
        true,
      )
      .option('--auto-refresh', 'keep it alive while a node of this peer is online'),
  ).action(async (graphId: string, o: RecordCliOptions, c: Command) => {
    const data = await shared.dataArg(o, c, readBytes)
    const attributes = await shared.attributesArg(o.attributes, readText)
    await withGraph(c, graphId, 'write', async (graph, opts) => {
      const recordId = await graph.addRecord({
        type: o.type!,
        ...(data ? { data } : {}),
        ...(attributes !== undefined ? { attributes } : {}),
        expiresAt: shared.expiry(graph, o.expiresIn ?? shared.DEFAULT_EXPIRES_IN_S),
        autoRefresh: o.autoRefresh === true,
      })
      const record = graph.getRecord(recordId)!
      if (opts.json) return printJson({ recordId, record: recordJson(record) })
      success(`added record ${pc.bold(recordId)}`)
      showRecord(record)
    })
  })

  onlineOptions(
    shared.recordOptions(
      cmd
        .command('update <graphId> <recordId>')
        .description("update a record's data, attributes or expiration (the rest stays)"),
      false,
    ),
  ).action(async (graphId: string, recordId: string, o: RecordCliOptions, c: Command) => {
    const changes = await shared.recordChanges(o, c, { bytes: readBytes, text: readText })
    await withGraph(c, graphId, 'write', async (graph, opts) => {
      await graph.updateRecord(recordId, changes(graph))
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
    const q = await shared.searchArg(query, readText)
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
    .command('delete-graph <graphId>')
    .description(
      "Windows' PeerGraphDelete: erase this peer's database of the graph (the others keep theirs)",
    )
    .option('--yes', 'really erase it')
    .action(async (graphId: string, o: { yes?: boolean }, c: Command) => {
      const opts = graphOptions(c)
      await withNode(opts, async (node) => {
        if (!o.yes) {
          throw new PeerError(
            'E_INVALIDARG',
            `deleting ${graphId} erases its records here: repeat with --yes`,
          )
        }
        await node.graphs.delete(graphId)
        if (opts.json) printJson({ deleted: graphId })
        else success(`deleted the graph ${pc.bold(graphId)} here`)
      })
    })

  cmd
    .command('export-database <graphId> <file>')
    .description("copy this peer's graph database to FILE (overwritten)")
    .action(async (graphId: string, file: string, _o: unknown, c: Command) =>
      withGraph(c, graphId, 'read', async (graph, opts) => {
        await graph.exportDatabase(file)
        if (opts.json) printJson({ graphId, file })
        else success(`wrote ${graphId}'s database to ${file}`)
      }),
    )

  cmd
    .command('import-database <graphId> <file>')
    .description(
      'merge a database exported from this graph by this peer (before listening or connecting)',
    )
    .action(async (graphId: string, file: string, _o: unknown, c: Command) =>
      withGraph(c, graphId, 'read', async (graph, opts) => {
        await graph.importDatabase(file)
        if (opts.json) printJson({ graphId, file })
        else success(`imported ${file} into ${graphId}`)
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
        const data = (await shared.dataArg(o, c, readBytes)) ?? new Uint8Array(0)
        const to = o.to === undefined ? undefined : parseEndpoint(o.to)
        await withGraph(c, graphId, 'read', async (graph, opts) => {
          const at = to ?? parseEndpoint(opts.connect!)
          const connectionId = await graph.openDirectConnection(peerId, at)
          await graph.sendData(connectionId, o.type!, data)
          await shared.sleep(shared.FLOOD_WAIT_MS)
          await graph.closeDirectConnection(connectionId)
          if (opts.json) printJson({ sent: data.length, peerId, connectionId })
          else success(`sent ${data.length} bytes to ${pc.bold(peerId)}`)
        })
      },
    )

  return cmd
}
