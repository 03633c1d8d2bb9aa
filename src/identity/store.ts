/**
 * The identity store: a folder of identity files under the node's data directory
 * (`<home>/identities`), each written atomically with mode 0600, plus `config.json` naming the
 * default identity. Reads are served from memory; every change is written before it returns.
 *
 * A file that cannot be read back (corrupt, foreign, tampered, from a newer version) is never
 * deleted or rewritten: it is skipped and reported in `problems`, so no stored key is ever lost
 * by the store itself. Private keys are protected by the file mode (0600, folder 0700), not
 * encrypted at rest; export them under a password to move them.
 *
 * One process writes a store at a time: each process holds its own view in memory, so
 * identities created by another process are seen after a reopen.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { throwIfAborted } from '../core/abort.ts'
import { fromBase64, toBase64 } from '../core/bytes.ts'
import type { Clock } from '../core/clock.ts'
import { PeerError } from '../core/errors.ts'
import { ensurePrivateDir, fileError, writeFileAtomic } from '../core/files.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import { checkValue, s } from '../wire/index.ts'
import { Certificate } from './certificate.ts'
import {
  IDENTITY_FILE_VERSION,
  MAX_CERTIFICATE_ENVELOPE_BYTES,
  MAX_FRIENDLY_NAME_BYTES,
  MAX_IDENTITIES,
  MAX_IDENTITY_FILE_BYTES,
  MAX_PEER_NAME_BYTES,
  MAX_TIME_MS,
  PRIVATE_SEED_BYTES,
  STALE_TEMP_FILE_MS,
  STORE_CONFIG_VERSION,
} from './constants.ts'
import { exportIdentity, importIdentity } from './identity-export.ts'
import { identityInfoXml } from './identity-info.ts'
import { Identity, type IdentitySummary } from './identity.ts'
import { KeyPair } from './keys.ts'

const log = createLogger('identity')

const base64Length = (bytes: number): number => 4 * Math.ceil(bytes / 3)

const fileSchema = s.struct({
  v: s.literal(IDENTITY_FILE_VERSION),
  peerName: s.text({ maxBytes: MAX_PEER_NAME_BYTES }),
  friendlyName: s.text({ maxBytes: MAX_FRIENDLY_NAME_BYTES }),
  createdAt: s.uint(MAX_TIME_MS),
  seed: s.text({ maxBytes: base64Length(PRIVATE_SEED_BYTES) }),
  certificate: s.text({ maxBytes: base64Length(MAX_CERTIFICATE_ENVELOPE_BYTES) }),
})
const configSchema = s.struct({
  v: s.literal(STORE_CONFIG_VERSION),
  defaultIdentity: s.optional(s.text({ maxBytes: MAX_PEER_NAME_BYTES })),
})

export interface StoreProblem {
  file: string
  error: string
}

/** Lists the groups an identity belongs to (PeerEnumGroups); Grouping installs it. */
export type GroupsProvider = (peerName: string) => IdentitySummary[]

export interface IdentityStoreOptions {
  random: Random
  clock: Clock
}

export class IdentityStore {
  readonly dir: string
  /** Files that could not be loaded; left untouched on disk. */
  readonly problems: StoreProblem[] = []
  private readonly identities = new Map<string, Identity>()
  private defaultName: string | undefined
  private groupsProvider: GroupsProvider = () => []
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(
    dir: string,
    private readonly options: IdentityStoreOptions,
  ) {
    this.dir = dir
  }

  /** Opens (creating if needed) the store in `dir`. */
  static async open(dir: string, options: IdentityStoreOptions): Promise<IdentityStore> {
    const store = new IdentityStore(dir, options)
    try {
      await ensurePrivateDir(dir)
      await store.load()
    } catch (err) {
      throw fileError(err, `could not open the identity store in ${dir}`)
    }
    return store
  }

