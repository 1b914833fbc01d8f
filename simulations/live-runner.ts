/**
 * `umbra simulate` against the real system over NATS: the stack it starts itself (a
 * nats-server and the blob service as a child process) or the one behind `NATS_URL`.
 * The run is judged from facts: every attempt's verdict is in the history, each touched
 * blob's final stream history is read back, shadow-served reads are judged against the
 * primary (see `exactness.ts`), and the checkers run before the report is written.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import type { NatsConnection } from "@nats-io/nats-core"
import { connectNats } from "../infra/connection.ts"
import type { ClientContext, RunClock } from "./client.ts"
import { drive, newDriverStats, preload, type DriverStats } from "./driver.ts"
import { finishRun, shiftPreload, type FinalFacts, type Finished } from "./finish-run.ts"
import { makeRng } from "./generators/rng.ts"
import { makeHistoryRecorder, type Operation } from "./history.ts"
import { makeLatencyRecorder, type LatencyRecorder } from "./latency.ts"
import { scheduleFaults } from "./live/faults.ts"
import { fetchFinalHistories } from "./live/final-histories.ts"
import { makeProgress } from "./live/progress.ts"
import { startLiveStack, type LiveStack } from "./live/stack.ts"
import { natsTransport } from "./live/transport.ts"
import { renderHtmlReport, renderTerminalSummary } from "./report-html.ts"
import { maxOperationMs, withDuration, type Scenario } from "./scenario.ts"
import { makeValueSource } from "./values.ts"
import { makeWorkload } from "./workload.ts"

export interface LiveOptions {
  readonly natsUrl?: string
  readonly outDir: string
  readonly durationSec?: number
  /** Progress lines (one a second) and notes; stderr from the CLI. */
  readonly onProgress: (line: string) => void
  /** Drive the echo service instead of Umbra: measures the driver's own capacity; nothing is checked. */
  readonly echo?: boolean
  /** How the scenario was named on the command line, for the replay command. */
  readonly scenarioArg?: string
}

export interface LiveResult extends Finished {
  readonly outDir: string
  readonly summary: string
  readonly exitCode: number
  readonly stats: DriverStats
}

const SUBJECTS = "blob.cmd"
// A run that falls this far behind its schedule is saturated even if every op was sent.
const SATURATION_LAG_MS = 250

export const liveReplayCommand = (scenario: Scenario, o: LiveOptions): string =>
  `npx tsx simulations/simulate-main.ts ${o.scenarioArg ?? scenario.name} --seed ${scenario.seed} --duration ${scenario.durationSec}` +
  (o.echo === true ? " --echo" : "")

/** Keys of this run get their own prefix, so a run against a long-lived store starts from absent blobs. */
const ownKeys = (s: Scenario, runTag: string): Scenario => ({ ...s, keys: { ...s.keys, prefix: `${runTag}/${s.keys.prefix}` } })

/** The run's clock live: ms since `base` (moved to now when the measured run starts after a preload). */
export const wallClock = (): RunClock & { base: number } => {
  const c = {
    base: performance.now(),
    now: (): number => performance.now() - c.base,
    sleep: (ms: number) => sleep(ms),
    yieldToIo: () => new Promise<void>((resolve) => setImmediate(resolve)),
  }
  return c
}

/** How busy this process was while driving: with an idle core left, the driver was not the bottleneck. */
const driverCpuLine = (cpu: NodeJS.CpuUsage, wallMs: number, completed: number): string => {
  const cpuMs = (cpu.user + cpu.system) / 1000
  const perOpUs = completed === 0 ? 0 : (cpuMs * 1000) / completed
  return `driver CPU ${(cpuMs / 1000).toFixed(1)} s over ${(wallMs / 1000).toFixed(1)} s (${((100 * cpuMs) / wallMs).toFixed(0)}% of a core), ${perOpUs.toFixed(1)} µs per operation`
}

const touchedBlobs = (ops: ReadonlyArray<Operation>): string[] => [...new Set(ops.map((op) => op.blobId))].sort()

interface Measured {
  readonly operations: Operation[]
  readonly endMs: number
  readonly clockOffsetMs: number
  readonly faults: ReturnType<ReturnType<typeof scheduleFaults>["periods"]>
}

