/** `peerinfra identity ...`: the Identity Manager from the command line. */
import { open } from 'node:fs/promises'
import { Command } from 'commander'
import pc from 'picocolors'
import { PeerError } from '../core/errors.ts'
import { fileError, writeFileAtomic } from '../core/files.ts'
import { MAX_IDENTITY_XML_BYTES } from '../identity/constants.ts'
import type { Identity } from '../identity/identity.ts'
import { PeerNode } from '../node/peer-node.ts'
import { printFields, printJson, success, type GlobalOptions } from './output.ts'
import { readAllStdin, readPassword } from './prompt.ts'

async function withNode<T>(
  cmd: Command,
  fn: (node: PeerNode, opts: GlobalOptions) => Promise<T>,
): Promise<T> {
  const opts = cmd.optsWithGlobals<GlobalOptions>()
  const node = await PeerNode.start(opts.home ? { dataDir: opts.home } : {})
  try {
    for (const p of node.identities.problems) {
      process.stderr.write(`${pc.yellow('warning')} skipped ${p.file}: ${p.error}\n`)
    }
    return await fn(node, opts)
  } finally {
    await node.stop()
  }
}

function describe(node: PeerNode, identity: Identity): Record<string, unknown> {
  return { ...identity.toJSON(), isDefault: node.identities.defaultPeerName === identity.peerName }
}

function show(node: PeerNode, identity: Identity, json: boolean | undefined): void {
  const d = describe(node, identity)
  if (json) return printJson(d)
  printFields({
    'peer name': identity.peerName,
    'friendly name': identity.friendlyName,
    classifier: identity.classifier === '' ? pc.dim('(none)') : identity.classifier,
    'host name': String(d['hostName']) || pc.dim('(none: see PEER_E_CANNOT_CONVERT_PEER_NAME)'),
    'public key': String(d['publicKey']),
    created: identity.createdAt.toISOString(),
    default: d['isDefault'] ? 'yes' : 'no',
  })
}

function pick(node: PeerNode, name: string | undefined): Identity {
  return name === undefined ? node.identities.getDefault() : node.identities.find(name)
}

/** A file of at most MAX_IDENTITY_XML_BYTES, as text; a larger one is refused unread. */
async function readTextFile(path: string): Promise<string> {
  let handle
  try {
    handle = await open(path, 'r')
    const { size } = await handle.stat()
    if (size > MAX_IDENTITY_XML_BYTES) {
      throw new PeerError('PEER_E_TOO_LARGE', `${path} is ${size} bytes; an export is a few KB`)
    }
    return await handle.readFile('utf8')
  } catch (err) {
    throw err instanceof PeerError ? err : fileError(err, `could not read ${path}`)
  } finally {
    await handle?.close()
  }
}

