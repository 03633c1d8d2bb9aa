/**
 * What a node keeps of each group it belongs to, per identity, beside the group's database:
 * the group root certificate, the member's chain and, for the group's owner, the group key.
 * One owner-only JSON file per (identity, group) under `<dataDir>/groups/`, written
 * atomically; a file that does not parse is PEER_E_INVALID_GROUP, never silently replaced.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fromBase64, toBase64 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import { ensurePrivateDir, fileError, writeFileAtomic } from '../core/files.ts'
import { Certificate } from '../identity/certificate.ts'
import { KeyPair } from '../identity/keys.ts'
import { decodeChain, encodeChain } from './credentials.ts'

const STATE_VERSION = 1
/** Largest group state file read. */
const MAX_STATE_FILE_BYTES = 1024 * 1024
const STATE_SUFFIX = '.group.json'

export interface GroupState {
  groupPeerName: string
  /** The member's identity peer name. */
  identity: string
  cloud: string
  /** The group's friendly name as last known here (for listings of closed groups). */
  friendlyName?: string
  root: Certificate
  /** Root first, the member's certificate last. */
  chain: Certificate[]
  /** The group key: the owner's only. */
  ownerKey?: KeyPair
  /** Where members listened when the invitation was made (connect-by-address hints). */
  hints?: { address: string; port: number }[]
}

/** At most this many address hints are kept. */
const MAX_HINTS = 4

export function stateFileName(identity: string, groupPeerName: string): string {
  const digest = createHash('sha256').update(`${identity}\n${groupPeerName}`, 'utf8').digest('hex')
  return `${digest.slice(0, 40)}${STATE_SUFFIX}`
}

export async function saveState(dir: string, state: GroupState): Promise<void> {
  await ensurePrivateDir(dir)
  const json = JSON.stringify({
    v: STATE_VERSION,
    groupPeerName: state.groupPeerName,
    identity: state.identity,
    cloud: state.cloud,
    ...(state.friendlyName ? { friendlyName: state.friendlyName } : {}),
    root: toBase64(state.root.encode()),
    chain: toBase64(encodeChain(state.chain)),
    ...(state.ownerKey ? { ownerKey: toBase64(state.ownerKey.exportSeed()) } : {}),
    ...(state.hints ? { hints: state.hints.slice(0, MAX_HINTS) } : {}),
  })
  try {
    await writeFileAtomic(join(dir, stateFileName(state.identity, state.groupPeerName)), json)
  } catch (err) {
    throw fileError(err, `could not save group ${state.groupPeerName}`)
  }
}

function parseState(text: string, file: string): GroupState {
  const bad = (why: string) =>
    new PeerError('PEER_E_INVALID_GROUP', `group state ${file} is damaged: ${why}`)
  let j: Record<string, unknown>
  try {
    j = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw bad('not JSON')
  }
  if (j === null || typeof j !== 'object' || j['v'] !== STATE_VERSION) throw bad('unknown version')
  const text_ = (k: string) => {
    const v = j[k]
    if (typeof v !== 'string' || v.length === 0) throw bad(`no ${k}`)
    return v
  }
  const bytes = (k: string) => {
    const b = fromBase64(text_(k))
    if (!b) throw bad(`${k} is not base64`)
    return b
  }
  try {
    return {
      groupPeerName: text_('groupPeerName'),
      identity: text_('identity'),
      cloud: text_('cloud'),
      ...(j['friendlyName'] !== undefined ? { friendlyName: text_('friendlyName') } : {}),
      root: Certificate.decode(bytes('root')),
      chain: decodeChain(bytes('chain')),
      ...(j['ownerKey'] !== undefined ? { ownerKey: KeyPair.fromSeed(bytes('ownerKey')) } : {}),
      ...(j['hints'] !== undefined ? { hints: parseHints(j['hints'], bad) } : {}),
    }
  } catch (err) {
    if (err instanceof PeerError && err.code === 'PEER_E_INVALID_GROUP') throw err
    throw bad((err as Error).message)
  }
}

function parseHints(value: unknown, bad: (why: string) => PeerError) {
  if (!Array.isArray(value) || value.length > MAX_HINTS) throw bad('hints')
  return value.map((h: unknown) => {
    const { address, port } = (h ?? {}) as { address?: unknown; port?: unknown }
    if (typeof address !== 'string' || address.length > 64) throw bad('a hint address')
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65_535) {
      throw bad('a hint port')
    }
    return { address, port: port as number }
  })
}

/** A state file's text, refused unread when larger than MAX_STATE_FILE_BYTES; undefined if none. */
async function readBounded(file: string): Promise<string | undefined> {
  try {
    const { size } = await stat(file)
    if (size > MAX_STATE_FILE_BYTES) {
      throw new PeerError(
        'PEER_E_INVALID_GROUP',
        `group state ${file} is too large (${size} bytes)`,
      )
    }
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if (err instanceof PeerError) throw err
    throw fileError(err, `could not read group state ${file}`)
  }
}

export async function loadState(
  dir: string,
  identity: string,
  groupPeerName: string,
): Promise<GroupState | undefined> {
  const file = join(dir, stateFileName(identity, groupPeerName))
  const text = await readBounded(file)
  return text === undefined ? undefined : parseState(text, file)
}

/** Every group state in `dir` (damaged files are skipped: they are reported when opened). */
export async function listStates(dir: string): Promise<GroupState[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw fileError(err, `could not list ${dir}`)
  }
  const out: GroupState[] = []
  for (const name of names.filter((n) => n.endsWith(STATE_SUFFIX)).sort()) {
    try {
      const text = await readBounded(join(dir, name))
      if (text !== undefined) out.push(parseState(text, name))
    } catch {
      // reported by open
    }
  }
  return out
}

export async function removeState(dir: string, identity: string, groupPeerName: string) {
  await rm(join(dir, stateFileName(identity, groupPeerName)), { force: true })
}