  private async load(): Promise<void> {
    for (const file of (await readdir(this.dir)).sort()) {
      // A temporary file left by a crash mid-write is never the real copy (the rename did not
      // happen), and it may hold a private key: remove it.
      // Only old ones: a young one may be another process's write in progress.
      if (/^\..*\.tmp$/.test(file)) {
        await this.removeIfStale(join(this.dir, file))
        continue
      }
      if (!file.endsWith('.identity.json')) continue
      try {
        const identity = await this.readIdentityFile(join(this.dir, file))
        // Only the file named after the peer name counts; a stray copy is reported, not loaded
        // (else deleting the identity would not make it go away).
        if (join(this.dir, file) !== this.fileOf(identity.peerName)) {
          throw new PeerError(
            'PEER_E_CERT_STORE_CORRUPTED',
            `a copy of ${identity.peerName} under another file name`,
          )
        }
        this.identities.set(identity.peerName, identity)
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err)
        this.problems.push({ file, error })
        log.warn('identity file skipped', { file, error })
      }
    }
    try {
      const raw = await readSmallFile(join(this.dir, 'config.json'))
      if (raw !== undefined) {
        const cfg = checkValue(JSON.parse(raw), configSchema, {
          what: 'identity store config.json',
          code: 'PEER_E_CERT_STORE_CORRUPTED',
          versions: [STORE_CONFIG_VERSION],
        })
        if (cfg.defaultIdentity && this.identities.has(cfg.defaultIdentity))
          this.defaultName = cfg.defaultIdentity
      }
    } catch (err) {
      this.problems.push({ file: 'config.json', error: (err as Error).message })
    }
  }

  private async removeIfStale(path: string): Promise<void> {
    const info = await stat(path).catch(() => undefined)
    if (!info) return
    // File times are wall-clock times, whatever clock the store was given.
    // eslint-disable-next-line no-restricted-properties
    const age = Date.now() - info.mtimeMs // allow-clock
    if (age > STALE_TEMP_FILE_MS) await rm(path, { force: true })
  }

  private async readIdentityFile(path: string): Promise<Identity> {
    const raw = await readSmallFile(path)
    if (raw === undefined) throw new Error('vanished while reading')
    const f = checkValue(JSON.parse(raw), fileSchema, {
      what: 'identity file',
      code: 'PEER_E_CERT_STORE_CORRUPTED',
      versions: [IDENTITY_FILE_VERSION],
    })
    const seed = fromBase64(f.seed)
    const certBytes = fromBase64(f.certificate)
    if (!seed || !certBytes)
      throw new PeerError('PEER_E_CERT_STORE_CORRUPTED', 'identity file has bad base64')
    const certificate = Certificate.decode(certBytes)
    const identity = new Identity(
      KeyPair.fromSeed(seed),
      certificate,
      f.friendlyName,
      new Date(f.createdAt),
    )
    if (identity.peerName !== f.peerName)
      throw new PeerError('PEER_E_CERT_STORE_CORRUPTED', 'identity file names another peer')
    return identity
  }

  /**
   * Runs store changes one at a time, so concurrent calls cannot interleave their writes; a
   * change after close() is refused.
   */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(new PeerError('PEER_E_NOT_INITIALIZED', 'the identity store is closed'))
    }
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Waits for changes in progress, then refuses new ones. Reads keep working. */
  async close(): Promise<void> {
    this.closed = true
    await this.queue
  }

  private fileOf(peerName: string): string {
    const id = createHash('sha256').update(peerName).digest('hex').slice(0, 32)
    return join(this.dir, `${id}.identity.json`)
  }

  private async writeIdentity(identity: Identity): Promise<void> {
    const body = {
      v: IDENTITY_FILE_VERSION,
      peerName: identity.peerName,
      friendlyName: identity.friendlyName,
      createdAt: identity.createdAt.getTime(),
      seed: toBase64(identity.keyPair.exportSeed()),
      certificate: toBase64(identity.certificate.encode()),
    }
    try {
      await writeFileAtomic(this.fileOf(identity.peerName), JSON.stringify(body, null, 2) + '\n')
    } catch (err) {
      throw fileError(err, `could not write the file of identity ${identity.peerName}`)
    }
  }

  private async writeConfig(defaultName: string | undefined): Promise<void> {
    const body = {
      v: STORE_CONFIG_VERSION,
      ...(defaultName ? { defaultIdentity: defaultName } : {}),
    }
    try {
      await writeFileAtomic(join(this.dir, 'config.json'), JSON.stringify(body) + '\n')
    } catch (err) {
      throw fileError(err, 'could not write the identity store config.json')
    }
  }

  /** Every identity: `{ peerName, friendlyName }` (PeerEnumIdentities). */
  list(): IdentitySummary[] {
    return [...this.identities.values()].map((i) => i.summary())
  }

  has(peerName: string): boolean {
    return this.identities.has(peerName)
  }

  /** The identity with this peer name; PEER_E_IDENTITY_NOT_FOUND otherwise. */
  get(peerName: string): Identity {
    const identity = this.identities.get(peerName)
    if (!identity)
      throw new PeerError('PEER_E_IDENTITY_NOT_FOUND', `no identity ${peerName} in ${this.dir}`)
    return identity
  }

  /**
   * An identity by peer name, by classifier (when exactly one identity has it) or by a unique
   * prefix of its authority: how users name identities on the command line.
   */
  find(nameOrClassifier: string): Identity {
    const exact = this.identities.get(nameOrClassifier)
    if (exact) return exact
    const all = [...this.identities.values()]
    let matches = all.filter((i) => i.classifier === nameOrClassifier)
    if (matches.length === 0 && /^[0-9a-f]{4,40}$/.test(nameOrClassifier)) {
      matches = all.filter((i) => i.peerName.startsWith(nameOrClassifier))
    }
    if (matches.length === 1) return matches[0] as Identity
    if (matches.length > 1) {
      throw new PeerError(
        'PEER_E_INVALID_PEER_NAME',
        `"${nameOrClassifier}" names ${matches.length} identities; give the full peer name`,
        {
          details: { matches: matches.map((m) => m.peerName) },
        },
      )
    }
    throw new PeerError(
      'PEER_E_IDENTITY_NOT_FOUND',
      `no identity named "${nameOrClassifier}" in ${this.dir}`,
    )
  }

  /** The default identity (PeerIdentityGetDefault); PEER_E_NOT_FOUND when there is none. */
  getDefault(): Identity {
    if (this.defaultName === undefined) {
      throw new PeerError(
        'PEER_E_NOT_FOUND',
        'there is no default identity; create one or choose one with setDefault',
      )
    }
    return this.get(this.defaultName)
  }

  get defaultPeerName(): string | undefined {
    return this.defaultName
  }

  setDefault(peerName: string): Promise<void> {
    return this.serialize(async () => {
      this.get(peerName)
      await this.writeConfig(peerName)
      this.defaultName = peerName
    })
  }

  /** PeerIdentityCreate: a new key and identity; the first identity becomes the default. */
  /**
   * PeerIdentityCreate: a new identity with a new key, or with `key` (Windows' hCryptProv: one
   * key may own several names, one per classifier). PEER_E_ALREADY_EXISTS for a key and
   * classifier already here; PEER_E_TOO_MANY_IDENTITIES.
   */
  create(
    options: { classifier?: string; friendlyName?: string | null; key?: KeyPair } = {},
  ): Promise<Identity> {
    return this.serialize(async () => {
      this.checkRoom()
      const identity = Identity.create({
        ...options,
        random: this.options.random,
        now: this.options.clock.now(),
      })
      await this.add(identity)
      log.info('identity created', { peerName: identity.peerName })
      return identity
    })
  }

  private checkRoom(): void {
    if (this.identities.size >= MAX_IDENTITIES) {
      throw new PeerError(
        'PEER_E_TOO_MANY_IDENTITIES',
        `a store holds at most ${MAX_IDENTITIES} identities`,
      )
    }
  }

  private async add(identity: Identity): Promise<void> {
    if (this.identities.has(identity.peerName)) {
      throw new PeerError(
        'PEER_E_ALREADY_EXISTS',
        `identity ${identity.peerName} already exists in this store`,
      )
    }
    const file = this.fileOf(identity.peerName)
    if (await stat(file).catch(() => undefined)) {
      // A file that failed to load (see `problems`) is never overwritten.
      throw new PeerError(
        'PEER_E_CERT_STORE_CORRUPTED',
        `${file} exists but could not be loaded (see the store's problems); move it away first`,
      )
    }
    // The config first: if the identity write then fails, the config names an identity that
    // does not exist, which loading ignores; the other order could leave a stored identity
    // reported as a failure.
    const becomesDefault = this.defaultName === undefined
    if (becomesDefault) await this.writeConfig(identity.peerName)
    await this.writeIdentity(identity)
    this.identities.set(identity.peerName, identity)
    if (becomesDefault) this.defaultName = identity.peerName
  }

  /** Sets the friendly name; null or '' resets it to the peer name (Windows). */
  setFriendlyName(peerName: string, friendlyName: string | null): Promise<Identity> {
    return this.serialize(async () => {
      const updated = this.get(peerName).withFriendlyName(friendlyName)
      await this.writeIdentity(updated)
      this.identities.set(peerName, updated)
      return updated
    })
  }

  /** `<PEERIDENTITYINFO>` for this identity (public: safe to hand to an inviter). */
  getInfoXml(peerName: string): string {
    return identityInfoXml(this.get(peerName).certificate)
  }

  /**
   * `<PEERIDENTITYEXPORT>`, the private key sealed under `password`. The key derivation takes
   * a moment by design; `signal` is checked before it starts.
   */
  async export(
    peerName: string,
    password: string,
    options: { logN?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    const identity = this.get(peerName)
    throwIfAborted(options.signal, 'identity export')
    return exportIdentity(identity, password, { random: this.options.random, ...options })
  }

  /** Imports an export; PEER_E_ALREADY_EXISTS if this identity is already here. */
  import(xml: string, password: string, options: { signal?: AbortSignal } = {}): Promise<Identity> {
    return this.serialize(async () => {
      this.checkRoom()
      throwIfAborted(options.signal, 'identity import')
      const identity = await importIdentity(xml, password, { now: this.options.clock.now() })
      throwIfAborted(options.signal, 'identity import')
      await this.add(identity)
      log.info('identity imported', { peerName: identity.peerName })
      return identity
    })
  }

  /** Groups this identity belongs to (PeerEnumGroups). */
  groupsOf(peerName: string): IdentitySummary[] {
    this.get(peerName)
    return this.groupsProvider(peerName)
  }

  /** Installed by Grouping, which knows which groups use an identity. */
  setGroupsProvider(provider: GroupsProvider): void {
    this.groupsProvider = provider
  }

  /** PeerIdentityDelete; PEER_E_GROUPS_EXIST while any group uses the identity. */
  delete(peerName: string): Promise<void> {
    return this.serialize(async () => {
      this.get(peerName)
      const groups = this.groupsProvider(peerName)
      if (groups.length > 0) {
        throw new PeerError(
          'PEER_E_GROUPS_EXIST',
          `identity ${peerName} is used by ${groups.length} group(s); delete them first`,
          {
            details: { groups: groups.map((g) => g.peerName) },
          },
        )
      }
      if (this.defaultName === peerName) {
        await this.writeConfig(undefined)
        this.defaultName = undefined
      }
      try {
        await rm(this.fileOf(peerName), { force: true })
      } catch (err) {
        throw fileError(err, `could not delete the file of identity ${peerName}`)
      }
      this.identities.delete(peerName)
      log.info('identity deleted', { peerName })
    })
  }
}

/** A file's text, or undefined when it does not exist; refuses files over the size limit. */
async function readSmallFile(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path)
    if (info.size > MAX_IDENTITY_FILE_BYTES) {
      throw new PeerError(
        'PEER_E_CERT_STORE_CORRUPTED',
        `${path} is ${info.size} bytes; larger than any identity file`,
      )
    }
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
