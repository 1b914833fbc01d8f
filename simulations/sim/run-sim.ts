/**
 * A scenario run in one process on virtual time (FoundationDB / TigerBeetle VOPR style):
 * the real blob actor machine and domain behind a simulated network, a memory event store
 * and shadow store, one seeded random source, and the fault plan it draws. The trace
 * (every invoke, answer, commit and fault, in order) is hashed: the same seed gives the
 * same hash, and a failing seed is replayed with the command it prints.
 */
import { createHash } from "node:crypto"
import type { TransportReply, Transport, ClientContext } from "../client.ts"
import { drive, newDriverStats, preload } from "../driver.ts"
import { finishRun, shiftPreload, type FinalFacts, type Finished } from "../finish-run.ts"
import { makeRng, type Rng } from "../generators/rng.ts"
import { makeHistoryRecorder, type HistoryRecorder, type Outcome } from "../history.ts"
import { makeLatencyRecorder } from "../latency.ts"
import type { FaultPeriod } from "../report.ts"
import { maxOperationMs, type Scenario } from "../scenario.ts"
import { makeValueSource } from "../values.ts"
import { makeWorkload } from "../workload.ts"
import { activeAt, attemptFault, DEFAULT_FAULTS, messageDelayMs, planFaults, type FaultKnobs, type PlannedFault } from "./faults.ts"
import { MemoryEventStore } from "./memory-event-store.ts"
import { makeScheduler, type Scheduler } from "./scheduler.ts"
import { SimService, type SimServiceConfig } from "./sim-service.ts"

export interface SimOptions {
  readonly knobs?: FaultKnobs
  readonly service?: Partial<SimServiceConfig>
  /** How the scenario was named on the command line, for the replay command. */
  readonly scenarioArg?: string
  readonly knobsName?: string
}

export interface SimResult extends Finished {
  readonly traceHash: string
  readonly traceLength: number
  readonly replayCommand: string
}

const SERVICE_DEFAULTS: SimServiceConfig = {
  idleMs: 2_000,
  headRetries: 16,
  appendDeadlineMs: 1_500,
  appendAttemptTimeoutMs: 250,
  inlineLimitBytes: 256 * 1024,
  defaultMinConfidence: 0.9,
  conflictConfidence: 0.5,
  shadowDelayMs: 0.5,
  epochMs: 1_700_000_000_000,
}

export const replayCommandFor = (scenario: Scenario, o: SimOptions): string =>
  `npx tsx simulations/simulate-main.ts ${o.scenarioArg ?? scenario.name} --sim --seed ${scenario.seed} --duration ${scenario.durationSec}` +
  (o.knobsName === undefined ? "" : ` --faults ${o.knobsName}`)

const outcomeText = (o: Outcome): string =>
  o._tag === "Ok" ? `ok v${o.version} ${o.digest.slice(7, 19)} ${o.source ?? ""}` : o._tag === "Conflict" ? `conflict ${o.currentVersion}` : o._tag === "Fail" ? `fail ${o.code}` : o._tag === "Indeterminate" ? `indeterminate ${o.reason}` : "not-found"

/** The recorder, writing every invoke and answer to the trace as it happens. */
const tracing = (inner: HistoryRecorder, trace: string[], now: () => number): HistoryRecorder => ({
  ...inner,
  invoke: (inv) => {
    const id = inner.invoke(inv)
    trace.push(`${now()} invoke ${id} c${inv.client} ${inv.kind} ${inv.blobId} e${inv.expectedVersion ?? "-"} ${inv.idempotencyKey ?? ""}`)
    return id
  },
  complete: (id, atMs, outcome) => {
    trace.push(`${now()} complete ${id} ${outcomeText(outcome)}`)
    inner.complete(id, atMs, outcome)
  },
})

interface World {
  readonly sched: Scheduler
  readonly store: MemoryEventStore
  readonly service: SimService
  readonly plan: ReadonlyArray<PlannedFault>
  readonly trace: string[]
  base: number
}

const runNow = (w: World): number => w.sched.now() - w.base

/** Messages sent during a pause wait for its end, as a stopped server's socket buffers do. */
const deliveryDelay = (w: World, knobs: FaultKnobs, rng: Rng): number => {
  const pause = activeAt(w.plan, "pause", runNow(w))
  return (pause === undefined ? 0 : pause.endMs - runNow(w)) + messageDelayMs(knobs, rng)
}

const makeNetwork = (w: World, knobs: FaultKnobs, rng: Rng): Transport => ({
  request: (subject, body, headers, timeoutMs) =>
    new Promise<TransportReply>((resolve) => {
      let done = false
      const finish = (r: TransportReply): void => {
        if (done) return
        done = true
        w.sched.cancel(timer)
        resolve(r)
      }
      const timer = w.sched.after(timeoutMs, () => finish({ _tag: "Timeout" }))
      w.sched.after(deliveryDelay(w, knobs, rng), () => {
        if (!w.service.up) return void w.sched.after(messageDelayMs(knobs, rng), () => finish({ _tag: "NoResponders" }))
        w.service.handle(subject, body, headers).then(
          (r) => r !== undefined && void w.sched.after(deliveryDelay(w, knobs, rng), () => finish(r)),
          (e: unknown) => finish({ _tag: "Broken", reason: `service failed: ${String(e)}` }),
        )
      })
    }),
})

