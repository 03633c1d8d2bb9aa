/** `npm run demo` stays true: it runs to the end and shows each step. */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

test('the demo runs to the end', async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'demo/index.ts'],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    )
  })
  assert.match(out, /peer name\s+[0-9a-f]{40}\.alice/)
  assert.match(out, /same key: true/)
  assert.match(out, /wrong password\s+refused PEER_E_DECRYPTION_FAILED/)
  assert.match(out, /verified .* chain of 3/)
  assert.match(out, /forged chain\s+refused PEER_E_CERTIFICATE_NOT_TRUSTED/)
  assert.match(out, /Bob received\s+hello Bob/)
  assert.match(out, /Alice received\s+hello Alice/)
  assert.match(out, /the same connection \(one per peer\)/)
  assert.match(out, /refused\s+PEER_E_CONNECTION_NOT_AUTHENTICATED/)
  assert.match(out, /seed\s+2026/)
  assert.match(out, /carol resolves\s+127\.0\.0\.1:7000 payload "hello from alice"/)
  assert.match(out, /dave resolves\s+127\.0\.0\.1:631/)
  assert.match(out, /dave claims it\s+refused PEER_E_INVALID_IDENTITY/)
  assert.match(out, /after update\s+127\.0\.0\.1:7000 payload "alice, updated"/)
  assert.match(out, /after unregister\s+not found: PEER_E_NOT_FOUND/)
  assert.match(out, /B opens\s+data created: true, synchronized: false/)
  assert.match(out, /C joined\s+via B: "Demo", 1 record/)
  assert.match(out, /A received\s+"hello from C" \(C -> B -> A\)/)
  assert.match(out, /C sees update\s+version 2 "hello from C \(edited by A\)"/)
  assert.match(out, /B deletes it\s+gone on A: true, gone on C: true/)
  assert.match(out, /D synced\s+6 records arrived \(A has 6\)/)
  assert.match(out, /D searches\s+author = b and n > 0: "message 1", "message 4"/)
  assert.match(out, /A received\s+whisper "psst, A: only you see this"/)
  assert.match(out, /demo finished/)
})
