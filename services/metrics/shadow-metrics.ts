import { Counter, Gauge, Histogram, type Registry } from "prom-client"
import type { ShadowLifecycleEvent, VerdictReason } from "../../domain/shadow-lifecycle.ts"
import { CALIBRATION_BINS, calibrationBin, VERDICT_BUCKETS_S } from "./buckets.ts"
import { BoundedLabel, oneOf } from "./labels.ts"

// Prediction and reconciliation metrics. The process that records a shadow lifecycle event
// (the reconciler for verdicts, the predictor for creations) calls `lifecycle(event)` once
// per event it stored: every figure below is derived from that one call, so two processes
// never count the same verdict and Prometheus can simply sum over instances.
//
// How the DESIGN.md measures are computed from these series (see monitoring/):
//   precision   = confirmed / (confirmed + updated + discarded)   of umbra_predictions_settled_total
//   exactness   = 1 - umbra_shadow_served_wrong_total / umbra_reads_total{source="shadow"}
//   calibration = sum_bin |confidence_sum - correct| / sum_bin outcomes  (ECE, 10 bins)

const VERDICTS = ["confirmed", "updated", "discarded"] as const
type Verdict = (typeof VERDICTS)[number]
const REASONS: ReadonlyArray<VerdictReason> = [
  "matches-head",
  "predicted-write-arrived",
  "obsolete-hot",
  "wrong-content",
  "obsolete-cold",
  "conflict-never-landed",
  "valid-from-expired",
  "evicted",
]
const ORIGINS = ["prediction", "write", "conflict"] as const

/**
 * Whether the shadow's content was right: the reconciler's own judgement when the event
 * carries one; otherwise read from the verdict. Undefined = unknown (an eviction, say,
 * tells nothing about the prediction), and unknown outcomes stay out of calibration.
 */
const outcome = (e: ShadowLifecycleEvent): boolean | undefined => {
  if (e.correct !== undefined) return e.correct
  if (e.kind === "confirmed") return true
  if (e.reason === "wrong-content" || e.reason === "valid-from-expired" || e.reason === "conflict-never-landed") return false
  return undefined
}

/** Model names are few (one per predictor component); a cap keeps a bug from adding series. */
const MAX_MODELS = 32

export class ShadowMetrics {
  private readonly models = new BoundedLabel(MAX_MODELS)
  private readonly emitted: Counter<"model">
  private readonly served: Counter<"model">
  private readonly settled: Counter<"model" | "verdict" | "reason">
  private readonly verdicts: Counter<"origin" | "verdict" | "reason">
  private readonly servedWrong: Counter<"origin">
  private readonly outcomes: Counter<"model" | "bin" | "outcome">
  private readonly confidence: Counter<"model" | "bin">
  private readonly calibrated = new Set<string>()
  private readonly lag: Gauge
  private readonly pending: Gauge
  private readonly verdictLatency: Histogram

  constructor(registry: Registry) {
    const registers = [registry]
    this.emitted = new Counter({ name: "umbra_predictions_emitted_total", help: "Predicted shadows created, by model.", labelNames: ["model"], registers })
    this.served = new Counter({
      name: "umbra_predictions_served_total",
      help: "Reads answered from predicted shadows, by model (counted when the shadow is settled).",
      labelNames: ["model"],
      registers,
    })
    this.settled = new Counter({
      name: "umbra_predictions_settled_total",
      help: "Predicted shadows settled by the reconciler, by model, verdict (confirmed, updated, discarded) and reason.",
      labelNames: ["model", "verdict", "reason"],
      registers,
    })
    this.verdicts = new Counter({
      name: "umbra_shadow_verdicts_total",
      help: "Reconciler verdicts on shadows of every origin (prediction, write, conflict).",
      labelNames: ["origin", "verdict", "reason"],
      registers,
    })
    this.servedWrong = new Counter({
      name: "umbra_shadow_served_wrong_total",
      help: "Reads served from a shadow the reconciler judged wrong (its content never became the primary's).",
      labelNames: ["origin"],
      registers,
    })
    this.outcomes = new Counter({
      name: "umbra_prediction_calibration_outcomes_total",
      help: "Settled predictions by confidence bin (lower edge, width 0.1) and outcome (correct = confirmed).",
      labelNames: ["model", "bin", "outcome"],
      registers,
    })
    this.confidence = new Counter({
      name: "umbra_prediction_calibration_confidence_total",
      help: "Sum of the confidences of settled predictions per bin: with the outcomes, gives the expected calibration error.",
      labelNames: ["model", "bin"],
      registers,
    })
    this.lag = new Gauge({ name: "umbra_reconciler_lag_seconds", help: "Age of the newest primary event the reconciler has processed.", registers })
    this.pending = new Gauge({ name: "umbra_reconciler_pending_events", help: "Primary events waiting for the reconciler.", registers })
    this.verdictLatency = new Histogram({
      name: "umbra_reconciler_verdict_duration_seconds",
      help: "Time from the primary event (or sweep) that triggered a verdict to the verdict being recorded.",
      buckets: VERDICT_BUCKETS_S,
      registers,
    })
    for (const o of ORIGINS) this.servedWrong.inc({ origin: o }, 0)
  }

  /** One stored shadow lifecycle event (call only when the record was not a duplicate). */
  lifecycle(e: ShadowLifecycleEvent): void {
    const origin = oneOf(ORIGINS, e.origin)
    if (e.kind === "created") {
      if (origin === "prediction") this.emitted.inc({ model: this.models.of(e.model) })
      return
    }
    const verdict = oneOf(VERDICTS, e.kind) as Verdict | "other"
    const reason = oneOf(REASONS, e.reason)
    this.verdicts.inc({ origin, verdict, reason })
    const served = e.served !== undefined && e.served > 0 ? e.served : 0
    const correct = outcome(e)
    if (served > 0 && correct === false) this.servedWrong.inc({ origin }, served)
    if (origin !== "prediction") return
    const model = this.models.of(e.model)
    this.settled.inc({ model, verdict, reason })
    if (served > 0) this.served.inc({ model }, served)
    if (correct !== undefined) this.calibration(model, e.confidence, correct)
  }

  /** A prediction created by a process that does not record lifecycle events itself. */
  predictionEmitted(model: string): void {
    this.emitted.inc({ model: this.models.of(model) })
  }

  reconcilerLag(seconds: number, pendingEvents?: number): void {
    this.lag.set(Math.max(0, seconds))
    if (pendingEvents !== undefined) this.pending.set(pendingEvents)
  }

  verdictRecorded(seconds: number): void {
    this.verdictLatency.observe(Math.max(0, seconds))
  }

  private calibration(model: string, confidence: number, correct: boolean): void {
    this.zeroCalibration(model)
    const bin = calibrationBin(confidence)
    this.outcomes.inc({ model, bin, outcome: correct ? "correct" : "wrong" })
    this.confidence.inc({ model, bin }, Number.isFinite(confidence) ? Math.min(1, Math.max(0, confidence)) : 0)
  }

  // ECE subtracts per-bin series: a bin with no correct outcome must read 0, not be missing.
  private zeroCalibration(model: string): void {
    if (this.calibrated.has(model)) return
    this.calibrated.add(model)
    for (const bin of CALIBRATION_BINS) {
      this.confidence.inc({ model, bin }, 0)
      for (const outcome of ["correct", "wrong"]) this.outcomes.inc({ model, bin, outcome }, 0)
    }
  }
}
