/**
 * What `peerinfra graph` and `peerinfra group` share: parsing record arguments, printing
 * records and events, a node per command, going online, and stopping the long-running
 * commands. A group's records are Graphing's records, signed, so one set of helpers serves
 * both; where the two commands print differently, the caller says how.
 */
import { InvalidArgumentError, type Command } from 'commander'
import pc from 'picocolors'
import { fromUtf8, toBase64, utf8 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { EventOf } from '../core/events.ts'
import type {
  GraphEvents,
  GraphStatus,
  PeerRecord,
  RecordAttributes,
  RecordUpdate,
  SearchQuery,
} from '../graph/index.ts'
import { MAX_NODE_ATTRIBUTES_CHARS } from '../graph/constants.ts'
import type { GroupEvents } from '../group/events.ts'
import { PeerNode } from '../node/peer-node.ts'
import type { PnrpOptions } from '../pnrp/service.ts'
import { printFields, printJson, success, type GlobalOptions } from './output.ts'

/** After a change made online: time for the flood to leave before the graph or group closes. */
export const FLOOD_WAIT_MS = 1000
/** After the first sync: time for reconciliation, which reports no event of its own. */
export const RECONCILE_WAIT_MS = 500
export const DEFAULT_EXPIRES_IN_S = 3600

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ---- argument parsing ------------------------------------------------------------------

/** A repeatable option's values. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

export function integer(name: string, min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text)
    if (!/^-?\d+$/.test(text) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`)
    }
    return n
  }
}

/** `--types a,b`, repeatable: each one of `all`. */
export function eventTypes<T extends string>(
  all: readonly T[],
): (text: string, previous?: T[]) => T[] {
  return (text, previous = []) => {
    const types = text.split(',').map((t) => t.trim())
    for (const t of types) {
      if (!(all as readonly string[]).includes(t)) {
        throw new InvalidArgumentError(`unknown event type "${t}": ${all.join(', ')}`)
      }
    }
    return [...previous, ...(types as T[])]
  }
}

/** A record command's options (add, update). */
export interface RecordCliOptions {
  type?: string
  data?: string
  dataFile?: string
  attributes?: string
  expiresIn?: number
}

/** How a command reads the file of an `@file` argument, as text. */
export type ReadText = (path: string) => Promise<string>

/** A value given inline, or `@file` for the file's text. */
async function textArg(value: string, read: ReadText): Promise<string> {
  return value.startsWith('@') ? read(value.slice(1)) : value
}

/** `--attributes`: Windows' attribute XML, or a JSON object of strings and integers. */
export async function attributesArg(
  value: string | undefined,
  read: ReadText,
): Promise<RecordAttributes | string | undefined> {
  if (value === undefined) return undefined
  const text = (await textArg(value, read)).trim()
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

/** A search: `<peersearch>` XML, or the typed query as JSON (or @file). */
export async function searchArg(value: string, read: ReadText): Promise<SearchQuery | string> {
  const text = (await textArg(value, read)).trim()
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

/** `--data text` or `--data-file f` (not both); `read` reads the file. */
export async function dataArg(
  o: { data?: string; dataFile?: string },
  c: Command,
  read: (path: string) => Promise<Uint8Array>,
): Promise<Uint8Array | undefined> {
  if (o.data !== undefined && o.dataFile !== undefined) {
    c.error('error: give --data or --data-file, not both', { exitCode: 2 })
  }
  if (o.data !== undefined) return utf8(o.data)
  if (o.dataFile === undefined) return undefined
  return read(o.dataFile)
}

/** `--data`, `--data-file`, `--attributes` and `--expires-in`, as add and update take them. */
export function recordOptions(cmd: Command, expiresDefault: boolean): Command {
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

/** `--connect` and `--peer-id`, for the commands that can go online first. */
export function onlineOptions(cmd: Command, peer: { where: string; who: string }): Command {
  return cmd
    .option('--connect <host:port>', `go online first: connect to ${peer.where} and sync`)
    .option('--peer-id <id>', `with --connect: ${peer.who} that must answer there`)
}

/** `--host` and `--port`, where a command that stays online listens. */
export function listenOptions(cmd: Command): Command {
  return cmd
    .option('--host <address>', 'the address to listen on', '127.0.0.1')
    .option('--port <port>', 'the TCP port (0: any free port)', integer('--port', 0, 65_535), 0)
}

/** `--presence` and `--node-attributes`, for the commands that keep a node online. */
export interface PresenceCliOptions {
  presence?: boolean
  nodeAttributes?: string
}

export function presenceOptions(cmd: Command): Command {
  return cmd
    .option(
      '--presence',
      "publish this node's presence (addresses, attributes) even where presence-max would not " +
        '(SetPresence)',
    )
    .option(
      '--node-attributes <text>',
      'free text the others see with this node in their node lists (SetNodeAttributes)',
      (text: string) => {
        if (text.length > MAX_NODE_ATTRIBUTES_CHARS) {
          throw new InvalidArgumentError(
            `--node-attributes holds at most ${MAX_NODE_ATTRIBUTES_CHARS} characters`,
          )
        }
        return text
      },
    )
}

/** Applies --node-attributes and --presence once the graph or group is online. */
export async function applyPresence(
  on: { setPresence(on: boolean): Promise<void>; setNodeAttributes(text: string): Promise<void> },
  o: PresenceCliOptions,
): Promise<void> {
  if (o.nodeAttributes !== undefined) await on.setNodeAttributes(o.nodeAttributes)
  if (o.presence) await on.setPresence(true)
}

export function expiry(on: { peerTime(): Date }, seconds: number): Date {
  return new Date(on.peerTime().getTime() + seconds * 1000)
}

/**
 * What an `update <recordId>` command changes (--data or --data-file, --attributes,
 * --expires-in), read before the node starts; the expiry counts from the graph's peer time.
 */
export async function recordChanges(
  o: RecordCliOptions,
  c: Command,
  read: { bytes: (path: string) => Promise<Uint8Array>; text: ReadText },
): Promise<(on: { peerTime(): Date }) => RecordUpdate> {
  const data = await dataArg(o, c, read.bytes)
  const attributes = await attributesArg(o.attributes, read.text)
  return (on) => ({
    ...(data ? { data } : {}),
    ...(attributes !== undefined ? { attributes } : {}),
    ...(o.expiresIn !== undefined ? { expiresAt: expiry(on, o.expiresIn) } : {}),
  })
}

// ---- output ----------------------------------------------------------------------------

/**
 * How records print. Graphing's commands show `autoRefresh` and `deleted`; Grouping's leave
 * them out.
 */
export interface RecordView {
  lifecycle: boolean
}

/** The bytes as text when they are printable UTF-8, else undefined. */
export function printable(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return ''
  const text = fromUtf8(bytes)
  return /^[\P{Cc}\n\t]*$/u.test(text) && !text.includes('\uFFFD') ? text : undefined
}

export function dataSummary(bytes: Uint8Array): string {
  const text = printable(bytes)
  if (text === undefined) return `${bytes.length} bytes (use --json for base64)`
  return JSON.stringify(text.length > 60 ? text.slice(0, 57) + '...' : text)
}

export function recordJson(r: PeerRecord, view: RecordView): Record<string, unknown> {
  return {
    id: r.id,
    type: r.type,
    version: r.version,
    creatorId: r.creatorId,
    modifiedById: r.modifiedById,
    createdAt: r.createdAt.toISOString(),
    modifiedAt: r.modifiedAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    ...(view.lifecycle ? { autoRefresh: r.autoRefresh, deleted: r.deleted } : {}),
    attributes: r.attributes,
    attributesXml: r.attributesXml,
    data: toBase64(r.data),
    dataText: printable(r.data),
  }
}

export function showRecord(r: PeerRecord, view: RecordView): void {
  const refresh = view.lifecycle && r.autoRefresh ? pc.dim(' (auto-refresh)') : ''
  printFields({
    id: r.id,
    type: r.type,
    version: String(r.version),
    creator: r.creatorId,
    'modified by': r.modifiedById === r.creatorId ? undefined : r.modifiedById,
    created: r.createdAt.toISOString(),
    modified: r.modifiedAt.toISOString(),
    expires: r.expiresAt.toISOString() + refresh,
    attributes: r.attributesXml,
    data: r.data.length === 0 ? undefined : dataSummary(r.data),
  })
}

export function printRecords(
  records: PeerRecord[],
  json: boolean | undefined,
  view: RecordView,
): void {
  if (json) return printJson(records.map((r) => recordJson(r, view)))
  if (records.length === 0) process.stdout.write(pc.dim('no records\n'))
  for (const r of records) {
    process.stdout.write(
      `${pc.bold(r.id)}  ${pc.dim(`v${r.version} type ${r.type} by ${r.creatorId}`)}  ${dataSummary(r.data)}\n`,
    )
  }
}

export function statusText(status: GraphStatus, none: string): string {
  return (
    [
      status.listening && 'listening',
      status.hasConnections && 'connected',
      status.synchronized && 'synchronized',
    ]
      .filter(Boolean)
      .join(', ') || none
  )
}

/** A one-off announcement in a stream (listening, connected...): a JSON line or a ✔ line. */
export function announce(
  json: boolean | undefined,
  event: string,
  fields: object,
  text: string,
): void {
  if (json) process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
  else success(text)
}

// ---- events ----------------------------------------------------------------------------

/** An event of a graph or of a group. */
export type CliEvent = EventOf<GraphEvents> | EventOf<GroupEvents>

/**
 * One line per event: a JSON line with --json (a changed record with it), else the time, the
 * type padded to `width`, and `text`.
 */
export function printEvent(
  ev: CliEvent,
  record: PeerRecord | undefined,
  json: boolean | undefined,
  view: RecordView & { width: number },
  text: () => string,
): void {
  if (json) {
    const data =
      ev.type === 'incoming-data'
        ? { ...ev.data, data: toBase64(ev.data.data), dataText: printable(ev.data.data) }
        : ev.data
    const line = {
      event: ev.type,
      ...data,
      ...(record ? { record: recordJson(record, view) } : {}),
    }
    process.stdout.write(JSON.stringify(line) + '\n')
    return
  }
  const time = pc.dim(new Date().toISOString().slice(11, 19))
  process.stdout.write(`${time} ${pc.cyan(ev.type.padEnd(view.width))} ${text()}\n`)
}

/**
 * The text of a graph's event, and of the group events that are a graph's (a group's record,
 * connection, data, status and sync events); '' for the rest.
 */
export function sharedEventText(ev: EventOf<GraphEvents>, record: PeerRecord | undefined): string {
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
    case 'synchronized':
      return `record type ${ev.data.recordType}`
    default:
      return ''
  }
}

// ---- running a node --------------------------------------------------------------------

export interface NodeCliOptions extends GlobalOptions {
  identity?: string
}

/**
 * Starts the node of --home as --identity, runs `fn` and stops the node. With no identity
 * there, PEER_E_IDENTITY_NOT_FOUND, saying `why` one is needed.
 */
export async function withNode<T>(
  opts: NodeCliOptions,
  why: string,
  fn: (node: PeerNode) => Promise<T>,
  pnrp?: PnrpOptions,
): Promise<T> {
  const node = await PeerNode.start({
    ...(opts.home ? { dataDir: opts.home } : {}),
    ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
    ...(pnrp ? { pnrp } : {}),
  })
  try {
    if (node.identities.list().length === 0) {
      throw new PeerError(
        'PEER_E_IDENTITY_NOT_FOUND',
        `there is no identity in ${node.dataDir}: ${why}. ` +
          'Create one first: peerinfra identity create --classifier NAME',
      )
    }
    return await fn(node)
  } finally {
    await node.stop()
  }
}

/** The options of a command that may go online first (--connect) and wait for the sync. */
export interface OnlineCliOptions extends NodeCliOptions {
  connect?: string
  peerId?: string
  timeout: number
}

/** A graph or a group, as far as waiting for its sync goes. */
interface Synchronizing {
  readonly status: GraphStatus
  on(type: 'status-changed', listener: (data: GraphEvents['status-changed']) => void): () => void
}

/** Resolves once `target` (named `what` in the error) is synchronized; PEER_E_TIMEOUT after `timeoutMs`. */
export function whenSynchronized(
  target: Synchronizing,
  what: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  if (target.status.synchronized) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const done = (err?: PeerError): void => {
      clearTimeout(timer)
      off()
      signal?.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve()
    }
    const off = target.on('status-changed', ({ status }) => {
      if (status.synchronized) done()
    })
    const onAbort = (): void => done(new PeerError('E_ABORT', 'stopped while synchronizing'))
    signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(
      () =>
        done(
          new PeerError(
            'PEER_E_TIMEOUT',
            `${what} did not synchronize within ${timeoutMs / 1000} s`,
          ),
        ),
      timeoutMs,
    )
  })
}

/**
 * Runs `fn` on `target`, online after `goOnline` when there is one; a change made online
 * (`mode` write) has a second to flood before `target` closes.
 */
export async function runOnline<G extends { close(): Promise<void> }, T>(
  target: G,
  goOnline: (() => Promise<unknown>) | undefined,
  mode: 'read' | 'write',
  fn: () => Promise<T> | T,
): Promise<T> {
  try {
    if (goOnline) await goOnline()
    const result = await fn()
    if (goOnline && mode === 'write') await sleep(FLOOD_WAIT_MS)
    return result
  } finally {
    await target.close()
  }
}

// ---- long-running commands -------------------------------------------------------------

/** --friendly-name and --comment, which graphs and groups take on create and set. */
export function nameOptions(cmd: Command): Command {
  return cmd
    .option('--friendly-name <name>', 'a display name')
    .option('--comment <text>', 'a comment')
}

/**
 * The long-running commands of one kind: `run` runs one with a signal that aborts on SIGINT or
 * SIGTERM, or when `stopAll` is called (tests, embedders).
 */
export function stoppableCommands(): {
  stopAll: () => void
  run: <T>(fn: (signal: AbortSignal) => Promise<T>) => Promise<T>
} {
  const stoppers = new Set<() => void>()
  return {
    stopAll: () => {
      for (const stop of [...stoppers]) stop()
    },
    run: async (fn) => {
      const controller = new AbortController()
      const stop = (): void => controller.abort()
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      stoppers.add(stop)
      try {
        return await fn(controller.signal)
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        stoppers.delete(stop)
      }
    },
  }
}

/** A graph or a group streaming its events, for streamEvents. */
export interface Streaming<E> {
  target: { close(): Promise<void> }
  /** Subscribes to its events (before `start`, so that none is missed). */
  events: () => AsyncIterable<E>
  /** Brings it online. */
  start: () => Promise<void>
  print: (ev: E) => void
}

/**
 * Lets `start` bring the target online, then prints its events until `signal` aborts, and
 * closes it. False when it was stopped while starting.
 */
export async function streamEvents<E>(
  { target, events, start, print }: Streaming<E>,
  signal: AbortSignal,
  json: boolean | undefined,
): Promise<boolean> {
  try {
    const subscribed = events()
    try {
      await start()
    } catch (err) {
      if (signal.aborted) return false
      throw err
    }
    if (!json) process.stdout.write(pc.dim('events follow; Ctrl-C stops\n'))
    try {
      for await (const ev of subscribed) print(ev)
    } catch (err) {
      if (!signal.aborted) throw err
    }
    return true
  } finally {
    await target.close()
  }
}