export function identityCommand(): Command {
  const cmd = new Command('identity').description(
    'create, list, export and import identities (Peer Identity Manager)',
  )

  cmd
    .command('create')
    .description('create an identity: a new Ed25519 key and the secured peer name it owns')
    .option(
      '-c, --classifier <classifier>',
      'the classifier: the part of the peer name after the dot',
      '',
    )
    .option('-f, --friendly-name <name>', 'a display name (default: the peer name)')
    .option(
      '--same-key-as <peerName>',
      "use that identity's key (one key, several names: one per classifier)",
    )
    .option('--default', 'make it the default identity')
    .action(
      async (
        o: { classifier: string; friendlyName?: string; sameKeyAs?: string; default?: boolean },
        c: Command,
      ) =>
        withNode(c, async (node, g) => {
          const identity = await node.identities.create({
            classifier: o.classifier,
            friendlyName: o.friendlyName ?? null,
            ...(o.sameKeyAs !== undefined
              ? { key: node.identities.find(o.sameKeyAs).keyPair }
              : {}),
          })
          if (o.default) await node.identities.setDefault(identity.peerName)
          if (!g.json) success(`created ${pc.bold(identity.peerName)}`)
          show(node, identity, g.json)
        }),
    )

  cmd
    .command('list')
    .description('list identities')
    .action(async (_o: unknown, c: Command) =>
      withNode(c, (node, g) => {
        const list = node.identities
          .list()
          .map((i) => ({ ...i, isDefault: i.peerName === node.identities.defaultPeerName }))
        if (g.json) printJson(list)
        else if (list.length === 0)
          process.stdout.write(
            pc.dim('no identities; create one with: peerinfra identity create --classifier NAME\n'),
          )
        else
          for (const i of list)
            process.stdout.write(
              `${i.isDefault ? pc.green('*') : ' '} ${i.peerName}  ${pc.dim(i.friendlyName)}\n`,
            )
        return Promise.resolve()
      }),
    )

  cmd
    .command('show [name]')
    .description(
      'show an identity (by peer name, classifier or authority prefix; default identity if left out)',
    )
    .action(async (name: string | undefined, _o: unknown, c: Command) =>
      withNode(c, (node, g) => {
        show(node, pick(node, name), g.json)
        return Promise.resolve()
      }),
    )

  cmd
    .command('info [name]')
    .description('print the public <PEERIDENTITYINFO> XML (what an inviter needs)')
    .action(async (name: string | undefined, _o: unknown, c: Command) =>
      withNode(c, (node, g) => {
        const identity = pick(node, name)
        const xml = node.identities.getInfoXml(identity.peerName)
        if (g.json) printJson({ peerName: identity.peerName, xml })
        else process.stdout.write(xml + '\n')
        return Promise.resolve()
      }),
    )

  cmd
    .command('rename <name> [friendlyName]')
    .description("set an identity's friendly name (left out: reset to the peer name)")
    .action(async (name: string, friendlyName: string | undefined, _o: unknown, c: Command) =>
      withNode(c, async (node, g) => {
        const identity = await node.identities.setFriendlyName(
          node.identities.find(name).peerName,
          friendlyName ?? null,
        )
        show(node, identity, g.json)
      }),
    )

  cmd
    .command('default [name]')
    .description('show the default identity, or make NAME the default')
    .action(async (name: string | undefined, _o: unknown, c: Command) =>
      withNode(c, async (node, g) => {
        if (name !== undefined)
          await node.identities.setDefault(node.identities.find(name).peerName)
        show(node, node.identities.getDefault(), g.json)
      }),
    )

  cmd
    .command('export <name>')
    .description(
      'export an identity with its private key, sealed under a password (<PEERIDENTITYEXPORT>)',
    )
    .option(
      '-p, --password <password>',
      'the password (else $PEERINFRA_PASSWORD, a prompt, or the first line of stdin)',
    )
    .option('-o, --out <file>', 'write to a file (mode 0600) instead of stdout')
    .action(async (name: string, o: { password?: string; out?: string }, c: Command) =>
      withNode(c, async (node, g) => {
        const identity = node.identities.find(name)
        const password = await readPassword('Password for the export', { ...o, confirm: true })
        const xml = await node.identities.export(identity.peerName, password)
        if (o.out) await writeFileAtomic(o.out, xml + '\n', 0o600)
        if (g.json)
          printJson({ peerName: identity.peerName, ...(o.out ? { file: o.out } : { xml }) })
        else if (o.out) success(`exported ${pc.bold(identity.peerName)} to ${o.out}`)
        else process.stdout.write(xml + '\n')
      }),
    )

  cmd
    .command('import <file>')
    .description('import an exported identity (FILE, or - for stdin)')
    .option(
      '-p, --password <password>',
      'the password (else $PEERINFRA_PASSWORD, a prompt, or the first line of stdin)',
    )
    .action(async (file: string, o: { password?: string }, c: Command) =>
      withNode(c, async (node, g) => {
        const xml =
          file === '-' ? await readAllStdin(MAX_IDENTITY_XML_BYTES) : await readTextFile(file)
        const password = await readPassword('Password of the export', {
          ...o,
          stdinBusy: file === '-',
        })
        const identity = await node.identities.import(xml, password)
        if (!g.json) success(`imported ${pc.bold(identity.peerName)}`)
        show(node, identity, g.json)
      }),
    )

  cmd
    .command('delete <name>')
    .description('delete an identity and its private key (refused while groups use it)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: { yes?: boolean }, c: Command) =>
      withNode(c, async (node, g) => {
        const identity = node.identities.find(name)
        if (!o.yes) {
          throw new PeerError(
            'E_INVALIDARG',
            `deleting ${identity.peerName} destroys its private key; repeat with --yes (export it first to keep a copy)`,
          )
        }
        await node.identities.delete(identity.peerName)
        if (g.json) printJson({ deleted: identity.peerName })
        else success(`deleted ${pc.bold(identity.peerName)}`)
      }),
    )

  return cmd
}
