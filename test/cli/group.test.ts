/**
 * `peerinfra group`: the commands run in this process through `main`, each run's output
 * captured on its own (an AsyncLocalStorage follows each run, so a `connect` streaming in the
 * background keeps its output apart). Each member has its own temporary --home; the network
 * is real TCP on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { stopGroupCommands } from '../../src/cli/group.ts'
import { PeerNode } from '../../src/node/peer-node.ts'
import { cli, cliTestRoot, fails, lines, ok, start, until } from '../helpers/cli-runner.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'

/** A port free now on 127.0.0.1 (the inviter names it, then listens on it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** A UDP port free now on 127.0.0.1. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}

const root = cliTestRoot('peerinfra-group-cli-')

interface Home {
  home: string
  peerName: string
  /** Its <PEERIDENTITYINFO>, written to a file. */
  infoFile: string
}

async function home(name: string): Promise<Home> {
  const dir = join(root.path, name)
  const id = (await ok(['identity', 'create', '-c', name, '--home', dir])) as { peerName: string }
  const info = (await ok(['identity', 'info', '--home', dir])) as { xml: string }
  const infoFile = join(root.path, `${name}.xml`)
  await writeFile(infoFile, info.xml)
  return { home: dir, peerName: id.peerName, infoFile }
}

type Info = {
  groupPeerName: string
  identity: string
  owner: boolean
  status: { synchronized: boolean }
  properties: Record<string, unknown>
  credential: { roles: string[]; issuerPeerName: string }
}
type Member = { identity: string; role: string; present: boolean }
type RecordJson = { id: string; dataText: string; creatorId: string }

