import { describe, expect, it } from "vitest"
import type { CaseResult } from "../../bench/harness.ts"
import { budgetLines, computeTargets, cpuBudget } from "../../bench/report.ts"

// The bench states, for each throughput target, what it leaves the service's CPU per operation
// once the driver and nats-server have taken theirs (bench/report.ts, `cpuBudget`).

const measured = (opsPerSec: number, cpuUsPerOp: Record<string, number>): CaseResult => ({
  cpuUsPerOp,
  opsPerSec,
  p50Us: 1_000,
  p99Us: 2_000,
  p999Us: 3_000,
  concurrency: 64,
  errors: 0,
  runs: [],
})

const cases = {
  "thin-write-256B@64": measured(12_000, { driver: 34, "nats-server": 38, "thin-write": 44, "blob-service": 1 }),
  "write-256B@64": measured(4_000, { driver: 39, "nats-server": 109, "blob-service": 220 }),
  "echo@64": measured(30_000, { driver: 25, "nats-server": 7, echo: 4 }),
  "shadow-read@64": measured(27_000, { driver: 26, "nats-server": 9, "blob-service": 9 }),
}

describe("cpuBudget", () => {
  it("says no service could meet a target when the driver and nats-server alone spend its budget", () => {
    const note = cpuBudget(cases, "write-256B@64", "thin-write-256B@64", "thin-write", 0.8)
    // (34 + 38 + 44 + 1) / 0.8 = 146 µs allowed; 39 + 109 = 148 µs taken before the service.
    expect(note).toContain("may cost 146 µs")
    expect(note).toContain("the driver and nats-server took 148 µs, more than all of it: no service could meet the target")
    // 368 µs × 4,000/s and 117 µs × 12,000/s.
    expect(note).toContain("cores busy 1.5 (write-256B@64) and 1.4 (thin-write-256B@64)")
  })

  it("says what is left for the service otherwise", () => {
    const note = cpuBudget(cases, "shadow-read@64", "echo@64", "echo", 0.9)
    // 36 / 0.9 = 40 µs allowed; 35 taken; 5 left against the service's 9.
    expect(note).toContain("may cost 40 µs")
    expect(note).toContain("leaving 5 µs for the service, which took 9 µs")
  })

  it("gives nothing when a side was not measured or carries no CPU figures", () => {
    expect(cpuBudget(cases, "primary-read@64", "echo@64", "echo", 0.85)).toBeUndefined()
    expect(cpuBudget({ ...cases, "echo@64": { ...cases["echo@64"], cpuUsPerOp: undefined } }, "shadow-read@64", "echo@64", "echo", 0.9)).toBeUndefined()
  })

  it("is attached to the throughput targets only", () => {
    const lines = budgetLines({ targets: computeTargets({}, cases, {}) })
    expect(lines.map((l) => l.slice(0, l.indexOf(":")))).toEqual(["shadow-hit read throughput @64 vs echo", "write 256 B throughput @64 vs thin-write"])
  })
})
