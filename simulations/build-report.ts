/**
 * The report of a run from its facts: the history (every attempt and its verdict), the
 * latency recorder, the judged shadow reads and the checkers' verdicts. Shared by the live
 * runner and the deterministic simulator, so both report the same figures the same way.
 */
import type { CheckReport } from "./checkers/index.ts"
import type { ServedRead } from "./exactness.ts"
import { isModifying, type Operation } from "./history.ts"
import type { LatencySummary } from "./latency.ts"
import {
  checksSection,
  type ConflictsSection,
  type DecileHitRate,
  type ExactnessSection,
  type FaultPeriod,
  type PredictionSection,
  ratio,
  REPORT_SCHEMA_VERSION,
  type Report,
  type ShadowSection,
  type ThroughputBucket,
  type ThroughputSection,
} from "./report.ts"
import type { Scenario } from "./scenario.ts"

export interface ReportInput {
  readonly scenario: Scenario
  readonly mode: "live" | "simulated"
  readonly startedAt: string
  readonly replayCommand: string
  readonly bucketSec: number
  /** Every attempt, as recorded (retries not merged: each attempt is load the system saw). */
  readonly operations: ReadonlyArray<Operation>
  readonly latency: LatencySummary
  readonly offeredOps: number
  readonly completedOps: number
  readonly saturated: boolean
  readonly maxSendLagMs: number
  readonly faults: ReadonlyArray<FaultPeriod>
  readonly served: ReadonlyArray<ServedRead>
  readonly checks: CheckReport
  /** Absent: no predictor or reconciler figures exist for this run. */
  readonly prediction?: PredictionSection
}

// Longest tail of key ranks worth drawing; the rest is summed into the total.
const MAX_KEY_RANKS = 50

const bucketOf = (ms: number, bucketSec: number): number => Math.floor(ms / 1000 / bucketSec) * bucketSec

/** Counts per time bucket; operations before the measured run (preload) are left out. */
const perBucket = <T>(bucketSec: number, fresh: (tSec: number) => T) => {
  const buckets = new Map<number, T>()
  const at = (ms: number): T | undefined => {
    if (ms < 0) return undefined
    const t = bucketOf(ms, bucketSec)
    let b = buckets.get(t)
    if (b === undefined) buckets.set(t, (b = fresh(t)))
    return b
  }
  const sorted = (): T[] => [...buckets.entries()].sort(([a], [b]) => a - b).map(([, v]) => v)
  return { at, sorted }
}

type MutableBucket = { -readonly [K in keyof ThroughputBucket]: ThroughputBucket[K] }

const throughput = (ops: ReadonlyArray<Operation>, bucketSec: number): ThroughputSection => {
  const b = perBucket<MutableBucket>(bucketSec, (tSec) => ({ tSec, ok: 0, conflict: 0, notFound: 0, fail: 0, indeterminate: 0 }))
  const totals = { ok: 0, conflict: 0, notFound: 0, fail: 0, indeterminate: 0 }
  for (const op of ops) {
    const field = (
      { Ok: "ok", Conflict: "conflict", NotFound: "notFound", Fail: "fail", Indeterminate: "indeterminate" } as const
    )[op.outcome._tag]
    totals[field]++
    const bucket = b.at(op.endMs)
    if (bucket !== undefined) bucket[field]++
  }
  return { buckets: b.sorted(), totals }
}

const conflicts = (ops: ReadonlyArray<Operation>): ConflictsSection => {
  const perKey = new Map<string, { writes: number; conflicts: number }>()
  let total = 0
  for (const op of ops) {
    if (!isModifying(op)) continue
    const k = perKey.get(op.blobId) ?? { writes: 0, conflicts: 0 }
    k.writes++
    if (op.outcome._tag === "Conflict") {
      k.conflicts++
      total++
    }
    perKey.set(op.blobId, k)
  }
  const ranked = [...perKey.entries()].sort(([ka, a], [kb, b]) => b.writes - a.writes || ka.localeCompare(kb))
  return {
    total,
    byKeyRank: ranked.slice(0, MAX_KEY_RANKS).map(([key, k], i) => ({ rank: i + 1, key, ...k })),
  }
}

