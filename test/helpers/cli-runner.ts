/**
 * Runs `peerinfra` commands in this process through `main`, each run's output captured on its
 * own (an AsyncLocalStorage follows each run, so a command streaming in the background keeps
 * its output apart).
 */
import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { after, before } from 'node:test'
import { main } from '../../src/cli/main.ts'
import { tempRoot, type TempRoot } from './temp-root.ts'

export interface Run {
  code: number
  stdout: string
  stderr: string
}

const current = new AsyncLocalStorage<Run>()
const ANSI = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g')

/** Sends what a run writes to its Run; everything else (the test reporter) passes through. */
function capture(stream: NodeJS.WriteStream, key: 'stdout' | 'stderr'): () => void {
  const original = stream.write.bind(stream) as (...args: unknown[]) => boolean
  const patched = (chunk: unknown, ...rest: unknown[]): boolean => {
    const run = current.getStore()
    if (!run) return original(chunk, ...rest)
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString()
    run[key] += text.replace(ANSI, '')
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined
    callback?.()
    return true
  }
  stream.write = patched
  return () => {
    stream.write = original
  }
}

/**
 * For a CLI test file: a temporary root for the homes (see tempRoot), and the capture of each
 * run's output, installed before the file's tests and removed after them.
 */
export function cliTestRoot(prefix: string): TempRoot {
  const root = tempRoot(prefix)
  const restore: (() => void)[] = []
  before(() => {
    restore.push(capture(process.stdout, 'stdout'), capture(process.stderr, 'stderr'))
  })
  after(() => {
    for (const r of restore.splice(0)) r()
  })
  return root
}

/** Starts `peerinfra ...args`; `run` fills as it writes, `done` settles when it exits. */
export function start(args: string[]): { run: Run; done: Promise<Run> } {
  const run: Run = { code: -1, stdout: '', stderr: '' }
  const done = current.run(run, async () => {
    run.code = await main(['node', 'peerinfra', ...args])
    return run
  })
  return { run, done }
}

export const cli = (args: string[]): Promise<Run> => start(args).done

/** Runs a command with --json, expecting exit 0; returns its parsed output. */
export async function ok(args: string[]): Promise<unknown> {
  const r = await cli([...args, '--json'])
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** Runs a command expected to fail with exit 1; returns its error code. */
export async function fails(args: string[]): Promise<string> {
  const r = await cli([...args, '--json'])
  assert.equal(r.code, 1, `${args.join(' ')} should fail: ${r.stdout}`)
  const last = r.stderr.trim().split('\n').pop()!
  return (JSON.parse(last) as { error: { code: string } }).error.code
}

/** Waits (in wall time) until `check` holds. */
export async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The JSON lines a streaming command printed so far. */
export function lines(run: Run): Record<string, unknown>[] {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}
