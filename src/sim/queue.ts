/**
 * The network's event queue: a binary min-heap on (time, sequence), specialised for SimEvent
 * so that the hot path neither allocates closures nor calls a comparator.
 */

/** What is due; `type` says which fields matter (see network.ts). */
export interface QueuedEvent {
  at: number
  seq: number
  cancelled: boolean
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

export class EventQueue<E extends QueuedEvent> {
  /** The heap array; read it to scan (e.g. to cancel a crashed node's events), never reorder. */
  readonly items: E[] = []

  get size(): number {
    return this.items.length
  }

  peek(): E | undefined {
    return this.items[0]
  }

  push(ev: E): void {
    const items = this.items
    let i = items.length
    items.push(ev)
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = items[parent] as E
      if (!before(ev, p)) break
      items[i] = p
      i = parent
    }
    items[i] = ev
  }

  pop(): E | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    const n = items.length
    if (n > 0 && last !== undefined) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        let child = items[l] as E
        let c = l
        if (r < n && before(items[r] as E, child)) {
          child = items[r] as E
          c = r
        }
        if (!before(child, last)) break
        items[i] = child
        i = c
      }
      items[i] = last
    }
    return top
  }

  clear(): void {
    this.items.length = 0
  }
}
