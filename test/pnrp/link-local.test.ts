/**
 * A link-local cloud bootstrapped by real mDNS, in a network namespace this test creates
 * (`unshare -rn`), so no packet reaches any real network. Skipped where the machine does not
 * allow unprivileged namespaces.
 */
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const CHILD = fileURLToPath(new URL('fixtures/link-local-netns.ts', import.meta.url))
const SETUP = 'ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo'

function namespacesWork(): boolean {
  try {
    execFileSync('unshare', ['-rn', 'sh', '-c', SETUP], { stdio: 'ignore', timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

const available = namespacesWork()

test(
  'nodes on one link find each other by mDNS and resolve in LinkLocal_lo',
  {
    skip: available ? false : 'unprivileged network namespaces (unshare -rn) are not allowed here',
  },
  async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        'unshare',
        ['-rn', 'sh', '-c', `${SETUP} && exec "${process.execPath}" --import tsx "${CHILD}"`],
        { timeout: 60_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      )
    })
    const seen = JSON.parse(out.trim().split('\n').pop() as string) as {
      clouds: { name: string; scope: string; state: string; flags: string[] }[]
      c: string
      found: { cloud: string; endpoints: { address: string; port: number }[] }[]
    }
    assert.equal(seen.clouds[0]?.name, 'LinkLocal_lo')
    assert.equal(seen.clouds[0]?.scope, 'link-local')
    assert.deepEqual(seen.clouds[0]?.flags, ['name-local', 'full-participant'])
    assert.equal(seen.c, 'active', 'the third node joined through what mDNS found')
    assert.deepEqual(seen.found, [
      { cloud: 'LinkLocal_lo', endpoints: [{ address: '127.0.0.1', port: 631 }] },
    ])
  },
)
