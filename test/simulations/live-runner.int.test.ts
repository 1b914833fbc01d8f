import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as E from "fp-ts/lib/Either.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runLive, type LiveResult } from "../../simulations/live-runner.ts"
import { REPORT_SECTIONS } from "../../simulations/report.ts"
import { loadScenario } from "../../simulations/scenario.ts"

// One short live scenario against a real nats-server and the blob service as a child
// process (both started by the runner), then its HTML report opened in headless Chromium.

const CHROMIUM = "/usr/bin/chromium"
const onCi = process.env["CI"] === "true"
const outDir = mkdtempSync(join(tmpdir(), "umbra-live-report-"))
let result: LiveResult
const progress: string[] = []

beforeAll(async () => {
  const loaded = await loadScenario("simulations/scenarios/smoke.yaml")
  if (E.isLeft(loaded)) throw new Error("smoke.yaml does not load")
  result = await runLive(loaded.right, { outDir, durationSec: 3, onProgress: (line) => progress.push(line), scenarioArg: "smoke" })
}, 120_000)

afterAll(() => rmSync(outDir, { recursive: true, force: true }))

describe("live runner: smoke scenario against a real nats-server", () => {
  it("writes a report whose JSON has every section and whose checkers pass", () => {
    const json = JSON.parse(readFileSync(join(outDir, "report.json"), "utf8")) as Record<string, unknown>
    for (const section of REPORT_SECTIONS) expect(json, section).toHaveProperty(section)
    expect(result.checks.firstViolation).toBeUndefined()
    expect(result.exitCode).toBe(0)
    expect(result.report.meta.mode).toBe("live")
    expect(result.report.throughput.totals.ok).toBeGreaterThan(50)
    expect(result.report.latency.intended.count).toBeGreaterThan(50)
    expect(result.report.meta.saturated).toBe(false)
  })

  it("judges every shadow-served read against the primary", () => {
    const e = result.report.exactness
    expect(e.shadowServed).toBeGreaterThan(0)
    expect(e.servedExactness).not.toBeNull()
    expect(result.report.prediction.note).toMatch(/no predictor/)
  })

  it("reports progress once a second", () => {
    expect(progress.some((line) => /^\[\d+s\] ops \d+ ok \d+ .* in-flight \d+ .*p99/.test(line))).toBe(true)
  })

  it("renders the HTML in headless Chromium without errors", (ctx) => {
    if (!existsSync(CHROMIUM)) {
      if (onCi) throw new Error(`${CHROMIUM} is missing on CI: .ci/run installs the chromium package`)
      ctx.skip(`${CHROMIUM} not installed: apt-get install -y chromium to run this check`)
      return
    }
    const profile = mkdtempSync(join(tmpdir(), "umbra-chromium-"))
    try {
      const run = spawnSync(
        CHROMIUM,
        [
          "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
          "--disable-sync", "--no-first-run", `--user-data-dir=${profile}`, "--enable-logging=stderr", "--v=0",
          "--dump-dom", `file://${join(outDir, "report.html")}`,
        ],
        { encoding: "utf8", timeout: 60_000 },
      )
      expect(run.status, run.stderr).toBe(0)
      const dom = run.stdout
      expect(dom).toContain("<svg")
      for (const id of ["throughput", "latency", "conflicts", "shadow", "exactness", "prediction"]) expect(dom).toContain(`id="${id}"`)
      // Page errors (script or parse problems) are logged to stderr as console messages.
      expect(run.stderr).not.toMatch(/Uncaught|CONSOLE\(\d+\)].*error/i)
    } finally {
      rmSync(profile, { recursive: true, force: true })
    }
  })
})
