import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, release, tmpdir, totalmem, type } from "node:os"
import { join } from "node:path"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import { connectNats } from "../infra/connection.ts"
import { natsServerBinary, startNatsServer, type NatsServerProcess } from "../infra/embedded-server.ts"
import { defaultNames } from "../infra/names.ts"
import { casPublishCase, echoCase, fillKv, kvGetCase, leaderGetCase, setUpBaselines, thinWriteCase } from "./baselines.ts"
import { measureGroup, type CaseResult, type LoadCase, type Timing } from "./harness.ts"
import { measureLiveActorRss, measurePredictor } from "./memory.ts"
import { auditCases, optionalCases, reconcilerCases } from "./optional.ts"
import { measureReown } from "./scale-out.ts"
import { cpuMs, killAllChildren, unexpectedExits, startBaselineChild, startBlobServiceChild, type Child } from "./processes.ts"
import { profiledRun, type ProfileSummary } from "./profile.ts"
import { budgetLines, computeRatios, computeTargets, html, markdownTables, unavailable, type CaseEntry, type Results } from "./report.ts"
import {
  awaitService,
  awaitShadows,
  blobSet,
  contendedWriteCase,
  ensureBlob,
  eventSubjectOf,
  expectSource,
  jsonDoc,
  patchCase,
  readCase,
  serviceStats,
  writeAll,
  writeCase,
  type BlobSet,
  type Contention,
} from "./umbra-cases.ts"
import { payload } from "./baselines.ts"

// `npm run bench [-- --quick] [--profile|--no-profile] [--only group,group]`
// Starts its own nats-server (random port, temp store), the baseline responders and the
// blob service as child processes, drives every case from this process, and writes
// bench/results.json, bench/results.html and a table on stdout. Progress goes to stderr.

const argv = process.argv.slice(2)
const quick = argv.includes("--quick")
const profiling = argv.includes("--profile") || (!quick && !argv.includes("--no-profile"))
const onlyArg = argv.indexOf("--only")
const only = onlyArg >= 0 ? new Set((argv[onlyArg + 1] ?? "").split(",")) : undefined
const wants = (group: string): boolean => only === undefined || only.has(group)

const timing: Timing = quick ? { warmupMs: 150, runMs: 200, repeats: 3 } : { warmupMs: 800, runMs: 1_500, repeats: 3 }
const TIMEOUT_MS = 10_000
const READ_BLOBS = 1024
const WRITE_BLOBS = 1024
/** 64 KiB blobs: 128 × 64 KiB × 16 kept shadow revisions stays inside the shadow bucket's 256 MiB. */
const WRITE_BLOBS_64K = 128
const RSS_ACTORS = quick ? 5_000 : 100_000
const PROFILE_MS = quick ? 2_000 : 4_000