const scheduleFaults = (w: World): void => {
  for (const f of w.plan) {
    w.sched.after(w.base + f.startMs - w.sched.now(), () => {
      w.trace.push(`${runNow(w)} fault-start ${f.kind}`)
      if (f.kind === "kill-service") w.service.crash()
      if (f.kind === "no-leader" && f.label === "kill NATS") w.service.loseShadows()
    })
    w.sched.after(w.base + f.endMs - w.sched.now(), () => {
      w.trace.push(`${runNow(w)} fault-end ${f.kind}`)
      if (f.kind === "kill-service") w.service.restart()
    })
  }
}

const makeWorld = (scenario: Scenario, knobs: FaultKnobs, rng: Rng, o: SimOptions): World => {
  const sched = makeScheduler()
  const trace: string[] = []
  const plan = planFaults(scenario.faults, knobs, rng.fork(), scenario.durationSec * 1000)
  const storeRng = rng.fork()
  let w: World | undefined
  const base = (): number => w?.base ?? 0
  const store = new MemoryEventStore(
    {
      now: sched.now,
      sleep: sched.sleep,
      attemptFault: () => attemptFault(knobs, storeRng, activeAt(plan, "no-leader", sched.now() - base()) !== undefined),
      latencyMs: () => (w === undefined ? 0 : deliveryDelay(w, knobs, storeRng) * 2),
      onCommit: (s) => trace.push(`${sched.now() - base()} commit ${s.seq} ${s.event.id} v${s.event.version} ${s.event.digest.slice(7, 19)}`),
    },
    { duplicateWindowMs: 120_000 },
  )
  const service = new SimService(store, sched, { ...SERVICE_DEFAULTS, ...o.service })
  w = { sched, trace, plan, store, service, base: 0 }
  return w
}

const finalFacts = (store: MemoryEventStore, epochMs: number, base: number): FinalFacts => {
  const out = new Map<string, ReturnType<FinalFacts["get"]> & object>()
  for (const [id, events] of store.subjects()) {
    out.set(
      id,
      events.map((s) => ({
        version: s.event.version,
        digest: s.event.digest,
        op: s.event.op,
        timeMs: s.event.timeMs - epochMs - base,
        ...(s.event.idempotencyKey === undefined ? {} : { idempotencyKey: s.event.idempotencyKey }),
      })),
    )
  }
  return out
}

const faultPeriods = (plan: ReadonlyArray<PlannedFault>): FaultPeriod[] =>
  plan.map((f) => ({ kind: f.kind, label: f.label, startSec: f.startMs / 1000, endSec: f.endMs / 1000 }))

/** Runs `scenario` (its seed, its duration) in the simulator and judges it. */
export const runSimulation = async (scenario: Scenario, o: SimOptions = {}): Promise<SimResult> => {
  const knobs = o.knobs ?? DEFAULT_FAULTS
  const rng = makeRng(scenario.seed)
  const w = makeWorld(scenario, knobs, rng, o)
  const clock = { now: () => runNow(w), sleep: w.sched.sleep }
  const history = tracing(makeHistoryRecorder(), w.trace, clock.now)
  const ctx: ClientContext = {
    scenario, transport: makeNetwork(w, knobs, rng.fork()), clock, history,
    values: makeValueSource(scenario.valueShape, scenario.seed), knowledge: new Map(), rng: rng.fork(),
    idPrefix: `sim${scenario.seed}`, keyCounter: { value: 0 }, subjectPrefix: "blob.cmd",
  }
  const workload = makeWorkload(scenario, rng.fork())
  const latency = makeLatencyRecorder(1)
  const stats = newDriverStats()
  const driveRng = rng.fork()
  const epochMs = SERVICE_DEFAULTS.epochMs
  const run = async (): Promise<{ firstMeasuredId: number; preloadMs: number }> => {
    if (scenario.keys.preload) await preload(ctx, workload, 64)
    const preloadMs = runNow(w)
    w.base = w.sched.now()
    scheduleFaults(w)
    const firstMeasuredId = history.events().filter((e) => e.type === "invoke").length
    await drive({ ctx, workload, latency, rng: driveRng, stats, drainMs: maxOperationMs(scenario.client) })
    return { firstMeasuredId, preloadMs }
  }
  let finished: { firstMeasuredId: number; preloadMs: number } | undefined
  void run().then((r) => (finished = r))
  const horizonMs = (scenario.durationSec + 600) * 1000
  while (finished === undefined && w.sched.pending() > 0 && w.sched.now() < horizonMs) await w.sched.runUntil(w.sched.now() + 1_000)
  const endMs = runNow(w)
  const operations = shiftPreload(history.operations(endMs), finished?.firstMeasuredId ?? 0, finished?.preloadMs ?? 0)
  const replayCommand = replayCommandFor(scenario, o)
  const result = finishRun({
    scenario, mode: "simulated", startedAt: new Date(epochMs).toISOString(), replayCommand, operations,
    finals: finalFacts(w.store, epochMs, w.base), clockOffsetMs: 0, endMs, latency: latency.summary(),
    offeredOps: stats.offered, completedOps: stats.completed, saturated: stats.notSent > 0, maxSendLagMs: stats.maxSendLagMs,
    faults: faultPeriods(w.plan),
  })
  const traceHash = createHash("sha256").update(w.trace.join("\n")).digest("hex")
  return { ...result, traceHash, traceLength: w.trace.length, replayCommand }
}
