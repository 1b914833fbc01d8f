/**
 * The end of a run, live or simulated: mark the retries the service deduplicated, judge
 * every shadow-served read against the primary, run the checkers, and build the report.
 */
import { type CheckReport, runCheckers } from "./checkers/index.ts"
import { buildReport } from "./build-report.ts"
import { judgeShadowReads, type ServedRead, type VersionFact } from "./exactness.ts"
import type { FinalHistories, Operation } from "./history.ts"
import type { LatencySummary } from "./latency.ts"
import type { FaultPeriod, PredictionSection, Report } from "./report.ts"
import type { Expectation, Scenario } from "./scenario.ts"

/** A version of a blob's final history as `blob.cmd.history` lists it. */
export interface FinalVersion extends VersionFact {
  readonly timeMs?: number
  readonly idempotencyKey?: string
}

export type FinalFacts = ReadonlyMap<string, ReadonlyArray<FinalVersion>>

/**
 * A retry acknowledged with a version the stream stored *before the retry was sent* was
 * answered from the earlier attempt's append: the service deduplicated it. Times compare the
 * event's time with the attempt's start, both read from this host's clock (live) or the
 * virtual clock (simulated); `clockOffsetMs` maps the run's clock to event times.
 */
export const markDeduplicated = (ops: ReadonlyArray<Operation>, finals: FinalFacts, clockOffsetMs: number): Operation[] => {
  const attempts = new Map<string, number>()
  return ops.map((op) => {
    if (op.idempotencyKey === undefined) return op
    const key = `${op.blobId}\u0000${op.idempotencyKey}`
    const n = (attempts.get(key) ?? 0) + 1
    attempts.set(key, n)
    if (n < 2 || op.outcome._tag !== "Ok") return op
    const v = op.outcome.version
    const stored = finals.get(op.blobId)?.find((f) => f.version === v)
    const earlier = stored?.timeMs !== undefined && stored.timeMs < op.startMs + clockOffsetMs
    return earlier && stored?.idempotencyKey === op.idempotencyKey ? { ...op, outcome: { ...op.outcome, deduplicated: true } } : op
  })
}

const recoveredAfter = (ops: ReadonlyArray<Operation>, faults: ReadonlyArray<FaultPeriod>): boolean =>
  faults.length > 0 && faults.every((f) => ops.some((op) => op.outcome._tag === "Ok" && op.startMs >= f.endSec * 1000))

export interface FinishInput {
  readonly scenario: Scenario
  readonly mode: "live" | "simulated"
  readonly startedAt: string
  readonly replayCommand: string
  readonly operations: ReadonlyArray<Operation>
  readonly finals: FinalFacts
  readonly clockOffsetMs: number
  readonly endMs: number
  readonly latency: LatencySummary
  readonly offeredOps: number
  readonly completedOps: number
  readonly saturated: boolean
  readonly maxSendLagMs: number
  readonly faults: ReadonlyArray<FaultPeriod>
  readonly prediction?: PredictionSection
  /** Echo runs measure the driver alone: their answers are not Umbra's, so nothing is checked. */
  readonly skipChecks?: boolean
}

export interface Finished {
  readonly report: Report
  readonly checks: CheckReport
  readonly served: ReadonlyArray<ServedRead>
  readonly operations: ReadonlyArray<Operation>
}

export const finishRun = (i: FinishInput): Finished => {
  const operations = markDeduplicated(i.operations, i.finals, i.clockOffsetMs)
  const served = judgeShadowReads(operations, i.finals)
  const observed = new Set<Expectation>()
  if (served.some((r) => r.stale)) observed.add("stale-read")
  if (recoveredAfter(operations, i.faults)) observed.add("fault-recovered")
  const finalHistories: FinalHistories = i.finals
  const checks =
    i.skipChecks === true
      ? runCheckers({ operations: [], finalHistories: new Map(), expect: [], endMs: i.endMs })
      : runCheckers({ operations, finalHistories, expect: i.scenario.expect, observedByRunner: observed, endMs: i.endMs })
  const report = buildReport({
    scenario: i.scenario,
    mode: i.mode,
    startedAt: i.startedAt,
    replayCommand: i.replayCommand,
    bucketSec: 1,
    operations,
    latency: i.latency,
    offeredOps: i.offeredOps,
    completedOps: i.completedOps,
    saturated: i.saturated,
    maxSendLagMs: i.maxSendLagMs,
    faults: i.faults,
    served,
    checks,
    ...(i.prediction === undefined ? {} : { prediction: i.prediction }),
  })
  return { report, checks, served, operations }
}

/**
 * The preload (YCSB's load phase) runs before the measured run's time 0 but is recorded on
 * the run's clock as it goes; once it is over, its operations are moved to negative times,
 * so the measured run starts at 0 and the order of every operation is kept.
 */
export const shiftPreload = (ops: ReadonlyArray<Operation>, firstMeasuredId: number, shiftMs: number): Operation[] =>
  ops.map((op) =>
    op.id >= firstMeasuredId
      ? op
      : { ...op, intendedMs: op.intendedMs - shiftMs, startMs: op.startMs - shiftMs, endMs: op.endMs - shiftMs },
  )
