/**
 * The `peerinfra identity` commands, run as a user runs them: the real bin in a child process,
 * each test with its own temporary --home.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/peerinfra.js', import.meta.url))

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(args: string[], input?: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
    child.stdin?.end(input ?? '')
  })
}

let home: string
let other: string
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'peerinfra-cli-'))
  other = await mkdtemp(join(tmpdir(), 'peerinfra-cli-'))
})
after(async () => {
  await rm(home, { recursive: true, force: true })
  await rm(other, { recursive: true, force: true })
})

test('create, list, show, default, rename, info, export, import, delete', async () => {
  const created = await run([
    'identity',
    'create',
    '--classifier',
    'alice',
    '--home',
    home,
    '--json',
  ])
  assert.equal(created.code, 0, created.stderr)
  const alice = JSON.parse(created.stdout) as Record<string, unknown>
  assert.match(String(alice['peerName']), /^[0-9a-f]{40}\.alice$/)
  assert.equal(alice['isDefault'], true)
  assert.equal(alice['hostName'], `alice.${authorityLabel(String(alice['peerName']))}.pnrp.net`)

  const bob = JSON.parse(
    (await run(['identity', 'create', '-c', 'bob', '-f', 'Bob B', '--home', home, '--json']))
      .stdout,
  ) as Record<string, unknown>
  assert.equal(bob['friendlyName'], 'Bob B')
  assert.equal(bob['isDefault'], false)

  const list = JSON.parse((await run(['identity', 'list', '--home', home, '--json'])).stdout) as {
    peerName: string
  }[]
  assert.deepEqual(list.map((i) => i.peerName).sort(), [alice['peerName'], bob['peerName']].sort())

  const shown = JSON.parse(
    (await run(['identity', 'show', 'bob', '--home', home, '--json'])).stdout,
  ) as Record<string, unknown>
  assert.equal(shown['peerName'], bob['peerName'])

  const def = await run(['identity', 'default', 'bob', '--home', home, '--json'])
  assert.equal((JSON.parse(def.stdout) as Record<string, unknown>)['peerName'], bob['peerName'])

  const renamed = await run(['identity', 'rename', 'bob', 'Robert', '--home', home, '--json'])
  assert.equal((JSON.parse(renamed.stdout) as Record<string, unknown>)['friendlyName'], 'Robert')

  const info = await run(['identity', 'info', 'alice', '--home', home])
  assert.match(info.stdout, /^<PEERIDENTITYINFO VERSION="1\.0"><IDC /)

  // Export: password from the flag, to a 0600 file; import into another home, password on stdin.
  const file = join(home, 'alice.xml')
  const exported = await run([
    'identity',
    'export',
    'alice',
    '--password',
    'pw',
    '--out',
    file,
    '--home',
    home,
    '--json',
  ])
  assert.equal(exported.code, 0, exported.stderr)
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  assert.match(await readFile(file, 'utf8'), /^<PEERIDENTITYEXPORT VERSION="1\.0">/)
  const imported = await run(['identity', 'import', file, '--home', other, '--json'], 'pw\n')
  assert.equal(imported.code, 0, imported.stderr)
  assert.equal(
    (JSON.parse(imported.stdout) as Record<string, unknown>)['peerName'],
    alice['peerName'],
  )

  const wrong = await run([
    'identity',
    'import',
    file,
    '--password',
    'nope',
    '--home',
    home,
    '--json',
  ])
  assert.equal(wrong.code, 1)
  assert.equal(
    (JSON.parse(wrong.stderr) as { error: { code: string } }).error.code,
    'PEER_E_DECRYPTION_FAILED',
  )

  const again = await run([
    'identity',
    'import',
    file,
    '--password',
    'pw',
    '--home',
    other,
    '--json',
  ])
  assert.equal(
    (JSON.parse(again.stderr) as { error: { code: string } }).error.code,
    'PEER_E_ALREADY_EXISTS',
  )

  const refused = await run(['identity', 'delete', 'alice', '--home', other])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /--yes/)
  const deleted = await run(['identity', 'delete', 'alice', '--yes', '--home', other, '--json'])
  assert.equal(
    (JSON.parse(deleted.stdout) as Record<string, unknown>)['deleted'],
    alice['peerName'],
  )
  const gone = await run(['identity', 'list', '--home', other, '--json'])
  assert.deepEqual(JSON.parse(gone.stdout), [])
})

test('--same-key-as makes a second name for one key', async () => {
  const dir = join(home, 'same-key')
  const make = async (...args: string[]) => {
    const r = await run(['identity', 'create', ...args, '--home', dir, '--json'])
    assert.equal(r.code, 0, r.stderr)
    return String((JSON.parse(r.stdout) as Record<string, unknown>)['peerName'])
  }
  const work = await make('-c', 'work')
  const play = await make('-c', 'play', '--same-key-as', 'work')
  assert.equal(play, `${work.split('.')[0]}.play`)
  const again = await run([
    'identity',
    'create',
    '-c',
    'work',
    '--same-key-as',
    play,
    '--home',
    dir,
  ])
  assert.match(again.stderr, /PEER_E_ALREADY_EXISTS/)
})

test('errors carry their Windows code; usage errors exit 2', async () => {
  const missing = await run(['identity', 'show', 'nobody', '--home', home, '--json'])
  assert.equal(missing.code, 1)
  assert.equal(
    (JSON.parse(missing.stderr) as { error: { code: string } }).error.code,
    'PEER_E_IDENTITY_NOT_FOUND',
  )
  const tooLong = await run(['identity', 'create', '-c', 'x'.repeat(150), '--home', home])
  assert.equal(tooLong.code, 1)
  assert.match(tooLong.stderr, /PEER_E_CLASSIFIER_TOO_LONG \(0x80630201\)/)
  const usage = await run(['identity', 'frobnicate', '--home', home])
  assert.equal(usage.code, 2)
})

test('PEERINFRA_HOME selects the data directory', async () => {
  const created = await run(['identity', 'create', '-c', 'env', '--json'], '', {
    PEERINFRA_HOME: other,
  })
  assert.equal(created.code, 0, created.stderr)
  const list = await run(['identity', 'list', '--home', other, '--json'])
  assert.ok(
    (JSON.parse(list.stdout) as { peerName: string }[]).some((i) => i.peerName.endsWith('.env')),
  )
})

function authorityLabel(peerName: string): string {
  const authority = peerName.split('.')[0] as string
  return /^[0-9]/.test(authority) ? 'p' + authority : authority
}
