import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError } from '../../src/core/errors.ts'
import { DEFAULT_EVENT_QUEUE, TypedEmitter, type EventOf } from '../../src/core/events.ts'
import { assertPeerError, rejectsPeerError } from '../helpers/assert-peer-error.ts'

type TestEvents = {
  joined: { name: string }
  left: { name: string }
  count: number
}

/** The emitter's private bookkeeping, to check that nothing is left subscribed. */
function internals(emitter: TypedEmitter<TestEvents>): {
  listeners: Map<string, Set<unknown>>
  onceWrappers: Map<string, Map<unknown, unknown>>
  subscriptions: Set<unknown>
} {
  return emitter as unknown as {
    listeners: Map<string, Set<unknown>>
    onceWrappers: Map<string, Map<unknown, unknown>>
    subscriptions: Set<unknown>
  }
}

/** The next value of `it`, failing the test when the iteration has ended. */
async function nextValue<T>(it: AsyncIterator<T>): Promise<T> {
  const result = await it.next()
  if (result.done === true) assert.fail('the iteration ended early')
  return result.value
}

function listenerTotal(emitter: TypedEmitter<TestEvents>): number {
  let n = 0
  for (const set of internals(emitter).listeners.values()) n += set.size
  return n
}

describe('TypedEmitter listeners', () => {
  test('on delivers to every listener of the type, in order added', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: string[] = []
    emitter.on('joined', (d) => seen.push(`a:${d.name}`))
    emitter.on('joined', (d) => seen.push(`b:${d.name}`))
    emitter.on('left', (d) => seen.push(`left:${d.name}`))
    emitter.emit('joined', { name: 'x' })
    assert.deepEqual(seen, ['a:x', 'b:x'])
    assert.equal(emitter.listenerCount('joined'), 2)
    assert.equal(emitter.listenerCount('left'), 1)
    assert.equal(emitter.listenerCount('count'), 0)
  })

  test('emit with no listeners is a no-op', () => {
    const emitter = new TypedEmitter<TestEvents>()
    emitter.emit('count', 1)
    assert.equal(emitter.listenerErrors, 0)
  })

  test('off and the returned function remove a listener', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: number[] = []
    const a = (n: number): void => {
      seen.push(n)
    }
    const b = (n: number): void => {
      seen.push(n * 10)
    }
    emitter.on('count', a)
    const offB = emitter.on('count', b)
    emitter.emit('count', 1)
    emitter.off('count', a)
    emitter.emit('count', 2)
    offB()
    offB()
    emitter.emit('count', 3)
    assert.deepEqual(seen, [1, 10, 20])
    assert.equal(emitter.listenerCount('count'), 0)
    emitter.off('left', a as never)
  })

  test('the same function added twice is one listener', () => {
    const emitter = new TypedEmitter<TestEvents>()
    let calls = 0
    const listener = (): void => {
      calls++
    }
    emitter.on('count', listener)
    emitter.on('count', listener)
    emitter.emit('count', 1)
    assert.equal(calls, 1)
  })

  test('once fires a single time; its returned function removes it before it fires', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: number[] = []
    emitter.once('count', (n) => seen.push(n))
    assert.equal(emitter.listenerCount('count'), 1)
    emitter.emit('count', 1)
    emitter.emit('count', 2)
    assert.deepEqual(seen, [1])
    assert.equal(emitter.listenerCount('count'), 0)

    const off = emitter.once('count', (n) => seen.push(n * 100))
    off()
    emitter.emit('count', 3)
    assert.deepEqual(seen, [1])
    assert.equal(listenerTotal(emitter), 0)
  })

  test('off with the original listener removes a once listener', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: number[] = []
    const listener = (n: number): void => {
      seen.push(n)
    }
    emitter.once('count', listener)
    assert.equal(emitter.listenerCount('count'), 1)
    emitter.off('count', listener)
    assert.equal(emitter.listenerCount('count'), 0)
    emitter.emit('count', 1)
    assert.deepEqual(seen, [])
    assert.equal(listenerTotal(emitter), 0)
    assert.equal(internals(emitter).onceWrappers.size, 0)
    emitter.off('count', listener)
  })

  test('a once listener fires at most once, removed by its function or by off', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: string[] = []
    const a = (n: number): void => {
      seen.push(`a${n}`)
    }
    const b = (n: number): void => {
      seen.push(`b${n}`)
    }
    const offA = emitter.once('count', a)
    emitter.once('count', b)
    emitter.emit('count', 1)
    emitter.emit('count', 2)
    assert.deepEqual(seen, ['a1', 'b1'])
    // Removing after it fired is harmless, either way.
    offA()
    emitter.off('count', b)
    assert.equal(listenerTotal(emitter), 0)
    assert.equal(internals(emitter).onceWrappers.size, 0)
  })

  test('a once listener fires once even when an earlier listener re-emits', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: number[] = []
    emitter.on('count', (n) => {
      if (n === 1) emitter.emit('count', 2)
    })
    emitter.once('count', (n) => seen.push(n))
    emitter.emit('count', 1)
    // The nested emit fired it; the outer emit, which had already copied it, does not.
    assert.deepEqual(seen, [2])
    assert.equal(emitter.listenerCount('count'), 1)
  })

  test('the same function passed to once twice is one listener', () => {
    const emitter = new TypedEmitter<TestEvents>()
    let calls = 0
    const listener = (): void => {
      calls++
    }
    const off1 = emitter.once('count', listener)
    const off2 = emitter.once('count', listener)
    assert.equal(emitter.listenerCount('count'), 1)
    emitter.emit('count', 1)
    emitter.emit('count', 2)
    assert.equal(calls, 1)
    off1()
    off2()

    emitter.once('count', listener)
    emitter.once('count', listener)
    emitter.off('count', listener)
    emitter.emit('count', 3)
    assert.equal(calls, 1)
    assert.equal(listenerTotal(emitter), 0)
  })

  test('off removes a function added with both on and once', () => {
    const emitter = new TypedEmitter<TestEvents>()
    let calls = 0
    const listener = (): void => {
      calls++
    }
    emitter.on('count', listener)
    emitter.once('count', listener)
    assert.equal(emitter.listenerCount('count'), 2)
    emitter.off('count', listener)
    emitter.emit('count', 1)
    assert.equal(calls, 0)
    assert.equal(listenerTotal(emitter), 0)
    assert.equal(internals(emitter).onceWrappers.size, 0)
  })

  test("a once listener's stale remover does not remove a later registration", () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: number[] = []
    const listener = (n: number): void => {
      seen.push(n)
    }
    const stale = emitter.once('count', listener)
    emitter.emit('count', 1)
    emitter.once('count', listener)
    stale()
    emitter.emit('count', 2)
    emitter.emit('count', 3)
    assert.deepEqual(seen, [1, 2])
    assert.equal(listenerTotal(emitter), 0)
  })

  test('once on one type does not affect the same function on another', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: string[] = []
    const listener = (d: { name: string }): void => {
      seen.push(d.name)
    }
    emitter.once('joined', listener)
    emitter.once('left', listener)
    emitter.off('joined', listener)
    emitter.emit('joined', { name: 'j' })
    emitter.emit('left', { name: 'l' })
    assert.deepEqual(seen, ['l'])
    assert.equal(listenerTotal(emitter), 0)
  })

  test('once is safe when its listener emits the same event again', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: number[] = []
    emitter.once('count', (n) => {
      seen.push(n)
      emitter.emit('count', n + 1)
    })
    emitter.emit('count', 1)
    assert.deepEqual(seen, [1])
  })

  test('a listener removed during an emit still gets that event; one added does not', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: string[] = []
    const late = (): void => {
      seen.push('late')
    }
    emitter.on('count', () => {
      seen.push('first')
      emitter.off('count', second)
      emitter.on('count', late)
    })
    const second = (): void => {
      seen.push('second')
    }
    emitter.on('count', second)
    emitter.emit('count', 1)
    assert.deepEqual(seen, ['first', 'second'])
  })

  test('a throwing listener is counted and does not stop others or the emitter', () => {
    const emitter = new TypedEmitter<TestEvents>()
    const seen: number[] = []
    emitter.on('count', () => {
      throw new Error('application bug')
    })
    emitter.on('count', (n) => seen.push(n))
    emitter.on('count', () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      throw 'not even an Error'
    })
    emitter.on('count', (n) => seen.push(n * 10))
    assert.doesNotThrow(() => emitter.emit('count', 1))
    assert.doesNotThrow(() => emitter.emit('count', 2))
    assert.deepEqual(seen, [1, 10, 2, 20])
    assert.equal(emitter.listenerErrors, 4)
  })

  test('a throwing listener does not stop delivery to iterators', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events({ types: ['count'] })
    emitter.on('count', () => {
      throw new Error('bug')
    })
    emitter.emit('count', 5)
    assert.deepEqual(await it.next(), { value: { type: 'count', data: 5 }, done: false })
    assert.equal(emitter.listenerErrors, 1)
    await it.return?.()
  })
})

