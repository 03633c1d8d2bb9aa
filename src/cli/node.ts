/**
 * `peerinfra node start`: the long-running node (DESIGN.md section 1) with Windows' defaults:
 * PNRP on UDP 3540, and every group of the identity (and any --graph) online on one TCP port,
 * 3587, shared through the node's port hub. Events of all of them print, one line each (JSON
 * lines with --json, each naming its group or graph), until Ctrl-C.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Command } from 'commander'
import pc from 'picocolors'
import { toBase64 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { EventOf } from '../core/events.ts'
import type { GraphEvents, PeerGraph } from '../graph/index.ts'
import type { GroupEvents, PeerGroup } from '../group/index.ts'
import type { PeerNode } from '../node/peer-node.ts'
import { GLOBAL_CLOUD } from '../pnrp/cloud.ts'
import { DEFAULT_PNRP_PORT } from '../pnrp/constants.ts'
import { formatEndpoint } from '../pnrp/endpoints.ts'
import type { PnrpOptions } from '../pnrp/service.ts'
import { resolveGroup } from './group.ts'
import * as shared from './records.ts'

/** Windows' Grouping port (MS-PPSEC: TCP 3587), which all groups of a node share. */
export const DEFAULT_GROUP_PORT = 3587

/** A group or graph that could not go online is tried again, at most this far apart. */
export const MAX_RETRY_SECONDS = 300

interface NodeStartOptions extends shared.NodeCliOptions, shared.PresenceCliOptions {
  host: string
  port: number
  retry: number
  pnrpPort: number
  pnrp: boolean
  seed?: string[]
  cloud?: string[]
  group?: string[]
  graph?: string[]
}

const commands = shared.stoppableCommands()

/** Stops a running `node start` of this process, as Ctrl-C does (tests, embedders). */
export function stopNodeCommands(): void {
  commands.stopAll()
}

export function nodeCommand(): Command {
  const cmd = new Command('node').description(
    'run a long-lived node: PNRP, and this identity’s groups (and graphs) online on one port',
  )
  const start = cmd
    .command('start')
    .description(
      'start PNRP (UDP 3540), bring every group of the identity online on TCP 3587 (one port ' +
        'for all), print their events until Ctrl-C',
    )
    .option('--identity <name>', 'the identity (default: the default identity)')
    .option('--host <address>', 'the address to listen on (PNRP and TCP)', '0.0.0.0')
    .option(
      '--port <port>',
      `the TCP port every group and graph listens on (0: any free port)`,
      shared.integer('--port', 0, 65_535),
      DEFAULT_GROUP_PORT,
    )
    .option(
      '--pnrp-port <port>',
      'the PNRP UDP port (0: any free port)',
      shared.integer('--pnrp-port', 0, 65_535),
      DEFAULT_PNRP_PORT,
    )
    .option('--no-pnrp', 'run no PNRP (groups are then reached by address only)')
    .option('--seed <host:port>', 'a PNRP node to bootstrap from (repeatable)', shared.collect)
    .option(
      '--cloud <name>',
      `a PNRP cloud (repeatable; default ${GLOBAL_CLOUD}): ${GLOBAL_CLOUD}, LinkLocal or LinkLocal_<interface>`,
      shared.collect,
    )
    .option(
      '--group <name>',
      'only this group (repeatable; peer name or classifier; default every group of the identity)',
      shared.collect,
    )
    .option('--graph <graphId>', 'also bring this graph online (repeatable)', shared.collect)
    .option(
      '--retry <seconds>',
      `try a group or graph that could not go online again after this long, then twice as ` +
        `long each time up to ${MAX_RETRY_SECONDS} s (0: never)`,
      shared.integer('--retry', 0, MAX_RETRY_SECONDS),
      5,
    )
  shared.presenceOptions(start).action(async (_o: unknown, c: Command) => {
    const opts = c.optsWithGlobals<NodeStartOptions>()
    const pnrp: PnrpOptions | undefined = opts.pnrp
      ? {
          port: opts.pnrpPort,
          host: opts.host,
          seeds: opts.seed ?? [],
          clouds: opts.cloud ?? [GLOBAL_CLOUD],
        }
      : undefined
    await commands.run((signal) =>
      shared.withNode(opts, 'a node runs as an identity', (node) => run(node, opts, signal), pnrp),
    )
  })
  return cmd
}

type Member =
  | { kind: 'group'; name: string; target: PeerGroup }
  | { kind: 'graph'; name: string; target: PeerGraph }

