import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import { ensurePrivateDir, writeFileAtomic } from '../../src/core/files.ts'

const posix = process.platform !== 'win32'

describe('files', () => {
  let dir = ''

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'peerinfra-'))
  })

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  test('writeFileAtomic creates the file, mode 0600 by default', async () => {
    const file = path.join(dir, 'key.bin')
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]))
    assert.deepEqual(new Uint8Array(await fs.readFile(file)), new Uint8Array([1, 2, 3]))
    if (posix) assert.equal((await fs.stat(file)).mode & 0o777, 0o600)
  })

  test('writeFileAtomic writes text as UTF-8 and honours an explicit mode', async () => {
    const file = path.join(dir, 'info.xml')
    await writeFileAtomic(file, '<a>héllo</a>', 0o640)
    assert.equal(await fs.readFile(file, 'utf8'), '<a>héllo</a>')
    if (posix) {
      // The umask may take bits away, never add them; the owner keeps read and write.
      const mode = (await fs.stat(file)).mode & 0o777
      assert.equal(mode & ~0o640, 0)
      assert.equal(mode & 0o600, 0o600)
    }
  })

  test('writeFileAtomic replaces existing content, making the file private', async () => {
    const file = path.join(dir, 'replace.txt')
    await fs.writeFile(file, 'old content that is longer than the new one', { mode: 0o644 })
    await writeFileAtomic(file, 'new')
    assert.equal(await fs.readFile(file, 'utf8'), 'new')
    if (posix) assert.equal((await fs.stat(file)).mode & 0o777, 0o600)
    await writeFileAtomic(file, '')
    assert.equal(await fs.readFile(file, 'utf8'), '')
  })

  test('writeFileAtomic leaves no temporary file behind', async () => {
    const sub = path.join(dir, 'clean')
    await fs.mkdir(sub)
    for (let i = 0; i < 5; i++) await writeFileAtomic(path.join(sub, 'f'), `v${i}`)
    await writeFileAtomic(path.join(sub, 'g'), 'g')
    assert.deepEqual((await fs.readdir(sub)).sort(), ['f', 'g'])
    assert.equal(await fs.readFile(path.join(sub, 'f'), 'utf8'), 'v4')
  })

  test('writeFileAtomic into a missing folder fails and leaves nothing', async () => {
    const missing = path.join(dir, 'missing', 'f')
    await assert.rejects(writeFileAtomic(missing, 'x'), { code: 'ENOENT' })
    await assert.rejects(fs.stat(path.join(dir, 'missing')), { code: 'ENOENT' })
  })

  test('writeFileAtomic over a folder fails and removes its temporary file', async () => {
    const sub = path.join(dir, 'blocked')
    await fs.mkdir(path.join(sub, 'target'), { recursive: true })
    await assert.rejects(writeFileAtomic(path.join(sub, 'target'), 'x'))
    assert.deepEqual(await fs.readdir(sub), ['target'])
  })

  test('ensurePrivateDir creates nested folders with mode 0700', async () => {
    const top = path.join(dir, 'store')
    const nested = path.join(top, 'identities', 'alice')
    await ensurePrivateDir(nested)
    for (const p of [top, path.join(top, 'identities'), nested]) {
      const st = await fs.stat(p)
      assert.ok(st.isDirectory())
      if (posix) assert.equal(st.mode & 0o777, 0o700, p)
    }
  })

  test('ensurePrivateDir on an existing folder succeeds', async () => {
    const existing = path.join(dir, 'again')
    await ensurePrivateDir(existing)
    await writeFileAtomic(path.join(existing, 'f'), 'keep')
    await ensurePrivateDir(existing)
    assert.equal(await fs.readFile(path.join(existing, 'f'), 'utf8'), 'keep')
  })
})
