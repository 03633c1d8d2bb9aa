/**
 * `peerinfra pnrp`: a seed, a registrar and a resolver as three processes, as a newcomer runs
 * them in three terminals, on 127.0.0.1 only.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/peerinfra.js', import.meta.url))
const ENV = { ...process.env, NO_COLOR: '1' }

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: ENV, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Starts a long-running command; resolves with the first JSON line it prints. */
function startLongRunning(
  args: string[],
): Promise<{ child: ChildProcess; first: Record<string, unknown> }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      // --json prints pretty JSON objects; the first one ends at a line holding only "}".
      const end = out.indexOf('\n}\n')
      if (end >= 0)
        resolve({ child, first: JSON.parse(out.slice(0, end + 2)) as Record<string, unknown> })
    })
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)))
  })
}

function interrupt(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit')
    child.on('exit', (code) => resolve(code))
    child.kill('SIGINT')
  })
}

let home: string
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'peerinfra-pnrp-cli-'))
})
after(async () => {
  await rm(home, { recursive: true, force: true })
})

test('seed, register and resolve in three processes', async () => {
  const seed = await startLongRunning([
    'pnrp',
    'seed',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--home',
    join(home, 'seed'),
    '--json',
  ])
  const registrar: ChildProcess[] = []
  try {
    const clouds = seed.first['clouds'] as {
      name: string
      endpoints: { address: string; port: number }[]
    }[]
    assert.equal(clouds[0]?.name, 'Global_')
    const at = `127.0.0.1:${clouds[0]?.endpoints[0]?.port}`
    const common = ['--host', '127.0.0.1', '--seed', at, '--json']

    const reg = await startLongRunning([
      'pnrp',
      'register',
      '0.cli-demo',
      '--address',
      '127.0.0.1:9000',
      '--payload',
      'hi there',
      '--home',
      join(home, 'reg'),
      ...common,
    ])
    registrar.push(reg.child)
    assert.equal(reg.first['peerName'], '0.cli-demo')

    const resolved = await run([
      'pnrp',
      'resolve',
      '0.cli-demo',
      '--home',
      join(home, 'res'),
      ...common,
    ])
    assert.equal(resolved.code, 0, resolved.stderr)
    const records = JSON.parse(resolved.stdout) as Record<string, unknown>[]
    assert.equal(records.length, 1)
    assert.deepEqual(records[0]?.['endpoints'], [{ address: '127.0.0.1', port: 9000 }])
    assert.equal(records[0]?.['payloadText'], 'hi there')
    const byHost = await run([
      'pnrp',
      'resolve',
      'cli-demo.pnrp.net',
      '--home',
      join(home, 'res'),
      ...common,
    ])
    assert.equal(byHost.code, 0, byHost.stderr)
    assert.deepEqual(JSON.parse(byHost.stdout), records)

    const cloudList = await run(['pnrp', 'clouds', '--home', join(home, 'res'), ...common])
    assert.equal(cloudList.code, 0, cloudList.stderr)
    assert.equal((JSON.parse(cloudList.stdout) as { state: string }[])[0]?.state, 'active')

    // Ctrl-C unregisters: the name stops resolving.
    assert.equal(await interrupt(reg.child), 0)
    registrar.length = 0
    const gone = await run([
      'pnrp',
      'resolve',
      '0.cli-demo',
      '--timeout',
      '20',
      '--home',
      join(home, 'res'),
      ...common,
    ])
    assert.equal(gone.code, 1)
    assert.match(gone.stderr, /PEER_E_NOT_FOUND/)

    const bad = await run(['pnrp', 'resolve', 'not a name', '--home', join(home, 'res'), ...common])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /PEER_E_INVALID_PEER_NAME/)
  } finally {
    for (const child of registrar) await interrupt(child)
    assert.equal(await interrupt(seed.child), 0)
  }
})