test('create, info, list, records and delete on the local database', async () => {
  assert.equal(
    await fails(['group', 'create', 'team', '--home', join(root.path, 'nobody')]),
    'PEER_E_IDENTITY_NOT_FOUND',
  )
  const a = await home('owner')
  const g = ['--home', a.home]

  const created = (await ok([
    'group',
    'create',
    'team',
    '--friendly-name',
    'The team',
    '--comment',
    'hello',
    '--member-data-lifetime',
    '86400',
    ...g,
  ])) as Info
  assert.match(created.groupPeerName, /\.team$/)
  assert.equal(created.identity, a.peerName)
  assert.equal(created.owner, true)
  assert.equal(created.properties['friendlyName'], 'The team')
  assert.equal(created.properties['memberDataLifetime'], 86400)
  assert.deepEqual(created.credential.roles, ['admin'])

  // Human output prints the peer name alone on its last line (for scripts).
  const text = await cli(['group', 'create', 'other', ...g])
  assert.equal(text.code, 0, text.stderr)
  const other = text.stdout.trim().split('\n').pop()!
  assert.match(other, /\.other$/)

  // By peer name or classifier.
  const info = (await ok(['group', 'info', created.groupPeerName, ...g])) as Info
  assert.equal(info.groupPeerName, created.groupPeerName)
  assert.equal(info.status.synchronized, true)
  assert.equal(info.properties['comment'], 'hello')
  assert.deepEqual(await ok(['group', 'info', 'team', ...g]), info)

  const groups = (await ok(['group', 'list', ...g])) as {
    groupPeerName: string
    friendlyName: string
    owner: boolean
  }[]
  assert.deepEqual(groups.map((x) => x.groupPeerName).sort(), [created.groupPeerName, other].sort())
  assert.ok(groups.every((x) => x.owner))
  assert.equal(
    groups.find((x) => x.groupPeerName === created.groupPeerName)?.friendlyName,
    'The team',
  )
  const listed = await cli(['group', 'list', ...g])
  assert.match(listed.stdout, new RegExp(`${created.groupPeerName} "The team"`))

  const added = (await ok([
    'group',
    'add',
    'team',
    '--type',
    CHAT,
    '--data',
    'hello team',
    '--attributes',
    '{"author":"owner"}',
    ...g,
  ])) as { recordId: string; record: RecordJson }
  assert.equal(added.record.dataText, 'hello team')
  const records = (await ok(['group', 'list', 'team', ...g])) as RecordJson[]
  assert.deepEqual(
    records.map((r) => r.id),
    [added.recordId],
    "the group's own records are not listed",
  )
  const found = (await ok([
    'group',
    'search',
    'team',
    '{"attribute":"author","value":"owner"}',
    ...g,
  ])) as RecordJson[]
  assert.deepEqual(
    found.map((r) => r.id),
    [added.recordId],
  )
  const got = (await ok(['group', 'get', 'team', added.recordId, ...g])) as RecordJson
  assert.equal(got.creatorId, a.peerName)
  const updated = (await ok([
    'group',
    'update',
    'team',
    added.recordId,
    '--data',
    'hello again',
    ...g,
  ])) as { record: RecordJson }
  assert.equal(updated.record.dataText, 'hello again')
  const second = (await ok(['group', 'add', 'team', '--type', CHAT, '--data', 'bye', ...g])) as {
    recordId: string
  }
  assert.deepEqual(await ok(['group', 'delete-record', 'team', second.recordId, ...g]), {
    deleted: second.recordId,
  })
  assert.equal(
    await fails(['group', 'get', 'team', second.recordId, ...g]),
    'PEER_E_RECORD_NOT_FOUND',
  )

  // The owner changes the properties; cloud and names stay.
  const changed = (await ok([
    'group',
    'set',
    'team',
    '--comment',
    'changed',
    '--flags',
    'defer-expiration,disable-presence',
    ...g,
  ])) as Info
  assert.equal(changed.properties['comment'], 'changed')
  assert.equal(changed.properties['friendlyName'], 'The team')
  assert.deepEqual(changed.properties['flagNames'], ['disable-presence', 'defer-expiration'])
  assert.equal((await cli(['group', 'set', 'team', ...g])).code, 2, 'nothing to change')
  assert.notEqual((await cli(['group', 'set', 'team', '--flags', 'bogus', ...g])).code, 0)
  await ok(['group', 'set', 'team', '--flags', 'none', ...g])
  // Password joins can be turned on later, with a password, and off again.
  assert.equal(
    await fails(['group', 'set', 'team', '--authentication', 'gmc,password', ...g]),
    'PEER_E_INVALID_GROUP_PROPERTIES',
  )
  assert.equal(
    await fails(['group', 'set', 'team', '--password', 'long enough pass', ...g]),
    'PEER_E_INVALID_GROUP_PROPERTIES',
  )
  const withPassword = (await ok([
    'group',
    'set',
    'team',
    '--authentication',
    'gmc,password',
    '--password',
    'long enough pass',
    '--role',
    'member',
    ...g,
  ])) as Info
  assert.deepEqual(withPassword.properties['authSchemes'], ['gmc', 'password'])
  const without = (await ok(['group', 'set', 'team', '--authentication', 'gmc', ...g])) as Info
  assert.deepEqual(without.properties['authSchemes'], ['gmc'])

  const members = (await ok(['group', 'members', 'team', ...g])) as Member[]
  assert.deepEqual(
    members.map((m) => [m.identity, m.role, m.present]),
    [[a.peerName, 'admin', true]],
  )

  // A password invitation needs a group that takes passwords.
  assert.equal(
    await fails(['group', 'invite', 'team', '--password', ...g]),
    'PEER_E_INVALID_GROUP_PROPERTIES',
  )
  assert.equal((await cli(['group', 'invite', 'team', ...g])).code, 2, 'no --invitee')
  assert.equal(await fails(['group', 'info', 'nope', ...g]), 'PEER_E_NOT_FOUND')
  assert.equal(
    await fails(['group', 'add', 'team', '--type', '01000000-0000-0000-0000-000000000000', ...g]),
    'PEER_E_NOT_AUTHORIZED',
  )

  assert.equal(await fails(['group', 'delete', 'other', ...g]), 'E_INVALIDARG', 'needs --yes')
  assert.deepEqual(await ok(['group', 'delete', 'other', '--yes', ...g]), { deleted: other })
  assert.equal(await fails(['group', 'info', other, ...g]), 'PEER_E_NOT_FOUND')
  const left = (await ok(['group', 'list', ...g])) as { groupPeerName: string }[]
  assert.deepEqual(
    left.map((x) => x.groupPeerName),
    [created.groupPeerName],
  )

  // export, delete, import: the owner gets its group (and the group key) back. Each export
  // and import runs scrypt, so few of them.
  const config = join(root.path, 'team.config')
  const exported = (await ok([
    'group',
    'export',
    'team',
    '-p',
    'export password',
    '--out',
    config,
    ...g,
  ])) as { groupPeerName: string; file: string }
  assert.equal(exported.groupPeerName, created.groupPeerName)
  assert.match(await readFile(config, 'utf8'), /^<PEERGROUPCONFIG/)
  const database = join(root.path, 'team.sqlite3')
  assert.deepEqual(await ok(['group', 'export-database', 'team', database, ...g]), {
    groupPeerName: created.groupPeerName,
    file: database,
  })
  await ok(['group', 'delete', 'team', '--yes', ...g])
  assert.equal(
    await fails(['group', 'import', config, '-p', 'wrong password', ...g]),
    'PEER_E_DECRYPTION_FAILED',
  )
  assert.deepEqual(await ok(['group', 'import', config, '-p', 'export password', ...g]), {
    identity: a.peerName,
    groupPeerName: created.groupPeerName,
  })
  const back = (await ok(['group', 'list', ...g])) as { groupPeerName: string; owner: boolean }[]
  assert.deepEqual(
    back.map((x) => [x.groupPeerName, x.owner]),
    [[created.groupPeerName, true]],
  )
  const imported = (await ok(['group', 'info', 'team', ...g])) as Info
  assert.equal(imported.status.synchronized, false, 'its records come from the members')
  assert.deepEqual(imported.credential.roles, ['admin'])
  // ... or from the database it exported.
  await ok(['group', 'import-database', 'team', database, ...g])
  const restored = (await ok(['group', 'list', 'team', ...g])) as RecordJson[]
  assert.deepEqual(
    restored.map((r) => r.dataText),
    ['hello again'],
  )
  assert.equal(
    await fails(['group', 'import-database', 'team', join(root.path, 'nothing'), ...g]),
    'PEER_E_DATABASE_NOT_PRESENT',
  )
})

