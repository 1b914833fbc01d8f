/**
 * When operations are meant to be sent. Open loop (wrk2's method): the schedule is fixed
 * in advance by the rate, independent of how fast the system answers, so a slow response
 * cannot delay the next send and hide itself (coordinated omission); latency is measured
 * from these intended times. Closed loop is described separately: there each client waits
 * for its answer, then thinks, which is honest only about a fixed client population.
 */
import type { Rng } from "./generators/rng.ts"
import type { Arrival, ArrivalProcess, Phase, Scenario } from "./scenario.ts"

/** A stretch of the run at one open-loop rate. */
export interface RateSegment {
  readonly startMs: number
  readonly endMs: number
  readonly ratePerSec: number
}

/** Rate segments covering [0, durationSec), from the base rate and the phases' changes. */
export const rateSegments = (ratePerSec: number, phases: ReadonlyArray<Phase>, durationSec: number): RateSegment[] => {
  const endMs = durationSec * 1000
  const changes = phases
    .filter((p): p is Phase & { readonly ratePerSec: number } => p.ratePerSec !== undefined && p.atSec * 1000 < endMs)
    .map((p) => ({ atMs: p.atSec * 1000, ratePerSec: p.ratePerSec }))
  const starts = [{ atMs: 0, ratePerSec }, ...changes.filter((c) => c.atMs > 0)]
  if (changes[0]?.atMs === 0) starts[0] = changes[0]
  return starts.map((s, i) => ({ startMs: s.atMs, endMs: starts[i + 1]?.atMs ?? endMs, ratePerSec: s.ratePerSec }))
}

/**
 * Intended send times (ms from the run's start), lazily: a long run at a high rate must not
 * hold millions of timestamps. Poisson gaps restart at a rate change, which is exact since
 * the exponential distribution is memoryless; constant arrivals restart on the boundary.
 */
export function* intendedSendTimesMs(
  process: ArrivalProcess,
  segments: ReadonlyArray<RateSegment>,
  rng: Rng,
): Generator<number, void, undefined> {
  for (const segment of segments) {
    if (segment.ratePerSec <= 0) continue
    const ratePerMs = segment.ratePerSec / 1000
    let t = segment.startMs + (process === "poisson" ? rng.exponential(ratePerMs) : 0)
    let sent = 0
    while (t < segment.endMs) {
      yield t
      sent++
      // Constant arrivals are computed from the count, so float error does not accumulate.
      t = process === "poisson" ? t + rng.exponential(ratePerMs) : segment.startMs + sent / ratePerMs
    }
  }
}

/** The open-loop schedule of a scenario; undefined for a closed-loop scenario. */
export const openLoopSchedule = (scenario: Scenario, rng: Rng): Generator<number, void, undefined> | undefined => {
  const arrival = scenario.arrival
  if (arrival.mode !== "open") return undefined
  return intendedSendTimesMs(arrival.process, rateSegments(arrival.ratePerSec, scenario.phases, scenario.durationSec), rng)
}

/** Expected number of operations of an open-loop run (for progress bars and pre-sizing). */
export const expectedOperationCount = (segments: ReadonlyArray<RateSegment>): number =>
  segments.reduce((sum, s) => sum + ((s.endMs - s.startMs) / 1000) * s.ratePerSec, 0)

/** A closed-loop population from some time on. */
export interface ClientStep {
  readonly atMs: number
  readonly clients: number
  readonly thinkTimeMs: number
}

export interface ClosedLoopPlan {
  readonly mode: "closed"
  /** Sorted by time; the first step is at 0. */
  readonly steps: ReadonlyArray<ClientStep>
  /** The most clients ever active, for sizing the driver. */
  readonly peakClients: number
}

export const closedLoopPlan = (arrival: Arrival & { readonly mode: "closed" }, phases: ReadonlyArray<Phase>): ClosedLoopPlan => {
  const steps: ClientStep[] = [{ atMs: 0, clients: arrival.clients, thinkTimeMs: arrival.thinkTimeMs }]
  for (const phase of phases) {
    const previous = steps[steps.length - 1] ?? { clients: arrival.clients, thinkTimeMs: arrival.thinkTimeMs }
    const step = {
      atMs: phase.atSec * 1000,
      clients: phase.clients ?? previous.clients,
      thinkTimeMs: phase.thinkTimeMs ?? previous.thinkTimeMs,
    }
    if (step.atMs === 0) steps[0] = step
    else steps.push(step)
  }
  return { mode: "closed", steps, peakClients: Math.max(...steps.map((s) => s.clients)) }
}

/** The closed-loop population in force at `atMs`. */
export const clientStepAt = (plan: ClosedLoopPlan, atMs: number): ClientStep => {
  let current = plan.steps[0] ?? { atMs: 0, clients: 0, thinkTimeMs: 0 }
  for (const step of plan.steps) if (step.atMs <= atMs) current = step
  return current
}

/**
 * A client's next intended send after its previous answer: think time is exponential
 * around the mean (closed-loop YCSB uses fixed waits; a distribution avoids lock-step
 * clients all firing on the same tick). Zero think time means send immediately.
 */
export const nextClosedLoopSendMs = (answeredAtMs: number, thinkTimeMs: number, rng: Rng): number =>
  thinkTimeMs <= 0 ? answeredAtMs : answeredAtMs + rng.exponential(1 / thinkTimeMs)
