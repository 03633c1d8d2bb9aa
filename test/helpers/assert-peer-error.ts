/** Assertions for PeerError, shared by the core and wire tests. */
import assert from 'node:assert/strict'

import { PeerError, type PeerErrorCode } from '../../src/core/errors.ts'

/** Asserts that `err` is a PeerError with `code` (and a message matching `message`). */
export function assertPeerError(err: unknown, code: PeerErrorCode, message?: RegExp): PeerError {
  if (!(err instanceof PeerError)) {
    assert.fail(`expected PeerError ${code}, got ${err instanceof Error ? err.stack : String(err)}`)
  }
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`)
  if (message) assert.match(err.message, message)
  return err
}

/** Runs `fn`, which must throw PeerError `code`; returns the error for further checks. */
export function throwsPeerError(
  fn: () => unknown,
  code: PeerErrorCode,
  message?: RegExp,
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
  message?: RegExp,
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
