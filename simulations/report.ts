/**
 * The report of a run as raw figures (`report.json`): the HTML and terminal renderers read
 * only this, so a report can be re-rendered, diffed or compared between runs later.
 * Rates are `null` when their denominator was zero (no reads, no settled predictions):
 * a 0% hit rate and "nothing to measure" must not look alike.
 */
import { type CheckReport, describeViolation } from "./checkers/index.ts"
import type { LatencySummary } from "./latency.ts"

export const REPORT_SCHEMA_VERSION = 1

export interface ReportMeta {
  readonly scenario: string
  readonly description: string
  readonly seed: number
  readonly mode: "live" | "simulated"
  readonly startedAt: string
  readonly durationSec: number
  readonly warmupSec: number
  /** Width of every over-time bucket. */
  readonly bucketSec: number
  readonly offeredOps: number
  readonly completedOps: number
  /** The driver could not send on schedule: figures describe an overloaded run, not the system's capacity. */
  readonly saturated: boolean
  readonly maxSendLagMs: number
  /** The command that reproduces this run (seeded simulator runs especially). */
  readonly replayCommand: string
}

export interface FaultPeriod {
  readonly kind: string
  readonly label: string
  readonly startSec: number
  readonly endSec: number
}

export interface ThroughputBucket {
  readonly tSec: number
  readonly ok: number
  readonly conflict: number
  readonly notFound: number
  readonly fail: number
  readonly indeterminate: number
}

export interface ThroughputSection {
  readonly buckets: ReadonlyArray<ThroughputBucket>
  readonly totals: Omit<ThroughputBucket, "tSec">
}

export interface KeyConflicts {
  /** 1 = the key with the most writes. */
  readonly rank: number
  readonly key: string
  readonly writes: number
  readonly conflicts: number
}

export interface ConflictsSection {
  readonly total: number
  readonly byKeyRank: ReadonlyArray<KeyConflicts>
}

export interface ShadowBucket {
  readonly tSec: number
  /** Reads that allowed a shadow. */
  readonly reads: number
  readonly shadowServed: number
  readonly hitRate: number | null
}

export interface DecileHitRate {
  /** 1 = the tenth of keys read most often. */
  readonly decile: number
  readonly reads: number
  readonly hitRate: number | null
}

export interface ShadowSection {
  readonly hitRate: number | null
  readonly overTime: ReadonlyArray<ShadowBucket>
  readonly byKeyDecile: ReadonlyArray<DecileHitRate>
}

export interface ExactnessBucket {
  readonly tSec: number
  readonly shadowServed: number
  /** Shadow-served reads equal to the primary's content at the moment of serving. */
  readonly exact: number
  readonly stale: number
}

export interface ExactnessSection {
  readonly servedExactness: number | null
  readonly shadowServed: number
  readonly staleReads: number
  readonly overTime: ReadonlyArray<ExactnessBucket>
}

export interface PredictionBucket {
  readonly tSec: number
  readonly settled: number
  readonly confirmed: number
  readonly writes: number
  readonly covered: number
  readonly precision: number | null
  readonly coverage: number | null
}

export interface PredictionSection {
  readonly precision: number | null
  readonly coverage: number | null
  /** Expected calibration error over 10 bins (DESIGN.md "Measures"). */
  readonly calibrationError: number | null
  readonly overTime: ReadonlyArray<PredictionBucket>
  /** Why the figures are missing, when they are (e.g. no predictor ran). */
  readonly note?: string
}

export interface CheckSummary {
  readonly checker: string
  readonly ok: boolean
  readonly checked: number
  /** The first few violations, in words. */
  readonly violations: ReadonlyArray<string>
}

export interface ChecksSection {
  readonly ok: boolean
  readonly firstViolation: string | null
  readonly results: ReadonlyArray<CheckSummary>
}

export interface Report {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION
  readonly meta: ReportMeta
  readonly faults: ReadonlyArray<FaultPeriod>
  readonly throughput: ThroughputSection
  readonly latency: LatencySummary
  readonly conflicts: ConflictsSection
  readonly shadow: ShadowSection
  readonly exactness: ExactnessSection
  readonly prediction: PredictionSection
  readonly checks: ChecksSection
}

/** The sections every report must have, for tests and for readers checking a file. */
export const REPORT_SECTIONS = [
  "meta", "faults", "throughput", "latency", "conflicts", "shadow", "exactness", "prediction", "checks",
] as const satisfies ReadonlyArray<keyof Report>

export const ratio = (numerator: number, denominator: number): number | null =>
  denominator === 0 ? null : numerator / denominator

/** The checkers' verdicts in report form: violations in words, first one named. */
export const checksSection = (report: CheckReport): ChecksSection => ({
  ok: report.ok,
  firstViolation: report.firstViolation ?? null,
  results: report.results.map((r) => ({
    checker: r.checker,
    ok: r.ok,
    checked: r.checked,
    violations: r.violations.map(describeViolation),
  })),
})
