/**
 * `peerinfra group ...`: Peer Grouping from the command line. With no daemon, each command
 * starts a node on --home, opens the group, does its work and closes it:
 *
 * - `create`, `invite`, `issue`, `revoke`, `members`, `info`, `export`, `delete` and the record
 *   commands (add, get, list, search) work offline on the local database, once the group has
 *   synchronized here (the creator at once; a joiner after its first connection). With
 *   `--connect host:port` they go online first: connect to that member, sync, do the
 *   operation (a change floods to every member), wait a second for the flood, and leave.
 * - `join` and `password-join` make this identity a member; `connect` and `watch` stay up,
 *   printing the group's events, until Ctrl-C.
 *
 * An invitation carries the addresses the inviter listens on. The CLI has no daemon, so give
 * `invite` the port its `connect` will listen on (`--port`): the invitation names it, and the
 * invitee's `group connect` finds the inviter there. Without `--port` the invitation names no
 * address and the invitee connects with `group connect GROUP --address host:port`.
 *
 *   peerinfra --home a group create team                      # prints the group peer name
 *   peerinfra --home b identity info > bob.xml
 *   peerinfra --home a group invite team --invitee bob.xml --port 4000 --out bob.inv
 *   peerinfra --home a group connect team --port 4000         # stays up, prints events
 *   peerinfra --home b group join bob.inv
 *   peerinfra --home b group connect team                     # reaches a at 127.0.0.1:4000
 */
import { open, stat } from 'node:fs/promises'
import { Command, InvalidArgumentError, Option } from 'commander'
import pc from 'picocolors'
import { toHex } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { EventOf } from '../core/events.ts'
import { fileError, writeFileAtomic } from '../core/files.ts'
import type { PeerRecord } from '../graph/index.ts'
import {
  GROUP_FLAG_DEFER_EXPIRATION,
  GROUP_FLAG_DISABLE_PRESENCE,
  GROUP_FLAG_MEMBER_DATA_OPTIONAL,
  MAX_INVITATION_BYTES,
  ROLE_NAMES,
  type AuthScheme,
  type RoleName,
} from '../group/constants.ts'
import { roleName } from '../group/credentials.ts'
import { GROUP_EVENT_TYPES, type GroupEvents, type GroupEventType } from '../group/events.ts'
import type { CredentialInfo, GroupMember, PeerGroup } from '../group/group.ts'
import type { GroupSummary } from '../group/groups.ts'
import { parseInvitation } from '../group/invitation.ts'
import type { GroupProperties, MutableGroupProperties } from '../group/properties.ts'
import { MAX_IDENTITY_XML_BYTES } from '../identity/constants.ts'
import type { PeerNode } from '../node/peer-node.ts'
import { GLOBAL_CLOUD } from '../pnrp/cloud.ts'
import { formatEndpoint, parseEndpoint } from '../pnrp/endpoints.ts'
import type { Endpoint } from '../pnrp/types.ts'
import { printFields, printJson, success } from './output.ts'
import { readAllStdin, readPassword } from './prompt.ts'
import * as shared from './records.ts'

type GroupCliOptions = shared.OnlineCliOptions & PnrpCliOptions

/** `--seed` and `--pnrp-port`: the node takes part in PNRP's Global_ cloud (members find each
 * other through `<groupAuthority>.participant`). */
interface PnrpCliOptions {
  seed?: string[]
  pnrpPort?: number
}

type RecordCliOptions = shared.RecordCliOptions

type EventName = GroupEventType
type GroupEvent = EventOf<GroupEvents, EventName>

/** Largest record data file read. */
const MAX_DATA_FILE_BYTES = 60 * 1024 * 1024
/** A group config export: a few certificates, maybe the group key, sealed. */
const MAX_CONFIG_BYTES = 1024 * 1024
/** Group records print without Graphing's auto-refresh and deleted flags. */
const VIEW: shared.RecordView = { lifecycle: false }

// ---- argument parsing ------------------------------------------------------------------

function isoDate(text: string): Date {
  const d = new Date(text)
  if (Number.isNaN(d.getTime())) {
    throw new InvalidArgumentError(`"${text}" is not a date (ISO 8601, e.g. 2030-01-31T12:00:00Z)`)
  }
  return d
}

/** A file of at most `max` bytes, as text; `-` reads stdin. */
async function readText(path: string, max: number): Promise<string> {
  if (path === '-') return readAllStdin(max)
  let handle
  try {
    handle = await open(path, 'r')
    const { size } = await handle.stat()
    if (size > max) throw new PeerError('PEER_E_TOO_LARGE', `${path} is larger than ${max} bytes`)
    return await handle.readFile('utf8')
  } catch (err) {
    throw err instanceof PeerError ? err : fileError(err, `could not read ${path}`)
  } finally {
    await handle?.close()
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  )
}

/**
 * A document given inline (XML, or an invitation token) or as a file (`-` for stdin, `@file`
 * as graph commands take it).
 */
async function documentArg(value: string, max: number): Promise<string> {
  const trimmed = value.trim()
  if (trimmed.startsWith('<') || trimmed.startsWith('peerinv1:')) return trimmed
  if (value.startsWith('@')) return (await readText(value.slice(1), max)).trim()
  return (await readText(value, max)).trim()
}

/** `issue`'s subject: identity info (inline, @file or a file), or a member's peer name. */
async function subjectArg(value: string): Promise<string> {
  const trimmed = value.trim()
  if (trimmed.startsWith('<')) return trimmed
  if (value.startsWith('@') || value === '-' || (await isFile(value))) {
    return documentArg(value, MAX_IDENTITY_XML_BYTES)
  }
  return trimmed
}