test('invite a second home, join with the file, sync, members; a member may not invite', async () => {
  const a = await home('alice')
  const b = await home('bob')
  const carol = await home('carol')
  const created = (await ok(['group', 'create', 'crew', '--home', a.home])) as Info
  const group = created.groupPeerName

  // The invitation names the port alice's connect will listen on.
  const port = await freePort()
  const invitation = join(root.path, 'bob.inv')
  const invited = (await ok([
    'group',
    'invite',
    'crew',
    '--invitee',
    b.infoFile,
    '--port',
    String(port),
    '--out',
    invitation,
    '--home',
    a.home,
  ])) as { invitee: string; roles: string[]; addresses: { port: number }[]; file: string }
  assert.equal(invited.invitee, b.peerName)
  assert.deepEqual(invited.roles, ['member'])
  assert.deepEqual(
    invited.addresses.map((x) => x.port),
    [port],
  )
  assert.match(await readFile(invitation, 'utf8'), /^<PEERINVITATION/)

  // An invitation for bob does not let carol in.
  assert.equal(
    await fails(['group', 'join', invitation, '--home', carol.home]),
    'PEER_E_INVITATION_NOT_TRUSTED',
  )

  const joined = (await ok(['group', 'join', invitation, '--home', b.home])) as {
    groupPeerName: string
    roles: string[]
    addresses: { port: number }[]
  }
  assert.equal(joined.groupPeerName, group)
  assert.deepEqual(joined.roles, ['member'])
  // Before its first sync, bob's copy is not ready.
  assert.equal(await fails(['group', 'list', group, '--home', b.home]), 'PEER_E_GROUP_NOT_READY')

  const alice = start([
    'group',
    'connect',
    'crew',
    '--port',
    String(port),
    '--home',
    a.home,
    '--json',
  ])
  let bob: ReturnType<typeof start> | undefined
  const seen = (event: string, key?: string, value?: unknown) =>
    lines(alice.run).find((l) => l['event'] === event && (key === undefined || l[key] === value))
  try {
    await until('alice listening', () => seen('listening') !== undefined)
    assert.equal(seen('listening')!['port'], port)

    // bob goes online through alice, syncs, and his record floods to her.
    const added = (await ok([
      'group',
      'add',
      group,
      '--type',
      CHAT,
      '--data',
      'hi from bob',
      '--connect',
      `127.0.0.1:${port}`,
      '--home',
      b.home,
    ])) as { recordId: string }
    await until(
      'record-changed on alice',
      () => !!seen('record-changed', 'recordId', added.recordId),
    )
    const change = seen('record-changed', 'recordId', added.recordId)!
    assert.equal(change['change'], 'added')
    assert.equal((change['record'] as RecordJson).dataText, 'hi from bob')

    // A direct message from bob reaches alice's connect as incoming-data.
    const sent = (await ok([
      'group',
      'send',
      'crew',
      a.peerName,
      '--type',
      CHAT,
      '--data',
      'psst',
      '--connect',
      `127.0.0.1:${port}`,
      '--home',
      b.home,
    ])) as { sent: number }
    assert.equal(sent.sent, 4)
    await until('incoming-data on alice', () => !!seen('incoming-data'))
    assert.equal(seen('incoming-data')!['dataText'], 'psst')
    assert.equal(
      (await cli(['group', 'send', 'crew', a.peerName, '--type', CHAT, '--home', b.home])).code,
      2,
      'no --connect',
    )

    const members = (await ok([
      'group',
      'members',
      'crew',
      '--connect',
      `127.0.0.1:${port}`,
      '--home',
      b.home,
    ])) as Member[]
    assert.deepEqual(
      members.map((m) => [m.identity, m.role]).sort(),
      [
        [a.peerName, 'admin'],
        [b.peerName, 'member'],
      ].sort(),
    )

    // bob's connect finds alice through the invitation's address, and listens itself.
    const bobRun = (bob = start(['group', 'connect', 'crew', '--home', b.home, '--json'])).run
    await until('bob ready', () => lines(bobRun).some((l) => l['event'] === 'ready'))
    const bobListens = lines(bobRun).find((l) => l['event'] === 'listening')!
    assert.equal(bobListens['identity'], b.peerName)
    assert.notEqual(bobListens['port'], port)
  } finally {
    stopGroupCommands()
    const done = await alice.done
    assert.equal(done.code, 0, done.stderr)
    const bobDone = await bob?.done
    assert.equal(bobDone?.code, 0, bobDone?.stderr)
  }
  assert.equal(lines(alice.run).pop()?.['event'], 'stopped')
  assert.ok(
    lines(alice.run).some((l) => l['event'] === 'member-changed' && l['identity'] === b.peerName),
    'alice saw bob',
  )

  // bob now holds the group: offline list, members and info work.
  const records = (await ok(['group', 'list', 'crew', '--home', b.home])) as RecordJson[]
  assert.deepEqual(
    records.map((r) => r.dataText),
    ['hi from bob'],
  )
  const info = (await ok(['group', 'info', 'crew', '--home', b.home])) as Info
  assert.equal(info.owner, false)
  assert.deepEqual(info.credential.roles, ['member'])
  assert.equal(info.credential.issuerPeerName, a.peerName)
  const known = (await ok(['group', 'members', 'crew', '--home', b.home])) as Member[]
  assert.equal(known[0]!.identity, b.peerName, 'the local member first')
  assert.ok(known.some((m) => m.identity === a.peerName))

  // A member may not invite, issue or revoke.
  assert.equal(
    await fails(['group', 'invite', 'crew', '--invitee', carol.infoFile, '--home', b.home]),
    'PEER_E_NOT_AUTHORIZED',
  )
  const denied = await cli([
    'group',
    'invite',
    'crew',
    '--invitee',
    carol.infoFile,
    '--home',
    b.home,
  ])
  assert.equal(denied.code, 1)
  assert.match(denied.stderr, /PEER_E_NOT_AUTHORIZED/)
  assert.equal(
    await fails(['group', 'issue', 'crew', a.peerName, '--home', b.home]),
    'PEER_E_NOT_AUTHORIZED',
  )
  assert.equal(
    await fails(['group', 'revoke', 'crew', a.peerName, '--home', b.home]),
    'PEER_E_NOT_AUTHORIZED',
  )
  assert.equal(
    await fails(['group', 'set', 'crew', '--comment', 'mine now', '--home', b.home]),
    'PEER_E_NOT_AUTHORIZED',
  )

  // The admin knows bob, promotes him (a new credential), and can revoke him.
  const issued = (await ok([
    'group',
    'issue',
    'crew',
    b.peerName,
    '--role',
    'inviting-member',
    '--home',
    a.home,
  ])) as { subject: string; roles: string[]; credentials: string }
  assert.equal(issued.subject, b.peerName)
  assert.deepEqual(issued.roles, ['inviting-member'])
  assert.match(issued.credentials, /^<PEERINVITATION/)
  const revoked = (await ok(['group', 'revoke', 'crew', b.peerName, '--home', a.home])) as {
    certificates: number
  }
  assert.ok(revoked.certificates >= 1)

  assert.deepEqual(await ok(['group', 'delete', 'crew', '--yes', '--home', b.home]), {
    deleted: group,
  })
  assert.deepEqual(await ok(['group', 'list', '--home', b.home]), [])
})

