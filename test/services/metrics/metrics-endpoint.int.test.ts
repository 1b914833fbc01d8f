import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ShadowLifecycleEvent } from "../../../domain/shadow-lifecycle.ts"
import { ShadowEvents } from "../../../infra/shadow-events.ts"
import { eventually } from "../../support/eventually.ts"
import { parseExposition, scrape, valueOf, type Family } from "../../support/prom-exposition.ts"
import { cmd } from "../../support/raw.ts"
import { startTestStack, type TestStack } from "../../support/umbra.ts"

// The Prometheus endpoint of a blob service against a real nats-server: valid exposition,
// counters that move exactly as a scripted workload says, and no blob id in any label.

const ROOT = resolve(import.meta.dirname, "../../..")

let s: TestStack
let url: string
beforeAll(async () => {
  s = await startTestStack({ instanceId: "metrics-test", accessFlushMs: 200 }, { metrics: true, sampleIntervalMs: 200 })
  url = s.metrics?.server.url ?? ""
})
afterAll(async () => {
  await s?.stop()
})

const delta = (before: Map<string, Family>, after: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  valueOf(after, name, labels) - valueOf(before, name, labels)

const readUntilShadow = (id: string) =>
  eventually(async () => {
    const r = await cmd(s.nc, "read", id)
    expect(r.header("Umbra-Source")).toBe("shadow")
  })

describe("metrics endpoint", () => {
  it("serves valid exposition, the status page and its JSON", async () => {
    const families = await scrape(url)
    for (const name of ["umbra_reads_total", "umbra_writes_total", "umbra_read_duration_seconds", "umbra_append_duration_seconds", "umbra_live_actors"])
      expect(families.has(name), name).toBe(true)
    expect(families.get("umbra_reads_total")?.type).toBe("counter")
    expect(families.get("umbra_read_duration_seconds")?.type).toBe("histogram")
    const page = await fetch(`${url}/`)
    expect(page.headers.get("content-type")).toMatch(/^text\/html/)
    expect(await page.text()).toContain('data-chart="hitRate"')
    const status = (await (await fetch(`${url}/api/status`)).json()) as { points: unknown[] }
    expect(Array.isArray(status.points)).toBe(true)
    expect((await fetch(`${url}/nope`)).status).toBe(404)
  })

  it("counts a scripted set of reads, writes and conflicts exactly", async () => {
    const before = await scrape(url)
    for (const id of ["m/a", "m/b", "m/c"]) {
      const w = await cmd(s.nc, "write", id, `{"v":"${id}"}`)
      expect(w.status, w.text).toBeUndefined()
    }
    for (let i = 0; i < 2; i++) expect((await cmd(s.nc, "write", "m/a", "late", { "Umbra-Expected-Version": "0" })).status).toBe(409)
    expect((await cmd(s.nc, "patch", "m/b", '[{"op":"add","path":"/w","value":1}]')).status).toBeUndefined()
    for (let i = 0; i < 5; i++) expect((await cmd(s.nc, "read", "m/a", undefined, { "Umbra-Consistency": "primary" })).header("Umbra-Source")).toBe("primary")
    await readUntilShadow("m/c")
    const mid = await scrape(url)
    for (let i = 0; i < 10; i++) expect((await cmd(s.nc, "read", "m/c")).header("Umbra-Source")).toBe("shadow")
    expect((await cmd(s.nc, "read", "m/none")).status).toBe(404)
    expect((await cmd(s.nc, "read", "m/a", undefined, { "Umbra-Version": "1" })).status).toBeUndefined()
    const after = await scrape(url)

    expect(delta(before, after, "umbra_writes_total", { op: "write", outcome: "ok" })).toBe(3)
    expect(delta(before, after, "umbra_writes_total", { op: "write", outcome: "conflict" })).toBe(2)
    expect(delta(before, after, "umbra_writes_total", { op: "patch", outcome: "ok" })).toBe(1)
    expect(delta(before, after, "umbra_append_duration_seconds_count", { op: "write" })).toBe(5)
    expect(delta(before, after, "umbra_appends_total")).toBe(4)
    expect(delta(before, after, "umbra_reads_total", { source: "primary", reason: "consistency" })).toBe(5)
    expect(delta(mid, after, "umbra_reads_total", { source: "shadow", reason: "hit" })).toBe(10)
    expect(delta(mid, after, "umbra_read_duration_seconds_count", { source: "shadow" })).toBe(10)
    expect(delta(mid, after, "umbra_reads_total", { source: "primary", reason: "none" })).toBe(1)
    expect(delta(mid, after, "umbra_read_duration_seconds_count", { source: "history" })).toBe(1)
    expect(valueOf(after, "umbra_live_actors")).toBeGreaterThanOrEqual(3)
    expect(valueOf(after, "umbra_actor_hydrations_total")).toBeGreaterThanOrEqual(3)
    expect(valueOf(after, "umbra_shadow_replica_entries")).toBeGreaterThanOrEqual(3)
    await eventually(async () => expect(valueOf(await scrape(url), "umbra_shadow_writes_total", { origin: "write" })).toBeGreaterThanOrEqual(4))
  })

  it("turns recorded shadow verdicts into prediction metrics (the reconciler's hook)", async () => {
    // What the reconciler does after each lifecycle record: one call per stored event.
    const shadow = s.metrics?.metrics.shadow
    expect(shadow).toBeDefined()
    const base = { id: "m/p", shadowVersion: 1, basedOn: 1, predicted: 2, digest: "sha256:" + "0".repeat(64), validFromMs: 0, origin: "prediction", model: "stride", timeMs: Date.now() } as const
    const events: ShadowLifecycleEvent[] = [
      { ...base, kind: "created", confidence: 0.95 },
      { ...base, kind: "confirmed", reason: "predicted-write-arrived", confidence: 0.95, served: 4, correct: true },
      { ...base, shadowVersion: 2, kind: "created", confidence: 0.42 },
      { ...base, shadowVersion: 2, kind: "discarded", reason: "wrong-content", confidence: 0.42, served: 3, correct: false },
    ]
    const before = await scrape(url)
    for (const e of events) shadow?.lifecycle(e)
    shadow?.reconcilerLag(0.25, 7)
    shadow?.verdictRecorded(0.02)
    const after = await scrape(url)
    expect(delta(before, after, "umbra_predictions_emitted_total", { model: "stride" })).toBe(2)
    expect(delta(before, after, "umbra_predictions_settled_total", { model: "stride", verdict: "confirmed" })).toBe(1)
    expect(delta(before, after, "umbra_predictions_settled_total", { model: "stride", verdict: "discarded", reason: "wrong-content" })).toBe(1)
    expect(delta(before, after, "umbra_predictions_served_total", { model: "stride" })).toBe(7)
    expect(delta(before, after, "umbra_shadow_served_wrong_total", { origin: "prediction" })).toBe(3)
    expect(delta(before, after, "umbra_prediction_calibration_outcomes_total", { bin: "0.9", outcome: "correct" })).toBe(1)
    expect(delta(before, after, "umbra_prediction_calibration_outcomes_total", { bin: "0.4", outcome: "wrong" })).toBe(1)
    expect(delta(before, after, "umbra_prediction_calibration_confidence_total", { bin: "0.9" })).toBeCloseTo(0.95)
    expect(valueOf(after, "umbra_prediction_calibration_outcomes_total", { model: "stride", bin: "0.5" })).toBe(0)
    expect(valueOf(after, "umbra_reconciler_lag_seconds")).toBe(0.25)
    expect(valueOf(after, "umbra_reconciler_pending_events")).toBe(7)
    expect(delta(before, after, "umbra_reconciler_verdict_duration_seconds_count")).toBe(1)
  })

  it("the status page follows verdicts recorded on the lifecycle stream", async () => {
    const events = ShadowEvents.open(s.nc, s.config.names)
    const base = { id: "m/q", basedOn: 1, predicted: 2, digest: "sha256:" + "1".repeat(64), validFromMs: 0, origin: "prediction", model: "stride", timeMs: Date.now(), confidence: 0.9 } as const
    await events.record({ ...base, shadowVersion: 11, kind: "confirmed", reason: "matches-head", correct: true })
    await events.record({ ...base, shadowVersion: 12, kind: "discarded", reason: "wrong-content", correct: false })
    await eventually(async () => {
      await s.metrics?.server.sampler.sample()
      const st = (await (await fetch(`${url}/api/status`)).json()) as { totals: { confirmed: number; settled: number } }
      expect(st.totals.settled).toBeGreaterThanOrEqual(2)
      expect(st.totals.confirmed).toBeGreaterThanOrEqual(1)
    })
  })

  it("no metric carries a blob id label after a run over 1,000 blobs", async () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => `card/${i}`)
    for (let i = 0; i < ids.length; i += 100)
      await Promise.all(ids.slice(i, i + 100).map(async (id) => {
        await cmd(s.nc, "write", id, `{"n":"${id}"}`)
        await cmd(s.nc, "read", id)
        await cmd(s.nc, "write", id, "x", { "Umbra-Expected-Version": "0" })
      }))
    const families = await scrape(url)
    const values = new Set<string>()
    let series = 0
    for (const f of families.values())
      for (const sample of f.samples) {
        series++
        for (const v of Object.values(sample.labels)) values.add(v)
      }
    const leaked = [...values].filter((v) => ids.includes(v) || /card\/|m\/[a-z]/.test(v))
    expect(leaked).toEqual([])
    // Bounded: the series count does not grow with the number of blobs.
    expect(series).toBeLessThan(600)
  })

  it("every metric the Grafana dashboard queries exists in the endpoint's output", async () => {
    const dashboard = JSON.parse(readFileSync(resolve(ROOT, "monitoring/grafana-dashboard.json"), "utf8")) as { panels: Array<{ targets?: Array<{ expr: string }> }> }
    const queried = new Set(dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => t.expr.match(/\bumbra_[a-z0-9_]+/g) ?? []))
    expect(queried.size).toBeGreaterThan(15)
    const text = await (await fetch(`${url}/metrics`)).text()
    const families = parseExposition(text)
    const known = new Set([...families.keys(), ...[...families.values()].flatMap((f) => f.samples.map((x) => x.name))])
    const histogramSeries = [...families.values()].filter((f) => f.type === "histogram").flatMap((f) => ["_bucket", "_sum", "_count"].map((x) => f.name + x))
    for (const n of histogramSeries) known.add(n)
    expect([...queried].filter((n) => !known.has(n))).toEqual([])
  })
})

describe("metrics endpoint, blobs sharded over partitions", () => {
  it("reports the partitions served, those catching up, and leases lost", async () => {
    const p = await startTestStack({ instanceId: "metrics-partitions", partitions: 4 }, { metrics: true, sampleIntervalMs: 200 })
    try {
      const m = await eventually(async () => {
        const scraped = await scrape(p.metrics?.server.url ?? "")
        expect(valueOf(scraped, "umbra_partitions_owned")).toBe(4)
        return scraped
      })
      expect(valueOf(m, "umbra_partitions_catching_up")).toBe(0)
      expect(valueOf(m, "umbra_partition_leases_lost_total")).toBe(0)
    } finally {
      await p.stop()
    }
  })
})
