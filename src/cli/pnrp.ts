/**
 * `peerinfra pnrp ...`: Peer Name Resolution from the command line. With no daemon, each
 * command runs its own PNRP node: `seed` and `register` stay up until interrupted (Ctrl-C),
 * `resolve` and `clouds` join, answer and leave. Three terminals make a cloud:
 *   peerinfra pnrp seed --port 3540
 *   peerinfra pnrp register 0.demo --port 8080 --seed 127.0.0.1:3540
 *   peerinfra pnrp resolve 0.demo --seed 127.0.0.1:3540
 */
import { readFile } from 'node:fs/promises'
import { Command, Option } from 'commander'
import pc from 'picocolors'
import { PeerError } from '../core/errors.ts'
import { utf8 } from '../core/bytes.ts'
import { PeerNode } from '../node/peer-node.ts'
import { GLOBAL_CLOUD, type CloudInfo } from '../pnrp/cloud.ts'
import { DEFAULT_PNRP_PORT, MAX_CPA_PAYLOAD_BYTES } from '../pnrp/constants.ts'
import { formatEndpoint } from '../pnrp/endpoints.ts'
import {
  RESOLVE_CRITERIA,
  type PnrpOptions,
  type PnrpRecord,
  type ResolveCriteria,
} from '../pnrp/service.ts'
import { printFields, printJson, success, type GlobalOptions } from './output.ts'

interface PnrpCliOptions extends GlobalOptions {
  seed?: string[]
  port?: string
  pnrpPort?: string
  host?: string
  cloud?: string[]
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** The options every pnrp command takes. */
function withNodeOptions(
  cmd: Command,
  ownPort: 'port' | 'pnrp-port',
  defaultPort: number,
): Command {
  cmd
    .option('--seed <host:port>', 'a node to bootstrap from (repeatable)', collect)
    .option('--host <address>', 'the address PNRP binds (default 0.0.0.0, every interface)')
    .option(
      '--cloud <name>',
      `a cloud to take part in (repeatable): ${GLOBAL_CLOUD}, LinkLocal or LinkLocal_<interface>`,
      collect,
    )
  if (ownPort === 'port') {
    cmd.option('--port <port>', `this node's UDP port (default ${defaultPort || 'any free port'})`)
  } else {
    cmd.addOption(new Option('--pnrp-port <port>', `this node's UDP port (default any free port)`))
  }
  return cmd
}

function udpPort(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const port = Number(text)
  if (!/^\d{1,5}$/.test(text) || port > 65_535) {
    throw new PeerError('E_INVALIDARG', `--port must be 0 to 65535, not ${text}`)
  }
  return port
}

function pnrpOptions(opts: PnrpCliOptions, port: number): PnrpOptions {
  return {
    port,
    seeds: opts.seed ?? [],
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.cloud ? { clouds: opts.cloud } : {}),
  }
}

async function startNode(opts: PnrpCliOptions, port: number): Promise<PeerNode> {
  return PeerNode.start({
    ...(opts.home ? { dataDir: opts.home } : {}),
    pnrp: pnrpOptions(opts, port),
  })
}

/** Resolves when the process is asked to stop (SIGINT, SIGTERM). */
function interrupted(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      resolve(signal)
    }
    const onInt = (): void => stop('SIGINT')
    const onTerm = (): void => stop('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
  })
}

function cloudLine(c: CloudInfo): string {
  const flags = c.flags.length > 0 ? ` [${c.flags.join(', ')}]` : ''
  return `${pc.bold(c.name)}  scope ${c.scope} (id ${c.scopeId})  ${stateColour(c.state)}${flags}`
}

function stateColour(state: string): string {
  if (state === 'active') return pc.green(state)
  if (state === 'alone' || state === 'synchronizing') return pc.yellow(state)
  return pc.red(state)
}

function recordJson(r: PnrpRecord): Record<string, unknown> {
  return {
    peerName: r.peerName,
    cloud: r.cloud,
    endpoints: r.endpoints,
    comment: r.comment,
    payload: Buffer.from(r.payload).toString('base64'),
    payloadText: printable(r.payload),
  }
}

/** The payload as text when it is printable UTF-8, else undefined. */
function printable(payload: Uint8Array): string | undefined {
  if (payload.length === 0) return ''
  const text = new TextDecoder('utf-8', { fatal: false }).decode(payload)
  return /^[\P{Cc}\n\t]*$/u.test(text) && !text.includes('\uFFFD') ? text : undefined
}

/** `--payload text` or `--payload @file`. */
async function readPayload(value: string | undefined): Promise<Uint8Array | undefined> {
  if (value === undefined) return undefined
  if (!value.startsWith('@')) return utf8(value)
  const bytes = await readFile(value.slice(1)).catch((err: unknown) => {
    throw new PeerError('E_INVALIDARG', `could not read ${value.slice(1)}: ${String(err)}`)
  })
  if (bytes.length > MAX_CPA_PAYLOAD_BYTES) {
    throw new PeerError(
      'E_INVALIDARG',
      `${value.slice(1)} is ${bytes.length} bytes; a payload is at most ${MAX_CPA_PAYLOAD_BYTES}`,
    )
  }
  return new Uint8Array(bytes)
}

/** A full peer name, or a bare classifier meaning this node's default identity's secured name. */
function fullName(node: PeerNode, name: string): string {
  if (name.includes('.')) return name
  return `${node.identity.key.authority}.${name}`
}