/** The text of an `@file` argument. */
const readDataText = (path: string): Promise<string> => readText(path, MAX_DATA_FILE_BYTES)

/** The bytes of --data-file. */
async function readBytes(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw fileError(err, `could not read ${path}`)
  })
  try {
    return new Uint8Array(await handle.readFile())
  } finally {
    await handle.close()
  }
}

// ---- output ----------------------------------------------------------------------------

const recordJson = (r: PeerRecord): Record<string, unknown> => shared.recordJson(r, VIEW)
const showRecord = (r: PeerRecord): void => shared.showRecord(r, VIEW)
const printRecords = (records: PeerRecord[], json: boolean | undefined): void =>
  shared.printRecords(records, json, VIEW)

function credentialJson(c: CredentialInfo): Record<string, unknown> {
  return {
    publicKey: toHex(c.publicKey),
    issuerPeerName: c.issuerPeerName,
    validityStart: c.validityStart.toISOString(),
    validityEnd: c.validityEnd.toISOString(),
    roles: c.roles,
    serial: c.serial,
  }
}

function memberJson(m: GroupMember): Record<string, unknown> {
  return {
    identity: m.identity,
    role: m.role ?? null,
    present: m.present,
    nodeId: m.nodeId ?? null,
    addresses: m.addresses,
    attributes: m.attributes ?? null,
    credential: credentialJson(m.credential),
  }
}

function propertiesJson(p: GroupProperties): Record<string, unknown> {
  return {
    ...p,
    flagNames: flagNames(p.flags),
    passwordRoleName: p.passwordRole === '' ? null : roleName(p.passwordRole),
  }
}

/** The group flags (PEER_GROUP_PROPERTIES dwFlags) by their CLI names. */
const GROUP_FLAG_NAMES: Record<string, number> = {
  'member-data-optional': GROUP_FLAG_MEMBER_DATA_OPTIONAL,
  'disable-presence': GROUP_FLAG_DISABLE_PRESENCE,
  'defer-expiration': GROUP_FLAG_DEFER_EXPIRATION,
}

function flagNames(flags: number): string[] {
  return Object.entries(GROUP_FLAG_NAMES)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name)
}

/** `--flags a,b` (or `none`): the flags' bits. */
function parseFlags(value: string): number {
  if (value.trim() === 'none') return 0
  let flags = 0
  for (const name of value.split(',').map((n) => n.trim())) {
    const bit = GROUP_FLAG_NAMES[name]
    if (bit === undefined) {
      throw new InvalidArgumentError(
        `unknown flag "${name}": use none, or any of ${Object.keys(GROUP_FLAG_NAMES).join(', ')}`,
      )
    }
    flags |= bit
  }
  return flags
}

function validity(c: CredentialInfo): string {
  return `${c.validityStart.toISOString()} .. ${c.validityEnd.toISOString()}`
}

/** The group, its properties (once synchronized) and this member's credential. */
function describeGroup(group: PeerGroup, summary: GroupSummary | undefined, json?: boolean): void {
  const ready = group.status.synchronized
  const props = ready ? group.properties : undefined
  const credential = group.credential
  if (json) {
    return printJson({
      groupPeerName: group.peerName,
      identity: group.identity,
      owner: summary?.owner ?? false,
      status: group.status,
      ...(props ? { properties: propertiesJson(props) } : {}),
      credential: credentialJson(credential),
    })
  }
  printFields({
    group: group.peerName,
    identity: group.identity,
    owner: summary?.owner ? 'yes (holds the group key)' : 'no',
    status: shared.statusText(group.status, 'not synchronized (connect to a member first)'),
    'friendly name': props?.friendlyName || undefined,
    comment: props?.comment || undefined,
    creator: props?.creatorPeerName,
    cloud: props?.cloud,
    authentication: props?.authSchemes.join(', '),
    'password role': props?.passwordRole ? roleName(props.passwordRole) : undefined,
    'member data lifetime': props && `${props.memberDataLifetime} s`,
    'presence lifetime': props && `${props.presenceLifetime} s`,
    flags: props && (flagNames(props.flags).join(', ') || 'none'),
    roles: credential.roles.join(', '),
    issuer: credential.issuerPeerName,
    valid: validity(credential),
  })
}

function printEvent(group: PeerGroup, ev: GroupEvent, json: boolean | undefined): void {
  let record: PeerRecord | undefined
  if (ev.type === 'record-changed' && !group.isClosed && group.status.synchronized) {
    record = group.getRecord(ev.data.recordId)
  }
  shared.printEvent(ev, record, json, { ...VIEW, width: 21 }, () => eventText(ev, record))
}

function eventText(ev: GroupEvent, record: PeerRecord | undefined): string {
  switch (ev.type) {
    case 'member-changed':
      return `${ev.data.change} ${ev.data.identity}`
    case 'connection-failed':
      return ev.data.reason
    case 'authentication-failed':
      return `${ev.data.identity || '?'}: ${ev.data.reason}`
    case 'property-changed':
      return pc.dim('the group properties changed')
    default:
      return shared.sharedEventText(ev, record)
  }
}

/** Writes a document to --out (mode 0600) or stdout; with --json, as { key: text } or { file }. */
async function emitDocument(
  text: string,
  out: string | undefined,
  json: boolean | undefined,
  fields: Record<string, unknown>,
  key: string,
  what: string,
): Promise<void> {
  if (out) await writeFileAtomic(out, text + '\n', 0o600)
  if (json) printJson({ ...fields, ...(out ? { file: out } : { [key]: text }) })
  else if (out) success(`wrote ${what} to ${out}`)
  else process.stdout.write(text + '\n')
}

