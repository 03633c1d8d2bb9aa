/**
 * examples/group-chat.ts: three members in one process on 127.0.0.1 join (invitation and
 * password), chat through records, whisper, and a revoked member is heard no more.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TIMEOUT_MS = 30_000

/** Runs the example to the end; its exit code and transcript. */
function runExample(): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/group-chat.ts'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

test('alice, bob and carol join, chat, whisper, and a revoked member reaches no one', async () => {
  const { code, out, err } = await runExample()
  const transcript = `${out}\n${err}`
  assert.equal(code, 0, transcript)

  assert.match(out, /\[bob\] joined \S+\.chat as member/)
  assert.match(out, /\[bob\] connected and synchronized/)
  assert.match(out, /\[carol\] joined \S+\.chat with the password as member/)
  assert.match(out, /\[carol\] connected to alice at 127\.0\.0\.1:\d+ and synchronized/)
  assert.match(out, /^ {2}alice +admin /m)
  assert.match(out, /^ {2}bob +member /m)
  assert.match(out, /^ {2}carol +member /m)

  for (const line of [
    'alice: welcome to the group, everyone',
    'bob: hi alice, hi carol',
    'carol: hello from carol',
  ]) {
    for (const member of ['alice', 'bob', 'carol']) {
      assert.ok(out.includes(`[${member}] ${line}\n`), `${member} heard "${line}":\n${out}`)
    }
  }

  assert.match(out, /\[carol\] \(whisper from bob\) just between us, carol/)
  assert.doesNotMatch(out, /\[(alice|bob)\] \(whisper/, 'a whisper is no record')

  assert.match(out, /\[alice\] revoked carol \(1 certificate\(s\)\)/)
  assert.match(out, /\[bob\] \* carol left/)
  assert.doesNotMatch(out, /\[(alice|bob)\] carol: is anyone still there\?/)
  assert.match(out, /\[alice\] did not receive carol's message after the revocation/)
  assert.match(out, /\[bob\] did not receive carol's message after the revocation/)
  assert.match(out, /carol stopped\n/)
})
