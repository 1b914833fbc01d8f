import { PassThrough } from "node:stream"
import type { NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startBlobService, type BlobService } from "../../../services/blob-service/blob-service.ts"
import { runCli } from "../../../services/cli/cli.ts"
import type { Io } from "../../../services/cli/io.ts"
import type { StatsReport } from "../../../services/cli/stats-gather.ts"
import type { TopFrame } from "../../../services/cli/top.ts"
import { eventually } from "../../support/eventually.ts"
import { connectTo, testConfig } from "../../support/nats-server.ts"
import { cmd } from "../../support/raw.ts"
import { startTestStack, type TestStack } from "../../support/umbra.ts"

// `umbra stats` and `umbra top` against two blob-service instances on one real server.

let s: TestStack
let secondNc: NatsConnection
let second: BlobService
beforeAll(async () => {
  s = await startTestStack({ instanceId: "stats-one", accessFlushMs: 100 })
  secondNc = await connectTo(s.server.url, "umbra-blob-second")
  second = await startBlobService(secondNc, testConfig(s.server.url, { instanceId: "stats-two", accessFlushMs: 100 }))
})
afterAll(async () => {
  await second?.stop()
  await secondNc?.close()
  await s?.stop()
})

const run = async (argv: ReadonlyArray<string>): Promise<{ code: number; stdout: string; stderr: string }> => {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: Buffer[] = []
  const err: Buffer[] = []
  stdout.on("data", (d: Buffer) => out.push(d))
  stderr.on("data", (d: Buffer) => err.push(d))
  const io: Io = { stdin: new PassThrough(), stdout, stderr, env: { NATS_URL: s.server.url } }
  const code = await runCli(argv, io)
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }
}

describe("umbra stats", () => {
  it("--json reports every running instance", async () => {
    for (let i = 0; i < 20; i++) await cmd(s.nc, "write", `st/${i}`, `v${i}`)
    for (let i = 0; i < 20; i++) await cmd(s.nc, "read", `st/${i}`)
    const r = await run(["stats", "--json", "--window", "500ms"])
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as StatsReport
    const blobs = report.instances.filter((i) => i.service === "umbra-blob")
    expect(blobs.map((i) => i.instance).sort()).toEqual(["stats-one", "stats-two"])
    const reads = blobs.reduce((n, i) => n + (i.endpoints["read"]?.requests ?? 0), 0)
    expect(reads).toBe(20)
    for (const b of blobs) expect(Object.keys(b.figures)).toEqual(expect.arrayContaining(["hitRate", "liveActors", "evictions", "shadowWrites"]))
  })

  it("prints a table with one row per instance and a total", async () => {
    const r = await run(["stats"])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^INSTANCE\s+READS\s+WRITES\s+ERRORS\s+HIT RATE/)
    expect(lines.some((l) => l.startsWith("stats-one"))).toBe(true)
    expect(lines.some((l) => l.startsWith("stats-two"))).toBe(true)
    expect(lines.at(-1)).toMatch(/^total \(2\)/)
  })
})

describe("umbra top", () => {
  it("shows the hottest blobs from the access facts with their shadow state", async () => {
    await cmd(s.nc, "write", "hot/one", "hot")
    await eventually(async () => expect((await cmd(s.nc, "read", "hot/one")).header("Umbra-Source")).toBe("shadow"))
    // Keep reading while top watches, so the access facts of its window mention the blob.
    let reading = true
    const load = (async () => {
      while (reading) await cmd(s.nc, "read", "hot/one")
    })()
    const r = await run(["top", "--json", "--iterations", "3", "--interval", "400ms", "--window", "200ms", "--limit", "5"])
    reading = false
    await load
    expect(r.code, r.stderr).toBe(0)
    const frames = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as TopFrame)
    expect(frames).toHaveLength(3)
    const last = frames.at(-1)
    expect(last?.stats.instances.filter((i) => i.service === "umbra-blob")).toHaveLength(2)
    const hot = last?.hot.find((h) => h.id === "hot/one")
    expect(hot?.reads).toBeGreaterThan(0)
    expect(hot?.shadow).toMatchObject({ predicted: 1, origin: "write", status: "live" })
  })
})