async function run(node: PeerNode, opts: NodeStartOptions, signal: AbortSignal): Promise<void> {
  const members: Member[] = []
  try {
    for (const name of groupsToOpen(node, opts.group)) {
      members.push({ kind: 'group', name, target: await node.groups.open(name) })
    }
    for (const graphId of opts.graph ?? []) {
      if (!(await node.graphs.exists(graphId))) {
        throw new PeerError(
          'PEER_E_DATABASE_NOT_PRESENT',
          `graph "${graphId}" has no data in ${node.dataDir}: create or join it first`,
        )
      }
      members.push({ kind: 'graph', name: graphId, target: await node.graphs.open(graphId) })
    }
    // Handled at once: a printer that fails while the others go online must not go unhandled.
    const printing = Promise.all(members.map((m) => printEvents(m, opts.json, signal)))
    printing.catch(() => {})
    const listen = { host: opts.host, port: opts.port }
    const retries: Promise<void>[] = []
    for (const m of members) {
      if (!(await goOnline(m, listen, opts, signal, opts.retry))) {
        retries.push(keepTrying(m, listen, opts, signal))
      }
    }
    shared.announce(
      opts.json,
      'ready',
      {
        identity: node.identity.peerName,
        ...(opts.pnrp ? { pnrp: pnrpEndpoints(node) } : {}),
        groups: members.filter((m) => m.kind === 'group').map((m) => m.name),
        graphs: members.filter((m) => m.kind === 'graph').map((m) => m.name),
      },
      `node of ${node.identity.peerName} running: ${members.length} group(s) and graph(s); Ctrl-C stops`,
    )
    // With nothing to print (no group, no graph) the node still runs PNRP until stopped.
    await Promise.all([printing, aborted(signal), ...retries])
    shared.announce(opts.json, 'stopped', {}, 'stopped')
  } finally {
    for (const m of members) await m.target.close()
  }
}

/** The groups named (each once), or every group of the node's identity. */
function groupsToOpen(node: PeerNode, wanted: string[] | undefined): string[] {
  if (wanted) return [...new Set(wanted.map((name) => resolveGroup(node, name).groupPeerName))]
  return node.groups.list({ identity: node.identity.peerName }).map((g) => g.groupPeerName)
}

/**
 * Connects and listens, then applies --presence and --node-attributes; true once online. A group
 * or graph that cannot (a member that has not synchronized yet and reaches no one) is reported
 * as offline; its events still print. With --port 0 the first to listen picks a free port, and
 * `listen` keeps it for the others.
 */
async function goOnline(
  m: Member,
  listen: { host: string; port: number },
  opts: NodeStartOptions,
  signal: AbortSignal,
  retryIn: number,
): Promise<boolean> {
  try {
    if (m.kind === 'group') await m.target.connect({ ...listen, signal })
    const address = await m.target.listen(listen)
    if (address) {
      if (listen.port === 0) listen.port = address.port
      shared.announce(
        opts.json,
        'listening',
        { [m.kind]: m.name, ...address },
        `${m.name} listening on ${pc.bold(formatEndpoint(address))}`,
      )
    }
    await shared.applyPresence(m.target, opts)
    return true
  } catch (err) {
    if (signal.aborted) return false
    const error = err instanceof PeerError ? err : new PeerError('E_UNEXPECTED', String(err))
    shared.announce(
      opts.json,
      'offline',
      { [m.kind]: m.name, code: error.code, message: error.message, retryIn },
      `${m.name}: ${error.code}: ${error.message}` +
        (retryIn > 0 ? pc.dim(` (trying again in ${retryIn} s)`) : ''),
    )
    return false
  }
}

/** Tries an offline group or graph again (--retry) until it is online or the node stops. */
async function keepTrying(
  m: Member,
  listen: { host: string; port: number },
  opts: NodeStartOptions,
  signal: AbortSignal,
): Promise<void> {
  // Each wait doubles the one before, up to MAX_RETRY_SECONDS; --retry 0 never tries again.
  for (let delay = opts.retry; delay > 0 && !signal.aborted;) {
    try {
      await sleep(delay * 1000, undefined, { signal })
    } catch {
      return // stopped
    }
    const next = Math.min(delay * 2, MAX_RETRY_SECONDS)
    if (await goOnline(m, listen, opts, signal, next)) {
      shared.announce(opts.json, 'online', { [m.kind]: m.name }, `${m.name} is online`)
      return
    }
    delay = next
  }
}

/** Prints a group's or graph's events until `signal` aborts. */
async function printEvents(
  m: Member,
  json: boolean | undefined,
  signal: AbortSignal,
): Promise<void> {
  const events: AsyncIterable<EventOf<GroupEvents> | EventOf<GraphEvents>> =
    m.kind === 'group' ? m.target.events({ signal }) : m.target.events({ signal })
  try {
    for await (const ev of events) {
      if (json) {
        const data =
          ev.type === 'incoming-data' ? { ...ev.data, data: toBase64(ev.data.data) } : ev.data
        process.stdout.write(JSON.stringify({ event: ev.type, [m.kind]: m.name, ...data }) + '\n')
      } else {
        const time = pc.dim(new Date().toISOString().slice(11, 19))
        process.stdout.write(`${time} ${pc.dim(m.name)} ${pc.cyan(ev.type)} ${summary(ev)}\n`)
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err
  }
}

function summary(ev: EventOf<GroupEvents> | EventOf<GraphEvents>): string {
  const data = ev.data as Record<string, unknown>
  return Object.entries(data)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
}

function pnrpEndpoints(node: PeerNode): Record<string, string[]> {
  return Object.fromEntries(
    node.pnrp.clouds().map((c) => [c.name, node.pnrp.endpoints(c.name).map(formatEndpoint)]),
  )
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
