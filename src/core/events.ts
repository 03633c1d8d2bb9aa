/**
 * Typed events: `on/once/off/emit` for callbacks and `events()` for an async iterator with a
 * bounded queue. A listener that throws is counted and logged, never allowed to break the
 * component that emitted (a node must not crash because of an application callback).
 */
import { abortError } from './abort.ts'
import { PeerError } from './errors.ts'
import { createLogger } from './log.ts'

export type EventMap = Record<string, unknown>
export type Listener<T> = (data: T) => void

/** One delivered event, as the async iterator yields it. */
export type EventOf<E extends EventMap, K extends keyof E = keyof E> = {
  [P in K]: { type: P; data: E[P] }
}[K]

export interface SubscribeOptions<E extends EventMap, K extends keyof E> {
  /** Event types to deliver; all when left out. */
  types?: readonly K[]
  /** Further filter, e.g. by record type. */
  filter?: (event: EventOf<E, K>) => boolean
  /** Ends the iteration with PeerError E_ABORT. */
  signal?: AbortSignal
  /** Events buffered for a slow consumer before it fails with PEER_E_EVENT_QUEUE_OVERFLOW. */
  maxQueue?: number
}

/** Default bound of an event iterator's queue. */
export const DEFAULT_EVENT_QUEUE = 10_000

const log = createLogger('events')

interface Subscription {
  deliver(type: PropertyKey, data: unknown): void
  end(): void
}

