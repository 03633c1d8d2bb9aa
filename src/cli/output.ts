/** How the CLI prints: human text with colour, or JSON with --json; errors with their code. */
import pc from 'picocolors'
import { isPeerError } from '../core/errors.ts'

export interface GlobalOptions {
  home?: string
  json?: boolean
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/** Prints `label: value` lines, labels aligned. */
export function printFields(fields: Record<string, string | undefined>): void {
  const entries = Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined)
  const width = Math.max(...entries.map(([k]) => k.length))
  for (const [k, v] of entries) process.stdout.write(`${pc.dim(k.padEnd(width))}  ${v}\n`)
}

export function success(message: string): void {
  process.stdout.write(`${pc.green('✔')} ${message}\n`)
}

/** Prints an error (JSON on stderr with --json) and returns the exit code 1. */
export function reportError(err: unknown, json: boolean): number {
  if (isPeerError(err)) {
    if (json) process.stderr.write(JSON.stringify({ error: err.toJSON() }) + '\n')
    else
      process.stderr.write(
        `${pc.red('error')} ${pc.bold(err.code)} (${err.hresultHex}): ${err.message}\n`,
      )
  } else {
    const message = err instanceof Error ? err.message : String(err)
    if (json)
      process.stderr.write(JSON.stringify({ error: { code: 'E_UNEXPECTED', message } }) + '\n')
    else process.stderr.write(`${pc.red('error')} ${message}\n`)
  }
  return 1
}