const measure = async (
  scenario: Scenario, stack: LiveStack, nc: NatsConnection, o: LiveOptions, latency: LatencyRecorder, stats: DriverStats,
): Promise<Measured> => {
  const rng = makeRng(scenario.seed)
  const clock = wallClock()
  const history = makeHistoryRecorder()
  const progress = makeProgress(stats, o.onProgress)
  const ctx: ClientContext = {
    scenario, transport: natsTransport(nc), clock, history, values: makeValueSource(scenario.valueShape, scenario.seed),
    knowledge: new Map(), rng: rng.fork(), idPrefix: `live${Date.now().toString(36)}`, keyCounter: { value: 0 },
    subjectPrefix: SUBJECTS, onOutcome: progress.outcome,
  }
  const workload = makeWorkload(scenario, rng.fork())
  if (scenario.keys.preload) {
    o.onProgress(`preloading ${scenario.keys.count} keys`)
    await preload(ctx, workload, 128)
  }
  const preloadMs = clock.now()
  const firstMeasuredId = history.events().filter((e) => e.type === "invoke").length
  clock.base = performance.now()
  const faults = scheduleFaults(scenario.faults, stack, clock.now, o.onProgress)
  const recorder: LatencyRecorder = {
    record: (s) => {
      progress.latency(s.endMs - s.intendedMs)
      latency.record(s)
    },
    summary: latency.summary,
  }
  progress.start(() => clock.now() / 1000)
  const cpuBefore = process.cpuUsage()
  await drive({ ctx, workload, latency: recorder, rng: rng.fork(), stats, drainMs: maxOperationMs(scenario.client) })
  progress.stop()
  o.onProgress(driverCpuLine(process.cpuUsage(cpuBefore), clock.now(), stats.completed))
  o.onProgress(`send lag: up to ${stats.warmupSendLagMs.toFixed(1)} ms in warm-up, ${stats.maxSendLagMs.toFixed(1)} ms after; ${stats.notSent} not sent`)
  faults.cancel()
  await faults.settled()
  const endMs = clock.now()
  return {
    operations: shiftPreload(history.operations(endMs), firstMeasuredId, preloadMs),
    endMs,
    clockOffsetMs: Date.now() - performance.now() + clock.base,
    faults: faults.periods(),
  }
}

const writeReport = async (outDir: string, r: Finished): Promise<void> => {
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, "report.json"), JSON.stringify(r.report, null, 2) + "\n")
  await writeFile(join(outDir, "report.html"), renderHtmlReport(r.report))
}

export const runLive = async (input: Scenario, o: LiveOptions): Promise<LiveResult> => {
  const runTag = `run-${Date.now().toString(36)}`
  const scenario = ownKeys(o.durationSec === undefined ? input : withDuration(input, o.durationSec), runTag)
  const stack = await startLiveStack({ ...(o.natsUrl === undefined ? {} : { natsUrl: o.natsUrl }), echo: o.echo === true })
  const nc = await connectNats({ servers: stack.url, name: "umbra-simulate" })
  try {
    const latency = makeLatencyRecorder(1)
    const stats = newDriverStats()
    const startedAt = new Date().toISOString()
    const m = await measure(scenario, stack, nc, o, latency, stats)
    const readBack = o.echo === true ? "the echo stores nothing to read back" : `reading back ${touchedBlobs(m.operations).length} histories`
    o.onProgress(`run over: ${stats.completed} operations; ${readBack}`)
    const finals: FinalFacts = o.echo === true ? new Map() : await fetchFinalHistories(natsTransport(nc), SUBJECTS, touchedBlobs(m.operations))
    const checkStartMs = performance.now()
    const finished = finishRun({
      scenario: o.echo === true ? { ...scenario, expect: [], description: `[echo service: driver capacity only, nothing checked] ${scenario.description}` } : scenario,
      mode: "live", startedAt, replayCommand: liveReplayCommand(input, o),
      operations: m.operations, finals, skipChecks: o.echo === true, clockOffsetMs: m.clockOffsetMs, endMs: m.endMs, latency: latency.summary(),
      offeredOps: stats.offered, completedOps: stats.completed,
      saturated: stats.notSent > 0 || stats.maxSendLagMs > SATURATION_LAG_MS, maxSendLagMs: stats.maxSendLagMs, faults: m.faults,
    })
    // The checkers' own cost is worth seeing: the linearizability search can explode on hot keys.
    o.onProgress(`checked and reported in ${(performance.now() - checkStartMs).toFixed(0)} ms`)
    await writeReport(o.outDir, finished)
    const summary = renderTerminalSummary(finished.report)
    return { ...finished, outDir: o.outDir, summary, exitCode: finished.checks.ok ? 0 : 1, stats }
  } finally {
    await nc.close().catch(() => {})
    await stack.stop()
  }
}
