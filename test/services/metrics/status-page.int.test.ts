import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ShadowEvents } from "../../../infra/shadow-events.ts"
import { eventually } from "../../support/eventually.ts"
import { cmd } from "../../support/raw.ts"
import { startTestStack, type TestStack } from "../../support/umbra.ts"

// The status page as a browser shows it: headless Chromium loads it from the blob service's
// metrics port, runs its inline script and we read back the rendered DOM.

const CHROMIUM = "/usr/bin/chromium"
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium && process.env["CI"] === "true") throw new Error(`${CHROMIUM} is required in CI (.ci/run installs it)`)
if (!haveChromium) console.warn(`status page test skipped: ${CHROMIUM} not installed (apt-get install -y chromium)`)

let s: TestStack
let profile: string
beforeAll(async () => {
  s = await startTestStack({ instanceId: "status-page" }, { metrics: true, sampleIntervalMs: 250 })
  profile = mkdtempSync(join(tmpdir(), "umbra-chromium-"))
})
afterAll(async () => {
  await s?.stop()
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
})

const dumpDom = async (url: string): Promise<string> => {
  const { stdout } = await promisify(execFile)(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=5000",
      "--dump-dom",
      url,
    ],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  )
  return stdout
}

const pointsOf = (dom: string, chart: string): number => {
  const m = new RegExp(`<svg[^>]*data-chart="${chart}"[^>]*data-points="(\\d+)"|<svg[^>]*data-points="(\\d+)"[^>]*data-chart="${chart}"`).exec(dom)
  return Number(m?.[1] ?? m?.[2] ?? 0)
}

const load = async (): Promise<void> => {
  const events = ShadowEvents.open(s.nc, s.config.names)
  for (let i = 0; i < 10; i++) await cmd(s.nc, "write", `page/${i}`, `v${i}`)
  await eventually(async () => expect((await cmd(s.nc, "read", "page/0")).header("Umbra-Source")).toBe("shadow"))
  const base = { basedOn: 1, predicted: 2, digest: "sha256:" + "2".repeat(64), validFromMs: 0, origin: "prediction", model: "stride", confidence: 0.9 } as const
  // About two seconds of reads, conflicts and verdicts, so every chart has several points.
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 10; i++) await cmd(s.nc, "read", `page/${i}`)
    await cmd(s.nc, "write", "page/0", "late", { "Umbra-Expected-Version": "0" })
    await events.record({ ...base, id: `page/${round}`, shadowVersion: 100 + round, kind: "confirmed", reason: "matches-head", timeMs: Date.now(), served: 1, correct: true })
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe.skipIf(!haveChromium)("status page", () => {
  it("renders non-empty charts in headless Chromium after a short load", async () => {
    await load()
    const url = s.metrics?.server.url ?? ""
    const dom = await dumpDom(`${url}/`)
    expect(dom).toContain("Shadow hit rate")
    for (const chart of ["hitRate", "exactness", "precision", "latency", "throughput"]) expect(pointsOf(dom, chart), chart).toBeGreaterThanOrEqual(2)
    expect(dom).toMatch(/<polyline[^>]*data-series="hitRate"/)
    expect(dom).toMatch(/<polyline[^>]*data-series="readP99Ms"/)
    // The page loads nothing from the network: no src or href pointing anywhere.
    expect(dom).not.toMatch(/\s(src|href)="(https?:)?\/\//)
  })
})