export class TypedEmitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>()
  /** Per type, the wrapper `once` added for each original listener, so `off` can find it. */
  private readonly onceWrappers = new Map<keyof E, Map<Listener<never>, Listener<never>>>()
  private readonly subscriptions = new Set<Subscription>()
  /** Listener exceptions caught so far. */
  listenerErrors = 0

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(type: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(type)
    if (!set) this.listeners.set(type, (set = new Set()))
    set.add(listener)
    return () => this.off(type, listener)
  }

  /**
   * Adds a listener that fires at most once; returns a function that removes it. `off` with
   * the same `listener` removes it too. Like `on`, adding the same function twice (before it
   * fires) is one listener.
   */
  once<K extends keyof E>(type: K, listener: Listener<E[K]>): () => void {
    let wrappers = this.onceWrappers.get(type)
    if (!wrappers)
      this.onceWrappers.set(type, (wrappers = new Map<Listener<never>, Listener<never>>()))
    const existing = wrappers.get(listener)
    if (existing) return () => this.removeOnce(type, listener, existing)
    let fired = false
    const wrapper: Listener<E[K]> = (data) => {
      // An emit that copied the listeners before a nested emit fired this one must not fire
      // it again.
      if (fired) return
      fired = true
      this.removeOnce(type, listener, wrapper)
      listener(data)
    }
    wrappers.set(listener, wrapper)
    this.on(type, wrapper)
    return () => this.removeOnce(type, listener, wrapper)
  }

  /** Removes a listener added with `on` or `once`; a function not added is ignored. */
  off<K extends keyof E>(type: K, listener: Listener<E[K]>): void {
    const set = this.listeners.get(type)
    if (set?.delete(listener) && set.size === 0) this.listeners.delete(type)
    const wrapper = this.onceWrappers.get(type)?.get(listener)
    if (wrapper) this.removeOnce(type, listener, wrapper)
  }

  /** Removes the `once` registration `wrapper` of `listener`, when it is still registered. */
  private removeOnce(type: keyof E, listener: Listener<never>, wrapper: Listener<never>): void {
    const wrappers = this.onceWrappers.get(type)
    if (wrappers?.get(listener) !== wrapper) return
    wrappers.delete(listener)
    if (wrappers.size === 0) this.onceWrappers.delete(type)
    const set = this.listeners.get(type)
    if (set?.delete(wrapper) && set.size === 0) this.listeners.delete(type)
  }

  /** True when a listener or an open iterator would receive events of `type`. */
  hasConsumers(type: keyof E): boolean {
    return this.listenerCount(type) > 0 || this.subscriptions.size > 0
  }

  listenerCount(type: keyof E): number {
    return this.listeners.get(type)?.size ?? 0
  }

  emit<K extends keyof E>(type: K, data: E[K]): void {
    const set = this.listeners.get(type)
    if (set) {
      for (const listener of [...set]) {
        this.safely(() => (listener as Listener<E[K]>)(data), type)
      }
    }
    for (const sub of [...this.subscriptions]) sub.deliver(type, data)
  }

  /** Runs application code (a listener or filter); what it throws is counted and logged. */
  private safely<T>(fn: () => T, type: PropertyKey): T | undefined {
    try {
      return fn()
    } catch (err) {
      this.listenerErrors++
      log.warn('event listener threw', { type: String(type), error: String(err) })
      return undefined
    }
  }

  /** Ends every open iterator (they finish normally); used when the component closes. */
  endSubscriptions(): void {
    for (const sub of [...this.subscriptions]) sub.end()
  }

  events<K extends keyof E = keyof E>(
    options: SubscribeOptions<E, K> = {},
  ): AsyncIterableIterator<EventOf<E, K>> {
    const { types, filter, signal } = options
    const maxQueue = options.maxQueue ?? DEFAULT_EVENT_QUEUE
    const wanted = types ? new Set<keyof E>(types) : undefined
    const queue: EventOf<E, K>[] = []
    let head = 0
    let ended = false
    let failure: PeerError | undefined
    let waiting: ((r: IteratorResult<EventOf<E, K>>) => void) | undefined
    let waitingReject: ((e: unknown) => void) | undefined

    const unsubscribe = (): void => {
      this.subscriptions.delete(sub)
      signal?.removeEventListener('abort', onAbort)
    }
    const dropQueue = (): void => {
      queue.length = 0
      head = 0
    }
    /** Ends with `err` after the queued events (or at once, dropping them, on abort). */
    const fail = (err: PeerError, immediately: boolean): void => {
      if (ended) return
      ended = true
      failure = err
      unsubscribe()
      if (immediately) dropQueue()
      if (waitingReject) {
        const reject = waitingReject
        waiting = waitingReject = undefined
        reject(err)
        failure = undefined
      }
    }
    const onAbort = (): void => fail(abortError(signal as AbortSignal, 'event subscription'), true)

    const sub: Subscription = {
      deliver: (type, data) => {
        if (ended || (wanted && !wanted.has(type as keyof E))) return
        const event = { type, data } as EventOf<E, K>
        if (filter && !this.safely(() => filter(event), type)) return
        if (waiting) {
          const resolve = waiting
          waiting = waitingReject = undefined
          resolve({ value: event, done: false })
          return
        }
        if (queue.length - head >= maxQueue) {
          fail(
            new PeerError(
              'PEER_E_EVENT_QUEUE_OVERFLOW',
              `an event iterator fell ${maxQueue} events behind; read faster or raise maxQueue`,
              { details: { maxQueue } },
            ),
            false,
          )
          return
        }
        queue.push(event)
      },
      end: () => {
        if (ended) return
        ended = true
        if (waiting) {
          const resolve = waiting
          waiting = waitingReject = undefined
          resolve({ value: undefined, done: true })
        }
        unsubscribe()
      },
    }

    if (signal?.aborted) {
      ended = true
      failure = abortError(signal, 'event subscription')
    } else {
      this.subscriptions.add(sub)
      signal?.addEventListener('abort', onAbort, { once: true })
    }

    const iterator: AsyncIterableIterator<EventOf<E, K>> = {
      next: () => {
        if (head < queue.length) {
          const value = queue[head++] as EventOf<E, K>
          if (head > 1024 && head * 2 > queue.length) {
            queue.splice(0, head)
            head = 0
          }
          return Promise.resolve({ value, done: false })
        }
        if (failure) {
          const err = failure
          failure = undefined
          return Promise.reject(err)
        }
        if (ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve, reject) => {
          waiting = resolve
          waitingReject = reject
        })
      },
      return: () => {
        ended = true
        failure = undefined
        if (waiting) {
          const resolve = waiting
          waiting = waitingReject = undefined
          resolve({ value: undefined, done: true })
        }
        unsubscribe()
        dropQueue()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }
}
