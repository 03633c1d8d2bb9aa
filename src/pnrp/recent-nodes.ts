/**
 * The nodes a cloud knew when it last stopped, kept on disk for the next bootstrap (MS-PNRP
 * 1.6: a node first tries the nodes it knew before, then seed servers). The file is advisory:
 * a missing, unreadable or malformed one is an empty list, never a failure to start.
 */
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ensurePrivateDir, writeFileAtomic } from '../core/files.ts'
import { createLogger } from '../core/log.ts'
import { MAX_ADDRESS_LENGTH, MAX_RECENT_NODES_FILE_BYTES, RECENT_NODES_KEPT } from './constants.ts'
import type { Endpoint } from './types.ts'

const log = createLogger('pnrp')
const FILE_VERSION = 1

export class RecentNodes {
  readonly path: string
  readonly capacity = RECENT_NODES_KEPT
  private nodes: Endpoint[] = []

  private constructor(path: string) {
    this.path = path
  }

  /** Reads the list at `path` (an absent or broken file gives an empty list). */
  static async open(path: string): Promise<RecentNodes> {
    const recent = new RecentNodes(path)
    recent.nodes = await readList(path)
    return recent
  }

  load(): Endpoint[] {
    return [...this.nodes]
  }

  async save(nodes: Endpoint[]): Promise<void> {
    this.nodes = nodes.filter(isEndpoint).slice(0, this.capacity)
    try {
      await ensurePrivateDir(dirname(this.path))
      await writeFileAtomic(this.path, JSON.stringify({ v: FILE_VERSION, nodes: this.nodes }))
    } catch (err) {
      // Losing the list costs a slower bootstrap next time, not correctness.
      log.warn('could not save the recent PNRP nodes', { path: this.path, error: String(err) })
    }
  }
}

async function readList(path: string): Promise<Endpoint[]> {
  let text: string
  try {
    const bytes = await readFile(path)
    if (bytes.length > MAX_RECENT_NODES_FILE_BYTES) throw new Error('file too large')
    text = bytes.toString('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.warn('ignoring the recent PNRP nodes file', { path, error: String(err) })
    }
    return []
  }
  try {
    const parsed = JSON.parse(text) as { v?: unknown; nodes?: unknown }
    if (parsed.v !== FILE_VERSION || !Array.isArray(parsed.nodes)) return []
    return parsed.nodes.filter(isEndpoint).slice(0, RECENT_NODES_KEPT)
  } catch {
    log.warn('ignoring a malformed recent PNRP nodes file', { path })
    return []
  }
}

function isEndpoint(value: unknown): value is Endpoint {
  if (typeof value !== 'object' || value === null) return false
  const { address, port } = value as Record<string, unknown>
  return (
    typeof address === 'string' &&
    address.length > 0 &&
    address.length <= MAX_ADDRESS_LENGTH &&
    typeof port === 'number' &&
    Number.isInteger(port) &&
    port > 0 &&
    port <= 65_535
  )
}