export function pnrpCommand(): Command {
  const cmd = new Command('pnrp').description(
    'register and resolve peer names with no server (Peer Name Resolution Protocol)',
  )

  withNodeOptions(
    cmd.command('clouds').description('join the clouds, then list them with their state'),
    'port',
    0,
  ).action(async (_args: unknown, command: Command) => {
    const opts = command.optsWithGlobals<PnrpCliOptions>()
    const node = await startNode(opts, udpPort(opts.port, 0))
    try {
      const clouds = node.pnrp.clouds()
      if (opts.json) return printJson(clouds)
      for (const c of clouds) process.stdout.write(cloudLine(c) + '\n')
    } finally {
      await node.stop()
    }
  })

  withNodeOptions(
    cmd
      .command('seed')
      .description('run a long-lived node that others bootstrap from (until Ctrl-C)'),
    'port',
    DEFAULT_PNRP_PORT,
  ).action(async (_args: unknown, command: Command) => {
    const opts = command.optsWithGlobals<PnrpCliOptions>()
    const node = await startNode(opts, udpPort(opts.port, DEFAULT_PNRP_PORT))
    try {
      node.pnrp.on('cloud-changed', (c) => {
        if (opts.json) printJson({ event: 'cloud-changed', cloud: c })
        else process.stdout.write(cloudLine(c) + '\n')
      })
      const endpoints = node.pnrp
        .clouds()
        .map((c) => ({ ...c, endpoints: node.pnrp.endpoints(c.name) }))
      if (opts.json) printJson({ event: 'started', clouds: endpoints })
      else {
        for (const c of endpoints) {
          success(`${c.name} seed at ${c.endpoints.map(formatEndpoint).join(', ')} (${c.state})`)
        }
        process.stdout.write(pc.dim('others join with --seed <address:port>; Ctrl-C stops\n'))
      }
      await interrupted()
    } finally {
      await node.stop()
    }
  })

  withNodeOptions(
    cmd
      .command('register')
      .description('register a peer name and keep it registered until Ctrl-C')
      .argument('<name>', 'a peer name (0.classifier unsecured), or a classifier of your identity')
      .option('--port <port>', 'the port of the service being registered (automatic addresses)')
      .option(
        '--address <host:port>',
        'an explicit endpoint instead (repeatable, up to 10)',
        collect,
      )
      .option('--payload <text|@file>', 'data published with the name (at most 4096 bytes)')
      .option('--comment <text>', 'a comment (at most 39 characters)')
      .option('--identity <name>', 'the identity that signs (default: the owner of the name)'),
    'pnrp-port',
    0,
  ).action(async (name: string, _flags: unknown, command: Command) => {
    const opts = command.optsWithGlobals<
      PnrpCliOptions & { address?: string[]; payload?: string; comment?: string; identity?: string }
    >()
    const payload = await readPayload(opts.payload)
    const appPort = opts.port === undefined ? undefined : udpPort(opts.port, 0)
    const node = await startNode(opts, udpPort(opts.pnrpPort, 0))
    try {
      const registration = await node.pnrp.register({
        peerName: fullName(node, name),
        ...(opts.address ? { addresses: opts.address } : { addresses: 'auto' as const }),
        ...(appPort !== undefined ? { port: appPort } : {}),
        ...(payload ? { payload } : {}),
        ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
        ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
      })
      const described = registration.clouds.map((cloud) => ({
        cloud,
        endpoints: registration.endpoints(cloud),
        pnrp: node.pnrp.endpoints(cloud),
      }))
      if (opts.json) {
        printJson({ event: 'registered', peerName: registration.peerName, clouds: described })
      } else {
        success(`registered ${pc.bold(registration.peerName)}`)
        for (const d of described) {
          printFields({
            cloud: d.cloud,
            endpoints: d.endpoints.map(formatEndpoint).join(', '),
            'pnrp node': d.pnrp.map(formatEndpoint).join(', '),
          })
        }
        process.stdout.write(pc.dim('registered while this runs; Ctrl-C unregisters\n'))
      }
      await interrupted()
      await registration.unregister()
      if (!opts.json) success(`unregistered ${registration.peerName}`)
    } finally {
      await node.stop()
    }
  })

  withNodeOptions(
    cmd
      .command('resolve')
      .description('find the registrations of a peer name')
      .argument('<name>', 'the peer name to resolve, or its host name (demo.pnrp.net)')
      .option('--max <n>', 'results wanted (1 to 100)', '1')
      .option('--timeout <seconds>', 'give up after this long (at most 600)', '30')
      .addOption(
        new Option('--criteria <criteria>', 'which registrations count')
          .choices(RESOLVE_CRITERIA)
          .default('default'),
      )
      .option('--in <cloud>', 'resolve in this cloud only (default: every cloud)'),
    'port',
    0,
  ).action(async (name: string, _flags: unknown, command: Command) => {
    const opts = command.optsWithGlobals<
      PnrpCliOptions & { max: string; timeout: string; criteria: ResolveCriteria; in?: string }
    >()
    const node = await startNode(opts, udpPort(opts.port, 0))
    try {
      const records = await node.pnrp.resolve(name, {
        max: Number(opts.max),
        timeoutMs: Math.round(Number(opts.timeout) * 1000),
        criteria: opts.criteria,
        ...(opts.in !== undefined ? { cloud: opts.in } : {}),
      })
      if (opts.json) return printJson(records.map(recordJson))
      for (const r of records) {
        const text = printable(r.payload)
        printFields({
          'peer name': r.peerName,
          cloud: r.cloud,
          endpoints: r.endpoints.map(formatEndpoint).join(', '),
          comment: r.comment || undefined,
          payload:
            r.payload.length === 0
              ? undefined
              : text !== undefined
                ? text
                : `${r.payload.length} bytes (use --json for base64)`,
        })
        process.stdout.write('\n')
      }
    } finally {
      await node.stop()
    }
  })

  return cmd
}
