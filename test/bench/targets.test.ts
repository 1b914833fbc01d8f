import { describe, expect, it } from "vitest"
import type { CaseResult } from "../../bench/harness.ts"
import { budgetLines, computeRatios, computeTargets, cpuBudget, markdownTables, type Results } from "../../bench/report.ts"

// How the bench judges and explains its targets (bench/report.ts): for each throughput target,
// what it leaves the service's CPU per operation once the driver and nats-server have taken
// theirs (`cpuBudget`); the RSS target only on a measured 100,000 actors.

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
  it("says what the target leaves the service with every core busy, and at the baseline's core use", () => {
    const note = cpuBudget(cases, "write-256B@64", "thin-write-256B@64", "thin-write", 0.8, 2)
    // 0.8 × 12,000/s on 2 cores: 2e6 / 9,600 = 208 µs per op; (34 + 38 + 44 + 1) / 0.8 = 146 µs
    // at thin-write's core use; the driver and nats-server take 39 + 109 = 148 µs first.
    expect(note).toContain("1.4 of 2 cores busy; 0.8× its throughput allows 208 µs per op with every core busy (146 µs at its core use)")
    expect(note).toContain("the driver and nats-server took 148 µs, leaving 60 µs for the service with every core busy (none at the baseline's core use); it took 220 µs, 1.5 cores busy")
  })

  it("says no service could meet a target when the driver and nats-server alone take all a machine allows", () => {
    const note = cpuBudget(cases, "write-256B@64", "thin-write-256B@64", "thin-write", 0.8, 1)
    // One core: 1e6 / 9,600 = 104 µs per op, less than the 148 µs taken before the service.
    expect(note).toContain("allows 104 µs per op with every core busy")
    expect(note).toContain("more than all of it: with nats-server doing what it does for Umbra now, no service could meet the target on this machine")
  })

  it("counts what is left at the baseline's core use when there is some", () => {
    const note = cpuBudget(cases, "shadow-read@64", "echo@64", "echo", 0.9, 2)
    // 2e6 / 27,000 = 74 µs; 36 / 0.9 = 40 µs; 35 taken first.
    expect(note).toContain("leaving 39 µs for the service with every core busy (5 µs at the baseline's core use); it took 9 µs")
  })

  it("gives nothing when a side was not measured, carries no CPU figures, or the cores are unknown", () => {
    expect(cpuBudget(cases, "primary-read@64", "echo@64", "echo", 0.85, 2)).toBeUndefined()
    expect(cpuBudget({ ...cases, "echo@64": { ...cases["echo@64"], cpuUsPerOp: undefined } }, "shadow-read@64", "echo@64", "echo", 0.9, 2)).toBeUndefined()
    expect(cpuBudget(cases, "shadow-read@64", "echo@64", "echo", 0.9, 0)).toBeUndefined()
  })

  it("is attached to the throughput targets only", () => {
    const lines = budgetLines({ targets: computeTargets({}, cases, {}, 2) })
    expect(lines.map((l) => l.slice(0, l.indexOf(":")))).toEqual(["shadow-hit read throughput @64 vs echo", "write 256 B throughput @64 vs thin-write"])
  })
})

describe("the RSS target", () => {
  const rssTarget = (memory: Record<string, unknown>) => computeTargets({}, {}, memory, 2).find((t) => t.name.startsWith("RSS"))!

  it("is judged on a measured 100,000 actors, and only shown for a quick run's projection", () => {
    expect(rssTarget({ liveActors: 100_000, rssBytes: 900 * 1024 ** 2 }).met).toBe(true)
    expect(rssTarget({ liveActors: 100_000, rssBytes: 1.2 * 1024 ** 3 }).met).toBe(false)
    const quick = rssTarget({ liveActors: 5_000, rssBytes: 400 * 1024 ** 2, projectedRssBytesAt100k: 2.8 * 1024 ** 3 })
    expect(quick.met).toBeNull()
    expect(quick.value).toBe(2.8)
    expect(quick.note).toContain("not judged")
  })
})

const emptyResults: Results = {
  machine: {},
  natsServer: "",
  command: "",
  mode: "quick",
  startedAt: "",
  durationS: 0,
  timing: {},
  cases: {},
  ratios: {},
  targets: [],
  memory: {},
  predictor: {},
  scaling: {},
  serviceStats: {},
  profiles: {},
  notes: [],
}

describe("the history-page target", () => {
  const page = (p50Us: number, concurrency = 1): CaseResult => ({ ...measured(100, {}), p50Us, concurrency })
  const historyTarget = (pageCase: string) => {
    const cases = { [pageCase]: page(2_000), "history-leader-get-alternated@1": page(500), "history-leader-get@1": page(400) }
    return computeTargets(computeRatios(cases), cases, {}, 2).find((t) => t.name.startsWith("history page"))!
  }

  it("is judged on the 100,000-version blob of a full run", () => {
    const t = historyTarget("history-page-100k-versions@1")
    expect(t.value).toBe(4)
    expect(t.met).toBe(true)
    expect(t.note).toBeUndefined()
  })

  it("is only shown for a quick run's shorter history", () => {
    const t = historyTarget("history-page-20k-versions@1")
    expect(t.value).toBe(4)
    expect(t.met).toBeNull()
    expect(t.note).toBe("history-page-20k-versions (quick run; not judged)")
    expect(markdownTables({ ...emptyResults, targets: [t] })).toContain("| 4 (history-page-20k-versions (quick run; not judged)) | not judged |")
  })
})