const t0 = Date.now()
const progress = (line: string): void => {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`)
}

const cases: Record<string, CaseEntry> = {}
const serviceStatsByGroup: Record<string, unknown> = {}
const notes: string[] = []
const profiles: Record<string, ProfileSummary | string> = {}
let memory: Record<string, unknown> = {}
let predictor: Record<string, unknown> = {}
const scaling: Record<string, unknown> = {}

/** Main blob-service config: actors never idle out during the run, so "live actor" cases stay live. */
const MAIN_ENV = { UMBRA_ACTOR_IDLE_MS: "600000" }

/** Processes whose CPU time is sampled around every run (name → pid). */
const probed = new Map<string, number>()
const cpuProbe = (): Record<string, number> => {
  const u = process.cpuUsage()
  const out: Record<string, number> = { driver: (u.user + u.system) / 1000 }
  for (const [name, pid] of probed) out[name] = cpuMs(pid)
  return out
}

const hydrations = (s: Record<string, unknown> | undefined): number => (typeof s?.["hydrations"] === "number" ? (s["hydrations"] as number) : 0)

/** A group of cases, with the service's counters before and after (evidence of what was measured). */
const group = async (nc: NatsConnection, name: string, list: ReadonlyArray<LoadCase>): Promise<void> => {
  const before = await serviceStats(nc, TIMEOUT_MS)
  Object.assign(cases, await measureGroup(name, list, timing, progress, cpuProbe))
  const after = await serviceStats(nc, TIMEOUT_MS)
  const shadow = (s: Record<string, unknown> | undefined) => (s?.["shadow"] ?? {}) as { hits?: number; primaryReads?: number }
  serviceStatsByGroup[name] = {
    hydrations: hydrations(after) - hydrations(before),
    shadowHits: (shadow(after).hits ?? 0) - (shadow(before).hits ?? 0),
    primaryReads: (shadow(after).primaryReads ?? 0) - (shadow(before).primaryReads ?? 0),
  }
}

interface Sets {
  readonly reads: BlobSet
  readonly w256: BlobSet
  readonly w4k: BlobSet
  readonly w64k: BlobSet
  readonly patch: BlobSet
}

/**
 * Drops the shadows of the large-blob write sets (KV purge) before the memory phase: the
 * shadow bucket is bounded (256 MiB) and that phase measures live actors, not shadow eviction.
 */
const purgeShadows = async (nc: NatsConnection, ids: ReadonlyArray<string>): Promise<void> => {
  const kv = await new Kvm(nc).open(defaultNames.shadowBucket)
  // Housekeeping, not a measurement: a purge that times out is tried once more, then left.
  const purge = (id: string) => kv.purge(id).catch(() => kv.purge(id).catch(() => undefined))
  for (let i = 0; i < ids.length; i += 64) await Promise.all(ids.slice(i, i + 64).map(purge))
}

const prepareUmbraData = async (nc: NatsConnection): Promise<Sets> => {
  const sets: Sets = {
    reads: blobSet("bench-r", READ_BLOBS, 256),
    w256: blobSet("bench-w256", WRITE_BLOBS, 256),
    w4k: blobSet("bench-w4k", WRITE_BLOBS, 4096),
    w64k: blobSet("bench-w64k", WRITE_BLOBS_64K, 65536),
    patch: blobSet("bench-p", WRITE_BLOBS, 256),
  }
  progress("writing the blobs the cases use (hydrates their actors)")
  await awaitService(nc, sets.reads.ids[0] as string, TIMEOUT_MS)
  await writeAll(nc, sets.reads, payload(256), TIMEOUT_MS)
  for (const s of [sets.w256, sets.w4k, sets.w64k]) await writeAll(nc, s, payload(s.size), TIMEOUT_MS)
  await writeAll(nc, sets.patch, jsonDoc(256), TIMEOUT_MS)
  await ensureBlob(nc, "bench-hot", payload(256), TIMEOUT_MS)
  await awaitShadows(nc, sets.reads, TIMEOUT_MS)
  await expectSource(nc, sets.reads, "shadow", false, TIMEOUT_MS)
  await expectSource(nc, sets.reads, "primary", true, TIMEOUT_MS)
  return sets
}

const mainPhase = async (nc: NatsConnection, url: string, sets: Sets, b: Awaited<ReturnType<typeof setUpBaselines>>, kvKeys: ReadonlyArray<string>): Promise<void> => {
  const leaderSubjects = sets.reads.ids.map(eventSubjectOf)
  const reads = (c: number): LoadCase[] => [
    echoCase(nc, c, 256, TIMEOUT_MS),
    readCase(nc, "shadow-read", sets.reads, c, false, TIMEOUT_MS),
    readCase(nc, "primary-read", sets.reads, c, true, TIMEOUT_MS),
    leaderGetCase(b, defaultNames.eventStream, leaderSubjects, c, 256),
    kvGetCase(b, kvKeys, c, 256),
  ]
  if (wants("reads")) {
    await group(nc, "reads@1", reads(1))
    await group(nc, "reads@64", reads(64))
  }
  if (wants("writes")) {
    await group(nc, "writes-256B", [
      casPublishCase(b, 1, 256, WRITE_BLOBS),
      thinWriteCase(nc, 1, 256, WRITE_BLOBS, TIMEOUT_MS),
      writeCase(nc, sets.w256, 1, TIMEOUT_MS),
      casPublishCase(b, 64, 256, WRITE_BLOBS),
      thinWriteCase(nc, 64, 256, WRITE_BLOBS, TIMEOUT_MS),
      writeCase(nc, sets.w256, 64, TIMEOUT_MS),
    ])
    for (const s of [sets.w4k, sets.w64k])
      await group(nc, `writes-${s.size}`, [
        thinWriteCase(nc, 1, s.size, s.ids.length, TIMEOUT_MS),
        writeCase(nc, s, 1, TIMEOUT_MS),
        thinWriteCase(nc, 64, s.size, s.ids.length, TIMEOUT_MS),
        writeCase(nc, s, 64, TIMEOUT_MS),
      ])
  }
  if (wants("patch")) await group(nc, "patch", [patchCase(nc, sets.patch, 1, TIMEOUT_MS), patchCase(nc, sets.patch, 64, TIMEOUT_MS)])
  if (wants("contention")) {
    const counts: Contention = { attempts: 0, commits: 0 }
    const seq: Contention = { attempts: 0, commits: 0 }
    await group(nc, "contention", [contendedWriteCase(nc, "bench-hot", 1, 256, TIMEOUT_MS, seq), contendedWriteCase(nc, "bench-hot", 64, 256, TIMEOUT_MS, counts)])
    const c = cases["conditional-write-1-blob@64"] as CaseResult | undefined
    if (c !== undefined)
      cases["conditional-write-1-blob@64"] = { ...c, note: `64 writers, expected version, one blob: ${(counts.attempts / Math.max(1, counts.commits)).toFixed(1)} attempts per committed write (warm-up included)` }
  }
  void url
}

const coldPhase = async (nc: NatsConnection, url: string, sets: Sets, b: Awaited<ReturnType<typeof setUpBaselines>>): Promise<void> => {
  // Actors passivate 1 ms after their last event: every primary read of a blob read more
  // than 1 ms ago hydrates its actor from the stream (a leader get) first.
  const cold = await startBlobServiceChild(url, "bench-blob-cold", { UMBRA_ACTOR_IDLE_MS: "1" })
  probed.set("blob-service", cold.pid)
  try {
    await awaitService(nc, sets.reads.ids[0] as string, TIMEOUT_MS)
    const leaderSubjects = sets.reads.ids.map(eventSubjectOf)
    for (const c of [1, 64])
      await group(nc, `cold@${c}`, [
        { ...echoCase(nc, c, 256, TIMEOUT_MS), name: `cold-phase/echo@${c}` },
        { ...leaderGetCase(b, defaultNames.eventStream, leaderSubjects, c, 256), name: `cold-phase/leader-get@${c}` },
        readCase(nc, "cold-read", sets.reads, c, true, TIMEOUT_MS),
      ])
    const h1 = serviceStatsByGroup["cold@1"] as { hydrations: number } | undefined
    const h64 = serviceStatsByGroup["cold@64"] as { hydrations: number } | undefined
    notes.push(`cold reads: ${h1?.hydrations ?? "?"} + ${h64?.hydrations ?? "?"} actor hydrations during the two cold groups (every cold read hydrates)`)
  } finally {
    await cold.stop()
  }
}

/**
 * Shadow-hit reads with 1, 2 and 3 blob-service instances in the queue group (issue 10); 1 and 2
 * in a --quick run (each instance's start is seconds of a run that must stay under 2 minutes).
 */
const scalingPhase = async (nc: NatsConnection, url: string, sets: Sets): Promise<void> => {
  const instances: Child[] = []
  const most = quick ? 2 : 3
  try {
    for (let n = 1; n <= most; n++) {
      const child = await startBlobServiceChild(url, `bench-blob-scale-${n}`, MAIN_ENV)
      instances.push(child)
      probed.set(`blob-service-${n}`, child.pid)
      await awaitShadows(nc, sets.reads, TIMEOUT_MS)
      const name = `scaling x${n}`
      const r = await measureGroup(name, [
        { ...echoCase(nc, 64, 256, TIMEOUT_MS), name: `scaling/echo@64 (${n} instances running)` },
        { ...readCase(nc, "shadow-read", sets.reads, 64, false, TIMEOUT_MS), name: `scaling/shadow-read@64 x${n} instances` },
      ], timing, progress, cpuProbe)
      Object.assign(cases, r)
    }
    const ops = (n: number) => (cases[`scaling/shadow-read@64 x${n} instances`] as CaseResult | undefined)?.opsPerSec ?? null
    Object.assign(scaling, {
      shadowReadOpsPerSecByInstances: { "1": ops(1), "2": ops(2), "3": ops(3) },
      cores: cpus().length,
      note: "all instances, nats-server and the driver share the machine's cores: beyond the core count, instances add contention, not capacity",
    })
  } finally {
    for (const i of instances) await i.stop()
    for (let n = 1; n <= 3; n++) probed.delete(`blob-service-${n}`)
  }
  // Not a target, and three more service processes to start: left to the full run, which a
  // --quick run (under 2 minutes) could not afford on this 2-core machine.
  if (quick) {
    Object.assign(scaling, { reownAfterKill: "not measured in --quick" })
    return
  }
  progress("[scaling] re-own time after kill -9 of one of 3 sharded instances")
  Object.assign(scaling, {
    reownAfterKill: await measureReown(url, progress).catch((e: unknown) => `failed: ${String(e).slice(0, 300)}`),
  })
}

const PROFILED: Record<string, { target: string; build: (nc: NatsConnection, sets: Sets) => LoadCase }> = {
  "shadow-read@64": { target: "shadow-hit read", build: (nc, s) => readCase(nc, "shadow-read", s.reads, 64, false, TIMEOUT_MS) },
  "shadow-read@1": { target: "shadow-hit read p50", build: (nc, s) => readCase(nc, "shadow-read", s.reads, 1, false, TIMEOUT_MS) },
  "primary-read@64": { target: "primary read", build: (nc, s) => readCase(nc, "primary-read", s.reads, 64, true, TIMEOUT_MS) },
  "write-256B@64": { target: "write", build: (nc, s) => writeCase(nc, s.w256, 64, TIMEOUT_MS) },
  "write-256B@1": { target: "write p50", build: (nc, s) => writeCase(nc, s.w256, 1, TIMEOUT_MS) },
}

const profileCase = async (nc: NatsConnection, url: string, sets: Sets, name: string, dir: string): Promise<void> => {
  const spec = PROFILED[name]
  if (spec === undefined) return
  const file = join(dir, `${name.replace(/[^A-Za-z0-9-]/g, "_")}.cpuprofile`)
  const child = await startBlobServiceChild(url, "bench-blob-prof", MAIN_ENV, file)
  try {
    await awaitShadows(nc, sets.reads, TIMEOUT_MS)
    await expectSource(nc, sets.reads, "primary", true, TIMEOUT_MS) // hydrates every actor of the read set
    const c = spec.build(nc, sets)
    await measureGroup(`profile ${name}`, [c], { ...timing, repeats: 0 }, progress)
    const { run, summary } = await profiledRun(child, c, PROFILE_MS, file)
    progress(`[profile] ${name}: ${run.opsPerSec} ops/s while profiling`)
    profiles[name] = summary ?? "the profile was not written"
  } finally {
    await child.stop()
  }
}

const machine = (): Record<string, unknown> => ({
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  memoryBytes: totalmem(),
  node: process.version,
  os: `${type()} ${release()}`,
  loadAvgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
})

const natsVersion = (): string => {
  try {
    return execFileSync(natsServerBinary(), ["--version"], { encoding: "utf8" }).trim().replace(/^nats-server:\s*/, "")
  } catch {
    return "unknown"
  }
}

let server: NatsServerProcess | undefined

const main = async (): Promise<void> => {
  const startedAt = new Date().toISOString()
  const machineInfo = machine()
  let nc: NatsConnection | undefined
  const children: Child[] = []
  const profileDir = mkdtempSync(join(tmpdir(), "umbra-bench-prof-"))
  try {
    server = await startNatsServer({ port: -1 })
    const url = server.url
    progress(`nats-server ${natsVersion()} on ${url} (store ${server.storeDir})`)
    nc = await connectNats({ servers: url, name: "bench-driver" })
    const b = await setUpBaselines(nc)
    const echo = await startBaselineChild(url, "echo")
    const thin = await startBaselineChild(url, "thin-write")
    const main1 = await startBlobServiceChild(url, "bench-blob-1", MAIN_ENV)
    children.push(echo, thin, main1)
    probed.set("nats-server", server.pid())
    probed.set("echo", echo.pid)
    probed.set("thin-write", thin.pid)
    probed.set("blob-service", main1.pid)
    progress("baseline responders and the blob service are up (separate processes)")
    const kvKeys = await fillKv(b, READ_BLOBS, 256)
    const sets = await prepareUmbraData(nc)
    const ctx = { nc, url, timing, progress, quick, timeoutMs: TIMEOUT_MS, readIds: sets.reads.ids, readPrefix: "bench-r-" }
    // Audit replay and history pages (also alone: `--only audit`), before the reconciler's
    // open-loop case adds tens of thousands of events: on nats-server 2.9 a filtered consumer
    // on a bigger stream walks more blocks first.
    if (wants("optional") || wants("audit")) Object.assign(cases, await auditCases(ctx))
    await mainPhase(nc, url, sets, b, kvKeys)
    // The reconciler last on the main service: its open-loop case writes 10,000 more blobs,
    // which the read and write cases above would otherwise carry (more live actors, and on
    // nats-server 2.9 a compare-and-set walks back more blocks to a subject's last message).
    if (wants("optional") || wants("reconciler")) Object.assign(cases, await reconcilerCases(ctx))
    await main1.stop()
    probed.delete("blob-service")
    if (wants("cold")) await coldPhase(nc, url, sets, b)
    if (wants("scaling")) await scalingPhase(nc, url, sets)
    // Profiles of missed read/write targets now, while the shadow bucket is small (the memory
    // phase below fills it, and a service start then loads every shadow).
    const early = computeTargets(computeRatios(cases), cases, {})
    const missedCases = new Set<string>()
    for (const t of early) {
      if (t.met !== false) continue
      if (t.name.startsWith("shadow-hit read throughput")) missedCases.add("shadow-read@64")
      if (t.name.startsWith("shadow-hit read sequential")) missedCases.add("shadow-read@1")
      if (t.name.startsWith("primary read")) missedCases.add("primary-read@64")
      if (t.name.startsWith("write 256 B throughput")) missedCases.add("write-256B@64")
      if (t.name.startsWith("write 256 B sequential")) missedCases.add("write-256B@1")
    }
    if (profiling)
      for (const name of missedCases) {
        progress(`[profile] ${name} (a missed target): CPU profile of the blob service`)
        await profileCase(nc, url, sets, name, profileDir).catch((e: unknown) => (profiles[name] = `failed: ${String(e)}`))
      }
    else if (missedCases.size > 0) notes.push(`missed targets not profiled in this run (use --profile): ${[...missedCases].join(", ")}`)

    if (wants("optional")) Object.assign(cases, await optionalCases(ctx))
    await purgeShadows(nc, [...sets.w4k.ids, ...sets.w64k.ids])
    if (wants("memory")) {
      progress(`[memory] ${RSS_ACTORS.toLocaleString("en-US")} live actors`)
      memory = await measureLiveActorRss(url, nc, RSS_ACTORS, TIMEOUT_MS, progress)
    }
    if (wants("predictor")) {
      progress("[predictor] simulations/predictor-bench.ts")
      predictor = await measurePredictor(quick ? 5_000 : 100_000, quick ? 10_000 : 200_000).catch((e: unknown) => ({ error: String(e) }))
    }

    const ratios = computeRatios(cases)
    const targets = computeTargets(ratios, cases, memory, cpus().length)
    for (const e of unexpectedExits) notes.push(`a service process died during the run: ${e}`)
    notes.push(
      "Umbra cases use plain nats.js requests over the wire contract (DESIGN.md), the same client library and connection as the baselines.",
      `each case: warm-up ${timing.warmupMs} ms, then ${timing.repeats} runs of ${timing.runMs} ms measured round-robin with the other cases of its group; medians of the runs`,
      "the main blob service runs with UMBRA_ACTOR_IDLE_MS=600000 so live-actor cases stay live; the cold-read service with UMBRA_ACTOR_IDLE_MS=1",
    )
    const results: Results = {
      machine: { ...machineInfo, loadAvgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      natsServer: natsVersion(),
      command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`,
      mode: quick ? "quick" : "full",
      startedAt,
      durationS: Math.round((Date.now() - t0) / 1000),
      timing: { ...timing },
      cases,
      ratios,
      targets,
      memory,
      predictor,
      scaling,
      serviceStats: serviceStatsByGroup,
      profiles,
      notes,
    }
    writeFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n")
    writeFileSync("bench/results.html", html(results))
    process.stdout.write(`\n${results.command} (${results.mode}, ${results.durationS} s, nats-server ${results.natsServer}, ${String(machineInfo["cpus"])} CPUs)\n\n${markdownTables(results)}\n\nCPU budgets of the throughput targets:\n${budgetLines(results).map((l) => `- ${l}`).join("\n")}\n\nwrote bench/results.json and bench/results.html\n`)
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {})
    killAllChildren()
    await nc?.close().catch(() => {})
    await server?.stop(true).catch(() => {})
    server = undefined
    rmSync(profileDir, { recursive: true, force: true })
  }
}

/** Last resort (Ctrl-C, crash): nothing this bench started outlives it. */
const killEverything = (): void => {
  killAllChildren()
  if (server !== undefined) {
    server.signal("SIGKILL")
    rmSync(server.storeDir, { recursive: true, force: true })
    server = undefined
  }
}
process.on("SIGINT", () => {
  killEverything()
  process.exit(130)
})
process.on("SIGTERM", () => {
  killEverything()
  process.exit(143)
})
process.on("exit", killEverything)

main().then(
  () => process.exit(0),
  (e: unknown) => {
    progress(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    process.exit(1)
  },
)
void unavailable
