/**
 * `peerinfra node start`: the long-running node (DESIGN.md section 1) with Windows' defaults:
 * PNRP on UDP 3540, and every group of the identity (and any --graph) online on one TCP port,
 * 3587, shared through the node's port hub. Events of all of them print, one line each (JSON
 * lines with --json, each naming its group or graph), until Ctrl-C.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { isIP } from 'node:net'
import { Command, InvalidArgumentError } from 'commander'
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
/** How long a group that reached a member waits for its first sync before it counts as offline. */
const SYNC_WAIT_MS = 30_000

interface NodeStartOptions extends shared.NodeCliOptions, shared.PresenceCliOptions {
  host: string
  port: number
  retry: number
  pnrpPort: number
  pnrp: boolean
  seed?: string[]
  pnrpAddress?: string[]
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
      '--pnrp-address <ip>',
      'publish this address in PNRP instead of the interfaces’ (repeatable; e.g. a NAT’s ' +
        'public address with its ports forwarded)',
      (text: string, previous: string[] = []) => {
        if (isIP(text) === 0) throw new InvalidArgumentError(`${text} is not an IP address`)
        return [...previous, text]
      },
    )
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
          ...(opts.pnrpAddress ? { addresses: () => opts.pnrpAddress as string[] } : {}),
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

async function run(node: PeerNode, opts: NodeStartOptions, stopped: AbortSignal): Promise<void> {
  const members: Member[] = []
  // Ends with this run, however it ends, so no retry outlives it.
  const ended = new AbortController()
  const signal = AbortSignal.any([stopped, ended.signal])
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
    const online = new Online(opts, signal)
    const retries: Promise<void>[] = []
    for (const m of members) {
      if ((await online.attempt(m, opts.retry)) === 'retry') retries.push(online.keepTrying(m))
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
    await Promise.all([printing, aborted(stopped), ...retries])
    shared.announce(opts.json, 'stopped', {}, 'stopped')
  } finally {
    ended.abort()
    for (const m of members) await m.target.close()
  }
}

/** The groups named (each once), or every group of the node's identity. */
function groupsToOpen(node: PeerNode, wanted: string[] | undefined): string[] {
  if (wanted) return [...new Set(wanted.map((name) => resolveGroup(node, name).groupPeerName))]
  return node.groups.list({ identity: node.identity.peerName }).map((g) => g.groupPeerName)
}

/**
 * Brings groups and graphs online, one at a time (so that with --port 0 the first to listen
 * picks the port and the others share it), and tries again those that could not.
 */
class Online {
  private readonly listen: { host: string; port: number }
  private queue: Promise<unknown> = Promise.resolve()
  private readonly announced = new Set<Member>()

  constructor(
    private readonly opts: NodeStartOptions,
    private readonly signal: AbortSignal,
  ) {
    this.listen = { host: opts.host, port: opts.port }
  }

  /** One try, after those already running; `retryIn` is what an offline report announces. */
  attempt(m: Member, retryIn: number): Promise<'online' | 'retry' | 'offline'> {
    const next = this.queue.then(() => this.tryOnline(m, retryIn))
    this.queue = next
    return next
  }

  /** Tries an offline group or graph again (--retry) until it is online or the node stops. */
  async keepTrying(m: Member): Promise<void> {
    // Each wait doubles the one before, up to MAX_RETRY_SECONDS; --retry 0 never tries again.
    for (let delay = this.opts.retry; delay > 0 && !this.signal.aborted;) {
      try {
        await sleep(delay * 1000, undefined, { signal: this.signal })
      } catch {
        return // stopped
      }
      const next = Math.min(delay * 2, MAX_RETRY_SECONDS)
      const outcome = await this.attempt(m, next)
      if (outcome === 'online') {
        shared.announce(this.opts.json, 'online', { [m.kind]: m.name }, `${m.name} is online`)
      }
      if (outcome !== 'retry') return
      delay = next
    }
  }

  /**
   * Connects (a group: and waits for its sync), listens, then applies --presence and
   * --node-attributes. A group or graph that cannot is reported offline; its events still print.
   */
  private async tryOnline(m: Member, retryIn: number): Promise<'online' | 'retry' | 'offline'> {
    const { opts, signal, listen } = this
    if (signal.aborted) return 'offline'
    try {
      if (m.kind === 'group') {
        // A member not yet synchronized listens only once it is: wait for that.
        const synced = m.target.status.synchronized
          ? undefined
          : shared.whenSynchronized(m.target, `group ${m.name}`, SYNC_WAIT_MS, signal)
        synced?.catch(() => undefined)
        await m.target.connect({ ...listen, signal })
        await synced
      }
      // A group's listen answers its address again; a graph listens once.
      const address =
        m.kind === 'group' || !m.target.status.listening ? await m.target.listen(listen) : undefined
      if (address && !this.announced.has(m)) {
        this.announced.add(m)
        if (listen.port === 0) listen.port = address.port
        shared.announce(
          opts.json,
          'listening',
          { [m.kind]: m.name, ...address },
          `${m.name} listening on ${pc.bold(formatEndpoint(address))}`,
        )
      }
      await shared.applyPresence(m.target, opts)
      return 'online'
    } catch (err) {
      if (signal.aborted) return 'offline'
      const error = err instanceof PeerError ? err : new PeerError('E_UNEXPECTED', String(err))
      // Node start never connects a graph: one that has not synchronized stays offline.
      const retry = retryIn > 0 && !(m.kind === 'graph' && error.code === 'PEER_E_GRAPH_NOT_READY')
      shared.announce(
        opts.json,
        'offline',
        {
          [m.kind]: m.name,
          code: error.code,
          message: error.message,
          retryIn: retry ? retryIn : 0,
        },
        `${m.name}: ${error.code}: ${error.message}` +
          (retry ? pc.dim(` (trying again in ${retryIn} s)`) : ''),
      )
      return retry ? 'retry' : 'offline'
    }
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
