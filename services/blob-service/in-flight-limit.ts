/**
 * A bound on work in flight that sheds instead of queueing. History pages, version reads and
 * as-of reads each hold round trips (and, for a page, a consumer) on nats-server while they
 * run, and none of them goes through an actor's queue, whose own bound (`maxInFlight`) sheds
 * writes and primary reads: without this one a flood of history requests would pile up
 * consumers on the server and promises here.
 */
export class InFlightLimit {
  private n = 0

  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.n
  }

  /** Runs `work` when there is room, else answers `full()` at once. */
  run<T>(work: () => Promise<T>, full: () => T): Promise<T> | T {
    if (this.n >= this.max) return full()
    this.n++
    let p: Promise<T>
    try {
      p = work()
    } catch (e) {
      this.n--
      throw e
    }
    return p.finally(() => void this.n--)
  }
}
