import { setTimeout as sleep } from "node:timers/promises"
import type { BlobId } from "../../domain/blob-id.ts"
import type { Shadow } from "../../domain/shadow.ts"
import type { ShadowReplica } from "../../infra/shadow-replica.ts"
import type { ReconcilerSettings } from "../config.ts"
import type { KeyedQueue } from "./keyed-queue.ts"
import type { ReconcilerMetrics } from "./metrics.ts"
import type { SettleRequest, Settler } from "./settler.ts"
import type { ShadowTracker } from "./tracker.ts"

// The periodic driver: catches what no event will, mostly predictions whose valid-from passed
// without their write, and revisions an event could not settle (seen after a restart, or
// before their event was known). Every shadow is first checked against what this process
// already knows, without I/O; only those whose verdict could change cost a settlement (a
// leader get of the head, perhaps a CAS put and a record), started at a bounded rate in
// bounded batches so a sweep never starves the event-driven work.

export interface SweepDeps {
  readonly replica: ShadowReplica
  readonly tracker: ShadowTracker
  readonly settler: Settler
  readonly queue: KeyedQueue
  readonly metrics: ReconcilerMetrics
  readonly settings: ReconcilerSettings
}

/**
 * Whether a revision not yet judged may get its outcome from a sweep now (pure: what this
 * process knows). Its valid-from + grace passed; or the head reached its version and the
 * event of that version had its chance (`ageMs` past the ack wait: settled by whichever
 * reconciler got it, or redelivered), so a sweep does not race the event-driven verdict.
 */
export const unjudgedNeedsSettling = (s: Shadow, knownHead: number | undefined, ageMs: number, o: { nowMs: number; graceMs: number; ackWaitMs: number }): boolean =>
  o.nowMs >= s.validFromMs + o.graceMs || (knownHead !== undefined && knownHead >= s.predicted && ageMs > o.ackWaitMs)

/** Whether the current shadow may get a new verdict now. */
export const currentNeedsSettling = (
  s: Shadow,
  judged: boolean,
  knownHead: number | undefined,
  ageMs: number,
  o: { nowMs: number; graceMs: number; ackWaitMs: number },
): boolean => {
  if (s.status !== "live") return false
  if (!judged) return unjudgedNeedsSettling(s, knownHead, ageMs, o)
  return knownHead !== undefined && knownHead > s.predicted
}

export class Sweeper {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false

  constructor(private readonly d: SweepDeps) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return
      this.running = this.sweep().finally(() => {
        this.running = undefined
        if (!this.stopped) this.timer = setTimeout(tick, this.d.settings.sweepIntervalMs).unref()
      })
    }
    this.timer = setTimeout(tick, this.d.settings.sweepIntervalMs).unref()
  }

  /** One pass over every shadow; resolves when its settlements are done. */
  async sweep(): Promise<void> {
    const started = Date.now()
    const work = this.candidates(started)
    const { sweepBatch, sweepRatePerSec } = this.d.settings
    const minBatchMs = (1_000 * sweepBatch) / Math.max(1, sweepRatePerSec)
    for (let i = 0; i < work.length && !this.stopped; i += sweepBatch) {
      const batchStarted = Date.now()
      await Promise.all(work.slice(i, i + sweepBatch).map((r) => this.settle(r)))
      const rest = minBatchMs - (Date.now() - batchStarted)
      if (this.stopped) break
      if (rest > 0 && i + sweepBatch < work.length) await sleep(rest)
    }
    this.d.metrics.sweep(Date.now() - started)
  }

  private candidates(nowMs: number): SettleRequest[] {
    const { tracker, replica, settings } = this.d
    const out: SettleRequest[] = []
    const o = { nowMs, graceMs: settings.graceMs, ackWaitMs: settings.ackWaitMs }
    for (const s of replica.entries()) {
      const judged = tracker.isJudged(s.id, s.shadowVersion)
      if (!currentNeedsSettling(s, judged, tracker.headVersion(s.id), nowMs - tracker.seenAt(s.id, s.shadowVersion, nowMs), o)) continue
      out.push({ id: s.id, revision: s.shadowVersion, mode: judged ? "freshness" : "outcome", trigger: undefined })
    }
    for (const p of [...tracker.allPending()]) {
      const s = p.shadow
      if (replica.get(s.id)?.shadowVersion === s.shadowVersion) continue
      if (nowMs - p.seenMs > settings.pendingMaxAgeMs) tracker.forget(s.id, s.shadowVersion)
      else if (unjudgedNeedsSettling(s, tracker.headVersion(s.id), nowMs - p.seenMs, o))
        out.push({ id: s.id as BlobId, revision: s.shadowVersion, mode: "outcome", trigger: undefined })
    }
    return out
  }

  private async settle(r: SettleRequest): Promise<void> {
    try {
      await this.d.queue.run(r.id, () => this.d.settler.settle(r))
      this.d.metrics.c.sweepSettlements++
    } catch {
      // counted by the settler; the next sweep tries again
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.running
  }
}
