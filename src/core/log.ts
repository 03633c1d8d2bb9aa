/**
 * Logging: silent unless switched on. `PEERINFRA_DEBUG=*` logs every component,
 * `PEERINFRA_DEBUG=identity,pnrp` only those (a trailing `*` matches a prefix: `graph*`).
 * Lines go to stderr, or to a sink set with setLogSink (tests).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface LogEntry {
  time: number
  component: string
  level: LogLevel
  message: string
  fields: Record<string, unknown> | undefined
}

export interface Logger {
  readonly component: string
  readonly enabled: boolean
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

export const LOG_ENV_VAR = 'PEERINFRA_DEBUG'

let patterns: string[] = parsePatterns(process.env[LOG_ENV_VAR])
let sink: ((entry: LogEntry) => void) | undefined

function parsePatterns(spec: string | undefined): string[] {
  return (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

function matches(component: string): boolean {
  return patterns.some((p) =>
    p.endsWith('*') ? component.startsWith(p.slice(0, -1)) : component === p,
  )
}

/** Replaces the PEERINFRA_DEBUG patterns (e.g. from a CLI flag); '' switches logging off. */
export function setLogPatterns(spec: string): void {
  patterns = parsePatterns(spec)
}

/** Sends entries to `fn` instead of stderr; undefined restores stderr. */
export function setLogSink(fn: ((entry: LogEntry) => void) | undefined): void {
  sink = fn
}

function write(entry: LogEntry): void {
  if (sink) return sink(entry)
  const fields = entry.fields ? ' ' + safeJson(entry.fields) : ''
  process.stderr.write(
    `${new Date(entry.time).toISOString()} peerinfra:${entry.component} ${entry.level} ${entry.message}${fields}\n`,
  )
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) =>
      v instanceof Uint8Array
        ? Buffer.from(v).toString('hex')
        : typeof v === 'bigint'
          ? String(v)
          : v,
    )
  } catch {
    return '[unprintable]'
  }
}

export function createLogger(component: string): Logger {
  const log =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (!matches(component)) return
      write({ time: Date.now(), component, level, message, fields })
    }
  return {
    component,
    get enabled() {
      return matches(component)
    },
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  }
}