// ---- running a node and a group --------------------------------------------------------

function groupOptions(c: Command): GroupCliOptions {
  return c.optsWithGlobals<GroupCliOptions>()
}

/** With --seed, the node runs PNRP (Global_, bound where the group listens). */
function withNode<T>(
  opts: GroupCliOptions,
  fn: (node: PeerNode) => Promise<T>,
  host = '0.0.0.0',
): Promise<T> {
  const pnrp = opts.seed
    ? { seeds: opts.seed, port: opts.pnrpPort ?? 0, host, clouds: [GLOBAL_CLOUD] }
    : undefined
  return shared.withNode(opts, 'a member of a group is an identity', fn, pnrp)
}

/** The options of the commands that find members through PNRP. */
function pnrpOptions(cmd: Command): Command {
  return cmd
    .option(
      '--seed <host:port>',
      'take part in PNRP, bootstrapping from this node (repeatable): members are found and ' +
        'registered as <groupAuthority>.participant',
      shared.collect,
    )
    .option(
      '--pnrp-port <port>',
      "with --seed: this node's PNRP UDP port (default any free port)",
      shared.integer('--pnrp-port', 0, 65_535),
    )
}

/**
 * This identity's group named `name`: its peer name, or unambiguously its classifier or the
 * start of its peer name.
 */
export function resolveGroup(node: PeerNode, name: string): GroupSummary {
  const mine = node.groups.list({ identity: node.identity.peerName })
  const exact = mine.find((g) => g.groupPeerName === name)
  if (exact) return exact
  const lower = name.toLowerCase()
  const found = mine.filter(
    (g) =>
      g.groupPeerName.toLowerCase().endsWith(`.${lower}`) ||
      g.groupPeerName.toLowerCase().startsWith(lower),
  )
  if (found.length === 1) return found[0]!
  if (found.length > 1) {
    throw new PeerError(
      'E_INVALIDARG',
      `"${name}" names ${found.length} groups (${found.map((g) => g.groupPeerName).join(', ')}): give the group peer name`,
    )
  }
  throw new PeerError(
    'PEER_E_NOT_FOUND',
    `${node.identity.peerName} is not a member of a group "${name}" in ${node.dataDir} ` +
      '(peerinfra group list shows its groups)',
  )
}

/** Resolves once the group is synchronized; PEER_E_TIMEOUT after `timeoutMs`. */
function whenSynchronized(
  group: PeerGroup,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  return shared.whenSynchronized(group, `group ${group.peerName}`, timeoutMs, signal)
}

/** Connects to the members at these addresses and waits for the sync. */
async function goOnline(
  group: PeerGroup,
  at: readonly Endpoint[],
  opts: GroupCliOptions,
  signal?: AbortSignal,
): Promise<void> {
  const synced = whenSynchronized(group, opts.timeout * 1000, signal)
  synced.catch(() => undefined)
  await group.connectByAddress(
    at.map((a) => ({ ...a, ...(opts.peerId !== undefined ? { peerId: opts.peerId } : {}) })),
    signal ? { signal } : {},
  )
  await synced
  await shared.sleep(shared.RECONCILE_WAIT_MS)
}

/**
 * Runs `fn` on an open group: offline, or online with --connect (then a change has a second
 * to flood before the group closes).
 */
async function withGroup<T>(
  c: Command,
  name: string,
  mode: 'read' | 'write',
  fn: (group: PeerGroup, opts: GroupCliOptions, node: PeerNode) => Promise<T> | T,
): Promise<T> {
  const opts = groupOptions(c)
  const at = opts.connect === undefined ? undefined : parseEndpoint(opts.connect)
  return withNode(opts, async (node) => {
    const summary = resolveGroup(node, name)
    const group = await node.groups.open(summary.groupPeerName)
    const online = at && (() => goOnline(group, [at], opts))
    return shared.runOnline(group, online, mode, () => fn(group, opts, node))
  })
}

const commands = shared.stoppableCommands()

/** Stops every long-running group command of this process, as Ctrl-C does (tests, embedders). */
export function stopGroupCommands(): void {
  commands.stopAll()
}

/** Opens the group, lets `start` bring it online, then streams events until stopped. */
async function runStreaming(
  c: Command,
  name: string,
  types: EventName[] | undefined,
  start: (group: PeerGroup, opts: GroupCliOptions, signal: AbortSignal) => Promise<void>,
  host?: string,
): Promise<void> {
  const opts = groupOptions(c)
  await commands.run((signal) =>
    withNode(
      opts,
      async (node) => {
        const { groupPeerName } = resolveGroup(node, name)
        const group = await node.groups.open(groupPeerName)
        const streaming = {
          target: group,
          events: () => group.events({ ...(types ? { types } : {}), signal }),
          start: () => start(group, opts, signal),
          print: (ev: GroupEvent) => printEvent(group, ev, opts.json),
        }
        if (await shared.streamEvents(streaming, signal, opts.json)) {
          shared.announce(opts.json, 'stopped', { groupPeerName }, 'stopped')
        }
      },
      host,
    ),
  )
}

function onlineOptions(cmd: Command): Command {
  return shared.onlineOptions(cmd, { where: 'this member', who: 'the member' })
}

