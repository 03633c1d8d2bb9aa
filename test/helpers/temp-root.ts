/** A temporary folder for the tests of one file. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before } from 'node:test'

export interface TempRoot {
  /** The folder; set once the file's `before` hooks have run. */
  readonly path: string
}

/**
 * Makes a folder named `<prefix>XXXXXX` under the system's temporary folder before the file's
 * tests, and removes it, with all it holds, after them.
 */
export function tempRoot(prefix: string): TempRoot {
  let path: string | undefined
  before(async () => {
    path = await mkdtemp(join(tmpdir(), prefix))
  })
  after(async () => {
    if (path !== undefined) await rm(path, { recursive: true, force: true })
  })
  return {
    get path(): string {
      if (path === undefined) throw new Error(`the ${prefix} folder is made in a before hook`)
      return path
    },
  }
}
