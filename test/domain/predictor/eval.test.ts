import { describe, expect, it } from "vitest"
import { evaluate, renderHtml, renderTerminal, summaryJson } from "../../../simulations/predictor-eval.ts"
import { scenarioHistory } from "../../../simulations/generators/value-shapes.ts"
import { parseHistory, runPredictorEval } from "../../../simulations/predictor-eval-main.ts"

describe("predictor eval", () => {
  it("structured mix: precise, and close to the oracle", () => {
    const r = evaluate(scenarioHistory("structured", 7, 40_000))
    expect(r.servedPrecision).toBeGreaterThanOrEqual(0.995)
    expect(r.servedPrecisionLow95).toBeGreaterThanOrEqual(0.99)
    expect(r.served).toBeGreaterThan(10_000)
    expect(r.coverageOfOracle).toBeGreaterThanOrEqual(0.9)
    expect(r.ece).toBeLessThanOrEqual(0.02)
  }, 30_000)

  it("vanilla YCSB: at most 1% coverage", () => {
    for (const s of ["ycsb-a", "ycsb-b", "ycsb-f"] as const) {
      const r = evaluate(scenarioHistory(s, 5, 5_000))
      expect(r.coverage).toBeLessThanOrEqual(0.01)
      expect(r.oracleCoverage).toBe(0)
    }
  }, 30_000)

  it("renders a terminal table and a self-contained HTML diagram", () => {
    const r = evaluate(scenarioHistory("structured", 1, 2_000))
    expect(renderTerminal(r)).toContain("served precision")
    const html = renderHtml(r)
    expect(html).toContain("<svg")
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/)
    expect(Object.keys(summaryJson(r))).toEqual([
      "versions", "predictionsEmitted", "served", "servedCorrect", "servedPrecision", "servedPrecisionLow95", "coverage", "oracleCoverage", "ece",
    ])
  })

  it("runs from argv on a JSONL history, with base64 lines and no ground truth", async () => {
    const lines = Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0
        ? JSON.stringify({ id: "c/1", time: 1000 * i, json: { n: i } })
        : JSON.stringify({ id: "b/1", time: 1000 * i, base64: btoa("x".repeat(i)) }),
    )
    const out: string[] = []
    const files = new Map<string, string>([["h.jsonl", lines.join("\n")]])
    const io = {
      stdout: (t: string) => void out.push(t),
      readFile: async (p: string) => files.get(p) ?? "",
      writeFile: async (p: string, d: string) => void files.set(p, d),
    }
    expect(await runPredictorEval(["--history", "h.jsonl", "--json", "--html", "r.html"], io)).toBe(0)
    const summary = JSON.parse(out.join("")) as Record<string, unknown>
    expect(summary["versions"]).toBe(60)
    expect(summary["oracleCoverage"]).toBeNull()
    expect(files.get("r.html")).toContain("<svg")
  })

  it("rejects bad input with a tagged error and exit code 2", async () => {
    expect(parseHistory('{"id":"a","time":1,"json":1}\nnot json')).toEqual({ _tag: "Left", left: { _tag: "InvalidHistoryLine", line: 2, message: "not JSON" } })
    const out: string[] = []
    const io = { stdout: (t: string) => void out.push(t), readFile: async () => "", writeFile: async () => {} }
    expect(await runPredictorEval(["--scenario", "nope"], io)).toBe(2)
    expect(out.join("")).toContain("--scenario must be one of")
  })
})
