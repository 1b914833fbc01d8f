// Ad-hoc: CPU per write of the blob service, the reconciler and nats-server, with writes
// (64 in flight) spread over N blobs. `npx tsx bench/reconciler-probe.ts [seconds] [blobs]`
// PROBE_PROF=<file> profiles the reconciler during the measured run.
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { payload } from "./baselines.ts"
import { cpuMs, killAllChildren, spawnTs, startBlobServiceChild, syscalls } from "./processes.ts"
import { awaitService, blobSet, writeAll } from "./umbra-cases.ts"


const secs = Number(process.argv[2] ?? "5")
const blobs = Number(process.argv[3] ?? "10000")
const prof = process.env.PROBE_PROF
const server = await startNatsServer({ port: -1 })
const nc = await connectNats({ servers: server.url, name: "probe" })
try {
  const svc = await startBlobServiceChild(server.url, "probe-blob", { UMBRA_ACTOR_IDLE_MS: "600000" })
  const set = blobSet("rec", blobs, 256)
  await awaitService(nc, set.ids[0] as string, 10_000)
  await writeAll(nc, set, payload(256), 10_000)
  const rec = await spawnTs({
    name: "probe-reconciler",
    script: "services/reconciler/main.ts",
    env: { NATS_URL: server.url, UMBRA_INSTANCE_ID: "probe-reconciler", ...(prof === undefined ? {} : { BENCH_CPU_PROFILE: prof }) },
    ready: /umbra reconciler .* ready/,
    readyTimeoutMs: 120_000,
    ...(prof === undefined ? {} : { preload: ["bench/cpu-profiler.ts"] }),
  })
  await new Promise((r) => setTimeout(r, 3000)) // catches up on the set-up writes
  // Open loop at a fixed rate, so that both processes see the same batching from run to run.
  const rate = Number(process.env.PROBE_RATE ?? "1000")
  const body = payload(256)
  const s0 = cpuMs(server.pid()), v0 = cpuMs(svc.pid), r0 = cpuMs(rec.pid), w0 = syscalls(rec.pid), b0 = syscalls(svc.pid)
  if (prof !== undefined) rec.signal("SIGUSR2")
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
  const per = (a: number, b: number) => (((a - b) * 1000) / n).toFixed(0)
  console.log(`${r.opsPerSec} writes/s (${failed} failed); µs per write: server ${per(cpuMs(server.pid()), s0)} blob-service ${per(cpuMs(svc.pid), v0)} reconciler ${per(cpuMs(rec.pid), r0)}`)
  const w1 = syscalls(rec.pid), b1 = syscalls(svc.pid)
  console.log(`socket syscalls per write: reconciler ${((w1.r - w0.r) / n).toFixed(2)} reads ${((w1.w - w0.w) / n).toFixed(2)} writes; blob-service ${((b1.r - b0.r) / n).toFixed(2)} reads ${((b1.w - b0.w) / n).toFixed(2)} writes`)
  if (prof !== undefined) for (let i = 0; i < 100 && !(await import("node:fs")).existsSync(prof); i++) await new Promise((res) => setTimeout(res, 200))
} finally {
  await nc.close()
  killAllChildren()
  await server.stop(true)
}