function listening(group: PeerGroup, json: boolean | undefined, at: Endpoint): void {
  shared.announce(
    json,
    'listening',
    { groupPeerName: group.peerName, identity: group.identity, ...at },
    `${group.peerName} listening on ${pc.bold(formatEndpoint(at))} as ${group.identity}`,
  )
}

/** The properties `create` sets and `set` changes. */
function propertyOptions(cmd: Command): Command {
  return shared
    .nameOptions(cmd)
    .option(
      '--member-data-lifetime <seconds>',
      'how long an invitation or credential lasts (0: the issuer’s lifetime; 28800 .. 10 years)',
      shared.integer('--member-data-lifetime', 0, 10 * 365 * 86_400),
    )
    .option(
      '--presence-lifetime <seconds>',
      'how long a presence record lives',
      shared.integer('--presence-lifetime', 0, 86_400),
    )
}

function roleOption(description: string): Option {
  return new Option('--role <role>', description).choices(ROLE_NAMES)
}

/** After join or password-join: the group, and where its members were last seen. */
function joined(
  group: PeerGroup,
  hints: readonly { address: string; port: number }[],
  json?: boolean,
): void {
  const info = {
    groupPeerName: group.peerName,
    identity: group.identity,
    alreadyMember: group.alreadyMember,
    roles: group.credential.roles,
    addresses: hints,
  }
  if (json) return printJson(info)
  success(
    `${group.alreadyMember ? 'already a member of' : 'joined'} ${pc.bold(group.peerName)} as ${group.identity}`,
  )
  printFields({
    roles: info.roles.join(', '),
    members:
      hints.length > 0
        ? hints.map(formatEndpoint).join(', ')
        : pc.dim('(no address: group connect GROUP --address host:port)'),
    next: `peerinfra group connect ${group.peerName}`,
  })
}

// ---- the commands ----------------------------------------------------------------------

