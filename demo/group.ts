/**
 * Demo: Peer Grouping on real sockets on 127.0.0.1, members found through PNRP. An admin
 * creates the password group "team"; bob and carol join with invitations and dave with the
 * password, none of them told an address; they chat; an outsider, an expired invitation and a
 * wrong password are refused; the admin revokes carol and she is cut off.
 */
import { join } from 'node:path'
import { fromUtf8, utf8 } from '../src/core/bytes.ts'
import { isPeerError } from '../src/core/errors.ts'
import { participantName } from '../src/group/discovery.ts'
import type { PeerGroup } from '../src/group/group.ts'
import { parseInvitation } from '../src/group/invitation.ts'
import { PeerNode } from '../src/node/peer-node.ts'
import { formatEndpoint } from '../src/pnrp/endpoints.ts'
import type { DemoContext } from './index.ts'

const CHAT = '0cc0c0c0-3333-4222-8333-444455556666'
const PASSWORD = 'open sesame, team'
const HOST = '127.0.0.1'
const WAIT_MS = 10_000
const HOUR = 3_600_000

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `ready` until it holds; fails after WAIT_MS naming `what`. */
async function until(what: string, ready: () => boolean): Promise<void> {
  const end = Date.now() + WAIT_MS
  while (!ready()) {
    if (Date.now() > end) throw new Error(`group demo: no ${what} within ${WAIT_MS / 1000} s`)
    await sleep(25)
  }
}

/** `promise`, or a clear failure after WAIT_MS. */
async function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`group demo: no ${what} within ${WAIT_MS / 1000} s`)),
      WAIT_MS,
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The PeerError code `attempt` fails with; 'accepted (unexpected)' when it succeeds. */
async function refusal(what: string, attempt: () => Promise<unknown>): Promise<string> {
  try {
    await within(what, attempt())
    return 'accepted (unexpected)'
  } catch (err) {
    return isPeerError(err) ? `refused ${err.code}` : String(err)
  }
}

interface Member {
  name: string
  node: PeerNode
  peerName: string
  group?: PeerGroup
  /** Chat lines received, as `sender: text`. */
  heard: string[]
}

