import { describe, expect, it } from "vitest"
import { runCheckers } from "../../simulations/checkers/index.ts"
import { makeLatencyRecorder } from "../../simulations/latency.ts"
import { renderHtmlReport, renderTerminalSummary } from "../../simulations/report-html.ts"
import { checksSection, REPORT_SCHEMA_VERSION, REPORT_SECTIONS, type Report } from "../../simulations/report.ts"

const synthetic = (): Report => {
  const latency = makeLatencyRecorder(1)
  for (let i = 0; i < 2000; i++) {
    const intendedMs = i * 5
    latency.record({ intendedMs, startMs: intendedMs + (i % 50 === 0 ? 40 : 0.1), endMs: intendedMs + 1 + (i % 97) / 10 })
  }
  const seconds = Array.from({ length: 10 }, (_, t) => t)
  const checks = runCheckers({ operations: [], finalHistories: new Map(), expect: ["conflict"], endMs: 10_000 })
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    meta: {
      scenario: "synthetic <&>", description: "test", seed: 1, mode: "simulated", startedAt: "2024-01-01T00:00:00Z",
      durationSec: 10, warmupSec: 1, bucketSec: 1, offeredOps: 2000, completedOps: 1990, saturated: true, maxSendLagMs: 40,
      replayCommand: "umbra simulate synthetic --seed 1",
    },
    faults: [{ kind: "pause-nats", label: "pause NATS", startSec: 4, endSec: 6 }],
    throughput: {
      buckets: seconds.map((tSec) => ({ tSec, ok: 190, conflict: 5, notFound: 1, fail: 1, indeterminate: tSec === 5 ? 3 : 0 })),
      totals: { ok: 1900, conflict: 50, notFound: 10, fail: 10, indeterminate: 3 },
    },
    latency: latency.summary(),
    conflicts: { total: 50, byKeyRank: [1, 2, 3].map((rank) => ({ rank, key: `k${rank}`, writes: 100 / rank, conflicts: 20 / rank })) },
    shadow: {
      hitRate: 0.6,
      overTime: seconds.map((tSec) => ({ tSec, reads: tSec === 5 ? 0 : 100, shadowServed: 60, hitRate: tSec === 5 ? null : 0.6 })),
      byKeyDecile: Array.from({ length: 10 }, (_, i) => ({ decile: i + 1, reads: 100 - i, hitRate: 0.9 - i * 0.08 })),
    },
    exactness: { servedExactness: 0.98, shadowServed: 600, staleReads: 12, overTime: seconds.map((tSec) => ({ tSec, shadowServed: 60, exact: 59, stale: 1 })) },
    prediction: {
      precision: 0.7, coverage: 0.4, calibrationError: 0.05,
      overTime: seconds.map((tSec) => ({ tSec, settled: 10, confirmed: 7, writes: 10, covered: 4, precision: 0.7, coverage: 0.4 })),
    },
    checks: checksSection(checks),
  }
}

describe("HTML report", () => {
  const report = synthetic()
  const html = renderHtmlReport(report)

  it("has every section of the report JSON", () => {
    expect(Object.keys(report).filter((k) => k !== "schemaVersion").sort()).toEqual([...REPORT_SECTIONS].sort())
  })

  it("draws an <svg> chart in every figure section", () => {
    for (const id of ["throughput", "latency", "conflicts", "shadow", "exactness", "prediction"]) {
      const section = html.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`))?.[1] ?? ""
      expect(section, id).toContain("<svg")
    }
    expect(html.match(/<svg /g)?.length).toBe(8)
  })

  it("marks the fault period on every time chart and notes it under the others", () => {
    for (const id of ["chart-throughput", "chart-latency-over-time", "chart-shadow-hit-rate", "chart-exactness", "chart-prediction"]) {
      const svg = html.match(new RegExp(`<svg id="${id}"[\\s\\S]*?</svg>`))?.[0] ?? ""
      expect(svg, id).toContain(`class="fault"`)
    }
    expect(html).toContain("Faults during this run: pause NATS 4s–6s")
  })

  it("is self-contained and escapes text", () => {
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i)
    expect(html).toContain("synthetic &lt;&amp;&gt;")
    expect(html).toContain("SATURATED")
  })

  it("renders a terminal summary with the verdict first", () => {
    const text = renderTerminalSummary(report)
    expect(text.split("\n")[0]).toMatch(/^FAIL {2}synthetic/)
    expect(text).toContain(`expected state "conflict" was never reached`)
    expect(text).toContain("replay: umbra simulate synthetic --seed 1")
  })

  it("keeps latency from the intended time separate from service time", () => {
    expect(report.latency.intended.maxUs).toBeGreaterThan(report.latency.service.maxUs - 1)
    expect(report.latency.spectrum.at(-1)?.percentile).toBe(100)
    expect(report.latency.overTime.length).toBe(10)
  })
})