export function groupCommand(): Command {
  const cmd = new Command('group')
    .description('secure groups: members, invitations, credentials and signed records (Grouping)')
    .option('--identity <name>', 'the identity to act as (default: the default identity)')
    .addOption(
      new Option('--timeout <seconds>', 'when going online: give up syncing after this long')
        .argParser(shared.integer('--timeout', 1, 600))
        .default(30),
    )
    .addHelpText(
      'after',
      `
GROUP is a group peer name, or unambiguously its classifier. Every group command needs an
identity in --home (peerinfra identity create --classifier NAME). Commands work on the local
database once the group has synchronized here; with --connect host:port they go online first.
An invitation names the addresses the inviter listens on: give invite the --port that the
inviter's connect will listen on.

  peerinfra --home a group create team
  peerinfra --home b identity info > bob.xml
  peerinfra --home a group invite team --invitee bob.xml --port 4000 --out bob.inv
  peerinfra --home a group connect team --port 4000        # stays up, prints events
  peerinfra --home b group join bob.inv
  peerinfra --home b group members team --connect 127.0.0.1:4000
`,
    )

  propertyOptions(
    cmd
      .command('create <classifier>')
      .description('create a group; this identity becomes its owner and first admin'),
  )
    .option('--cloud <name>', 'the PNRP cloud (default Global_)')
    .option('--password <password>', 'also admit joiners who know this password')
    .addOption(roleOption('with --password: the role a password joiner gets (default member)'))
    .option('--disable-presence', 'members publish no presence')
    .action(
      async (
        classifier: string,
        o: {
          friendlyName?: string
          comment?: string
          cloud?: string
          password?: string
          role?: RoleName
          memberDataLifetime?: number
          presenceLifetime?: number
          disablePresence?: boolean
        },
        c: Command,
      ) => {
        const opts = groupOptions(c)
        if (o.role !== undefined && o.password === undefined) {
          c.error('error: --role needs --password', { exitCode: 2 })
        }
        await withNode(opts, async (node) => {
          const group = await node.groups.create({
            classifier,
            ...(o.friendlyName !== undefined ? { friendlyName: o.friendlyName } : {}),
            ...(o.comment !== undefined ? { comment: o.comment } : {}),
            ...(o.cloud !== undefined ? { cloud: o.cloud } : {}),
            ...(o.password !== undefined ? { password: o.password } : {}),
            ...(o.role !== undefined ? { passwordRole: o.role } : {}),
            ...(o.memberDataLifetime !== undefined
              ? { memberDataLifetime: o.memberDataLifetime }
              : {}),
            ...(o.presenceLifetime !== undefined ? { presenceLifetime: o.presenceLifetime } : {}),
            ...(o.disablePresence ? { disablePresence: true } : {}),
          })
          try {
            if (opts.json) {
              describeGroup(group, resolveGroup(node, group.peerName), true)
            } else {
              success(`created group ${pc.bold(group.peerName)}`)
              process.stdout.write(group.peerName + '\n')
            }
          } finally {
            await group.close()
          }
        })
      },
    )

  cmd
    .command('list [group]')
    .description(
      "without GROUP: this node's groups; with GROUP: its records, by type and/or creator",
    )
    .option('--type <guid>', 'only records of this type')
    .option('--creator <peerName>', 'only records made by this member')
    .option('--connect <host:port>', 'with GROUP: go online first: connect to this member and sync')
    .option('--peer-id <id>', 'with --connect: the member that must answer there')
    .option('--all', 'without GROUP: the groups of every identity here')
    .action(
      async (
        name: string | undefined,
        o: { type?: string; creator?: string; all?: boolean },
        c: Command,
      ) => {
        if (name === undefined) {
          const opts = groupOptions(c)
          return withNode(opts, (node) => {
            const list = node.groups.list(o.all ? {} : { identity: node.identity.peerName })
            if (opts.json) printJson(list)
            else if (list.length === 0) process.stdout.write(pc.dim('no groups\n'))
            else
              for (const g of list)
                process.stdout.write(
                  `${g.owner ? pc.green('owner ') : '      '}${g.groupPeerName}` +
                    `${g.friendlyName ? ` "${g.friendlyName}"` : ''}  ${pc.dim(`as ${g.identity}`)}\n`,
                )
            return Promise.resolve()
          })
        }
        await withGroup(c, name, 'read', (group, opts) =>
          printRecords(
            [
              ...group.records({
                ...(o.type !== undefined ? { type: o.type } : {}),
                ...(o.creator !== undefined ? { creator: o.creator } : {}),
              }),
            ],
            opts.json,
          ),
        )
      },
    )

  onlineOptions(
    cmd.command('info <group>').description("the group's properties and this member's credential"),
  ).action(async (name: string, _o: unknown, c: Command) =>
    withGroup(c, name, 'read', (group, opts, node) =>
      describeGroup(group, resolveGroup(node, group.peerName), opts.json),
    ),
  )

  onlineOptions(
    propertyOptions(
      cmd
        .command('set <group>')
        .description(
          "the owner: change the group's properties (cloud, classifier and names never change); " +
            'they reach every member',
        ),
    )
      .option(
        '--flags <names>',
        `none, or a comma-separated list of ${Object.keys(GROUP_FLAG_NAMES).join(', ')}`,
        parseFlags,
      )
      .option('--password <password>', 'a new password for password joins (a new salt and key)')
      .addOption(roleOption('the role password joiners get from now on'))
      .option(
        '--authentication <schemes>',
        'gmc, or gmc,password (password joins need a password: the current one, or --password)',
        (text: string) => text.split(',').map((x) => x.trim()),
      ),
  ).action(
    async (
      name: string,
      o: MutableGroupProperties & { role?: RoleName; authentication?: AuthScheme[] },
      c: Command,
    ) => {
      const change: MutableGroupProperties = {
        ...Object.fromEntries(
          Object.entries(o).filter(([k]) =>
            [
              'friendlyName',
              'comment',
              'memberDataLifetime',
              'presenceLifetime',
              'flags',
              'password',
            ].includes(k),
          ),
        ),
        ...(o.role !== undefined ? { passwordRole: o.role } : {}),
        ...(o.authentication !== undefined ? { authSchemes: o.authentication } : {}),
      }
      if (Object.keys(change).length === 0) {
        c.error(
          'error: nothing to change: give --friendly-name, --comment, --member-data-lifetime, ' +
            '--presence-lifetime, --flags, --password, --role or --authentication',
          { exitCode: 2 },
        )
      }
      await withGroup(c, name, 'write', async (group, opts, node) => {
        await group.setProperties(change)
        if (!opts.json) success(`changed the properties of ${pc.bold(group.peerName)}`)
        describeGroup(group, resolveGroup(node, group.peerName), opts.json)
      })
    },
  )

  cmd
    .command('invite <group>')
    .description(
      'invite an identity (its <PEERIDENTITYINFO>: peerinfra identity info), or with ' +
        '--password make a password invitation',
    )
    .option('--invitee <file|xml>', 'the invitee’s identity info: a file, - for stdin, or XML')
    .addOption(roleOption('the role the invitee gets (default member)'))
    .option('--expires <date>', 'the invitation’s end (ISO 8601)', isoDate)
    .option('--password', 'a password invitation (the group must take passwords)')
    .option('--token', 'one line (peerinv1:...) instead of <PEERINVITATION> XML')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .option('--host <address>', 'the address this member listens on (named in the invitation)')
    .option(
      '--port <port>',
      'name this port in the invitation: the one `group connect --port` will listen on',
      shared.integer('--port', 0, 65_535),
    )
    .action(
      async (
        name: string,
        o: {
          invitee?: string
          role?: RoleName
          expires?: Date
          password?: boolean
          token?: boolean
          out?: string
          host?: string
          port?: number
        },
        c: Command,
      ) => {
        if (o.password && (o.invitee !== undefined || o.role !== undefined)) {
          c.error('error: a password invitation has no --invitee or --role', { exitCode: 2 })
        }
        if (!o.password && o.invitee === undefined) {
          c.error('error: give --invitee FILE (or --password)', { exitCode: 2 })
        }
        const invitee =
          o.invitee === undefined ? undefined : await documentArg(o.invitee, MAX_IDENTITY_XML_BYTES)
        await withGroup(c, name, 'read', async (group, opts) => {
          if (o.port !== undefined || o.host !== undefined) {
            await group.listen({
              ...(o.host !== undefined ? { host: o.host } : {}),
              ...(o.port !== undefined ? { port: o.port } : {}),
            })
          }
          const format = o.token ? 'token' : 'xml'
          const text =
            invitee === undefined
              ? await group.createPasswordInvitation({
                  format,
                  ...(o.expires ? { expiresAt: o.expires } : {}),
                })
              : await group.createInvitation({
                  invitee,
                  roles: [o.role ?? 'member'],
                  format,
                  ...(o.expires ? { expiresAt: o.expires } : {}),
                })
          const info = parseInvitation(text)
          const fields = {
            groupPeerName: info.groupPeerName,
            scheme: info.scheme,
            invitee: info.subject?.peerName ?? null,
            roles: info.roles,
            validityEnd: info.validity.end.toISOString(),
            addresses: info.addresses,
          }
          if (!opts.json && info.addresses.length === 0) {
            process.stderr.write(
              `${pc.yellow('note')} the invitation names no address (no --port): the invitee ` +
                'connects with group connect GROUP --address host:port\n',
            )
          }
          await emitDocument(text, o.out, opts.json, fields, 'invitation', 'the invitation')
        })
      },
    )

  cmd
    .command('join <invitation>')
    .description(
      'join with an invitation made for this identity (a file, - for stdin, XML or a ' +
        'peerinv1: token); then connect',
    )
    .action(async (arg: string, _o: unknown, c: Command) => {
      const text = await documentArg(arg, MAX_INVITATION_BYTES)
      const opts = groupOptions(c)
      await withNode(opts, async (node) => {
        const group = await node.groups.join({ invitation: text })
        try {
          joined(group, parseInvitation(text).addresses, opts.json)
        } finally {
          await group.close()
        }
      })
    })

  pnrpOptions(cmd.command('password-join <invitation>'))
    .description(
      'join with a password invitation: reach a member it names (or --address, or found ' +
        'through PNRP with --seed), prove the password, receive a membership',
    )
    .option(
      '-p, --password <password>',
      'the group password (else $PEERINFRA_PASSWORD, a prompt, or the first line of stdin)',
    )
    .option('--address <host:port>', 'a member to join through (repeatable)', shared.collect)
    .action(async (arg: string, o: { password?: string; address?: string[] }, c: Command) => {
      const text = await documentArg(arg, MAX_INVITATION_BYTES)
      const addresses = o.address?.map((a) => parseEndpoint(a))
      const password = await readPassword('Group password', {
        ...(o.password !== undefined ? { password: o.password } : {}),
        stdinBusy: arg === '-',
      })
      const opts = groupOptions(c)
      await withNode(opts, async (node) => {
        const signal = AbortSignal.timeout(opts.timeout * 1000)
        const group = await node.groups.passwordJoin({
          invitation: text,
          password,
          signal,
          ...(addresses ? { addresses } : {}),
        })
        try {
          joined(group, addresses ?? parseInvitation(text).addresses, opts.json)
        } finally {
          await group.close()
        }
      })
    })

  const connect = pnrpOptions(shared.presenceOptions(cmd.command('connect <group>')))
    .description(
      'go online: connect to members (the invitation’s addresses, --address, or through PNRP ' +
        'with --seed), listen (and with --seed register in PNRP), and print events until Ctrl-C',
    )
    .option('--address <host:port>', 'a member to connect to (repeatable)', shared.collect)
    .option('--peer-id <id>', 'with one --address: the member that must answer there')
  shared
    .listenOptions(connect)
    .option(
      '--types <types>',
      `event types, comma-separated (default all): ${GROUP_EVENT_TYPES.join(', ')}`,
      shared.eventTypes(GROUP_EVENT_TYPES),
    )
    .action(
      async (
        name: string,
        o: {
          address?: string[]
          host: string
          port: number
          types?: EventName[]
        } & shared.PresenceCliOptions,
        c: Command,
      ) => {
        const at = o.address?.map((a) => parseEndpoint(a))
        await runStreaming(
          c,
          name,
          o.types,
          async (group, opts, signal) => {
            const listen = { host: o.host, port: o.port }
            if (at) {
              const synced = whenSynchronized(group, opts.timeout * 1000, signal)
              synced.catch(() => undefined)
              await group.connectByAddress(
                at.map((a) => ({
                  ...a,
                  ...(opts.peerId !== undefined ? { peerId: opts.peerId } : {}),
                })),
                { signal, listen },
              )
              await synced
            } else if (group.status.synchronized) {
              await group.connect({ ...listen, signal })
            } else {
              const synced = whenSynchronized(group, opts.timeout * 1000, signal)
              synced.catch(() => undefined)
              await group.connect({ ...listen, signal })
              await synced
            }
            // A member that was not synchronized connects first and listens once it is.
            // Synchronized by now, so listen gives the address.
            const address = await group.listen(listen)
            if (address) listening(group, opts.json, address)
            await shared.applyPresence(group, o)
            shared.announce(
              opts.json,
              'ready',
              {
                groupPeerName: group.peerName,
                connections: group.connections().length,
              },
              `online (${group.connections().length} connection(s))`,
            )
          },
          o.host,
        )
      },
    )

  cmd
    .command('watch <group>')
    .description("print the group's events (JSON lines with --json) until Ctrl-C")
    .option('--connect <host:port>', 'connect to this member first')
    .option('--peer-id <id>', 'with --connect: the member that must answer there')
    .option(
      '--types <types>',
      `event types, comma-separated (default all): ${GROUP_EVENT_TYPES.join(', ')}`,
      shared.eventTypes(GROUP_EVENT_TYPES),
    )
    .action(async (name: string, o: { types?: EventName[] }, c: Command) =>
      runStreaming(c, name, o.types, async (group, opts, signal) => {
        if (opts.connect !== undefined)
          await goOnline(group, [parseEndpoint(opts.connect)], opts, signal)
        shared.announce(
          opts.json,
          'watching',
          { groupPeerName: group.peerName },
          `watching ${group.peerName}`,
        )
      }),
    )

  onlineOptions(
    cmd
      .command('members <group>')
      .description('the members known here (this one first); --present: those online now')
      .option('--present', 'only members whose presence is known')
      .option('--member <peerName>', 'only this member'),
  ).action(async (name: string, o: { present?: boolean; member?: string }, c: Command) =>
    withGroup(c, name, 'read', (group, opts) => {
      const members = group.members({
        ...(o.present ? { present: true } : {}),
        ...(o.member !== undefined ? { identity: o.member } : {}),
      })
      if (opts.json) return printJson(members.map(memberJson))
      if (members.length === 0) process.stdout.write(pc.dim('no members\n'))
      for (const m of members) {
        const where = m.addresses.map(formatEndpoint).join(', ')
        process.stdout.write(
          `${m.present ? pc.green('●') : pc.dim('○')} ${m.identity}  ${m.role ?? '?'}` +
            `${where ? `  ${where}` : ''}  ${pc.dim(`until ${m.credential.validityEnd.toISOString()}`)}\n`,
        )
      }
    }),
  )

  onlineOptions(
    shared.recordOptions(
      cmd
        .command('add <group>')
        .description('add a signed record (with --connect: it floods to the group)')
        .requiredOption('--type <guid>', 'the record type, a GUID'),
      true,
    ),
  ).action(async (name: string, o: RecordCliOptions, c: Command) => {
    const data = await shared.dataArg(o, c, readBytes)
    const attributes = await shared.attributesArg(o.attributes, readDataText)
    await withGroup(c, name, 'write', async (group, opts) => {
      const recordId = await group.addRecord({
        type: o.type!,
        ...(data ? { data } : {}),
        ...(attributes !== undefined ? { attributes } : {}),
        expiresAt: shared.expiry(group, o.expiresIn ?? shared.DEFAULT_EXPIRES_IN_S),
      })
      const record = group.getRecord(recordId)!
      if (opts.json) return printJson({ recordId, record: recordJson(record) })
      success(`added record ${pc.bold(recordId)}`)
      showRecord(record)
    })
  })

  onlineOptions(
    shared.recordOptions(
      cmd
        .command('update <group> <recordId>')
        .description(
          "update a record's data, attributes or expiration (yours, or anyone's as an admin)",
        ),
      false,
    ),
  ).action(async (name: string, recordId: string, o: RecordCliOptions, c: Command) => {
    const changes = await shared.recordChanges(o, c, { bytes: readBytes, text: readDataText })
    await withGroup(c, name, 'write', async (group, opts) => {
      await group.updateRecord(recordId, changes(group))
      const record = group.getRecord(recordId)!
      if (opts.json) return printJson({ recordId, record: recordJson(record) })
      success(`updated record ${pc.bold(recordId)} (version ${record.version})`)
      showRecord(record)
    })
  })

  onlineOptions(
    cmd
      .command('delete-record <group> <recordId>')
      .description("delete a record group-wide (yours, or anyone's as an admin)"),
  ).action(async (name: string, recordId: string, _o: unknown, c: Command) =>
    withGroup(c, name, 'write', async (group, opts) => {
      await group.deleteRecord(recordId)
      if (opts.json) printJson({ deleted: recordId })
      else success(`deleted record ${pc.bold(recordId)}`)
    }),
  )

  onlineOptions(cmd.command('get <group> <recordId>').description('show a record')).action(
    async (name: string, recordId: string, _o: unknown, c: Command) =>
      withGroup(c, name, 'read', (group, opts) => {
        const record = group.getRecord(recordId)
        if (!record) {
          throw new PeerError('PEER_E_RECORD_NOT_FOUND', `no record ${recordId} in ${name}`)
        }
        if (opts.json) printJson(recordJson(record))
        else showRecord(record)
      }),
  )

  onlineOptions(
    cmd
      .command('search <group> <query>')
      .description(
        'search records by attribute: <peersearch> XML, or JSON such as ' +
          '{"attribute":"author","value":"alice"} (or @file)',
      ),
  ).action(async (name: string, query: string, _o: unknown, c: Command) => {
    const q = await shared.searchArg(query, readDataText)
    await withGroup(c, name, 'read', (group, opts) => printRecords(group.search(q), opts.json))
  })

  onlineOptions(
    cmd
      .command('issue <group> <subject>')
      .description(
        'admins: new credentials for a member (SUBJECT: its peer name, or its identity info ' +
          'as a file or XML), printed as an invitation; --store publishes them in the group',
      )
      .addOption(roleOption('the role (default: the member’s current roles)'))
      .option('--expires <date>', 'the credentials’ end (ISO 8601)', isoDate)
      .option('--store', 'publish them in the group, where the member picks them up')
      .option('--token', 'one line (peerinv1:...) instead of <PEERINVITATION> XML')
      .option('-o, --out <file>', 'write to a file instead of stdout'),
  ).action(
    async (
      name: string,
      subjectText: string,
      o: { role?: RoleName; expires?: Date; store?: boolean; token?: boolean; out?: string },
      c: Command,
    ) => {
      const subject = await subjectArg(subjectText)
      await withGroup(c, name, o.store ? 'write' : 'read', async (group, opts) => {
        const text = await group.issueCredentials(
          subject,
          {
            ...(o.role !== undefined ? { roles: [o.role] } : {}),
            ...(o.expires ? { expiresAt: o.expires } : {}),
          },
          { store: o.store === true, format: o.token ? 'token' : 'xml' },
        )
        const info = parseInvitation(text)
        const fields = {
          groupPeerName: info.groupPeerName,
          subject: info.subject?.peerName ?? null,
          roles: info.roles,
          validityEnd: info.validity.end.toISOString(),
          stored: o.store === true,
        }
        await emitDocument(text, o.out, opts.json, fields, 'credentials', 'the credentials')
      })
    },
  )

  onlineOptions(
    cmd
      .command('revoke <group> <peerName>')
      .description('admins: revoke a member (members then refuse its connections and records)'),
  ).action(async (name: string, peerName: string, _o: unknown, c: Command) =>
    withGroup(c, name, 'write', async (group, opts) => {
      const revoked = await group.revoke(peerName)
      if (opts.json) printJson({ revoked: peerName, certificates: revoked })
      else success(`revoked ${pc.bold(peerName)} (${revoked} certificate(s))`)
    }),
  )

  cmd
    .command('export <group>')
    .description(
      "export this member's group configuration, sealed under a password (<PEERGROUPCONFIG>)",
    )
    .option(
      '-p, --password <password>',
      'the password (else $PEERINFRA_PASSWORD, a prompt, or the first line of stdin)',
    )
    .option('-o, --out <file>', 'write to a file (mode 0600) instead of stdout')
    .action(async (name: string, o: { password?: string; out?: string }, c: Command) => {
      const password = await readPassword('Password for the export', { ...o, confirm: true })
      await withGroup(c, name, 'read', async (group, opts) => {
        const xml = await group.exportConfig(password)
        await emitDocument(
          xml,
          o.out,
          opts.json,
          { groupPeerName: group.peerName, identity: group.identity },
          'xml',
          `${group.peerName}'s configuration`,
        )
      })
    })

  cmd
    .command('export-database <group> <file>')
    .description("copy this member's group database to FILE (overwritten)")
    .action(async (name: string, file: string, _o: unknown, c: Command) =>
      withGroup(c, name, 'read', async (group, opts) => {
        await group.exportDatabase(file)
        if (opts.json) printJson({ groupPeerName: group.peerName, file })
        else success(`wrote ${group.peerName}'s database to ${file}`)
      }),
    )

  cmd
    .command('import-database <group> <file>')
    .description(
      'merge a database this identity exported from the group (before connecting); every ' +
        "record passes the group's checks",
    )
    .action(async (name: string, file: string, _o: unknown, c: Command) =>
      withGroup(c, name, 'read', async (group, opts) => {
        await group.importDatabase(file)
        if (opts.json) printJson({ groupPeerName: group.peerName, file })
        else success(`imported ${file} into ${group.peerName}`)
      }),
    )

  cmd
    .command('import <file>')
    .description('import an exported group configuration (FILE, or - for stdin)')
    .option(
      '-p, --password <password>',
      'the password (else $PEERINFRA_PASSWORD, a prompt, or the first line of stdin)',
    )
    .option('--overwrite', 'replace this identity’s configuration of the same group')
    .action(async (file: string, o: { password?: string; overwrite?: boolean }, c: Command) => {
      const xml = await readText(file, MAX_CONFIG_BYTES)
      const password = await readPassword('Password of the export', {
        ...(o.password !== undefined ? { password: o.password } : {}),
        stdinBusy: file === '-',
      })
      const opts = groupOptions(c)
      await withNode(opts, async (node) => {
        const imported = await node.groups.importConfig(xml, password, {
          overwrite: o.overwrite === true,
        })
        if (opts.json) printJson(imported)
        else success(`imported ${pc.bold(imported.groupPeerName)} for ${imported.identity}`)
      })
    })

  cmd
    .command('delete <group>')
    .description("erase this identity's data of a group (database, credentials, group key)")
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: { yes?: boolean }, c: Command) => {
      const opts = groupOptions(c)
      await withNode(opts, async (node) => {
        const summary = resolveGroup(node, name)
        if (!o.yes) {
          throw new PeerError(
            'E_INVALIDARG',
            `deleting ${summary.groupPeerName} erases its data here` +
              (summary.owner ? ' and the group key (no one can change its properties again)' : '') +
              ': repeat with --yes',
          )
        }
        await node.groups.delete(summary.groupPeerName)
        if (opts.json) printJson({ deleted: summary.groupPeerName })
        else success(`deleted ${pc.bold(summary.groupPeerName)}`)
      })
    })

  onlineOptions(
    cmd
      .command('send <group> <member>')
      .description(
        'send data to a member over a direct connection: go online (--connect), open a direct ' +
          'connection to MEMBER, send, close. The receiver sees incoming-data (group connect/watch)',
      ),
  )
    .option('--to <host:port>', "MEMBER's address, when it is not the --connect member")
    .requiredOption('--type <guid>', 'the data type, a GUID')
    .option('--data <text>', 'the data, as UTF-8 text')
    .option('--data-file <file>', 'the data, from a file')
    .action(
      async (name: string, member: string, o: RecordCliOptions & { to?: string }, c: Command) => {
        if (groupOptions(c).connect === undefined) {
          c.error('error: send needs --connect <host:port>, a member to go online through', {
            exitCode: 2,
          })
        }
        const data = (await shared.dataArg(o, c, readBytes)) ?? new Uint8Array(0)
        const to = o.to === undefined ? undefined : parseEndpoint(o.to)
        await withGroup(c, name, 'read', async (group, opts) => {
          const connectionId = await group.openDirectConnection(
            member,
            to ?? parseEndpoint(opts.connect!),
          )
          await group.sendData(connectionId, o.type!, data)
          await shared.sleep(shared.FLOOD_WAIT_MS)
          await group.closeDirectConnection(connectionId)
          if (opts.json) printJson({ sent: data.length, member, connectionId })
          else success(`sent ${data.length} bytes to ${pc.bold(member)}`)
        })
      },
    )

  return cmd
}
