// Ad-hoc probe: CPU per shadow-hit read of the blob service against the echo responder's CPU
// per request, alternated in one run (64 in flight, 1024 blobs, 256 B).
// `npx tsx bench/read-probe.ts [seconds] [rounds]`; PROBE_PROF=<file> profiles the service,
// PROBE_ECHO_PROF=<file> the echo responder, PROBE_ENV='{"NAME":"value"}' adds environment to the
// blob service (e.g. UMBRA_NATS_PENDING_LIMIT), BENCH_BASELINE_PENDING_LIMIT=<bytes> sets the echo's.
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { echoCase, payload, setUpBaselines } from "./baselines.ts"
import { runOnce } from "./harness.ts"
import { profiledRun } from "./profile.ts"
import { cpuMs, killAllChildren, startBaselineChild, startBlobServiceChild, syscalls } from "./processes.ts"
import { awaitService, awaitShadows, blobSet, expectSource, readCase, writeAll } from "./umbra-cases.ts"

const secs = Number(process.argv[2] ?? "3")
const rounds = Number(process.argv[3] ?? "2")
const conc = Number(process.env.PROBE_CONC ?? "64")
const primary = process.env.PROBE_PRIMARY === "1"
const server = await startNatsServer({ port: -1 })
const nc = await connectNats({ servers: server.url, name: "probe" })
try {
  await setUpBaselines(nc)
  const echoProf = process.env.PROBE_ECHO_PROF
  const echo = await startBaselineChild(server.url, "echo", echoProf)
  const prof = process.env.PROBE_PROF
  const svc = await startBlobServiceChild(server.url, "probe-blob", { UMBRA_ACTOR_IDLE_MS: "600000", ...(process.env.PROBE_ENV ? JSON.parse(process.env.PROBE_ENV) : {}) }, prof)
  const set = blobSet("bench-r", 1024, 256)
  await awaitService(nc, set.ids[0] as string, 10_000)
  await writeAll(nc, set, payload(256), 10_000)
  await awaitShadows(nc, set, 10_000)
  await expectSource(nc, set, primary ? "primary" : "shadow", primary, 10_000)
  const read = readCase(nc, primary ? "primary-read" : "shadow-read", set, conc, primary, 10_000)
  const echoC = echoCase(nc, conc, 256, 10_000)
  // The profile's summary and the operations it covers, so profiles compare per operation.
  const profile = async (child: typeof svc, c: typeof read, file: string | undefined): Promise<void> => {
    if (file === undefined) return
    await runOnce(c, 500)
    const { run, summary } = await profiledRun(child, c, secs * 1000, file, 30)
    console.log(JSON.stringify(summary, null, 1), `\nprofiled ${c.name}: ${Math.round(run.opsPerSec * secs)} ops`)
  }
  await profile(svc, read, prof)
  await profile(echo, echoC, echoProf)
  for (let i = 0; i < rounds; i++) {
    for (const [c, pid] of [[echoC, echo.pid], [read, svc.pid]] as const) {
      await runOnce(c, 500)
      const s0 = cpuMs(server.pid()), p0 = cpuMs(pid), me0 = process.cpuUsage(), io0 = syscalls(pid)
      const r = await runOnce(c, secs * 1000)
      const n = r.opsPerSec * secs
      const me = process.cpuUsage(me0)
      const io1 = syscalls(pid)
      console.log(`${c.name.padEnd(16)} ${String(Math.round(r.opsPerSec)).padStart(7)} ops/s p50 ${Math.round(r.p50Us ?? 0)} µs  server ${((cpuMs(server.pid()) - s0) * 1000 / n).toFixed(1)} µs/op  responder ${((cpuMs(pid) - p0) * 1000 / n).toFixed(1)}  client ${((me.user + me.system) / n).toFixed(1)}  responder reads/op ${((io1.r - io0.r) / n).toFixed(2)} writes/op ${((io1.w - io0.w) / n).toFixed(2)}`)
    }
  }
} finally {
  await nc.close()
  killAllChildren()
  await server.stop()
}
