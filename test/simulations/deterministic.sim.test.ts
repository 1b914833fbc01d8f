import * as E from "fp-ts/lib/Either.js"
import { beforeAll, describe, expect, it } from "vitest"
import { loadScenario, type Scenario } from "../../simulations/scenario.ts"
import { DEFAULT_FAULTS } from "../../simulations/sim/faults.ts"
import { runSimulation, type SimResult } from "../../simulations/sim/run-sim.ts"

// The deterministic simulator (FoundationDB/TigerBeetle style): the real blob actor and
// domain on virtual time with faults drawn from a seed. Seeds are shrunk (fewer clients,
// a few virtual seconds) so fifty of them fit in CI on two cores.

let storm: Scenario

const shrunk = (s: Scenario, seed: number): Scenario => ({
  ...s,
  seed,
  durationSec: 3,
  warmupSec: 0,
  arrival: { mode: "closed", clients: 16, thinkTimeMs: 2 },
  phases: [],
  faults: [{ kind: "pause-nats", atSec: 1.5, durationSec: 0.3 }],
  // Conflicts are certain at this load; a deduplicated retry is checked across all seeds below.
  expect: ["conflict", "fault-recovered"],
})

const failureText = (r: SimResult): string =>
  `seed ${r.report.meta.seed}: ${r.checks.firstViolation ?? "?"}\nreplay: ${r.replayCommand}`

beforeAll(async () => {
  const loaded = await loadScenario("simulations/scenarios/hot-key-storm.yaml")
  if (E.isLeft(loaded)) throw new Error("hot-key-storm.yaml does not load")
  storm = loaded.right
})

describe("deterministic simulator", () => {
  it("gives the same trace hash for the same seed, and another for another seed", async () => {
    const a = await runSimulation(shrunk(storm, 42))
    const b = await runSimulation(shrunk(storm, 42))
    const c = await runSimulation(shrunk(storm, 43))
    expect(a.traceLength).toBeGreaterThan(100)
    expect(b.traceHash).toBe(a.traceHash)
    expect(c.traceHash).not.toBe(a.traceHash)
    expect(JSON.stringify(b.report.throughput)).toBe(JSON.stringify(a.report.throughput))
  })

  it("passes every checker on 50 seeds of the hot-key storm with faults", async () => {
    const failures: string[] = []
    let dedup = 0
    let indeterminate = 0
    for (let seed = 1; seed <= 50; seed++) {
      const r = await runSimulation(shrunk(storm, seed), { knobs: DEFAULT_FAULTS, scenarioArg: "simulations/scenarios/hot-key-storm.yaml" })
      if (!r.checks.ok) failures.push(failureText(r))
      if (r.operations.some((op) => op.outcome._tag === "Ok" && op.outcome.deduplicated === true)) dedup++
      indeterminate += r.report.throughput.totals.indeterminate
      expect(r.report.faults.length).toBeGreaterThanOrEqual(4)
    }
    expect(failures, failures.join("\n\n")).toEqual([])
    // The faults must actually bite: outcomes were unknown and retries were deduplicated.
    expect(indeterminate).toBeGreaterThan(50)
    expect(dedup).toBeGreaterThan(5)
  })

  it("prints a replay command that names the seed", async () => {
    const r = await runSimulation(shrunk(storm, 7), { scenarioArg: "simulations/scenarios/hot-key-storm.yaml" })
    expect(r.replayCommand).toContain("--sim --seed 7")
    expect(r.replayCommand).toContain("hot-key-storm.yaml")
  })
})
