// Work on one blob runs one at a time, in arrival order; different blobs run concurrently.
// Settlements of a blob must not interleave: each reads the shadow the previous one wrote.

export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve()
    const next = prev.then(work, work)
    const tail = next.catch(() => undefined)
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return next
  }

  get size(): number {
    return this.tails.size
  }
}
