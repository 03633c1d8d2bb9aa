/**
 * Crash safety (issue 5 acceptance): a node killed with SIGKILL in the middle of its first
 * sync leaves a consistent database (SQLite integrity check, every stored record whole and
 * valid), opens as not yet synchronized, and finishes the sync when it connects again.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { checkRecordShape } from '../../src/graph/records.ts'
import { RecordStore } from '../../src/graph/store.ts'
import { PeerNode } from '../../src/node/peer-node.ts'
import { until } from '../helpers/handles.ts'

const TYPE = '0cc0c0c0-1111-4222-8333-444455556666'
const RECORDS = 5_000

/** The single graph database under a node's data directory. */
async function databaseOf(dataDir: string): Promise<string> {
  const graphs = join(dataDir, 'graphs')
  const [peerDir] = await readdir(graphs)
  const files = (await readdir(join(graphs, peerDir!))).filter((f) => f.endsWith('.sqlite3'))
  return join(graphs, peerDir!, files[0]!)
}

function countRecords(file: string): number {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true })
    try {
      return (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n
    } finally {
      db.close()
    }
  } catch {
    return 0
  }
}

test(
  'a node killed mid-sync restarts consistent and finishes the sync',
  { timeout: 120_000 },
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'peerinfra-graph-crash-'))
    const source = await PeerNode.start({ dataDir: join(root, 'source') })
    let restarted: PeerNode | undefined
    try {
      await source.identities.create({ classifier: 'source' })
      const graph = await source.graphs.create({ graphId: 'crash' })
      const expiresAt = new Date(Date.now() + 86_400_000)
      const payload = Buffer.alloc(1600, 'x')
      for (let i = 0; i < RECORDS; i++) {
        await graph.addRecord({ type: TYPE, data: payload, attributes: { n: i }, expiresAt })
      }
      const { port } = await graph.listen()

      const childDir = join(root, 'child')
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(import.meta.dirname, 'fixtures', 'sync-child.ts'),
          childDir,
          String(port),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
      try {
        let out = ''
        child.stdout.on('data', (d: Buffer) => (out += d.toString()))
        await until(() => out.includes('connected'), 'the child to connect', 30_000)
        const file = await databaseOf(childDir)
        // Kill it part way: some records stored, not all.
        await until(() => countRecords(file) > RECORDS / 20, 'the sync to be under way', 30_000)
        child.kill('SIGKILL')
        await exited
        const stored = countRecords(file)
        assert.ok(stored > 0 && stored < RECORDS, `killed with ${stored} of ${RECORDS} records`)

        // Consistent: SQLite's own check, and every stored record is whole and valid.
        const db = new Database(file, { readonly: true })
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
        db.close()
        const peerId = await PeerNode.start({ dataDir: childDir }).then(async (n) => {
          const id = n.identities.getDefault().peerName
          await n.stop()
          return id
        })
        const { store } = RecordStore.open(file, { graphId: 'crash', peerId, create: false })
        for (const r of store.list({ includeDeleted: true, includeInternal: true })) {
          checkRecordShape(r, 60 * 1024 * 1024)
        }
        store.close()

        // Restarted: not ready yet, then it syncs again and ends with everything.
        restarted = await PeerNode.start({ dataDir: childDir })
        const again = await restarted.graphs.open('crash')
        assert.equal(again.dataCreated, false)
        assert.equal(again.status.synchronized, false, 'a cut-off first sync is not a finished one')
        await again.connect({ address: '127.0.0.1', port })
        await until(() => again.status.synchronized, 'the sync to finish', 60_000)
        assert.equal(again.recordCount, RECORDS)
        assert.equal(again.recordCount, graph.recordCount)
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL')
        await exited
      }
    } finally {
      await restarted?.stop()
      await source.stop()
      await rm(root, { recursive: true, force: true })
    }
  },
)
