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
  assert.match(out, /D lists\s+3 nodes online: A \(at the front desk\), B, C \(working from home\)/)
  assert.match(out, /A received\s+whisper "psst, A: only you see this"/)
  assert.match(out, /\d+\. Grouping: admin creates the password group "team"; PNRP finds it/)
  assert.match(out, /invitations\s+bob, carol, password; addresses in them: 0, 0, 0/)
  assert.match(out, /bob resolves\s+0\.[0-9a-f]{40}\.participant -> 127\.0\.0\.1:\d+/)
  assert.match(out, /\d+\. Grouping: bob and carol join with invitations, dave with the password/)
  assert.match(out, /bob joins\s+member; connected to admin/)
  assert.match(out, /carol joins\s+member; connected to admin/)
  assert.match(out, /dave joins\s+member \(password, issued by admin\)/)
  assert.match(
    out,
    /members\s+4: admin \(admin\), bob \(member\), carol \(member\), dave \(member\)/,
  )
  assert.match(out, /\d+\. Grouping: chat lines are signed records that flood to every member/)
  assert.match(out, /admin received\s+"bob: hi all", "carol: hello from carol", "dave: dave here/)
  assert.match(out, /dave received\s+"admin: welcome to the team", "bob: hi all", "carol: hello/)
  assert.match(
    out,
    /\d+\. Grouping: no membership, an expired invitation, a wrong password: refused/,
  )
  assert.match(out, /eve \(outsider\)\s+refused PEER_E_CONNECTION_FAILED/)
  assert.match(out, /admin\s+authentication-failed for eve/)
  assert.match(out, /frank \(expired\)\s+refused PEER_E_INVALID_TIME_PERIOD/)
  assert.match(out, /grace \(password\)\s+refused PEER_E_NOT_AUTHORIZED/)
  assert.match(out, /\d+\. Grouping: the admin revokes carol; she is cut off/)
  assert.match(out, /revoked\s+1 certificate of carol/)
  assert.match(out, /carol connections\s+[1-9]\d* before, 0 after/)
  assert.match(out, /members now\s+admin, bob, dave/)
  assert.match(out, /carol writes\s+.*reached: no one/)
  assert.match(out, /demo finished/)
})
