/**
 * The record store: one SQLite database (better-sqlite3, WAL) per graph per local peer
 * (DESIGN.md section 3). It keeps records with every Windows field, tombstones until they
 * expire, deferred records apart from valid ones, and each record's attributes one row apiece
 * for search. `put` applies MS-PPGRH 2.3's conflict order, so whatever order copies arrive in,
 * every node keeps the same winner. Calls are synchronous and each write is one transaction:
 * a crash leaves the database as it was before or after the write, never in between.
 */
import Database from 'better-sqlite3'
import { PeerError } from '../core/errors.ts'
import type { RecordAttribute } from './attributes.ts'
import { recordDigest } from './record-codec.ts'
import { compareRecords, MAX_RECORD_TIME, type GraphRecord } from './records.ts'
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.ts'
import { INTERNAL_RECORD_TYPES, RECORD_FLAG_AUTOREFRESH, RECORD_FLAG_DELETED } from './constants.ts'

/** What `put` did with a record. */
export type PutOutcome =
  /** It was new here. */
  | 'added'
  /** It beat the stored copy (a newer version, or the conflict winner). */
  | 'updated'
  /** The stored copy is the same record. */
  | 'unchanged'
  /** The stored copy wins; the caller may answer with it (MS-PPGRH 2.4 flooding step 2). */
  | 'older'

export interface PutResult {
  outcome: PutOutcome
  /** The copy stored before, if any. */
  previous: GraphRecord | undefined
}

export interface ListOptions {
  type?: string
  creator?: string
  /** Only the records whose last change `modifiedBy` made. */
  modifiedBy?: string
  /** Tombstones too (sync and flooding need them; Get and Enum do not show them). */
  includeDeleted?: boolean
  /** Deferred records too. */
  includeDeferred?: boolean
  /** Graphing's own records (Graph Info, presence...) too. */
  includeInternal?: boolean
}

/** Excludes Graphing's internal record types (their GUIDs are all 000000xx-0000-...). */
const NOT_INTERNAL = `type NOT IN (${INTERNAL_RECORD_TYPES.map((t) => `'${t}'`).join(', ')})`

/** Live records that AUTOREFRESH keeps alive. */
const REFRESHABLE =
  `(flags & ${RECORD_FLAG_AUTOREFRESH}) != 0 AND (flags & ${RECORD_FLAG_DELETED}) = 0 ` +
  'AND deferred = 0'

interface RecordRow {
  seq: number
  id: string
  type: string
  version: number
  flags: number
  creator: string
  modified_by: string
  created_at: number
  expires_at: number
  modified_at: number
  security_data: Buffer
  data: Buffer
  deferred: number
}

interface AttributeRow {
  record: number
  name: string
  type: 'string' | 'int' | 'date'
  value: string | number
}

function dbError(err: unknown, file: string): PeerError {
  const code = (err as { code?: string }).code ?? ''
  if (code === 'SQLITE_FULL') return new PeerError('PEER_E_DISK_FULL', `${file}: disk full`)
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM' || code === 'SQLITE_READONLY') {
    return new PeerError('PEER_E_DATABASE_ACCESSDENIED', `cannot open ${file} for writing`, {
      cause: err,
    })
  }
  return new PeerError(
    'PEER_E_INVALID_DATABASE',
    `${file} is not a graph database: ${(err as Error).message}`,
    { cause: err },
  )
}

export interface OpenStoreOptions {
  graphId: string
  peerId: string
  /** Create the database if the file is new; otherwise a missing file is an error. */
  create: boolean
}

export class RecordStore {
  readonly file: string
  private readonly db: Database.Database
  private readonly stmts: ReturnType<RecordStore['prepare']>
  private closed = false

  private constructor(file: string, db: Database.Database) {
    this.file = file
    this.db = db
    this.stmts = this.prepare()
  }

