import { PeerError } from './errors.ts'

/** Throws PeerError E_ABORT when `signal` has fired; every long call checks it at its awaits. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted) throw abortError(signal, what)
}

export function abortError(signal: AbortSignal, what = 'operation'): PeerError {
  const reason: unknown = signal.reason
  if (reason instanceof PeerError) return reason
  return new PeerError('E_ABORT', `${what} was aborted`, { cause: reason })
}
