import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { VirtualClock } from '../../src/core/clock.ts'
import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { parseIdentityInfo } from '../../src/identity/identity-info.ts'
import { STALE_TEMP_FILE_MS } from '../../src/identity/constants.ts'
import { IdentityStore } from '../../src/identity/store.ts'
import type { KeyPair } from '../../src/identity/keys.ts'
import {
  rejectsPeerError as rejectsCode,
  throwsPeerError as throwsCode,
} from '../helpers/assert-peer-error.ts'

const PASSWORD = 'store test password'
const LOG_N = 10

let root = ''
let counter = 0

/** A fresh, not yet existing folder for one store (nested, so the store creates it). */
function freshDir(): string {
  return join(root, `home-${++counter}`, 'identities')
}

function options(seed: string): { random: SeededRandom; clock: VirtualClock } {
  return { random: new SeededRandom(seed), clock: new VirtualClock() }
}

async function identityFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.identity.json')).sort()
}

const byName = (a: { peerName: string }, b: { peerName: string }): number =>
  a.peerName < b.peerName ? -1 : a.peerName > b.peerName ? 1 : 0

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'peerinfra-identity-store-'))
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('IdentityStore', () => {
  test('an empty store: nothing listed, no default', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/empty'))
    assert.equal(store.dir, dir)
    assert.deepEqual(store.list(), [])
    assert.deepEqual(store.problems, [])
    assert.equal(store.defaultPeerName, undefined)
    throwsCode(() => store.getDefault(), 'PEER_E_NOT_FOUND')
    throwsCode(() => store.get('0.nobody'), 'PEER_E_IDENTITY_NOT_FOUND')
    throwsCode(() => store.find('nobody'), 'PEER_E_IDENTITY_NOT_FOUND')
    assert.equal(store.has('0.nobody'), false)
    await rejectsCode(store.setDefault('0.nobody'), 'PEER_E_IDENTITY_NOT_FOUND')
    await rejectsCode(store.delete('0.nobody'), 'PEER_E_IDENTITY_NOT_FOUND')
    await rejectsCode(store.setFriendlyName('0.nobody', 'x'), 'PEER_E_IDENTITY_NOT_FOUND')
  })

  test('create, list, get, has; the first identity becomes the default', async () => {
    const { random, clock } = options('store/create')
    const store = await IdentityStore.open(freshDir(), { random, clock })
    const alice = await store.create({ classifier: 'alice', friendlyName: 'Alice' })
    assert.match(alice.peerName, /^[0-9a-f]{40}\.alice$/)
    assert.equal(alice.classifier, 'alice')
    assert.equal(alice.friendlyName, 'Alice')
    assert.equal(alice.createdAt.getTime(), clock.now())
    assert.equal(alice.publicKey.length, 32)
    clock.advance(60_000)
    const bob = await store.create({ classifier: 'bob' })
    assert.equal(bob.friendlyName, bob.peerName, 'no friendly name: the peer name')
    assert.equal(bob.createdAt.getTime(), clock.now())
    const anon = await store.create()
    assert.match(anon.peerName, /^[0-9a-f]{40}\.$/)

    assert.deepEqual(
      store.list().sort(byName),
      [alice, bob, anon]
        .map((i) => ({ peerName: i.peerName, friendlyName: i.friendlyName }))
        .sort(byName),
    )
    assert.equal(store.get(alice.peerName), alice)
    assert.ok(store.has(bob.peerName))
    assert.equal(store.has(`${bob.peerName}x`), false)
    assert.equal(store.getDefault().peerName, alice.peerName)
    assert.equal(store.defaultPeerName, alice.peerName)
    assert.equal((await identityFiles(store.dir)).length, 3)
    // the identity info is public and valid
    assert.equal(
      parseIdentityInfo(store.getInfoXml(bob.peerName), { now: clock.now() }).peerName,
      bob.peerName,
    )
  })

  test('create refuses bad classifiers and friendly names', async () => {
    const store = await IdentityStore.open(freshDir(), options('store/create-bad'))
    await assert.rejects(
      store.create({ classifier: 'a\u0000' }),
      (e: unknown) => e instanceof PeerError,
    )
    await rejectsCode(store.create({ classifier: 'x'.repeat(150) }), 'PEER_E_CLASSIFIER_TOO_LONG')
    await rejectsCode(
      store.create({ friendlyName: 'f'.repeat(256) }),
      'PEER_E_INVALID_FRIENDLY_NAME',
    )
    await rejectsCode(store.create({ friendlyName: 'a\nb' }), 'PEER_E_INVALID_FRIENDLY_NAME')
    await rejectsCode(store.create({ friendlyName: '\udc00x' }), 'PEER_E_INVALID_FRIENDLY_NAME')
    assert.deepEqual(store.list(), [])
    assert.deepEqual(await identityFiles(store.dir), [])
    // a failed call does not block the next one
    const ok = await store.create({ classifier: 'ok' })
    assert.equal(store.getDefault().peerName, ok.peerName)
  })

  test('create with an existing key: one key, one name per classifier', async () => {
    const store = await IdentityStore.open(freshDir(), options('store/create-key'))
    const work = await store.create({ classifier: 'work', friendlyName: 'Work' })
    const home = await store.create({ classifier: 'home', key: work.keyPair })
    assert.equal(home.peerName, `${work.key.authority}.home`)
    assert.deepEqual(home.publicKey, work.publicKey)
    await rejectsCode(
      store.create({ classifier: 'work', key: work.keyPair }),
      'PEER_E_ALREADY_EXISTS',
    )
    await rejectsCode(
      store.create({ classifier: 'x', key: work.publicKey as unknown as KeyPair }),
      'E_INVALIDARG',
    )
    // Both survive a reopen, with the one key.
    const again = await IdentityStore.open(store.dir, options('store/create-key-2'))
    assert.deepEqual(again.get(home.peerName).publicKey, work.publicKey)
    assert.equal(again.list().length, 2)
  })

  test('find by full name, classifier, authority prefix; ambiguity is reported', async () => {
    const store = await IdentityStore.open(freshDir(), options('store/find'))
    const alice = await store.create({ classifier: 'alice' })
    const bob = await store.create({ classifier: 'bob' })
    const work1 = await store.create({ classifier: 'work' })
    const work2 = await store.create({ classifier: 'work' })
    assert.notEqual(work1.peerName, work2.peerName)

    assert.equal(store.find(alice.peerName), alice)
    assert.equal(store.find('alice'), alice)
    assert.equal(store.find('bob'), bob)
    const authority = bob.peerName.slice(0, 40)
    assert.equal(store.find(authority), bob)
    // the shortest prefix that tells the identities apart names one
    const others = [alice, work1, work2].map((i) => i.peerName)
    let n = 4
    while (others.some((p) => p.startsWith(authority.slice(0, n)))) n++
    assert.equal(store.find(authority.slice(0, n)), bob)
    // fewer than 4 hex characters are not a prefix
    throwsCode(() => store.find(authority.slice(0, 3)), 'PEER_E_IDENTITY_NOT_FOUND')
    throwsCode(() => store.find(authority.toUpperCase()), 'PEER_E_IDENTITY_NOT_FOUND')
    throwsCode(() => store.find('carol'), 'PEER_E_IDENTITY_NOT_FOUND')
    throwsCode(() => store.find('ALICE'), 'PEER_E_IDENTITY_NOT_FOUND')

    const err = throwsCode(() => store.find('work'), 'PEER_E_INVALID_PEER_NAME')
    assert.deepEqual(
      (err.details?.['matches'] as string[]).slice().sort(),
      [work1.peerName, work2.peerName].sort(),
    )
    assert.equal(store.find(work2.peerName), work2)
  })

  test('setDefault and getDefault', async () => {
    const store = await IdentityStore.open(freshDir(), options('store/default'))
    const a = await store.create({ classifier: 'a' })
    const b = await store.create({ classifier: 'b' })
    assert.equal(store.getDefault().peerName, a.peerName)
    await store.setDefault(b.peerName)
    assert.equal(store.getDefault().peerName, b.peerName)
    await rejectsCode(store.setDefault('0.unknown'), 'PEER_E_IDENTITY_NOT_FOUND')
    assert.equal(store.getDefault().peerName, b.peerName)
  })

  test('setFriendlyName, including the reset to the peer name and the length limit', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/friendly'))
    const id = await store.create({ classifier: 'fn', friendlyName: 'First' })
    const renamed = await store.setFriendlyName(id.peerName, 'Second \u00e9\u{1F600}')
    assert.equal(renamed.friendlyName, 'Second \u00e9\u{1F600}')
    assert.equal(store.get(id.peerName).friendlyName, 'Second \u00e9\u{1F600}')
    assert.deepEqual(store.list(), [
      { peerName: id.peerName, friendlyName: 'Second \u00e9\u{1F600}' },
    ])
    assert.equal((await store.setFriendlyName(id.peerName, 'cafe\u0301')).friendlyName, 'caf\u00e9')

    assert.equal((await store.setFriendlyName(id.peerName, '')).friendlyName, id.peerName)
    await store.setFriendlyName(id.peerName, 'Back')
    assert.equal((await store.setFriendlyName(id.peerName, null)).friendlyName, id.peerName)

    const max = '\u{1F600}'.repeat(255)
    assert.equal((await store.setFriendlyName(id.peerName, max)).friendlyName, max)
    await rejectsCode(
      store.setFriendlyName(id.peerName, 'x'.repeat(256)),
      'PEER_E_INVALID_FRIENDLY_NAME',
    )
    await rejectsCode(
      store.setFriendlyName(id.peerName, '\u{1F600}'.repeat(256)),
      'PEER_E_INVALID_FRIENDLY_NAME',
    )
    await rejectsCode(
      store.setFriendlyName(id.peerName, 'tab\there'),
      'PEER_E_INVALID_FRIENDLY_NAME',
    )
    // a lone surrogate could not survive UTF-8 (files, exports)
    await rejectsCode(
      store.setFriendlyName(id.peerName, 'a\ud800b'),
      'PEER_E_INVALID_FRIENDLY_NAME',
    )
    assert.equal(
      store.get(id.peerName).friendlyName,
      max,
      'a refused change leaves the name as it was',
    )

    // the name survives a reopen
    const reopened = await IdentityStore.open(dir, options('store/friendly-2'))
    assert.equal(reopened.get(id.peerName).friendlyName, max)
    assert.deepEqual(reopened.problems, [])
  })

  test('export, import into a second store; importing again is PEER_E_ALREADY_EXISTS', async () => {
    const first = await IdentityStore.open(freshDir(), options('store/export-1'))
    const second = await IdentityStore.open(freshDir(), options('store/export-2'))
    const id = await first.create({ classifier: 'travel', friendlyName: 'Traveller' })
    const xml = await first.export(id.peerName, PASSWORD, { logN: LOG_N })
    assert.match(xml, /^<PEERIDENTITYEXPORT VERSION="1\.0">/)
    await rejectsCode(first.export('0.nobody', PASSWORD), 'PEER_E_IDENTITY_NOT_FOUND')

    await rejectsCode(second.import(xml, 'wrong password'), 'PEER_E_DECRYPTION_FAILED')
    assert.deepEqual(second.list(), [])
    const imported = await second.import(xml, PASSWORD)
    assert.equal(imported.peerName, id.peerName)
    assert.equal(imported.friendlyName, 'Traveller')
    assert.deepEqual(imported.publicKey, id.publicKey)
    assert.deepEqual(imported.certificate.encode(), id.certificate.encode())
    assert.equal(second.getDefault().peerName, id.peerName, 'the first identity of a store')
    assert.equal((await identityFiles(second.dir)).length, 1)

    await rejectsCode(second.import(xml, PASSWORD), 'PEER_E_ALREADY_EXISTS')
    await rejectsCode(first.import(xml, PASSWORD), 'PEER_E_ALREADY_EXISTS')
    assert.equal(first.list().length, 1)
    assert.equal(second.list().length, 1)

    // after a delete, the identity can come back
    await second.delete(id.peerName)
    assert.equal((await second.import(xml, PASSWORD)).peerName, id.peerName)
  })

  test('delete; deleting the default clears it', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/delete'))
    const a = await store.create({ classifier: 'a' })
    const b = await store.create({ classifier: 'b' })
    assert.equal((await identityFiles(dir)).length, 2)

    await store.delete(b.peerName)
    assert.equal(store.has(b.peerName), false)
    throwsCode(() => store.get(b.peerName), 'PEER_E_IDENTITY_NOT_FOUND')
    assert.equal(store.getDefault().peerName, a.peerName)
    assert.equal((await identityFiles(dir)).length, 1)
    await rejectsCode(store.delete(b.peerName), 'PEER_E_IDENTITY_NOT_FOUND')

    await store.delete(a.peerName)
    assert.equal(store.defaultPeerName, undefined)
    throwsCode(() => store.getDefault(), 'PEER_E_NOT_FOUND')
    assert.deepEqual(store.list(), [])
    assert.deepEqual(await identityFiles(dir), [])

    // the cleared default is persisted too
    const reopened = await IdentityStore.open(dir, options('store/delete-2'))
    throwsCode(() => reopened.getDefault(), 'PEER_E_NOT_FOUND')
    // and the next identity created becomes the default
    const c = await reopened.create({ classifier: 'c' })
    assert.equal(reopened.getDefault().peerName, c.peerName)
  })

  test('delete is refused with PEER_E_GROUPS_EXIST while a group uses the identity', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/groups'))
    const member = await store.create({ classifier: 'member' })
    const loner = await store.create({ classifier: 'loner' })
    const group = { peerName: `${'c'.repeat(40)}.team`, friendlyName: 'Team' }
    const asked: string[] = []
    store.setGroupsProvider((peerName) => {
      asked.push(peerName)
      return peerName === member.peerName ? [group] : []
    })
    assert.deepEqual(store.groupsOf(member.peerName), [group])
    assert.deepEqual(store.groupsOf(loner.peerName), [])
    throwsCode(() => store.groupsOf('0.nobody'), 'PEER_E_IDENTITY_NOT_FOUND')

    const err = await rejectsCode(store.delete(member.peerName), 'PEER_E_GROUPS_EXIST')
    assert.deepEqual(err.details, { groups: [group.peerName] })
    assert.ok(store.has(member.peerName))
    assert.equal(store.getDefault().peerName, member.peerName)
    assert.equal((await identityFiles(dir)).length, 2)
    await store.delete(loner.peerName)
    assert.ok(asked.includes(loner.peerName))

    // once the group is gone, the delete goes through
    store.setGroupsProvider(() => [])
    await store.delete(member.peerName)
    assert.deepEqual(store.list(), [])
  })

  test('a reopened store sees the same identities and default', async () => {
    const dir = freshDir()
    const { random, clock } = options('store/reopen')
    const store = await IdentityStore.open(dir, { random, clock })
    const ids = [
      await store.create({ classifier: 'one', friendlyName: 'One' }),
      await store.create({ classifier: 'two' }),
      await store.create({ classifier: 'caf\u00e9 \u{1F600}', friendlyName: 'Three' }),
    ]
    await store.setDefault((ids[1] ?? assert.fail()).peerName)

    const again = await IdentityStore.open(dir, options('store/reopen-2'))
    assert.deepEqual(again.problems, [])
    assert.deepEqual(again.list().sort(byName), store.list().sort(byName))
    assert.equal(again.getDefault().peerName, ids[1]?.peerName)
    for (const id of ids) {
      const loaded = again.get(id.peerName)
      assert.deepEqual(loaded.publicKey, id.publicKey)
      assert.deepEqual(loaded.certificate.encode(), id.certificate.encode())
      assert.equal(loaded.createdAt.getTime(), id.createdAt.getTime())
      assert.equal(loaded.friendlyName, id.friendlyName)
      // the private key came back: it signs for the same public key
      const msg = new TextEncoder().encode('reopen')
      assert.ok(id.key.verify('test', msg, loaded.sign('test', msg)))
    }
  })

  test('identity files are 0600 and the folder 0700', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/modes'))
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
    await store.create({ classifier: 'a' })
    const b = await store.create({ classifier: 'b' })
    await store.setFriendlyName(b.peerName, 'renamed')
    await store.setDefault(b.peerName)
    const files = await readdir(dir)
    assert.deepEqual(
      files.filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary files left',
    )
    assert.equal((await identityFiles(dir)).length, 2)
    for (const file of files) {
      assert.equal((await stat(join(dir, file))).mode & 0o777, 0o600, file)
    }
    // the private seed is in there, so nobody else may read it
    const text = await readFile(join(dir, (await identityFiles(dir))[0] ?? ''), 'utf8')
    assert.match(text, /"seed"/)
  })

  test('an existing folder open to others is closed to 0700', async () => {
    const dir = freshDir()
    await mkdir(dir, { recursive: true, mode: 0o755 })
    await chmod(dir, 0o755)
    await IdentityStore.open(dir, options('store/modes-existing'))
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
  })

  test('a corrupt identity file is skipped, reported and left untouched', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/corrupt'))
    const good = await store.create({ classifier: 'good' })
    const victim = await store.create({ classifier: 'victim' })
    const [fileA, fileB] = await identityFiles(dir)
    assert.ok(fileA && fileB)
    // find the victim's file and tamper with its certificate
    const victimFile = (await readFile(join(dir, fileA), 'utf8')).includes(victim.peerName)
      ? fileA
      : fileB
    const json = JSON.parse(await readFile(join(dir, victimFile), 'utf8')) as Record<
      string,
      unknown
    >
    const tampered = JSON.stringify({ ...json, peerName: good.peerName })
    await writeFile(join(dir, victimFile), tampered, { mode: 0o600 })
    // plus files that are not identities at all
    const garbage = Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x0a])
    await writeFile(join(dir, 'garbage.identity.json'), garbage, { mode: 0o600 })
    await writeFile(join(dir, 'wrong-shape.identity.json'), '{"v":1}\n', { mode: 0o600 })
    await writeFile(join(dir, 'future.identity.json'), JSON.stringify({ ...json, v: 2 }), {
      mode: 0o600,
    })
    await writeFile(join(dir, 'notes.txt'), 'not an identity file')
    const before = new Map<string, Buffer>()
    for (const f of await readdir(dir)) before.set(f, await readFile(join(dir, f)))

    const reopened = await IdentityStore.open(dir, options('store/corrupt-2'))
    assert.deepEqual(reopened.list(), [
      { peerName: good.peerName, friendlyName: good.friendlyName },
    ])
    assert.deepEqual(
      reopened.problems.map((p) => p.file).sort(),
      [
        'future.identity.json',
        'garbage.identity.json',
        victimFile,
        'wrong-shape.identity.json',
      ].sort(),
    )
    for (const p of reopened.problems) assert.ok(p.error.length > 0, p.file)
    assert.equal(reopened.getDefault().peerName, good.peerName)

    // the store goes on working, and never touches the files it could not read
    const fresh = await reopened.create({ classifier: 'fresh' })
    await reopened.setFriendlyName(good.peerName, 'Good')
    await reopened.delete(fresh.peerName)
    const unreadable = [
      victimFile,
      'garbage.identity.json',
      'wrong-shape.identity.json',
      'future.identity.json',
      'notes.txt',
    ]
    for (const file of unreadable) {
      const bytes = before.get(file)
      assert.ok(bytes?.equals(await readFile(join(dir, file))), `${file} changed`)
    }
    assert.equal((await stat(join(dir, victimFile))).mode & 0o777, 0o600)
  })

  test('a corrupt config.json is reported; the identities still load', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/config'))
    const a = await store.create({ classifier: 'a' })
    await writeFile(join(dir, 'config.json'), '{not json', { mode: 0o600 })
    const reopened = await IdentityStore.open(dir, options('store/config-2'))
    assert.deepEqual(
      reopened.list().map((i) => i.peerName),
      [a.peerName],
    )
    assert.deepEqual(
      reopened.problems.map((p) => p.file),
      ['config.json'],
    )
    throwsCode(() => reopened.getDefault(), 'PEER_E_NOT_FOUND')
    // a default naming an identity that is not here is ignored
    await writeFile(join(dir, 'config.json'), JSON.stringify({ v: 1, defaultIdentity: '0.gone' }))
    const third = await IdentityStore.open(dir, options('store/config-3'))
    assert.deepEqual(third.problems, [])
    throwsCode(() => third.getDefault(), 'PEER_E_NOT_FOUND')
  })

  test('concurrent creates all land', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/concurrent'))
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.create({ classifier: `c${i}` })),
    )
    assert.equal(new Set(created.map((i) => i.peerName)).size, 10)
    assert.deepEqual(
      created.map((i) => i.classifier),
      Array.from({ length: 10 }, (_, i) => `c${i}`),
    )
    assert.equal(store.list().length, 10)
    assert.equal(store.getDefault().peerName, created[0]?.peerName)
    assert.equal((await identityFiles(dir)).length, 10)
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    )
    const reopened = await IdentityStore.open(dir, options('store/concurrent-2'))
    assert.deepEqual(reopened.list().sort(byName), store.list().sort(byName))
    assert.equal(reopened.getDefault().peerName, created[0]?.peerName)

    // mixed concurrent changes: renames, a delete and more creates
    const [, , extra] = await Promise.all([
      store.setFriendlyName(created[1]?.peerName ?? '', 'one'),
      store.delete(created[2]?.peerName ?? ''),
      store.create({ classifier: 'extra' }),
      store.setDefault(created[3]?.peerName ?? ''),
    ])
    const again = await IdentityStore.open(dir, options('store/concurrent-3'))
    assert.equal(again.list().length, 10)
    assert.ok(again.has(extra.peerName))
    assert.equal(again.has(created[2]?.peerName ?? ''), false)
    assert.equal(again.get(created[1]?.peerName ?? '').friendlyName, 'one')
    assert.equal(again.getDefault().peerName, created[3]?.peerName)
  })

  test('the same seed gives the same identities', async () => {
    const a = await IdentityStore.open(freshDir(), options('store/replay'))
    const b = await IdentityStore.open(freshDir(), options('store/replay'))
    const x = await a.create({ classifier: 'x' })
    const y = await b.create({ classifier: 'x' })
    assert.equal(x.peerName, y.peerName)
    assert.deepEqual(x.certificate.encode(), y.certificate.encode())
  })

  test('a temporary file left by a crash is removed at open', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('tmp-cleanup'))
    await store.create({ classifier: 'a' })
    const stale = join(dir, '.0123.identity.json.abcdef.tmp')
    const young = join(dir, '.4567.identity.json.abcdef.tmp')
    await writeFile(stale, '{"seed":"secret"}', { mode: 0o600 })
    await writeFile(young, '{"seed":"in progress"}', { mode: 0o600 })
    // Old enough to be a crash's leftover; the young one may be another process's write.
    const past = new Date(Date.now() - 2 * STALE_TEMP_FILE_MS)
    await utimes(stale, past, past)
    const reopened = await IdentityStore.open(dir, options('tmp-cleanup'))
    assert.deepEqual(reopened.problems, [])
    const files = await readdir(dir)
    assert.equal(files.includes('.0123.identity.json.abcdef.tmp'), false)
    assert.equal(files.includes('.4567.identity.json.abcdef.tmp'), true)
    assert.equal(reopened.list().length, 1)
  })

  test('a copy of an identity file under another name is reported, and deletion sticks', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('copy'))
    const id = await store.create({ classifier: 'copied' })
    const [file] = await identityFiles(dir)
    await writeFile(join(dir, 'copy.identity.json'), await readFile(join(dir, file as string)))
    await store.delete(id.peerName)
    const reopened = await IdentityStore.open(dir, options('copy'))
    assert.equal(reopened.has(id.peerName), false)
    assert.equal(reopened.problems.length, 1)
    assert.equal(reopened.problems[0]?.file, 'copy.identity.json')
    assert.match(reopened.problems[0]?.error ?? '', /another file name/)
  })

  test('close() waits for writes in progress, then refuses changes', async () => {
    const store = await IdentityStore.open(freshDir(), options('close'))
    const pending = store.create({ classifier: 'late' })
    await store.close()
    assert.equal((await pending).classifier, 'late')
    assert.equal(store.list().length, 1)
    await rejectsCode(store.create({ classifier: 'x' }), 'PEER_E_NOT_INITIALIZED')
    await rejectsCode(store.setDefault((await pending).peerName), 'PEER_E_NOT_INITIALIZED')
  })

  test('a file that failed to load is never overwritten by an import', async () => {
    const source = await IdentityStore.open(freshDir(), options('unreadable-src'))
    const id = await source.create({ classifier: 'v2' })
    const xml = await source.export(id.peerName, PASSWORD, { logN: LOG_N })
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('unreadable'))
    await store.import(xml, PASSWORD)
    const [file] = await identityFiles(dir)
    const path = join(dir, file as string)
    // A file from a newer peerinfra: reported as such, and left alone.
    const newer = JSON.stringify({ ...JSON.parse(await readFile(path, 'utf8')), v: 2 })
    await writeFile(path, newer)
    const reopened = await IdentityStore.open(dir, options('unreadable'))
    assert.match(reopened.problems[0]?.error ?? '', /version 2/)
    await rejectsCode(reopened.import(xml, PASSWORD), 'PEER_E_CERT_STORE_CORRUPTED')
    assert.equal(await readFile(path, 'utf8'), newer)
  })

  test('a data directory that is a file gives a PeerError, not a Node error', async () => {
    const file = join(root, 'not-a-folder')
    await writeFile(file, 'x')
    await rejectsCode(IdentityStore.open(join(file, 'identities'), options('bad')), 'E_INVALIDARG')
  })

  test('the store keeps no file handles open', async () => {
    const dir = freshDir()
    const store = await IdentityStore.open(dir, options('store/handles'))
    const id = await store.create({ classifier: 'h' })
    await store.setFriendlyName(id.peerName, 'handles')
    await IdentityStore.open(dir, options('store/handles-2'))
    await store.delete(id.peerName)
    // let any close callbacks run
    await new Promise((resolve) => setImmediate(resolve))
    const open = process
      .getActiveResourcesInfo()
      .filter((r) => r.startsWith('FSReq') || r.startsWith('FileHandle'))
    assert.deepEqual(open, [])
    // an idle FileHandle is not an active resource: look for descriptors into the store too
    const fds = await readdir('/proc/self/fd').catch(() => [] as string[])
    const real = await realpath(root)
    const into: string[] = []
    for (const fd of fds) {
      const target = await readlink(join('/proc/self/fd', fd)).catch(() => '')
      if (target.startsWith(real)) into.push(target)
    }
    assert.deepEqual(into, [])
  })
})