  /**
   * Opens (or creates) the database of `graphId` for `peerId`. A database of another graph or
   * peer, another schema, or a file that is not SQLite is PEER_E_INVALID_DATABASE.
   */
  static open(file: string, options: OpenStoreOptions): { store: RecordStore; created: boolean } {
    let db: Database.Database
    try {
      db = new Database(file, { fileMustExist: !options.create })
    } catch (err) {
      // better-sqlite3 throws a plain TypeError when the folder is missing.
      const missing =
        (err as { code?: string }).code === 'SQLITE_CANTOPEN' ||
        /directory does not exist/.test((err as Error).message)
      if (missing && !options.create) {
        throw new PeerError('PEER_E_DATABASE_NOT_PRESENT', `no graph database at ${file}`)
      }
      throw dbError(err, file)
    }
    try {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
      const version = db.pragma('user_version', { simple: true }) as number
      const empty =
        version === 0 &&
        (db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n === 0
      if (empty) {
        db.transaction(() => {
          db.exec(SCHEMA_SQL)
          const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)')
          put.run('graphId', options.graphId)
          put.run('peerId', options.peerId)
          db.pragma(`user_version = ${SCHEMA_VERSION}`)
        })()
      } else if (version !== SCHEMA_VERSION) {
        throw new PeerError(
          'PEER_E_INVALID_DATABASE',
          `${file} has schema version ${version}; this peerinfra reads version ${SCHEMA_VERSION}`,
        )
      }
      const store = new RecordStore(file, db)
      const graphId = store.getMeta('graphId')
      const peerId = store.getMeta('peerId')
      if (graphId !== options.graphId || peerId !== options.peerId) {
        throw new PeerError(
          'PEER_E_INVALID_DATABASE',
          `${file} belongs to graph ${JSON.stringify(graphId)} and peer ${JSON.stringify(peerId)}, ` +
            `not ${JSON.stringify(options.graphId)} and ${JSON.stringify(options.peerId)}`,
        )
      }
      return { store, created: empty }
    } catch (err) {
      db.close()
      throw err instanceof PeerError ? err : dbError(err, file)
    }
  }

