/**
 * GroupChat, the Windows SDK sample, in small: three members of a secure group in one
 * process, on 127.0.0.1, each a PeerNode with its own identity and data directory.
 *
 * - alice creates the group `chat` (she is its admin) and lets password joiners in;
 * - bob writes his identity info to bob.idt, alice makes bob.inv from it, bob joins with it;
 * - carol joins with the group password (a password invitation);
 * - chat lines are signed records of one record type: they flood to every member, which
 *   prints them as record-changed events arrive;
 * - bob whispers to carol over a direct connection (application data: no record);
 * - alice revokes carol: what carol says next reaches no one.
 *
 *   npx tsx examples/group-chat.ts
 *
 * It prints a transcript, stops the nodes and removes its temporary directories.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fromUtf8, utf8 } from '../src/core/bytes.ts'
import type { PeerGroup } from '../src/group/group.ts'
import { PeerNode } from '../src/node/peer-node.ts'

const CHAT = '0cc0c0c0-2222-4222-8333-444455556666'
const WHISPER = '0dd0d0d0-2222-4222-8333-444455556666'
const PASSWORD = 'open sesame, chat'
const HOST = '127.0.0.1'
const WAIT_MS = 10_000

const say = (line: string): boolean => process.stdout.write(line + '\n')
const heading = (text: string): boolean => say(`\n== ${text}`)

interface Member {
  name: string
  node: PeerNode
  peerName: string
  group?: PeerGroup
  /** The chat lines this member has received, as "sender: text". */
  heard: string[]
  /** The members whose membership record reached this one. */
  joined: Set<string>
}

