/** examples/graph-chat.ts: two chat processes on 127.0.0.1 say a line and whisper. */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Chat {
  child: ChildProcess
  out: () => string
  waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>
}

function chat(args: string[]): Chat {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/graph-chat.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  const waitFor = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    const end = Date.now() + 15_000
    for (;;) {
      const m = out.match(pattern)
      if (m) return m
      if (Date.now() > end || child.exitCode !== null) {
        throw new Error(`no ${String(pattern)} in:\n${out}\n${err}`)
      }
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  return { child, out: () => out, waitFor }
}

function quit(c: Chat): Promise<number | null> {
  if (c.child.exitCode !== null) return Promise.resolve(c.child.exitCode)
  return new Promise((resolve) => {
    c.child.on('exit', (code) => resolve(code))
    c.child.stdin?.end('/quit\n')
  })
}

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'peerinfra-graph-chat-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

test('alice and bob chat through records and whisper over a direct connection', async () => {
  const alice = chat(['--name', 'alice', '--listen', '0', '--home', join(root, 'alice')])
  const chats = [alice]
  try {
    const [, port] = await alice.waitFor(/listening on 127\.0\.0\.1:(\d+)/)
    const bob = chat([
      '--name',
      'bob',
      '--connect',
      `127.0.0.1:${port}`,
      '--home',
      join(root, 'bob'),
    ])
    chats.push(bob)
    await bob.waitFor(/listening on/)
    await alice.waitFor(/\* bob joined/)
    bob.child.stdin?.write('hello everyone\n')
    await alice.waitFor(/bob: hello everyone/)
    alice.child.stdin?.write('hi bob\n')
    await bob.waitFor(/alice: hi bob/)
    bob.child.stdin?.write('/w alice just for you\n')
    await alice.waitFor(/\(whisper from bob\) just for you/)
    assert.doesNotMatch(bob.out(), /just for you\n/, 'a whisper is no record')
  } finally {
    for (const c of chats) assert.equal(await quit(c), 0)
  }
})