  private prepare() {
    const db = this.db
    return {
      get: db.prepare<[string], RecordRow>('SELECT * FROM records WHERE id = ?'),
      byDigest: db.prepare<[Uint8Array], RecordRow>(
        'SELECT * FROM records WHERE digest = ? AND deferred = 0',
      ),
      attrs: db.prepare<[number], AttributeRow>(
        'SELECT * FROM record_attributes WHERE record = ? ORDER BY name',
      ),
      insert: db.prepare(
        `INSERT INTO records (id, type, version, flags, creator, modified_by, created_at,
           expires_at, modified_at, security_data, data, deferred, received_at, digest)
         VALUES (@id, @type, @version, @flags, @creator, @modifiedBy, @createdAt, @expiresAt,
           @modifiedAt, @securityData, @data, @deferred, @receivedAt, @digest)`,
      ),
      update: db.prepare(
        `UPDATE records SET type = @type, version = @version, flags = @flags,
           creator = @creator, modified_by = @modifiedBy, created_at = @createdAt,
           expires_at = @expiresAt, modified_at = @modifiedAt,
           security_data = @securityData, data = @data, deferred = @deferred,
           received_at = @receivedAt, digest = @digest
         WHERE seq = @seq`,
      ),
      deleteAttrs: db.prepare('DELETE FROM record_attributes WHERE record = ?'),
      insertAttr: db.prepare(
        'INSERT INTO record_attributes (record, name, type, value) VALUES (?, ?, ?, ?)',
      ),
      remove: db.prepare('DELETE FROM records WHERE id = ?'),
      setDeferred: db.prepare('UPDATE records SET deferred = ? WHERE id = ?'),
      expired: db.prepare<[number, number], RecordRow>(
        'SELECT * FROM records WHERE expires_at <= ? ORDER BY expires_at LIMIT ?',
      ),
      // Records that never expire (Graph Info) need no expiry pass.
      nextExpiry: db.prepare<[], { t: number | null }>(
        `SELECT min(expires_at) AS t FROM records WHERE expires_at < ${MAX_RECORD_TIME}`,
      ),
      nextRefresh: db.prepare<[string], { t: number | null }>(
        `SELECT min(expires_at) AS t FROM records WHERE creator = ? AND ${REFRESHABLE}`,
      ),
      refreshDue: db.prepare<[string, number, number], RecordRow>(
        `SELECT * FROM records WHERE creator = ? AND ${REFRESHABLE} AND expires_at <= ?
         ORDER BY expires_at LIMIT ?`,
      ),
      syncItems: db.prepare<[], { modified_at: number; digest: Buffer }>(
        'SELECT modified_at, digest FROM records WHERE deferred = 0 ORDER BY modified_at, digest',
      ),
      deferred: db.prepare<[], RecordRow>('SELECT * FROM records WHERE deferred = 1 ORDER BY seq'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      count: db.prepare<[], { n: number }>(
        `SELECT count(*) AS n FROM records WHERE (flags & ${RECORD_FLAG_DELETED}) = 0 AND deferred = 0 AND ${NOT_INTERNAL}`,
      ),
    }
  }

  private toRecord(row: RecordRow): GraphRecord {
    const attributes = this.stmts.attrs
      .all(row.seq)
      .map((a) => ({ name: a.name, type: a.type, value: a.value }) as RecordAttribute)
    return {
      type: row.type,
      id: row.id,
      version: row.version,
      flags: row.flags,
      creator: row.creator,
      modifiedBy: row.modified_by,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      modifiedAt: row.modified_at,
      attributes,
      securityData: new Uint8Array(row.security_data),
      data: new Uint8Array(row.data),
    }
  }

  private check(): void {
    if (this.closed) throw new PeerError('PEER_E_INVALID_GRAPH', `${this.file} is closed`)
  }

  /** A record by id, tombstones and deferred records included; `deferred` says which. */
  getEntry(id: string): { record: GraphRecord; deferred: boolean } | undefined {
    this.check()
    const row = this.stmts.get.get(id)
    return row && { record: this.toRecord(row), deferred: row.deferred !== 0 }
  }

  /**
   * The stored copy whose digest (record-codec.ts) is `digest`, tombstones included, deferred
   * records not (sync never offers them).
   */
  getByDigest(digest: Uint8Array): GraphRecord | undefined {
    this.check()
    const row = this.stmts.byDigest.get(digest)
    return row && this.toRecord(row)
  }

  /** A live record (not deleted, not deferred), as Windows' GetRecord shows it. */
  get(id: string): GraphRecord | undefined {
    const entry = this.getEntry(id)
    if (!entry || entry.deferred || (entry.record.flags & RECORD_FLAG_DELETED) !== 0) return
    return entry.record
  }

  /**
   * Stores `record` if it is new here or beats the stored copy in MS-PPGRH 2.3's order.
   * `deferred` parks it until its validation is decided (the copy it replaces is gone).
   */
  put(record: GraphRecord, options: { deferred?: boolean; receivedAt: number }): PutResult {
    this.check()
    return this.db.transaction((): PutResult => {
      const row = this.stmts.get.get(record.id)
      const previous = row ? this.toRecord(row) : undefined
      if (previous) {
        const order = compareRecords(record, previous)
        if (order === 0 && (row!.deferred !== 0) === (options.deferred === true)) {
          return { outcome: 'unchanged', previous }
        }
        if (order < 0) return { outcome: 'older', previous }
      }
      const params = {
        ...record,
        securityData: record.securityData,
        data: record.data,
        deferred: options.deferred === true ? 1 : 0,
        receivedAt: options.receivedAt,
        digest: recordDigest(record),
      }
      let seq: number
      if (row) {
        this.stmts.update.run({ ...params, seq: row.seq })
        this.stmts.deleteAttrs.run(row.seq)
        seq = row.seq
      } else {
        seq = Number(this.stmts.insert.run(params).lastInsertRowid)
      }
      for (const a of record.attributes) this.stmts.insertAttr.run(seq, a.name, a.type, a.value)
      return { outcome: previous ? 'updated' : 'added', previous }
    })()
  }

  /** Removes a record entirely (a local delete, or expiry). */
  remove(id: string): boolean {
    this.check()
    return this.stmts.remove.run(id).changes > 0
  }

  /** Marks a stored record deferred or valid. */
  setDeferred(id: string, deferred: boolean): void {
    this.check()
    this.stmts.setDeferred.run(deferred ? 1 : 0, id)
  }

  /** Records by type and creator (ANDed, as Windows' EnumRecords), oldest first. */
  *list(options: ListOptions = {}): IterableIterator<GraphRecord> {
    this.check()
    const where: string[] = []
    const params: unknown[] = []
    if (options.type !== undefined) {
      where.push('type = ?')
      params.push(options.type)
    }
    if (options.creator !== undefined) {
      where.push('creator = ?')
      params.push(options.creator)
    }
    if (options.modifiedBy !== undefined) {
      where.push('modified_by = ?')
      params.push(options.modifiedBy)
    }
    if (!options.includeDeleted) where.push(`(flags & ${RECORD_FLAG_DELETED}) = 0`)
    if (!options.includeDeferred) where.push('deferred = 0')
    if (!options.includeInternal) where.push(NOT_INTERNAL)
    const sql = `SELECT * FROM records${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY seq`
    // Rows are read into memory first: an iterator held open across user code would block
    // writes to the database until the caller finished iterating.
    const rows = this.db.prepare<unknown[], RecordRow>(sql).all(...params)
    for (const row of rows) yield this.toRecord(row)
  }

  /**
   * One page of the records a sync sends (tombstones yes, deferred no), by storage order after
   * `afterSeq`: of one type, or of every type but `exceptTypes`; with `since`, only those
   * modified at or after it. Pages keep the database free between them.
   */
  syncPage(
    afterSeq: number,
    limit: number,
    filter: { type?: string; exceptTypes?: readonly string[]; since?: number },
  ): { seq: number; record: GraphRecord }[] {
    this.check()
    const where = ['seq > ?', 'deferred = 0']
    const params: unknown[] = [afterSeq]
    if (filter.type !== undefined) {
      where.push('type = ?')
      params.push(filter.type)
    }
    if (filter.exceptTypes && filter.exceptTypes.length > 0) {
      where.push(`type NOT IN (${filter.exceptTypes.map(() => '?').join(', ')})`)
      params.push(...filter.exceptTypes)
    }
    if (filter.since !== undefined) {
      where.push('modified_at >= ?')
      params.push(filter.since)
    }
    const sql = `SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`
    return this.db
      .prepare<unknown[], RecordRow>(sql)
      .all(...params, limit)
      .map((row) => ({ seq: row.seq, record: this.toRecord(row) }))
  }

  /**
   * Every stored copy (tombstones yes, deferred no) as a sync item: modification time and
   * digest, in that order (reconcile.ts).
   */
  syncItems(): { time: number; digest: Uint8Array }[] {
    this.check()
    return this.stmts.syncItems
      .all()
      .map((row) => ({ time: row.modified_at, digest: new Uint8Array(row.digest) }))
  }

  /** Live records matching a compiled search (search.ts) over the alias `r`. */
  search(where: string, params: readonly (string | number)[]): GraphRecord[] {
    this.check()
    const sql =
      `SELECT r.* FROM records r WHERE (r.flags & ${RECORD_FLAG_DELETED}) = 0 ` +
      `AND r.deferred = 0 AND r.${NOT_INTERNAL} AND (${where}) ORDER BY r.seq`
    return this.db
      .prepare<unknown[], RecordRow>(sql)
      .all(...params)
      .map((row) => this.toRecord(row))
  }

  /** Up to `limit` records (tombstones included) whose expiry is at or before `now`. */
  expired(now: number, limit: number): GraphRecord[] {
    this.check()
    return this.stmts.expired.all(now, limit).map((row) => this.toRecord(row))
  }

  /** The earliest expiry of any stored record. */
  nextExpiry(): number | undefined {
    this.check()
    return this.stmts.nextExpiry.get()?.t ?? undefined
  }

  /** The earliest expiry among `creator`'s live AUTOREFRESH records. */
  nextAutoRefresh(creator: string): number | undefined {
    this.check()
    return this.stmts.nextRefresh.get(creator)?.t ?? undefined
  }

  /** Up to `limit` of `creator`'s live AUTOREFRESH records expiring at or before `before`. */
  autoRefreshDue(creator: string, before: number, limit: number): GraphRecord[] {
    this.check()
    return this.stmts.refreshDue.all(creator, before, limit).map((row) => this.toRecord(row))
  }

  /** Every deferred record. */
  deferred(): GraphRecord[] {
    this.check()
    return this.stmts.deferred.all().map((row) => this.toRecord(row))
  }

  /** Live records. */
  count(): number {
    this.check()
    return this.stmts.count.get()!.n
  }

  getMeta(key: string): string | undefined {
    this.check()
    return this.stmts.getMeta.get(key)?.value
  }

  setMeta(key: string, value: string): void {
    this.check()
    this.stmts.setMeta.run(key, value)
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    this.check()
    return this.db.transaction(fn)()
  }

  /** A consistent copy of the whole database in `file` (overwritten), for ExportDatabase. */
  async backup(file: string): Promise<void> {
    this.check()
    await this.db.backup(file)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }
}