test('a password invitation: password-join through a member that is online', async () => {
  const a = await home('pat')
  const c = await home('quinn')
  await ok(['group', 'create', 'club', '--password', 'correct horse', '--home', a.home])
  const port = await freePort()
  const made = (await ok([
    'group',
    'invite',
    'club',
    '--password',
    '--token',
    '--port',
    String(port),
    '--home',
    a.home,
  ])) as { scheme: string; invitation: string; roles: string[] }
  assert.equal(made.scheme, 'password')
  assert.deepEqual(made.roles, ['member'])
  assert.match(made.invitation, /^peerinv1:/)

  const owner = start([
    'group',
    'connect',
    'club',
    '--port',
    String(port),
    '--home',
    a.home,
    '--json',
  ])
  try {
    await until('the owner listening', () =>
      lines(owner.run).some((l) => l['event'] === 'listening'),
    )
    assert.equal(
      await fails([
        'group',
        'password-join',
        made.invitation,
        '--password',
        'wrong password',
        '--home',
        c.home,
      ]),
      'PEER_E_NOT_AUTHORIZED',
    )
    const joined = (await ok([
      'group',
      'password-join',
      made.invitation,
      '--password',
      'correct horse',
      '--home',
      c.home,
    ])) as { roles: string[]; alreadyMember: boolean }
    assert.deepEqual(joined.roles, ['member'])
    assert.equal(joined.alreadyMember, false)
    const members = (await ok([
      'group',
      'members',
      'club',
      '--connect',
      `127.0.0.1:${port}`,
      '--home',
      c.home,
    ])) as Member[]
    assert.equal(members.length, 2)
  } finally {
    stopGroupCommands()
    const done = await owner.done
    assert.equal(done.code, 0, done.stderr)
  }
})