describe('TypedEmitter.events()', () => {
  test('yields every event type in order, queued before the read', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events()
    emitter.emit('joined', { name: 'a' })
    emitter.emit('count', 1)
    emitter.emit('left', { name: 'a' })
    const got: Array<EventOf<TestEvents>> = []
    for (let i = 0; i < 3; i++) got.push(await nextValue(it))
    assert.deepEqual(got, [
      { type: 'joined', data: { name: 'a' } },
      { type: 'count', data: 1 },
      { type: 'left', data: { name: 'a' } },
    ])
    await it.return?.()
  })

  test('a waiting reader is woken by the next event', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events()
    const pending = it.next()
    emitter.emit('count', 7)
    assert.deepEqual(await pending, { value: { type: 'count', data: 7 }, done: false })
    await it.return?.()
  })

  test('keeps order across a long run, with reads and emits interleaved', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events({ types: ['count'] })
    const got: number[] = []
    let next = 0
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < 60; k++) emitter.emit('count', next++)
      for (let k = 0; k < 40; k++) got.push((await nextValue(it)).data)
    }
    while (got.length < next) got.push((await nextValue(it)).data)
    assert.deepEqual(
      got,
      Array.from({ length: next }, (_, i) => i),
    )
    await it.return?.()
  })

  test('types filter delivers only the listed types', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events({ types: ['joined', 'left'] })
    emitter.emit('count', 1)
    emitter.emit('joined', { name: 'a' })
    emitter.emit('count', 2)
    emitter.emit('left', { name: 'b' })
    emitter.endSubscriptions()
    const got: string[] = []
    for await (const event of it) got.push(`${event.type}:${event.data.name}`)
    assert.deepEqual(got, ['joined:a', 'left:b'])
  })

  test('a custom filter drops events it refuses', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events({
      types: ['count'],
      filter: (event) => event.data % 2 === 0,
    })
    for (let i = 0; i < 10; i++) emitter.emit('count', i)
    emitter.endSubscriptions()
    const got: number[] = []
    for await (const event of it) got.push(event.data)
    assert.deepEqual(got, [0, 2, 4, 6, 8])
  })

  test('break in for-await calls return(): unsubscribed, later emits are no-ops', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events({ types: ['count'] })
    assert.equal(internals(emitter).subscriptions.size, 1)
    for (let i = 0; i < 5; i++) emitter.emit('count', i)
    const got: number[] = []
    for await (const event of it) {
      got.push(event.data)
      if (event.data === 2) break
    }
    assert.deepEqual(got, [0, 1, 2])
    assert.equal(internals(emitter).subscriptions.size, 0)
    assert.equal(listenerTotal(emitter), 0)
    emitter.emit('count', 99)
    assert.equal(internals(emitter).subscriptions.size, 0)
    // The queued events 3 and 4 were dropped, and the iterator stays finished.
    assert.deepEqual(await it.next(), { value: undefined, done: true })
  })

  test('return() while a reader waits resolves that read as done', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events()
    const pending = it.next()
    assert.deepEqual(await it.return?.(), { value: undefined, done: true })
    assert.deepEqual(await pending, { value: undefined, done: true })
    assert.equal(internals(emitter).subscriptions.size, 0)
  })

  test('an AbortSignal ends a waiting iteration with E_ABORT', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const controller = new AbortController()
    const it = emitter.events({ signal: controller.signal })
    const pending = it.next()
    controller.abort()
    await rejectsPeerError(pending, 'E_ABORT', /event subscription/)
    assert.equal(internals(emitter).subscriptions.size, 0)
    assert.deepEqual(await it.next(), { value: undefined, done: true })
  })

  test('an abort drops queued events and rejects the next read', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const controller = new AbortController()
    const it = emitter.events({ signal: controller.signal })
    emitter.emit('count', 1)
    emitter.emit('count', 2)
    const reason = new PeerError('PEER_E_TIMEOUT', 'took too long')
    controller.abort(reason)
    await assert.rejects(it.next(), (err) => err === reason)
    emitter.emit('count', 3)
    assert.deepEqual(await it.next(), { value: undefined, done: true })
  })

  test('for-await with an abort throws E_ABORT out of the loop', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const controller = new AbortController()
    const got: number[] = []
    const loop = (async () => {
      for await (const event of emitter.events({ types: ['count'], signal: controller.signal })) {
        got.push(event.data)
        if (event.data === 2) controller.abort()
      }
    })()
    for (let i = 1; i <= 4; i++) emitter.emit('count', i)
    await rejectsPeerError(loop, 'E_ABORT')
    assert.deepEqual(got, [1, 2])
    assert.equal(internals(emitter).subscriptions.size, 0)
  })

  test('an already-aborted signal fails at once and never subscribes', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const controller = new AbortController()
    controller.abort()
    const it = emitter.events({ signal: controller.signal })
    assert.equal(internals(emitter).subscriptions.size, 0)
    emitter.emit('count', 1)
    const err = await rejectsPeerError(it.next(), 'E_ABORT')
    assert.ok(err.cause instanceof DOMException)
    assert.deepEqual(await it.next(), { value: undefined, done: true })
  })

  test('the abort listener is removed when the iteration ends normally', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const controller = new AbortController()
    const it = emitter.events({ signal: controller.signal })
    emitter.endSubscriptions()
    assert.deepEqual(await it.next(), { value: undefined, done: true })
    // Aborting afterwards must not turn the finished iterator into a failed one.
    controller.abort()
    assert.deepEqual(await it.next(), { value: undefined, done: true })
  })

  test('endSubscriptions ends iterators normally, after their queued events', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const waiting = emitter.events()
    const queued = emitter.events({ types: ['count'] })
    const pending = waiting.next()
    emitter.emit('count', 1)
    emitter.emit('count', 2)
    assert.deepEqual(await pending, { value: { type: 'count', data: 1 }, done: false })
    const waitingAgain = waiting.next()
    emitter.endSubscriptions()
    // `waiting` had already taken 2 into its queue before the end.
    assert.deepEqual(await waitingAgain, { value: { type: 'count', data: 2 }, done: false })
    assert.deepEqual(await waiting.next(), { value: undefined, done: true })

    const got: number[] = []
    for await (const event of queued) got.push(event.data)
    assert.deepEqual(got, [1, 2])
    assert.equal(internals(emitter).subscriptions.size, 0)
    emitter.emit('count', 3)
    assert.deepEqual(await queued.next(), { value: undefined, done: true })
  })

  test('endSubscriptions wakes a waiting reader with done', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events()
    const pending = it.next()
    emitter.endSubscriptions()
    assert.deepEqual(await pending, { value: undefined, done: true })
    // New subscriptions after the end work as usual.
    const fresh = emitter.events()
    emitter.emit('count', 1)
    assert.deepEqual(await fresh.next(), { value: { type: 'count', data: 1 }, done: false })
    await fresh.return?.()
  })

  test('overflow: the queued events come first, then PEER_E_EVENT_QUEUE_OVERFLOW', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events({ types: ['count'], maxQueue: 3 })
    for (let i = 0; i < 10; i++) emitter.emit('count', i)
    assert.equal(internals(emitter).subscriptions.size, 0)
    const got: number[] = []
    try {
      for await (const event of it) got.push(event.data)
      assert.fail('expected the iteration to fail')
    } catch (err) {
      const peerErr = assertPeerError(err, 'PEER_E_EVENT_QUEUE_OVERFLOW', /maxQueue/)
      assert.deepEqual(peerErr.details, { maxQueue: 3 })
    }
    assert.deepEqual(got, [0, 1, 2])
    assert.deepEqual(await it.next(), { value: undefined, done: true })
  })

  test('a reader that keeps up never overflows a small queue', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events({ types: ['count'], maxQueue: 2 })
    for (let i = 0; i < 100; i++) {
      emitter.emit('count', i)
      emitter.emit('count', i + 1000)
      assert.equal((await nextValue(it)).data, i)
      assert.equal((await nextValue(it)).data, i + 1000)
    }
    await it.return?.()
  })

  test('the default queue bound is 10,000 events', async () => {
    assert.equal(DEFAULT_EVENT_QUEUE, 10_000)
    const emitter = new TypedEmitter<TestEvents>()
    const it = emitter.events()
    for (let i = 0; i <= DEFAULT_EVENT_QUEUE; i++) emitter.emit('count', i)
    let n = 0
    await assert.rejects(
      async () => {
        for await (const _event of it) n++
      },
      (err) => err instanceof PeerError && err.code === 'PEER_E_EVENT_QUEUE_OVERFLOW',
    )
    assert.equal(n, DEFAULT_EVENT_QUEUE)
  })

  test('several iterators each get every event independently', async () => {
    const emitter = new TypedEmitter<TestEvents>()
    const a = emitter.events()
    const b = emitter.events()
    emitter.emit('count', 1)
    await a.return?.()
    emitter.emit('count', 2)
    emitter.endSubscriptions()
    const got: number[] = []
    for await (const event of b) got.push(event.data as number)
    assert.deepEqual(got, [1, 2])
  })
})

describe('application code that throws', () => {
  test('a throwing filter is counted and skips the event; the emitter carries on', async () => {
    const emitter = new TypedEmitter<{ n: number }>()
    const it = emitter.events({
      filter: (ev) => {
        if (ev.data === 1) throw new Error('bad filter')
        return true
      },
    })
    emitter.emit('n', 1)
    emitter.emit('n', 2)
    assert.equal(emitter.listenerErrors, 1)
    assert.deepEqual(await it.next(), { value: { type: 'n', data: 2 }, done: false })
    await it.return?.()
  })
})
