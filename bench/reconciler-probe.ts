// Ad-hoc: CPU per write of the blob service, the reconciler and nats-server, with writes
// (open loop at PROBE_RATE/s, PROBE_BYTES each, 256 by default) spread over N blobs. `npx tsx bench/reconciler-probe.ts [seconds] [blobs]`
// During the measured run: PROBE_PROF=<file> profiles the reconciler's CPU (with PROBE_HEAP=1 its
// allocations instead: V8's sampling heap profiler, collected objects included, written as a
// .heapprofile by bench/heap-sampler.ts), PROBE_SVC_PROF=<file> the blob service's CPU;
// PROBE_SERVER_PROF=<port> serves nats-server's pprof on that port (its /debug/pprof/profile); PROBE_API_COUNT=1 counts the JetStream API requests by kind (each is
// then also delivered to the probe: nats-server's CPU per write is not comparable in such a run).
import { existsSync, rmSync } from "node:fs"
import { jetstreamManager } from "@nats-io/jetstream"
import { connectNats } from "../infra/connection.ts"
import { loadConfig } from "../services/config.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { awaitDrained } from "../simulations/reconciler-latency.ts"
import { payload } from "./baselines.ts"
import { cpuMs, killAllChildren, spawnTs, startBlobServiceChild, syscalls } from "./processes.ts"
import { awaitService, blobSet, writeAll } from "./umbra-cases.ts"


const secs = Number(process.argv[2] ?? "5")
const blobs = Number(process.argv[3] ?? "10000")
const prof = process.env.PROBE_PROF
const svcProf = process.env.PROBE_SVC_PROF
// A profile left by an earlier run must not be taken for this one's.
for (const f of [prof, svcProf]) if (f !== undefined) rmSync(f, { force: true })
const serverProf = process.env.PROBE_SERVER_PROF
const server = await startNatsServer({ port: -1, extraArgs: serverProf === undefined ? [] : ["--profile", serverProf] })
const nc = await connectNats({ servers: server.url, name: "probe" })
try {
  const svc = await startBlobServiceChild(server.url, "probe-blob", { UMBRA_ACTOR_IDLE_MS: "600000" }, svcProf)
  const bytes = Number(process.env.PROBE_BYTES ?? "256")
  const set = blobSet("rec", blobs, bytes)
  await awaitService(nc, set.ids[0] as string, 10_000)
  const rec = await spawnTs({
    name: "probe-reconciler",
    script: "services/reconciler/main.ts",
    env: { NATS_URL: server.url, UMBRA_INSTANCE_ID: "probe-reconciler", ...(prof === undefined ? {} : process.env.PROBE_HEAP === "1" ? { BENCH_HEAP_PROFILE: prof } : { BENCH_CPU_PROFILE: prof }) },
    ready: /umbra reconciler .* ready/,
    readyTimeoutMs: 120_000,
    ...(prof === undefined ? {} : { preload: [process.env.PROBE_HEAP === "1" ? "bench/heap-sampler.ts" : "bench/cpu-profiler.ts"] }),
  })
  // Written with the reconciler running, as in the bench: each first version is settled by its
  // own event. Written before it, they would be settled by its sweep during the measured run
  // (a leader get and a search of the stream per blob), which the steady load never does.
  await writeAll(nc, set, payload(bytes), 10_000)
  // The reconciler catches up on the set-up writes (at most 60 s), then settles for a second.
  await awaitDrained(await jetstreamManager(nc), loadConfig({}), 60_000)
  await new Promise((r) => setTimeout(r, 1000))
  // Open loop at a fixed rate, so that both processes see the same batching from run to run.
  const rate = Number(process.env.PROBE_RATE ?? "1000")
  const body = payload(bytes)
  const s0 = cpuMs(server.pid()), v0 = cpuMs(svc.pid), r0 = cpuMs(rec.pid), w0 = syscalls(rec.pid), b0 = syscalls(svc.pid)
  if (prof !== undefined) rec.signal("SIGUSR2")
  if (svcProf !== undefined) svc.signal("SIGUSR2")
  console.log("measuring") // e.g. the moment to take nats-server's profile
  // Requests by API and shape (names and numbers masked): what the services ask of JetStream.
  const apiCounts = new Map<string, number>()
  const dec = new TextDecoder()
  const apiSpy =
    process.env.PROBE_API_COUNT === "1"
      ? nc.subscribe("$JS.API.>", {
          callback: (_e, m) => {
            const shape = dec.decode(m.data).replace(/"[^"]*"\s*}/g, '"…"}').replace(/\d+/g, "N").slice(0, 60)
            const k = `${m.subject.split(".").slice(0, 5).join(".")} ${shape}`
            apiCounts.set(k, (apiCounts.get(k) ?? 0) + 1)
          },
        })
      : undefined
  const started = Date.now()
  let sent = 0
  let failed = 0
  const inflight = new Set<Promise<unknown>>()
  while (Date.now() - started < secs * 1000) {
    const due = Math.floor(((Date.now() - started) * rate) / 1000)
    while (sent < due && inflight.size < 256) {
      const id = set.ids[(sent * 7919) % set.ids.length] as string
      const p = nc.request(`blob.cmd.write.${id}`, body, { timeout: 10_000 }).catch(() => failed++)
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
      sent++
    }
    await new Promise((res) => setTimeout(res, 2))
  }
  await Promise.all(inflight)
  const r = { opsPerSec: Math.round(sent / secs) }
  const n = sent
  await new Promise((res) => setTimeout(res, 1000))
  if (prof !== undefined) rec.signal("SIGUSR2")
  if (svcProf !== undefined) svc.signal("SIGUSR2")
  apiSpy?.unsubscribe()
  for (const [k, v] of [...apiCounts].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${(v / sent).toFixed(3)} per write: ${k}`)
  const per = (a: number, b: number) => (((a - b) * 1000) / n).toFixed(0)
  console.log(`${r.opsPerSec} writes/s (${failed} failed); µs per write: server ${per(cpuMs(server.pid()), s0)} blob-service ${per(cpuMs(svc.pid), v0)} reconciler ${per(cpuMs(rec.pid), r0)}`)
  console.log(`resident memory: reconciler ${(rec.rssBytes() / 2 ** 20).toFixed(0)} MiB, blob service ${(svc.rssBytes() / 2 ** 20).toFixed(0)} MiB`)
  const w1 = syscalls(rec.pid), b1 = syscalls(svc.pid)
  console.log(`socket syscalls per write: reconciler ${((w1.r - w0.r) / n).toFixed(2)} reads ${((w1.w - w0.w) / n).toFixed(2)} writes; blob-service ${((b1.r - b0.r) / n).toFixed(2)} reads ${((b1.w - b0.w) / n).toFixed(2)} writes`)
  for (const f of [prof, svcProf]) if (f !== undefined) for (let i = 0; i < 100 && !existsSync(f); i++) await new Promise((res) => setTimeout(res, 200))
} finally {
  await nc.close()
  killAllChildren()
  await server.stop(true)
}