test('with --seed, members find each other through PNRP: no address anywhere', async () => {
  const seedPort = await freeUdpPort()
  const seed = await PeerNode.start({
    dataDir: join(root.path, 'pnrp-seed'),
    pnrp: { host: '127.0.0.1', port: seedPort },
  })
  const a = await home('rosa')
  const c = await home('sam')
  const pnrp = ['--seed', `127.0.0.1:${seedPort}`]
  await ok(['group', 'create', 'guild', '--password', 'correct horse', '--home', a.home])
  // No --port: the invitation names no address, so only PNRP can find the owner.
  const made = (await ok(['group', 'invite', 'guild', '--password', '--home', a.home])) as {
    invitation: string
  }
  const owner = start(['group', 'connect', 'guild', ...pnrp, '--home', a.home, '--json'])
  let member: ReturnType<typeof start> | undefined
  try {
    await until('the owner online', () => lines(owner.run).some((l) => l['event'] === 'ready'))
    assert.equal(
      await fails([
        'group',
        'password-join',
        made.invitation,
        '-p',
        'correct horse',
        '--home',
        c.home,
      ]),
      'PEER_E_CONNECTION_FAILED',
      'without PNRP no member is known',
    )
    const joined = (await ok([
      'group',
      'password-join',
      made.invitation,
      '-p',
      'correct horse',
      ...pnrp,
      '--home',
      c.home,
    ])) as { roles: string[] }
    assert.deepEqual(joined.roles, ['member'])
    member = start(['group', 'connect', 'guild', ...pnrp, '--home', c.home, '--json'])
    const run = member.run
    await until('the member online', () => lines(run).some((l) => l['event'] === 'ready'))
    const ready = lines(run).find((l) => l['event'] === 'ready')!
    assert.equal(ready['connections'], 1)
  } finally {
    stopGroupCommands()
    for (const run of [await owner.done, await member?.done]) {
      if (run) assert.equal(run.code, 0, run.stderr)
    }
    await seed.stop()
  }
})
