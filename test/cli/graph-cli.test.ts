/**
 * `peerinfra graph`: the commands run in this process through `main`, each run's output
 * captured on its own (an AsyncLocalStorage follows each run, so a `listen` streaming in the
 * background keeps its output apart). Each node has its own temporary --home; the network is
 * real TCP on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { stopGraphCommands } from '../../src/cli/graph.ts'
import { cli, cliTestRoot, fails, lines, ok, start, until } from '../helpers/cli-runner.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const WHISPER = '0dd0d0d0-1111-4222-8333-444455556666'

const root = cliTestRoot('peerinfra-graph-cli-')

async function home(name: string): Promise<{ home: string; peerId: string }> {
  const dir = join(root.path, name)
  const id = (await ok(['identity', 'create', '-c', name, '--home', dir])) as { peerName: string }
  return { home: dir, peerId: id.peerName }
}

type RecordJson = { id: string; version: number; dataText: string; attributes: object }

test('create, add, list, get, search, update, delete on the local database', async () => {
  const noIdentity = join(root.path, 'nobody')
  assert.equal(
    await fails(['graph', 'create', 'chat', '--home', noIdentity]),
    'PEER_E_IDENTITY_NOT_FOUND',
  )
  const a = await home('alice')
  const g = ['--home', a.home]

  const created = (await ok([
    'graph',
    'create',
    'chat',
    '--friendly-name',
    'Chat',
    '--comment',
    'hello',
    '--presence-lifetime',
    '600',
    ...g,
  ])) as { peerId: string; status: object; properties: Record<string, unknown> }
  assert.equal(created.peerId, a.peerId)
  assert.deepEqual(created.status, { listening: false, hasConnections: false, synchronized: true })
  assert.equal(created.properties['friendlyName'], 'Chat')
  assert.equal(created.properties['presenceLifetime'], 600)
  assert.equal(await fails(['graph', 'create', 'chat', ...g]), 'PEER_E_DATABASE_ALREADY_PRESENT')

  const set = (await ok([
    'graph',
    'set',
    'chat',
    '--comment',
    'renamed',
    '--presence-max',
    '5',
    ...g,
  ])) as { properties: Record<string, unknown> }
  assert.equal(set.properties['comment'], 'renamed')
  assert.equal(set.properties['presenceMax'], 5)
  assert.equal(set.properties['friendlyName'], 'Chat', 'left out: kept')
  const reopened = (await ok(['graph', 'open', 'chat', ...g])) as typeof set
  assert.equal(reopened.properties['comment'], 'renamed', 'stored')
  assert.equal(
    await fails(['graph', 'set', 'chat', '--presence-lifetime', '10', ...g]),
    'E_INVALIDARG',
  )
  assert.equal((await cli(['graph', 'set', 'chat', ...g])).code, 2, 'nothing to change')

  const first = (await ok([
    'graph',
    'add',
    'chat',
    '--type',
    CHAT,
    '--data',
    'hello world',
    '--attributes',
    '{"author":"alice","n":3}',
    ...g,
  ])) as { recordId: string; record: RecordJson }
  assert.deepEqual(first.record.attributes, { author: 'alice', n: 3 })
  assert.equal(first.record.dataText, 'hello world')
  const second = (await ok([
    'graph',
    'add',
    'chat',
    '--type',
    WHISPER,
    '--data',
    'second',
    '--expires-in',
    '600',
    '--attributes',
    '<attributes><attribute name="author" type="string">bob</attribute></attributes>',
    ...g,
  ])) as { recordId: string }

  const all = (await ok(['graph', 'list', 'chat', ...g])) as RecordJson[]
  assert.deepEqual(all.map((r) => r.id).sort(), [first.recordId, second.recordId].sort())
  const ofType = (await ok(['graph', 'list', 'chat', '--type', CHAT, ...g])) as RecordJson[]
  assert.deepEqual(
    ofType.map((r) => r.id),
    [first.recordId],
  )
  const got = (await ok(['graph', 'get', 'chat', first.recordId, ...g])) as RecordJson
  assert.equal(got.dataText, 'hello world')

  const xml =
    '<peersearch><clause attrib="author" type="string" compare="equal">bob</clause></peersearch>'
  const byXml = (await ok(['graph', 'search', 'chat', xml, ...g])) as RecordJson[]
  assert.deepEqual(
    byXml.map((r) => r.id),
    [second.recordId],
  )
  const json = '{"attribute":"n","compare":"greater","value":2}'
  const byJson = (await ok(['graph', 'search', 'chat', json, ...g])) as RecordJson[]
  assert.deepEqual(
    byJson.map((r) => r.id),
    [first.recordId],
  )

  const updated = (await ok([
    'graph',
    'update',
    'chat',
    first.recordId,
    '--data',
    'edited',
    ...g,
  ])) as { record: RecordJson }
  assert.equal(updated.record.version, 2)
  assert.equal(updated.record.dataText, 'edited')
  assert.deepEqual(updated.record.attributes, { author: 'alice', n: 3 }, 'left out: kept')

  assert.deepEqual(await ok(['graph', 'delete', 'chat', first.recordId, ...g]), {
    deleted: first.recordId,
    local: false,
  })
  assert.equal(
    await fails(['graph', 'get', 'chat', first.recordId, ...g]),
    'PEER_E_RECORD_NOT_FOUND',
  )
  assert.equal(
    await fails(['graph', 'update', 'chat', first.recordId, '--data', 'x', ...g]),
    'PEER_E_RECORD_NOT_FOUND',
  )

  // Errors: unknown graph, bad GUID, bad search, bad attributes; usage errors exit 2.
  assert.equal(await fails(['graph', 'list', 'no-such-graph', ...g]), 'PEER_E_DATABASE_NOT_PRESENT')
  assert.equal(await fails(['graph', 'add', 'chat', '--type', 'not-a-guid', ...g]), 'E_INVALIDARG')
  assert.equal(await fails(['graph', 'get', 'chat', 'nope', ...g]), 'E_INVALIDARG')
  assert.equal(
    await fails(['graph', 'search', 'chat', '<peersearch></peersearch>', ...g]),
    'PEER_E_INVALID_SEARCH',
  )
  assert.equal(
    await fails(['graph', 'add', 'chat', '--type', CHAT, '--attributes', '{"a-b":1}', ...g]),
    'PEER_E_INVALID_ATTRIBUTES',
  )
  assert.equal((await cli(['graph', 'add', 'chat', ...g])).code, 2, 'no --type')
  assert.equal((await cli(['graph', 'listen', 'chat', '--port', 'x', ...g])).code, 2)

  // Human output too.
  const text = await cli(['graph', 'list', 'chat', ...g])
  assert.equal(text.code, 0)
  assert.match(text.stdout, new RegExp(`${second.recordId} .*"second"`))

  const opened = (await ok(['graph', 'open', 'other', ...g])) as { dataCreated: boolean }
  assert.equal(opened.dataCreated, true)

  // Database export and import (a merge: importing our own copy changes nothing).
  const database = join(root.path, 'chat.sqlite3')
  const before = await ok(['graph', 'list', 'chat', ...g])
  assert.deepEqual(await ok(['graph', 'export-database', 'chat', database, ...g]), {
    graphId: 'chat',
    file: database,
  })
  await ok(['graph', 'import-database', 'chat', database, ...g])
  assert.deepEqual(await ok(['graph', 'list', 'chat', ...g]), before)
  assert.equal(
    await fails(['graph', 'import-database', 'other', database, ...g]),
    'PEER_E_INVALID_DATABASE',
  )

  // PeerGraphDelete: only with --yes; then the graph has no data here.
  assert.equal(await fails(['graph', 'delete-graph', 'chat', ...g]), 'E_INVALIDARG')
  assert.deepEqual(await ok(['graph', 'delete-graph', 'chat', '--yes', ...g]), { deleted: 'chat' })
  assert.equal(await fails(['graph', 'list', 'chat', ...g]), 'PEER_E_DATABASE_NOT_PRESENT')
  assert.equal(
    await fails(['graph', 'delete-graph', 'chat', '--yes', ...g]),
    'PEER_E_DATABASE_NOT_PRESENT',
  )
})

test('a second home joins with --connect: its add floods to a listening node', async () => {
  const a = await home('ann')
  const b = await home('ben')
  await ok(['graph', 'create', 'room', '--home', a.home])
  const original = (await ok([
    'graph',
    'add',
    'room',
    '--type',
    CHAT,
    '--data',
    'before ben',
    '--home',
    a.home,
  ])) as { recordId: string }

  const listener = start(['graph', 'listen', 'room', '--port', '0', '--home', a.home, '--json'])
  try {
    await until('the listening line', () => lines(listener.run).length > 0)
    const first = lines(listener.run)[0]!
    assert.equal(first['event'], 'listening')
    assert.equal(first['peerId'], a.peerId)
    const at = `127.0.0.1:${String(first['port'])}`

    // ben has no database: --connect syncs it, then the add floods.
    const added = (await ok([
      'graph',
      'add',
      'room',
      '--type',
      CHAT,
      '--data',
      'hi from ben',
      '--connect',
      at,
      '--peer-id',
      a.peerId,
      '--home',
      b.home,
    ])) as { recordId: string }
    const seen = (): Record<string, unknown> | undefined =>
      lines(listener.run).find(
        (l) => l['event'] === 'record-changed' && l['recordId'] === added.recordId,
      )
    await until('record-changed on the listener', () => seen() !== undefined)
    assert.equal(seen()!['change'], 'added')
    assert.equal((seen()!['record'] as RecordJson).dataText, 'hi from ben')

    // ben now holds the graph locally, with a's record from the sync.
    const local = (await ok(['graph', 'list', 'room', '--home', b.home])) as RecordJson[]
    assert.deepEqual(local.map((r) => r.id).sort(), [original.recordId, added.recordId].sort())

    // An update made online floods too, and a direct connection carries a whisper.
    await ok([
      'graph',
      'update',
      'room',
      original.recordId,
      '--data',
      'edited by ben',
      '--connect',
      at,
      '--home',
      b.home,
    ])
    const sent = (await ok([
      'graph',
      'send',
      'room',
      a.peerId,
      '--connect',
      at,
      '--type',
      WHISPER,
      '--data',
      'psst',
      '--home',
      b.home,
    ])) as { sent: number }
    assert.equal(sent.sent, 4)
    await until('the whisper', () =>
      lines(listener.run).some((l) => l['event'] === 'incoming-data' && l['dataText'] === 'psst'),
    )
    assert.ok(
      lines(listener.run).some(
        (l) =>
          l['event'] === 'record-changed' &&
          l['change'] === 'updated' &&
          l['recordId'] === original.recordId,
      ),
    )
  } finally {
    stopGraphCommands()
    const done = await listener.done
    assert.equal(done.code, 0, done.stderr)
  }
  assert.equal(lines(listener.run).pop()?.['event'], 'stopped')
  const got = (await ok([
    'graph',
    'get',
    'room',
    original.recordId,
    '--home',
    a.home,
  ])) as RecordJson
  assert.equal(got.dataText, 'edited by ben')
  assert.equal(got.version, 2)
})

test('listen --presence --node-attributes: a graph that publishes no presence shows this node', async () => {
  const a = await home('ada')
  const b = await home('bo')
  await ok(['graph', 'create', 'quiet', '--presence-max', '0', '--home', a.home])
  const tooLong = 'x'.repeat(4097)
  assert.equal(
    (await cli(['graph', 'listen', 'quiet', '--node-attributes', tooLong, '--home', a.home])).code,
    2,
  )

  const listener = start([
    'graph',
    'listen',
    'quiet',
    '--port',
    '0',
    '--presence',
    '--node-attributes',
    'desk 4, ask for ada',
    '--home',
    a.home,
    '--json',
  ])
  try {
    await until('the listening line', () => lines(listener.run).length > 0)
    const at = `127.0.0.1:${String(lines(listener.run)[0]!['port'])}`
    // presence-max 0: only a node that forces its presence (SetPresence) is listed.
    const seen = (await ok(['graph', 'nodes', 'quiet', '--connect', at, '--home', b.home])) as {
      nodes: { peerId: string; attributes?: string; addresses: unknown[] }[]
    }
    const ada = seen.nodes.find((n) => n.peerId === a.peerId)
    assert.ok(ada, `ada publishes presence: ${JSON.stringify(seen.nodes)}`)
    assert.equal(ada.attributes, 'desk 4, ask for ada')
    assert.ok(ada.addresses.length > 0)
    assert.ok(
      !seen.nodes.some((n) => n.peerId === b.peerId),
      'bo forced nothing: presence-max 0 keeps it unlisted',
    )
  } finally {
    stopGraphCommands()
    const done = await listener.done
    assert.equal(done.code, 0, done.stderr)
  }
})
