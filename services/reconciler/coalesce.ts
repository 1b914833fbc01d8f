// Writes to the server gathered into one socket write per turn of the event loop.
//
// nats.js flushes its outbound buffer in a microtask queued by the first write after a flush,
// so writes made by different events' promise chains (which advance in separate microtask
// rounds) mostly went out one syscall each: an ack, a `created` record and a verdict record
// per event, and the socket writes were a fifth of the reconciler's CPU. Deferring them to
// `setImmediate` sends every write of one turn together; it adds well under a millisecond.
// Nothing waits longer than one turn, so bounds and ordering guarantees are unchanged: each
// write is still made only after what it follows (an ack after its record's ack).

export class Coalescer {
  private queue: Array<() => void> = []

  /** Runs `f` at the end of this turn, with every other write deferred in it. */
  later(f: () => void): void {
    this.queue.push(f)
    if (this.queue.length === 1) setImmediate(() => this.flush())
  }

  /** `f()`'s result, with the call made at the end of this turn. */
  call<T>(f: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.later(() => {
        try {
          f().then(resolve, reject)
        } catch (e) {
          reject(e)
        }
      }),
    )
  }

  private flush(): void {
    const q = this.queue
    this.queue = []
    for (const f of q) {
      try {
        f()
      } catch {
        // not ours to handle: `call` turns a throw into a rejection, `later`'s callers catch
      }
    }
  }
}
