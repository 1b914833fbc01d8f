/**
 * The simulator's fault knobs and the fault plan a seed draws from them. Scenario faults
 * map onto the same mechanisms: `kill-nats` is a window without a stream leader (appends
 * fail fast) that also loses the memory shadow bucket, `pause-nats` holds every message
 * until it ends, `kill-service` crashes the service (all actors dropped) and restarts it.
 */
import type { Rng } from "../generators/rng.ts"
import type { Fault } from "../scenario.ts"
import type { AttemptFault } from "./memory-event-store.ts"

export interface FaultKnobs {
  /** Per publish attempt: stored, but the ack never arrives. */
  readonly ackLostRate: number
  /** Per publish attempt: the attempt times out and the message is stored afterwards. */
  readonly lateCommitRate: number
  /** Per message: an extra delay of up to `slowDelayMs`. */
  readonly slowRate: number
  readonly slowDelayMs: number
  readonly networkDelayMs: { readonly min: number; readonly max: number }
  /** Extra faults drawn at random times in the run, on top of the scenario's own. */
  readonly randomCrashes: number
  readonly randomNoLeader: number
  readonly randomPauses: number
}

export const NO_FAULTS: FaultKnobs = {
  ackLostRate: 0,
  lateCommitRate: 0,
  slowRate: 0,
  slowDelayMs: 0,
  networkDelayMs: { min: 0.05, max: 0.5 },
  randomCrashes: 0,
  randomNoLeader: 0,
  randomPauses: 0,
}

export const DEFAULT_FAULTS: FaultKnobs = {
  ackLostRate: 0.02,
  lateCommitRate: 0.02,
  slowRate: 0.01,
  slowDelayMs: 200,
  networkDelayMs: { min: 0.05, max: 1 },
  randomCrashes: 1,
  randomNoLeader: 1,
  randomPauses: 1,
}

export interface PlannedFault {
  readonly kind: "kill-service" | "no-leader" | "pause"
  readonly label: string
  readonly startMs: number
  readonly endMs: number
}

const fromScenario = (f: Fault): PlannedFault => {
  const start = f.atSec * 1000
  switch (f.kind) {
    case "kill-nats":
      return { kind: "no-leader", label: "kill NATS", startMs: start, endMs: start + f.restartAfterSec * 1000 }
    case "pause-nats":
      return { kind: "pause", label: "pause NATS", startMs: start, endMs: start + f.durationSec * 1000 }
    case "kill-service":
      return { kind: "kill-service", label: `kill ${f.service}`, startMs: start, endMs: start + f.restartAfterSec * 1000 }
  }
}

/**
 * Random faults start between 10% and 50% of the run and last 50–500 ms of virtual time,
 * so the run goes on long enough after each one to show that the system recovered.
 */
const random = (rng: Rng, kind: PlannedFault["kind"], durationMs: number): PlannedFault => {
  const startMs = durationMs * (0.1 + 0.4 * rng.nextFloat())
  const label = kind === "kill-service" ? "crash blob service" : kind === "no-leader" ? "no stream leader" : "pause NATS"
  return { kind, label, startMs, endMs: startMs + 50 + rng.nextInt(450) }
}

export const planFaults = (scenarioFaults: ReadonlyArray<Fault>, knobs: FaultKnobs, rng: Rng, durationMs: number): PlannedFault[] => {
  const planned = scenarioFaults.filter((f) => f.kind !== "kill-service" || f.service === "blob-service").map(fromScenario)
  for (let i = 0; i < knobs.randomCrashes; i++) planned.push(random(rng, "kill-service", durationMs))
  for (let i = 0; i < knobs.randomNoLeader; i++) planned.push(random(rng, "no-leader", durationMs))
  for (let i = 0; i < knobs.randomPauses; i++) planned.push(random(rng, "pause", durationMs))
  return planned.sort((a, b) => a.startMs - b.startMs)
}

export const activeAt = (plan: ReadonlyArray<PlannedFault>, kind: PlannedFault["kind"], atMs: number): PlannedFault | undefined =>
  plan.find((f) => f.kind === kind && f.startMs <= atMs && atMs < f.endMs)

export const attemptFault = (knobs: FaultKnobs, rng: Rng, noLeader: boolean): AttemptFault => {
  if (noLeader) return "no-leader"
  const u = rng.nextFloat()
  if (u < knobs.ackLostRate) return "ack-lost"
  if (u < knobs.ackLostRate + knobs.lateCommitRate) return "late-commit"
  return "none"
}

export const messageDelayMs = (knobs: FaultKnobs, rng: Rng): number => {
  const base = knobs.networkDelayMs.min + rng.nextFloat() * (knobs.networkDelayMs.max - knobs.networkDelayMs.min)
  return rng.nextFloat() < knobs.slowRate ? base + rng.nextFloat() * knobs.slowDelayMs : base
}
