/** A binary min-heap ordered by `less`; the scheduler's timer queue and anything else that needs one. */
export class MinHeap<T> {
  private readonly items: T[] = []

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length
  }

  peek(): T | undefined {
    return this.items[0]
  }

  push(item: T): void {
    const items = this.items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(items[i] as T, items[parent] as T)) break
      this.swap(i, parent)
      i = parent
    }
  }

  pop(): T | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let min = i
        if (l < items.length && this.less(items[l] as T, items[min] as T)) min = l
        if (r < items.length && this.less(items[r] as T, items[min] as T)) min = r
        if (min === i) break
        this.swap(i, min)
        i = min
      }
    }
    return top
  }

  private swap(a: number, b: number): void {
    const items = this.items
    const t = items[a] as T
    items[a] = items[b] as T
    items[b] = t
  }
}
