// Ad-hoc probe: server and service CPU per Umbra write (PROBE_CONC in flight, default 64; 1024 blobs, 256 B),
// against thin-write in the same run. `npx tsx bench/write-probe.ts [seconds]`
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { payload, setUpBaselines, thinWriteCase } from "./baselines.ts"
import { runOnce } from "./harness.ts"
import { profiledRun } from "./profile.ts"
import { cpuMs, startBaselineChild, startBlobServiceChild, killAllChildren, syscalls } from "./processes.ts"
import { blobSet, writeAll, writeCase, awaitService } from "./umbra-cases.ts"

const secs = Number(process.argv[2] ?? "3")
const server = await startNatsServer({ port: -1, ...(process.env.PROBE_PPROF ? { extraArgs: ["--profile", process.env.PROBE_PPROF] } : {}) })
const nc = await connectNats({ servers: server.url, name: "probe" })
try {
  await setUpBaselines(nc)
  const thin = await startBaselineChild(server.url, "thin-write")
  const prof = process.env.PROBE_PROF
  const svc = await startBlobServiceChild(server.url, "probe-blob", { UMBRA_ACTOR_IDLE_MS: "600000", ...(process.env.PROBE_ENV ? JSON.parse(process.env.PROBE_ENV) : {}) }, prof)
  const set = blobSet("bench-w256", 1024, 256)
  await awaitService(nc, set.ids[0] as string, 10_000)
  await writeAll(nc, set, payload(256), 10_000)
  console.log(`server pid ${server.pid()} service pid ${svc.pid}`)
  if (process.env.PROBE_PAUSE) await new Promise((r) => setTimeout(r, Number(process.env.PROBE_PAUSE)))
  const conc = Number(process.env.PROBE_CONC ?? "64")
  if (prof !== undefined) {
    const c = writeCase(nc, set, conc, 10_000)
    await runOnce(c, 500)
    console.log(JSON.stringify((await profiledRun(svc, c, secs * 1000, prof, 30)).summary, null, 1))
  }
  for (const c of [thinWriteCase(nc, conc, 256, 1024, 10_000), writeCase(nc, set, conc, 10_000), thinWriteCase(nc, conc, 256, 1024, 10_000), writeCase(nc, set, conc, 10_000)]) {
    await runOnce(c, 500)
    const s0 = cpuMs(server.pid()), v0 = cpuMs(svc.pid), t0 = cpuMs(thin.pid)
    const vs0 = syscalls(svc.pid), ts0 = syscalls(thin.pid)
    const r = await runOnce(c, secs * 1000)
    const n = r.opsPerSec * secs
    const vs1 = syscalls(svc.pid), ts1 = syscalls(thin.pid)
    const sys = (a: { r: number; w: number }, b: { r: number; w: number }) => `${((b.r - a.r) / n).toFixed(2)}r/${((b.w - a.w) / n).toFixed(2)}w`
    console.log(
      `${c.name.padEnd(22)} ${String(r.opsPerSec).padStart(7)} ops/s p50 ${Math.round(r.p50Us ?? 0)} µs  server ${((cpuMs(server.pid()) - s0) * 1000 / n).toFixed(0)} µs/op  ` +
        `svc ${((cpuMs(svc.pid) - v0) * 1000 / n).toFixed(0)} (${sys(vs0, vs1)})  thin ${((cpuMs(thin.pid) - t0) * 1000 / n).toFixed(0)} (${sys(ts0, ts1)}) syscalls per op`,
    )
  }
} finally {
  await nc.close()
  killAllChildren()
  await server.stop()
}
