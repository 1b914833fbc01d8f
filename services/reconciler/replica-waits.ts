import type { Shadow } from "../../domain/shadow.ts"

// Events that arrive before the replica has their shadow. The write path puts a write's
// shadow as its append starts, without waiting, so the event often reaches the reconciler a
// moment before the KV watch brings the shadow: nine events in ten at 1,000 writes/s. Each
// used to cost a KV get (a request, its inbox, its timer); waiting a few milliseconds for the
// watch costs nothing but a map entry. Only what the watch does not bring in time (a shadow
// put that failed or was skipped, a write from around the service) still costs the get.
//
// One timer for every waiter, bounded in count: past `maxWaiters` a waiter expires at once.

export interface ReplicaWaitLimits {
  readonly waitMs: number
  readonly maxWaiters: number
}

interface Waiter {
  readonly version: number
  readonly deadlineMs: number
  readonly resolve: (s: Shadow | undefined) => void
}

export class ReplicaWaits {
  private readonly waiters = new Map<string, Waiter[]>()
  private count = 0
  private timer: NodeJS.Timeout | undefined
  /** Waits that ended because the watch brought the shadow / because the time ran out. */
  arrived = 0
  expired = 0

  constructor(private readonly limits: ReplicaWaitLimits) {}

  /**
   * The blob's shadow once the replica has one predicting `version` or later; undefined when
   * none arrives within the wait (the caller then asks the bucket).
   */
  until(id: string, version: number): Promise<Shadow | undefined> {
    if (this.count >= this.limits.maxWaiters) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const list = this.waiters.get(id)
      const w: Waiter = { version, deadlineMs: Date.now() + this.limits.waitMs, resolve }
      if (list === undefined) this.waiters.set(id, [w])
      else list.push(w)
      this.count++
      this.timer ??= setInterval(() => this.expire(Date.now()), Math.max(1, Math.ceil(this.limits.waitMs / 4))).unref()
    })
  }

  /** The replica changed a blob's shadow (called by its watch); true if a waiter got it. */
  changed(id: string, s: Shadow | undefined): boolean {
    if (s === undefined) return false
    const list = this.waiters.get(id)
    if (list === undefined) return false
    const rest = list.filter((w) => {
      if (s.predicted < w.version) return true
      this.arrived++
      w.resolve(s)
      return false
    })
    this.settle(id, list.length - rest.length, rest)
    return rest.length < list.length
  }

  private expire(nowMs: number): void {
    for (const [id, list] of this.waiters) {
      const rest = list.filter((w) => {
        if (w.deadlineMs > nowMs) return true
        this.expired++
        w.resolve(undefined)
        return false
      })
      this.settle(id, list.length - rest.length, rest)
    }
  }

  private settle(id: string, ended: number, rest: Waiter[]): void {
    this.count -= ended
    if (rest.length === 0) this.waiters.delete(id)
    else if (ended > 0) this.waiters.set(id, rest)
    if (this.count === 0 && this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  /** Ends every wait (the service stops). */
  stop(): void {
    this.expire(Number.POSITIVE_INFINITY)
  }
}
