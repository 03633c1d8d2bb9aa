/** Assertions for PeerError, shared by every test. */
import assert from 'node:assert/strict'

import { PeerError, type PeerErrorCode } from '../../src/core/errors.ts'

/**
 * Asserts that `err` is a PeerError with `code`. `check` is a pattern its message must match,
 * or a label naming the case in failure messages.
 */
export function assertPeerError(
  err: unknown,
  code: PeerErrorCode,
  check?: RegExp | string,
): PeerError {
  const label = typeof check === 'string' ? `${check}: ` : ''
  if (!(err instanceof PeerError)) {
    assert.fail(
      `${label}expected PeerError ${code}, got ${err instanceof Error ? err.stack : String(err)}`,
    )
  }
  assert.equal(err.code, code, `${label}expected ${code}, got ${err.code}: ${err.message}`)
  if (check instanceof RegExp) assert.match(err.message, check)
  return err
}

/** Runs `fn`, which must throw PeerError `code`; returns the error for further checks. */
export function throwsPeerError(
  fn: () => unknown,
  code: PeerErrorCode,
  message?: RegExp | string,
): PeerError {
  let result: unknown
  try {
    result = fn()
  } catch (err) {
    return assertPeerError(err, code, message)
  }
  return assert.fail(`expected PeerError ${code}, but it returned ${String(result)}`)
}

/** Awaits `promise`, which must reject with PeerError `code`; returns the error. */
export async function rejectsPeerError(
  promise: Promise<unknown>,
  code: PeerErrorCode,
  message?: RegExp | string,
): Promise<PeerError> {
  let result: unknown
  try {
    result = await promise
  } catch (err) {
    return assertPeerError(err, code, message)
  }
  return assert.fail(
    `expected a rejection with PeerError ${code}, but it resolved ${String(result)}`,
  )
}
