/** Durable file writes: whole-or-nothing, owner-only where asked. */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname, join, basename } from 'node:path'
import { toPeerError, type PeerError, type PeerErrorCode } from './errors.ts'

/**
 * Writes `data` to `path` atomically: a temporary file in the same folder is written, flushed
 * to disk, and renamed over the target, then the folder is flushed. A crash leaves either the
 * old file or the new one, never a mix. `mode` applies from creation (0o600 for key files).
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode = 0o600,
): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(tmp, 'wx', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await rm(tmp, { force: true })
    throw err
  }
  await handle.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncDir(dir)
}

/** Creates a folder (and parents) readable by its owner only. */
export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 })
  // mkdir leaves an existing folder's mode alone; key folders must not stay readable by others.
  await chmod(path, 0o700)
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch {
    // Some filesystems cannot fsync a directory; the rename is still atomic there.
  } finally {
    await handle.close()
  }
}

/**
 * A filesystem failure as a PeerError with the nearest Windows code: a full disk is
 * PEER_E_DISK_FULL, a permission problem PEER_E_DATABASE_ACCESSDENIED, a path that is not what
 * it should be E_INVALIDARG, anything else E_UNEXPECTED. The Node error is kept as the cause.
 */
export function fileError(err: unknown, message: string): PeerError {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code
  const code: PeerErrorCode =
    errno === 'ENOSPC' || errno === 'EDQUOT'
      ? 'PEER_E_DISK_FULL'
      : errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS'
        ? 'PEER_E_DATABASE_ACCESSDENIED'
        : errno === 'ENOTDIR' || errno === 'EISDIR' || errno === 'EEXIST' || errno === 'ENOENT'
          ? 'E_INVALIDARG'
          : 'E_UNEXPECTED'
  return toPeerError(err, code, message)
}