/** Polls `ready` until it holds; fails after WAIT_MS naming `what`. */
async function until(what: string, ready: () => boolean): Promise<void> {
  const end = Date.now() + WAIT_MS
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Resolves once the group has synchronized (a joiner's first connection returns before). */
function synchronized(group: PeerGroup): Promise<void> {
  return new Promise((resolve) => {
    if (group.status.synchronized) return resolve()
    const off = group.on('status-changed', ({ status }) => {
      if (!status.synchronized) return
      off()
      resolve()
    })
  })
}

const root = await mkdtemp(join(tmpdir(), 'peerinfra-group-chat-'))
const members: Member[] = []
const nameOf = (peerName: string): string =>
  members.find((m) => m.peerName === peerName)?.name ?? peerName

try {
  heading('identities')
  for (const name of ['alice', 'bob', 'carol']) {
    const node = await PeerNode.start({ dataDir: join(root, name) })
    const { peerName } = await node.identities.create({ classifier: name, friendlyName: name })
    members.push({ name, node, peerName, heard: [], joined: new Set() })
    say(`${name.padEnd(6)} ${peerName}`)
  }
  const [alice, bob, carol] = members as [Member, Member, Member]

  /** Chat lines and membership changes, printed as they arrive at `m`. */
  const listen = (m: Member, group: PeerGroup): void => {
    m.group = group
    group.on('record-changed', ({ change, recordId, recordType }) => {
      const r = group.getRecord(recordId)
      if (change !== 'added' || recordType !== CHAT || !r) return
      const line = `${nameOf(r.creatorId)}: ${fromUtf8(r.data)}`
      m.heard.push(line)
      say(`[${m.name}] ${line}`)
    })
    group.on('member-changed', ({ change, identity }) => {
      if (identity === m.peerName || (change !== 'joined' && change !== 'left')) return
      if (change === 'joined') m.joined.add(identity)
      say(`[${m.name}] * ${nameOf(identity)} ${change}`)
    })
    group.on('incoming-data', ({ connectionId, dataType, data }) => {
      if (dataType !== WHISPER) return
      const from = group.connections('direct').find((c) => c.connectionId === connectionId)
      say(`[${m.name}] (whisper from ${nameOf(from?.peerId ?? '?')}) ${fromUtf8(data)}`)
    })
  }

  heading('alice creates the password group "chat"')
  const ga = await alice.node.groups.create({
    classifier: 'chat',
    friendlyName: 'Group chat',
    password: PASSWORD,
    passwordRole: 'member',
  })
  listen(alice, ga)
  const at = await ga.listen({ host: HOST, port: 0 })
  if (!at) throw new Error('the creator is synchronized: it listens at once')
  say(`[alice] created ${ga.peerName} as admin, listening on ${at.address}:${at.port}`)

  heading('bob joins with an invitation made from his identity info')
  const idt = join(root, 'bob.idt')
  await writeFile(idt, bob.node.identities.getInfoXml(bob.peerName))
  say(`[bob] wrote his identity info to bob.idt`)
  const inv = join(root, 'bob.inv')
  await writeFile(
    inv,
    await ga.createInvitation({ invitee: await readFile(idt, 'utf8'), roles: ['member'] }),
  )
  say(`[alice] wrote bob's invitation to bob.inv`)
  const gb = await bob.node.groups.join({ invitation: await readFile(inv, 'utf8') })
  say(`[bob] joined ${gb.peerName} as ${gb.credential.roles.join(', ')}`)
  const bobSynced = synchronized(gb)
  await gb.connect({ host: HOST, port: 0 })
  await bobSynced
  listen(bob, gb)
  say(`[bob] connected and synchronized`)
  await until('alice to see bob join', () => alice.joined.has(bob.peerName))

  heading('carol joins with the group password')
  const passwordInvitation = await ga.createPasswordInvitation()
  const gc = await carol.node.groups.passwordJoin({
    invitation: passwordInvitation,
    password: PASSWORD,
  })
  say(`[carol] joined ${gc.peerName} with the password as ${gc.credential.roles.join(', ')}`)
  const carolSynced = synchronized(gc)
  await gc.connectByAddress([at], { listen: { host: HOST, port: 0 } })
  await carolSynced
  listen(carol, gc)
  say(`[carol] connected to alice at ${at.address}:${at.port} and synchronized`)
  await until('alice and bob to see carol join', () =>
    [alice, bob].every((m) => m.joined.has(carol.peerName)),
  )

  heading('members, as alice sees them')
  await until('all three members at alice', () => ga.members().length === 3)
  for (const m of ga.members()) {
    say(`  ${nameOf(m.identity).padEnd(6)} ${(m.role ?? '?').padEnd(7)} ${m.identity}`)
  }

  heading('chat: every line is a record that floods to every member')
  const chat = async (m: Member, text: string): Promise<void> => {
    await m.group!.addRecord({
      type: CHAT,
      data: utf8(text),
      expiresAt: new Date(m.group!.peerTime().getTime() + 3_600_000),
    })
  }
  for (const [m, text] of [
    [alice, 'welcome to the group, everyone'],
    [bob, 'hi alice, hi carol'],
    [carol, 'hello from carol'],
  ] as const) {
    await chat(m, text)
    const line = `${m.name}: ${text}`
    await until(`"${line}" at every member`, () => members.every((x) => x.heard.includes(line)))
  }

  heading('bob whispers to carol over a direct connection')
  let carolAt: { address: string; port: number } | undefined
  await until("carol's address at bob", () => {
    carolAt = gb.members({ identity: carol.peerName })[0]?.addresses[0]
    return carolAt !== undefined
  })
  const direct = await gb.openDirectConnection(carol.peerName, carolAt!)
  let whispered = false
  gc.on('incoming-data', ({ dataType }) => (whispered ||= dataType === WHISPER))
  await gb.sendData(direct, WHISPER, utf8('just between us, carol'))
  await until('the whisper at carol', () => whispered)
  await gb.closeDirectConnection(direct)

  heading('alice revokes carol')
  const revoked = await ga.revoke(carol.peerName)
  say(`[alice] revoked carol (${revoked} certificate(s))`)
  await until('bob to learn of it', () => !gb.members().some((m) => m.identity === carol.peerName))
  const last = 'is anyone still there?'
  try {
    await chat(carol, last)
    say(`[carol] said "${last}"`)
  } catch (err) {
    say(`[carol] could not say it: ${(err as Error).message}`)
  }
  await new Promise((r) => setTimeout(r, 1500))
  for (const m of [alice, bob]) {
    const got = m.heard.includes(`carol: ${last}`)
    say(`[${m.name}] ${got ? 'RECEIVED' : 'did not receive'} carol's message after the revocation`)
  }
} finally {
  heading('stopping')
  for (const m of members) {
    await m.group?.close().catch(() => undefined)
    await m.node.stop()
    say(`${m.name} stopped`)
  }
  await rm(root, { recursive: true, force: true })
}
