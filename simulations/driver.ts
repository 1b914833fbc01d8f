/**
 * The load driver, on any run clock (wall clock live, virtual in the simulator).
 *
 * Open loop (wrk2): every operation has an intended send time fixed in advance by the
 * arrival process; the driver never waits for answers before sending the next one, and
 * latency counts from the intended time. When `maxInFlight` operations are outstanding an
 * operation is *not sent* and counted: the run is then saturated, and says so, instead of
 * quietly slowing down to what the system can take (coordinated omission).
 *
 * Closed loop: a fixed population of logical clients (phases may change it), each sending
 * its next operation after the previous answer and a think time. Clients are promises, not
 * threads: thousands share one event loop.
 */
import { clientStepAt, closedLoopPlan, nextClosedLoopSendMs, openLoopSchedule } from "./arrival.ts"
import { runStep, type ClientContext } from "./client.ts"
import type { Rng } from "./generators/rng.ts"
import type { LatencyRecorder } from "./latency.ts"
import type { Workload } from "./workload.ts"

export interface DriverStats {
  offered: number
  completed: number
  notSent: number
  inFlight: number
  /** How late the driver sent, over the measured run (after warm-up, like latency). */
  maxSendLagMs: number
  /** The same during warm-up: the driver's own cold start (JIT) shows here, not hidden. */
  warmupSendLagMs: number
}

export interface DriverInput {
  readonly ctx: ClientContext
  readonly workload: Workload
  readonly latency: LatencyRecorder
  /** The schedule's own random stream (arrival gaps, think times). */
  readonly rng: Rng
  readonly stats: DriverStats
  /** Stop waiting for outstanding operations this long after the end. */
  readonly drainMs: number
  /**
   * Ends the run before the scenario's end: no operation is sent once it fires, and those
   * outstanding (retries included) are waited for as after the end. For a caller that runs
   * a steady load for as long as something else takes (a fault, in the fault suite).
   */
  readonly stop?: AbortSignal
}

export const newDriverStats = (): DriverStats => ({ offered: 0, completed: 0, notSent: 0, inFlight: 0, maxSendLagMs: 0, warmupSendLagMs: 0 })

const warmupMs = (d: DriverInput): number => d.ctx.scenario.warmupSec * 1000

const stopped = (d: DriverInput): boolean => d.stop?.aborted === true

/** The clock's sleep, cut short by the stop signal if there is one. */
const sleepUnlessStopped = (d: DriverInput, ms: number): Promise<void> => {
  const stop = d.stop
  if (stop === undefined) return d.ctx.clock.sleep(ms)
  if (stop.aborted) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stop.removeEventListener("abort", done)
      resolve()
    }
    stop.addEventListener("abort", done)
    void d.ctx.clock.sleep(ms).then(done)
  })
}

const noteSendLag = (d: DriverInput, intendedMs: number, lagMs: number): void => {
  if (intendedMs >= warmupMs(d)) d.stats.maxSendLagMs = Math.max(d.stats.maxSendLagMs, lagMs)
  else d.stats.warmupSendLagMs = Math.max(d.stats.warmupSendLagMs, lagMs)
}

const runOne = async (d: DriverInput, client: number, intendedMs: number): Promise<number> => {
  const step = d.workload.next()
  d.stats.inFlight++
  const timing = await runStep(d.ctx, step, client, intendedMs)
  d.stats.inFlight--
  d.stats.completed++
  if (intendedMs >= warmupMs(d)) d.latency.record({ intendedMs, startMs: timing.startMs, endMs: timing.endMs })
  return timing.endMs
}

/**
 * Ops sent back to back before answers get a turn. A driver that fell behind (a cold start,
 * a pause of its process) would otherwise send its whole backlog in one go while the
 * answers to it wait unread, and count its own backlog as the system's in-flight limit.
 */
const SEND_BURST = 128

const driveOpen = async (d: DriverInput, endMs: number): Promise<void> => {
  const { ctx, stats } = d
  const schedule = openLoopSchedule(ctx.scenario, d.rng)
  if (schedule === undefined) return
  let client = 0
  let burst = 0
  for (let next = schedule.next(); !next.done; ) {
    const intendedMs = next.value
    // After the sleep the op is due: re-reading the clock and sleeping again could spin on
    // float rounding (virtual time) or a timer firing a fraction early (wall clock).
    if (intendedMs > ctx.clock.now()) {
      burst = 0
      await sleepUnlessStopped(d, intendedMs - ctx.clock.now())
    } else if (++burst >= SEND_BURST && ctx.clock.yieldToIo !== undefined) {
      burst = 0
      await ctx.clock.yieldToIo()
    }
    const now = ctx.clock.now()
    if (now >= endMs || stopped(d)) break
    stats.offered++
    noteSendLag(d, intendedMs, now - intendedMs)
    if (stats.inFlight >= ctx.scenario.maxInFlight) stats.notSent++
    else void runOne(d, client++, intendedMs)
    next = schedule.next()
  }
}

const closedClient = async (d: DriverInput, client: number, endMs: number): Promise<void> => {
  const { ctx, stats } = d
  const plan = closedLoopPlan(ctx.scenario.arrival as Extract<typeof ctx.scenario.arrival, { mode: "closed" }>, ctx.scenario.phases)
  let intendedMs = ctx.clock.now()
  while (ctx.clock.now() < endMs && !stopped(d)) {
    const now = ctx.clock.now()
    const step = clientStepAt(plan, now)
    if (client >= step.clients) {
      const change = plan.steps.find((s) => s.atMs > now)?.atMs ?? endMs
      await sleepUnlessStopped(d, Math.max(1, change - now))
      intendedMs = ctx.clock.now()
      continue
    }
    if (intendedMs > now) await sleepUnlessStopped(d, intendedMs - now)
    if (ctx.clock.now() >= endMs || stopped(d)) break
    stats.offered++
    noteSendLag(d, intendedMs, ctx.clock.now() - intendedMs)
    const answeredMs = await runOne(d, client, intendedMs)
    intendedMs = nextClosedLoopSendMs(answeredMs, step.thinkTimeMs, d.rng)
  }
}

/** Drives the measured run from the clock's 0 to the scenario's end (or the stop), then waits for stragglers. */
export const drive = async (d: DriverInput): Promise<void> => {
  const scenario = d.ctx.scenario
  const endMs = scenario.durationSec * 1000
  if (scenario.arrival.mode === "open") await driveOpen(d, endMs)
  else {
    const plan = closedLoopPlan(scenario.arrival, scenario.phases)
    await Promise.all(Array.from({ length: plan.peakClients }, (_, i) => closedClient(d, i, endMs)))
  }
  const now = d.ctx.clock.now()
  if (now < endMs && !stopped(d)) await sleepUnlessStopped(d, endMs - now)
  const deadline = (stopped(d) ? Math.min(endMs, d.ctx.clock.now()) : endMs) + d.drainMs
  while (d.stats.inFlight > 0 && d.ctx.clock.now() < deadline) await d.ctx.clock.sleep(10)
}

/** YCSB's load phase: every initial key written once, `concurrency` at a time; not measured. */
export const preload = async (ctx: ClientContext, workload: Workload, concurrency: number): Promise<void> => {
  const keys = workload.initialKeys()
  let next = 0
  const worker = async (client: number): Promise<void> => {
    for (let i = next++; i < keys.length; i = next++) {
      const step = keys[i]
      if (step !== undefined) await runStep(ctx, step, client, ctx.clock.now())
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, (_, c) => worker(-1 - c)))
}
