/** The life of a Node socket handle (a TCP server or a UDP socket): listening, then released. */
import type { EventEmitter } from 'node:events'

import type { PeerError } from '../core/errors.ts'

/**
 * Calls `start` (server.listen, socket.bind) and resolves on the handle's 'listening' event; on
 * an 'error' first, rejects with what `failed` makes of it.
 */
export function whenListening(
  handle: EventEmitter,
  start: () => void,
  failed: (err: Error) => PeerError,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      handle.off('listening', onListening)
      reject(failed(err))
    }
    const onListening = (): void => {
      handle.off('error', onError)
      resolve()
    }
    handle.once('error', onError)
    handle.once('listening', onListening)
    start()
  })
}

/**
 * Resolves once handles closed before the call are fully released. Node closes a server's or a
 * UDP socket's descriptor at once (the port is free), but releases the handle in the event loop's
 * close phase, after its own 'close' event; two loop turns always include one close phase.
 */
export function afterHandlesReleased(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
}
