// Writes to the server gathered into one socket write per turn of the event loop.
//
// nats.js flushes its outbound buffer in a microtask queued by the first write after a flush,
// so writes made by different events' promise chains (which advance in separate microtask
// rounds) mostly went out one syscall each: an ack, a `created` record and a verdict record
// per event, and the socket writes were a fifth of the reconciler's CPU. Deferring them to
// `setImmediate` sends every write of one turn together; it adds well under a millisecond.
// Acks, which nothing waits for, are gathered over a window of a few milliseconds instead.
// Ordering guarantees are unchanged: each write is still made only after what it follows (an
// ack after its record's ack); a crash inside the window only redelivers events whose records
// are then duplicates.

export class Coalescer {
  private queue: Array<() => void> = []

  /** `delayMs` 0: at the end of this turn; more: the writes of that window go together. */
  constructor(private readonly delayMs = 0) {}

  /** Runs `f` at the end of this turn (or window), with every other write deferred in it. */
  later(f: () => void): void {
    this.queue.push(f)
    if (this.queue.length > 1) return
    if (this.delayMs > 0) setTimeout(() => this.flush(), this.delayMs)
    else setImmediate(() => this.flush())
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

  /** Runs every deferred write now (before the connection closes). */
  flush(): void {
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
