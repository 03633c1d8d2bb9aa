/**
 * The PeerErrors the transports report alike, so a failure reads the same on TCP, on UDP and in
 * the simulator: socket errors (Node error kept as `cause`, its errno in `details`), dial
 * timeouts, refusals, and handlers that threw.
 */
import net from 'node:net'

import { PeerError, type PeerErrorOptions } from '../core/errors.ts'
import { formatAddress } from './addresses.ts'
import { DIAL_TIMEOUT_MS } from './constants.ts'
import type { DialOptions } from './types.ts'

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The `code` of a Node system error ('ECONNREFUSED', ...). */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Options of a PeerError caused by a Node error: the error as `cause`, its errno in details. */
export function causedBy(err: unknown): PeerErrorOptions {
  const code = errnoCode(err)
  return { cause: err, ...(code ? { details: { errno: code } } : {}) }
}

/** PEER_E_CONNECTION_FAILED: `what` (`connecting to 1.2.3.4:5`, ...) failed with `err`. */
export function connectionFailed(what: string, err: unknown): PeerError {
  return new PeerError(
    'PEER_E_CONNECTION_FAILED',
    `${what} failed: ${messageOf(err)}`,
    causedBy(err),
  )
}

/**
 * A failed listen or bind (`action`: 'listen on', 'bind') on `host`:`port`:
 * PEER_E_IPV6_NOT_INSTALLED for IPv6 on a host without it, else PEER_E_UNABLE_TO_LISTEN.
 */
export function listenFailed(err: unknown, action: string, host: string, port: number): PeerError {
  const code = errnoCode(err)
  const cannot = `cannot ${action} ${formatAddress({ address: host, port })}`
  if (code === 'EAFNOSUPPORT' && net.isIPv6(host)) {
    return new PeerError(
      'PEER_E_IPV6_NOT_INSTALLED',
      `${cannot}: IPv6 is not available on this host`,
      causedBy(err),
    )
  }
  const hint =
    code === 'EADDRINUSE'
      ? 'the port is in use; pick another or pass port 0'
      : code === 'EADDRNOTAVAIL'
        ? 'the address is not one of this host'
        : messageOf(err)
  return new PeerError('PEER_E_UNABLE_TO_LISTEN', `${cannot}: ${hint}`, causedBy(err))
}

/** A dial's timeout (default DIAL_TIMEOUT_MS); E_INVALIDARG unless a finite number >= 0. */
export function dialTimeoutMs(options: DialOptions): number {
  const timeoutMs = options.timeoutMs ?? DIAL_TIMEOUT_MS
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new PeerError(
      'E_INVALIDARG',
      `timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`,
    )
  }
  return timeoutMs
}

/** PEER_E_TIMEOUT: the dial to `target` did not connect within `timeoutMs`. */
export function dialTimedOut(target: string, timeoutMs: number): PeerError {
  return new PeerError(
    'PEER_E_TIMEOUT',
    `connecting to ${target} timed out after ${timeoutMs} ms; the peer may be unreachable or ` +
      `overloaded`,
    { details: { timeoutMs } },
  )
}

/** PEER_E_CONNECTION_REFUSED: nothing listens at `target`. */
export function connectionRefused(target: string, options: PeerErrorOptions): PeerError {
  return new PeerError(
    'PEER_E_CONNECTION_REFUSED',
    `${target} refused the connection: nothing listens there; check the address and that the ` +
      `peer is running`,
    options,
  )
}

/** E_UNEXPECTED: the `handler` handler (`connection`, `stream's data`, ...) threw `err`. */
export function handlerThrew(handler: string, err: unknown): PeerError {
  return new PeerError('E_UNEXPECTED', `the ${handler} handler threw: ${messageOf(err)}`, {
    cause: err,
  })
}