/** Reads that allowed a shadow and got an answer (content or not-found). */
const shadowEligible = (op: Operation): boolean =>
  op.kind === "read" && op.consistency === "shadow" && (op.outcome._tag === "Ok" || op.outcome._tag === "NotFound")

const servedFromShadow = (op: Operation): boolean => op.outcome._tag === "Ok" && op.outcome.source === "shadow"

const byKeyDecile = (reads: ReadonlyArray<Operation>): DecileHitRate[] => {
  const perKey = new Map<string, { reads: number; hits: number }>()
  for (const op of reads) {
    const k = perKey.get(op.blobId) ?? { reads: 0, hits: 0 }
    k.reads++
    if (servedFromShadow(op)) k.hits++
    perKey.set(op.blobId, k)
  }
  const ranked = [...perKey.values()].sort((a, b) => b.reads - a.reads)
  const deciles = Array.from({ length: 10 }, () => ({ reads: 0, hits: 0 }))
  ranked.forEach((k, i) => {
    const d = deciles[Math.floor((i * 10) / ranked.length)]
    if (d === undefined) return
    d.reads += k.reads
    d.hits += k.hits
  })
  return deciles.map((d, i) => ({ decile: i + 1, reads: d.reads, hitRate: ratio(d.hits, d.reads) })).filter((d) => d.reads > 0)
}

const shadow = (ops: ReadonlyArray<Operation>, bucketSec: number): ShadowSection => {
  const reads = ops.filter(shadowEligible)
  const b = perBucket(bucketSec, (tSec) => ({ tSec, reads: 0, shadowServed: 0 }))
  for (const op of reads) {
    const bucket = b.at(op.endMs)
    if (bucket === undefined) continue
    bucket.reads++
    if (servedFromShadow(op)) bucket.shadowServed++
  }
  const hits = reads.filter(servedFromShadow).length
  return {
    hitRate: ratio(hits, reads.length),
    overTime: b.sorted().map((x) => ({ ...x, hitRate: ratio(x.shadowServed, x.reads) })),
    byKeyDecile: byKeyDecile(reads),
  }
}

const exactness = (served: ReadonlyArray<ServedRead>, bucketSec: number): ExactnessSection => {
  const b = perBucket(bucketSec, (tSec) => ({ tSec, shadowServed: 0, exact: 0, stale: 0 }))
  for (const r of served) {
    const bucket = b.at(r.atMs)
    if (bucket === undefined) continue
    bucket.shadowServed++
    if (r.exact) bucket.exact++
    if (r.stale) bucket.stale++
  }
  const exact = served.filter((r) => r.exact).length
  return {
    servedExactness: ratio(exact, served.length),
    shadowServed: served.length,
    staleReads: served.filter((r) => r.stale).length,
    overTime: b.sorted(),
  }
}

export const NO_PREDICTION: PredictionSection = {
  precision: null,
  coverage: null,
  calibrationError: null,
  overTime: [],
  note: "no predictor or reconciler ran during this run: precision and coverage are not measured",
}

export const buildReport = (i: ReportInput): Report => ({
  schemaVersion: REPORT_SCHEMA_VERSION,
  meta: {
    scenario: i.scenario.name,
    description: i.scenario.description,
    seed: i.scenario.seed,
    mode: i.mode,
    startedAt: i.startedAt,
    durationSec: i.scenario.durationSec,
    warmupSec: i.scenario.warmupSec,
    bucketSec: i.bucketSec,
    offeredOps: i.offeredOps,
    completedOps: i.completedOps,
    saturated: i.saturated,
    maxSendLagMs: i.maxSendLagMs,
    replayCommand: i.replayCommand,
  },
  faults: i.faults,
  throughput: throughput(i.operations, i.bucketSec),
  latency: i.latency,
  conflicts: conflicts(i.operations),
  shadow: shadow(i.operations, i.bucketSec),
  exactness: exactness(i.served, i.bucketSec),
  prediction: i.prediction ?? NO_PREDICTION,
  checks: checksSection(i.checks),
})
