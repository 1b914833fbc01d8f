import * as hdr from "hdr-histogram-js"
import { expectedCalibrationError, type Outcome } from "../../domain/predictor/ece.ts"
import type { SagaStage } from "../../domain/machines/reconciler-saga.ts"
import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"

// The reconciler's own figures, reported in `$SRV.STATS` of the `umbra-reconciler` micro
// service and by its `metrics` endpoint. Verdicts are counted only when their record was new
// (not a duplicate), so the figures of several reconcilers add up without double counting.
// Definitions follow DESIGN.md "Measures everyone uses the same way".

const OUTCOMES_KEPT = 10_000

export interface ReconcilerCounters {
  events: number
  eventsRedelivered: number
  malformedEvents: number
  /** Events that arrived before the replica had the shadow of their version (a KV get each). */
  catchUps: number
  eventFailures: number
  created: number
  /** `<kind>:<reason>` → fresh verdict records. */
  verdicts: Record<string, number>
  duplicates: number
  failures: Record<SagaStage, number>
  predictionsSettled: number
  predictionsConfirmed: number
  /** Events whose resulting state a valid prediction already held before they happened. */
  coveredWrites: number
  servedButWrongShadows: number
  servedButWrongReads: number
  sweeps: number
  sweepSettlements: number
  lastSweepMs: number
  maxSweepMs: number
  numPending: number
  numAckPending: number
}

export class ReconcilerMetrics {
  readonly c: ReconcilerCounters = {
    events: 0,
    eventsRedelivered: 0,
    malformedEvents: 0,
    catchUps: 0,
    eventFailures: 0,
    created: 0,
    verdicts: {},
    duplicates: 0,
    failures: { load: 0, applyVerdict: 0, record: 0 },
    predictionsSettled: 0,
    predictionsConfirmed: 0,
    coveredWrites: 0,
    servedButWrongShadows: 0,
    servedButWrongReads: 0,
    sweeps: 0,
    sweepSettlements: 0,
    lastSweepMs: 0,
    maxSweepMs: 0,
    numPending: 0,
    numAckPending: 0,
  }
  /** Microseconds from the event's arrival in the stream to its last verdict recorded. */
  private readonly latencyUs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 })
  private readonly sweepMs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 2 })
  private outcomes: Outcome[] = []

  verdict(e: ShadowLifecycleEvent): void {
    const key = `${e.kind}:${e.reason ?? "none"}`
    this.c.verdicts[key] = (this.c.verdicts[key] ?? 0) + 1
    if (e.correct === false && (e.served ?? 0) > 0) {
      this.c.servedButWrongShadows++
      this.c.servedButWrongReads += e.served ?? 0
    }
    if (e.origin !== "prediction" || e.correct === undefined) return
    this.c.predictionsSettled++
    if (e.correct) this.c.predictionsConfirmed++
    this.outcomes.push({ confidence: e.confidence, correct: e.correct })
    if (this.outcomes.length > 2 * OUTCOMES_KEPT) this.outcomes = this.outcomes.slice(-OUTCOMES_KEPT)
  }

  latency(ms: number): void {
    this.latencyUs.recordValue(Math.max(1, Math.round(ms * 1_000)))
  }

  sweep(ms: number): void {
    this.c.sweeps++
    this.c.lastSweepMs = ms
    this.c.maxSweepMs = Math.max(this.c.maxSweepMs, ms)
    this.sweepMs.recordValue(Math.max(1, Math.round(ms)))
  }

  latencyMs(): { count: number; p50: number; p99: number; max: number } {
    const h = this.latencyUs
    return { count: h.totalCount, p50: h.getValueAtPercentile(50) / 1_000, p99: h.getValueAtPercentile(99) / 1_000, max: h.maxValue / 1_000 }
  }

  snapshot(): Record<string, unknown> {
    const c = this.c
    const recent = this.outcomes.slice(-OUTCOMES_KEPT)
    return {
      ...c,
      verdicts: { ...c.verdicts },
      failures: { ...c.failures },
      predictionPrecision: c.predictionsSettled === 0 ? null : c.predictionsConfirmed / c.predictionsSettled,
      coverage: c.events === 0 ? null : c.coveredWrites / c.events,
      calibrationEce: recent.length === 0 ? null : expectedCalibrationError(recent, 10),
      headToVerdictMs: this.latencyMs(),
      sweepMsP50: this.sweepMs.totalCount === 0 ? null : this.sweepMs.getValueAtPercentile(50),
    }
  }
}
