// Which predictions leave the process, and when. Pure (time is passed in), so the limits
// can be tested without NATS.
//
// - Coalescing: one pending prediction per blob; a newer one replaces it. A predictor
//   catching up on a backlog therefore emits each blob's latest prediction, not a burst of
//   stale ones the monotonic rule would refuse anyway.
// - Per blob: at most one emission per `blobIntervalMs`; a prediction that must wait stays
//   pending (and may still be replaced by a newer one).
// - In total: a token bucket of `perSec` tokens a second, holding at most one second's worth.
// - Bounded: past `maxPending`, the oldest pending prediction is dropped.

export interface EmissionLimits {
  readonly perSec: number
  readonly blobIntervalMs: number
  readonly maxPending: number
  /** Blobs whose last emission time is remembered; older entries are forgotten first. */
  readonly maxRemembered: number
}

export interface EmissionCounters {
  queued: number
  coalesced: number
  droppedFull: number
  deferredBlob: number
  deferredTotal: number
  released: number
}

export class EmissionQueue<T extends { readonly id: string }> {
  readonly counters: EmissionCounters = { queued: 0, coalesced: 0, droppedFull: 0, deferredBlob: 0, deferredTotal: 0, released: 0 }
  private readonly pending = new Map<string, T>()
  private readonly lastEmitMs = new Map<string, number>()
  private tokens: number
  private refilledAtMs: number

  constructor(
    private readonly limits: EmissionLimits,
    nowMs: number,
  ) {
    this.tokens = limits.perSec
    this.refilledAtMs = nowMs
  }

  get size(): number {
    return this.pending.size
  }

  offer(item: T): void {
    this.counters.queued++
    if (this.pending.delete(item.id)) this.counters.coalesced++
    this.pending.set(item.id, item)
    if (this.pending.size <= this.limits.maxPending) return
    const oldest = this.pending.keys().next()
    if (oldest.done !== true) this.pending.delete(oldest.value)
    this.counters.droppedFull++
  }

  /** Removes and returns up to `max` predictions the limits allow now, oldest first. */
  take(nowMs: number, max: number): T[] {
    this.refill(nowMs)
    const out: T[] = []
    for (const [id, item] of this.pending) {
      if (out.length >= max) break
      if (this.tokens < 1) {
        this.counters.deferredTotal++
        break
      }
      const last = this.lastEmitMs.get(id)
      if (last !== undefined && nowMs - last < this.limits.blobIntervalMs) {
        this.counters.deferredBlob++
        continue
      }
      this.pending.delete(id)
      this.remember(id, nowMs)
      this.tokens -= 1
      out.push(item)
    }
    this.counters.released += out.length
    return out
  }

  private refill(nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs)
    this.tokens = Math.min(this.limits.perSec, this.tokens + (elapsedMs * this.limits.perSec) / 1_000)
    this.refilledAtMs = nowMs
  }

  private remember(id: string, nowMs: number): void {
    this.lastEmitMs.delete(id)
    this.lastEmitMs.set(id, nowMs)
    if (this.lastEmitMs.size <= this.limits.maxRemembered) return
    const oldest = this.lastEmitMs.keys().next()
    if (oldest.done !== true) this.lastEmitMs.delete(oldest.value)
  }
}
