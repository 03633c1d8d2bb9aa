/**
 * `peerinfra node start`: a long-running node brings every group of its identity online on one
 * TCP port (and runs PNRP), prints their events, and stops cleanly; members of two different
 * groups reach each of them through that one port. Real TCP and UDP on 127.0.0.1 only.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { stopNodeCommands } from '../../src/cli/node.ts'
import { cli, cliTestRoot, fails, lines, ok, start, until } from '../helpers/cli-runner.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const root = cliTestRoot('peerinfra-node-cli-')

async function home(name: string): Promise<{ home: string; infoFile: string }> {
  const dir = join(root.path, name)
  await ok(['identity', 'create', '-c', name, '--home', dir])
  const info = (await ok(['identity', 'info', '--home', dir])) as { xml: string }
  const infoFile = join(root.path, `${name}.xml`)
  await writeFile(infoFile, info.xml)
  return { home: dir, infoFile }
}

test('node start serves two groups on one port, with PNRP, until stopped', async () => {
  const a = await home('alice')
  // With no group yet it still runs (PNRP alone) until stopped.
  const idle = start([
    'node',
    'start',
    '--host',
    '127.0.0.1',
    '--pnrp-port',
    '0',
    '--home',
    a.home,
    '--json',
  ])
  await until('the idle node to be ready', () =>
    lines(idle.run).some((l) => l['event'] === 'ready'),
  )
  let exited = false
  void idle.done.then(() => (exited = true))
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(exited, false, 'still running')
  stopNodeCommands()
  assert.equal((await idle.done).code, 0)
  assert.equal(lines(idle.run).at(-1)?.['event'], 'stopped')

  const team = (await ok(['group', 'create', 'team', '--home', a.home])) as {
    groupPeerName: string
  }
  const club = (await ok(['group', 'create', 'club', '--home', a.home])) as {
    groupPeerName: string
  }
  assert.equal(
    await fails(['node', 'start', '--group', 'nope', '--home', a.home]),
    'PEER_E_NOT_FOUND',
  )
  assert.equal((await cli(['node', 'start', '--port', 'x', '--home', a.home])).code, 2)
  assert.equal(
    (await cli(['node', 'start', '--pnrp-address', 'host.example', '--home', a.home])).code,
    2,
  )

  const node = start([
    'node',
    'start',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--pnrp-port',
    '0',
    '--pnrp-address',
    '192.0.2.1',
    '--home',
    a.home,
    '--json',
  ])
  try {
    await until('the node to be ready', () => lines(node.run).some((l) => l['event'] === 'ready'))
    const out = lines(node.run)
    const ready = out.find((l) => l['event'] === 'ready')!
    // PNRP publishes the address given (a NAT's, say), not the interfaces'.
    const published = (ready['pnrp'] as Record<string, string[]>)['Global_'] ?? []
    assert.equal(published.length, 1)
    assert.match(published[0]!, /^192\.0\.2\.1:\d+$/)
    assert.deepEqual(
      (ready['groups'] as string[]).sort(),
      [team.groupPeerName, club.groupPeerName].sort(),
    )
    assert.ok(ready['pnrp'], 'PNRP runs')
    const listening = out.filter((l) => l['event'] === 'listening')
    assert.equal(listening.length, 2)
    const port = listening[0]!['port'] as number
    assert.ok(
      listening.every((l) => l['port'] === port),
      'both groups on one port',
    )

    // A member of each group reaches its group through that port.
    for (const [name, group] of [
      ['bob', 'team'],
      ['carol', 'club'],
    ] as const) {
      const member = await home(name)
      const invitation = join(root.path, `${name}.inv`)
      await ok([
        'group',
        'invite',
        group,
        '--invitee',
        member.infoFile,
        '--out',
        invitation,
        '--home',
        a.home,
      ])
      await ok(['group', 'join', invitation, '--home', member.home])
      const added = (await ok([
        'group',
        'add',
        group,
        '--type',
        CHAT,
        '--data',
        `hello ${group}`,
        '--connect',
        `127.0.0.1:${port}`,
        '--home',
        member.home,
      ])) as { recordId: string }
      await until(`the node to see ${name}'s record`, () =>
        lines(node.run).some(
          (l) => l['event'] === 'record-changed' && l['recordId'] === added.recordId,
        ),
      )
      const seen = lines(node.run).find((l) => l['recordId'] === added.recordId)!
      assert.equal(seen['group'], group === 'team' ? team.groupPeerName : club.groupPeerName)
    }
  } finally {
    stopNodeCommands()
  }
  const done = await node.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal(lines(done).at(-1)?.['event'], 'stopped')
})

/** A TCP port free on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('node start tries a group that could not go online again until a member answers', async () => {
  const a = await home('ann')
  const c = await home('cy')
  const crew = (await ok(['group', 'create', 'crew', '--home', a.home])) as {
    groupPeerName: string
  }
  // The invitation names where ann's node will listen; cy joins while nobody is there.
  const port = await freePort()
  const invitation = join(root.path, 'cy.inv')
  await ok([
    'group',
    'invite',
    'crew',
    '--invitee',
    c.infoFile,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--out',
    invitation,
    '--home',
    a.home,
  ])
  await ok(['group', 'join', invitation, '--home', c.home])
  const node = (home: string, ...more: string[]): ReturnType<typeof start> =>
    start(['node', 'start', '--host', '127.0.0.1', '--no-pnrp', ...more, '--home', home, '--json'])

  const cy = node(c.home, '--port', '0', '--retry', '1', '--node-attributes', 'cy at home')
  let ann: ReturnType<typeof start> | undefined
  try {
    await until('cy to report crew offline', () =>
      lines(cy.run).some((l) => l['event'] === 'offline'),
    )
    const offline = lines(cy.run).find((l) => l['event'] === 'offline')!
    assert.equal(offline['group'], crew.groupPeerName)
    assert.equal(offline['code'], 'PEER_E_CONNECTION_FAILED')
    assert.equal(offline['retryIn'], 1)
    await until('cy to run meanwhile', () => lines(cy.run).some((l) => l['event'] === 'ready'))

    ann = node(a.home, '--port', String(port))
    await until('ann to be ready', () => lines(ann!.run).some((l) => l['event'] === 'ready'))
    await until(
      'cy to bring crew online',
      () => lines(cy.run).some((l) => l['event'] === 'online'),
      20_000,
    )
    const out = lines(cy.run)
    assert.equal(out.find((l) => l['event'] === 'online')!['group'], crew.groupPeerName)
    assert.ok(out.some((l) => l['event'] === 'listening' && l['group'] === crew.groupPeerName))
    // Each failed try found no member and announced a wait twice the one before.
    const tries = out.filter((l) => l['event'] === 'offline')
    assert.deepEqual(
      tries.map((l) => l['code']),
      tries.map(() => 'PEER_E_CONNECTION_FAILED'),
    )
    assert.deepEqual(
      tries.map((l) => l['retryIn']),
      tries.map((_, i) => Math.min(2 ** i, 300)),
    )
    // Online, cy's node published its presence with --node-attributes: ann hears of it.
    await until("ann to learn cy's presence", () =>
      lines(ann!.run).some(
        (l) =>
          l['event'] === 'member-changed' &&
          l['change'] === 'updated' &&
          String(l['identity']).endsWith('.cy'),
      ),
    )
  } finally {
    stopNodeCommands()
  }
  const done = await cy.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal((await ann?.done)?.code, 0)
  const members = (await ok(['group', 'members', 'crew', '--home', a.home])) as {
    identity: string
    attributes: string | null
  }[]
  assert.equal(members.find((m) => m.identity.endsWith('.cy'))?.attributes, 'cy at home')
})