export async function groupDemo(demo: DemoContext): Promise<void> {
  const people: Member[] = []
  const nameOf = (peerName: string): string =>
    people.find((m) => m.peerName === peerName)?.name ?? peerName.slice(0, 12)
  const start = async (name: string): Promise<Member> => {
    const seeds = people[0]?.node.pnrp.endpoints().map(formatEndpoint) ?? []
    const node = await PeerNode.start({
      dataDir: join(demo.root, 'group', name),
      pnrp: { host: HOST, port: 0, seeds },
    })
    const m: Member = { name, node, peerName: '', heard: [] }
    people.push(m)
    m.peerName = (await node.identities.create({ classifier: name, friendlyName: name })).peerName
    return m
  }
  /** Online: connects (found through PNRP), waits for the first sync, prints chat lines. */
  const online = async (m: Member, group: PeerGroup): Promise<void> => {
    m.group = group
    group.on('record-changed', ({ change, recordId, recordType }) => {
      const r = group.getRecord(recordId)
      if (change === 'added' && recordType === CHAT && r) {
        m.heard.push(`${nameOf(r.creatorId)}: ${fromUtf8(r.data)}`)
      }
    })
    await within(`connection for ${m.name}`, group.connect({ host: HOST, port: 0 }))
    await until(`first sync for ${m.name}`, () => group.status.synchronized)
    await until(`listening for ${m.name}`, () => group.status.listening)
  }
  const say = (m: Member, text: string): Promise<string> =>
    m.group!.addRecord({
      type: CHAT,
      data: utf8(text),
      expiresAt: new Date(m.group!.peerTime().getTime() + HOUR),
    })

  try {
    demo.step('Grouping: admin creates the password group "team"; PNRP finds it, not addresses')
    const admin = await start('admin')
    const [bob, carol, dave] = [await start('bob'), await start('carol'), await start('dave')]
    const ga = await admin.node.groups.create({
      classifier: 'team',
      friendlyName: 'Team',
      password: PASSWORD,
      passwordRole: 'member',
    })
    admin.group = ga
    demo.say('admin created', `${ga.peerName} (${ga.properties.authSchemes.join(' + ')})`)
    // Made before the admin is online: they carry no address, joiners must use PNRP.
    const invite = (m: Member): Promise<string> =>
      ga.createInvitation({ invitee: m.node.identities.getInfoXml(m.peerName) })
    const forBob = await invite(bob)
    const forCarol = await invite(carol)
    const passwordInvitation = await ga.createPasswordInvitation()
    const addresses = [forBob, forCarol, passwordInvitation].map(
      (i) => parseInvitation(i).addresses.length,
    )
    demo.say('invitations', `bob, carol, password; addresses in them: ${addresses.join(', ')}`)
    await online(admin, ga)
    const found = await within(
      'participant in PNRP',
      bob.node.pnrp.resolve(participantName(ga.peerName), { criteria: 'any' }),
    )
    const at = found.flatMap((r) => r.endpoints.map(formatEndpoint)).join(', ')
    demo.say('bob resolves', `${participantName(ga.peerName)} -> ${at}`)

    demo.step('Grouping: bob and carol join with invitations, dave with the password')
    const linked = (m: Member): string =>
      m
        .group!.connections()
        .map((c) => nameOf(c.peerId))
        .sort()
        .join(', ')
    for (const [m, invitation] of [
      [bob, forBob],
      [carol, forCarol],
    ] as const) {
      const group = await m.node.groups.join({ invitation })
      await online(m, group)
      demo.say(`${m.name} joins`, `${group.credential.roles.join(', ')}; connected to ${linked(m)}`)
    }
    const gd = await within(
      'password join for dave',
      dave.node.groups.passwordJoin({ invitation: passwordInvitation, password: PASSWORD }),
    )
    await online(dave, gd)
    const issuer = nameOf(gd.credential.issuerPeerName)
    demo.say('dave joins', `${gd.credential.roles.join(', ')} (password, issued by ${issuer})`)
    const members = [admin, bob, carol, dave]
    await until('four members everywhere', () =>
      members.every((m) => m.group!.members().length === 4),
    )
    const roles = ga
      .members()
      .map((x) => `${nameOf(x.identity)} (${x.role})`)
      .sort()
    demo.say('members', `${roles.length}: ${roles.join(', ')}`)

    demo.step('Grouping: chat lines are signed records that flood to every member')
    const lines: [Member, string][] = [
      [admin, 'welcome to the team'],
      [bob, 'hi all'],
      [carol, 'hello from carol'],
      [dave, 'dave here, joined by password'],
    ]
    for (const [m, text] of lines) await say(m, text)
    await until('chat lines at every member', () =>
      members.every((m) => m.heard.length === lines.length),
    )
    for (const m of members) {
      const others = m.heard.filter((l) => !l.startsWith(`${m.name}:`)).sort()
      demo.say(`${m.name} received`, others.map((l) => `"${l}"`).join(', '))
    }

    demo.step('Grouping: a second group of the admin shares its port, as Windows groups share 3587')
    const teamPort = ga.localNode.addresses[0]!.port
    const club = await admin.node.groups.create({ classifier: 'club', friendlyName: 'Club' })
    await within('club online', club.connect({ host: HOST, port: teamPort }))
    const clubInvitation = await club.createInvitation({
      invitee: bob.node.identities.getInfoXml(bob.peerName),
    })
    const bobClub = await bob.node.groups.join({ invitation: clubInvitation })
    await within('bob in the club', bobClub.connect({ host: HOST, port: 0 }))
    await until('bob synchronized with the club', () => bobClub.status.synchronized)
    demo.say(
      'one port',
      `team and club both on ${HOST}:${club.localNode.addresses[0]!.port}; ` +
        `bob reached the club there (${bobClub.connections().length} connection)`,
    )
    await bobClub.close()
    await club.close()

    demo.step('Grouping: no membership, an expired invitation, a wrong password: refused')
    const eve = await start('eve')
    const failures: string[] = []
    ga.on('authentication-failed', ({ identity }) => failures.push(nameOf(identity)))
    const graph = await eve.node.graphs.open(ga.peerName)
    const adminAt = ga.localNode.addresses[0]!
    demo.say('eve (outsider)', await refusal('eve refused', () => graph.connect({ ...adminAt })))
    await until('authentication-failed at the admin', () => failures.includes('eve'))
    demo.say('admin', `authentication-failed for ${failures.join(', ')}`)
    const frank = await start('frank')
    const short = await ga.createInvitation({
      invitee: frank.node.identities.getInfoXml(frank.peerName),
      expiresAt: new Date(ga.peerTime().getTime() + 300),
    })
    await sleep(500)
    demo.say(
      'frank (expired)',
      await refusal('frank refused', () => frank.node.groups.join({ invitation: short })),
    )
    const grace = await start('grace')
    demo.say(
      'grace (password)',
      await refusal('grace refused', () =>
        grace.node.groups.passwordJoin({ invitation: passwordInvitation, password: 'guessed' }),
      ),
    )

    demo.step('Grouping: the admin revokes carol; she is cut off')
    const gc = carol.group!
    const before = gc.connections().length
    demo.say('revoked', `${await ga.revoke(carol.peerName)} certificate of carol`)
    const rest = [admin, bob, dave]
    await until('carol cut off', () => gc.connections().length === 0)
    await until('carol gone from the members', () =>
      rest.every((m) => !m.group!.members().some((x) => x.identity === carol.peerName)),
    )
    demo.say('carol connections', `${before} before, ${gc.connections().length} after`)
    demo.say('members now', rest.map((m) => m.name).join(', '))
    const last = 'is anyone still there?'
    let said = 'said'
    try {
      await say(carol, last)
    } catch (err) {
      said = `could not say (${isPeerError(err) ? err.code : String(err)})`
    }
    await sleep(1_500)
    const got = rest.filter((m) => m.heard.includes(`carol: ${last}`)).map((m) => m.name)
    demo.say('carol writes', `${said} "${last}"; reached: ${got.join(', ') || 'no one'}`)
  } finally {
    for (const m of people) await m.node.stop()
  }
}
