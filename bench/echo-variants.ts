// Ad-hoc: what a responder costs for Umbra-shaped replies, without Umbra. Variants of echo:
// plain (one subject, body only), subjects (1024 subjects on a wildcard), headers (+ the
// shadow-hit reply headers). `npx tsx bench/echo-variants.ts [seconds]`
import { headers } from "@nats-io/nats-core"
import { readFileSync } from "node:fs"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { payload } from "./baselines.ts"
import { runOnce, type LoadCase } from "./harness.ts"
import { cpuMs } from "./processes.ts"
import { encodedOnce } from "../infra/encoded-headers.ts"

const secs = Number(process.argv[2] ?? "3")
const server = await startNatsServer({ port: -1 })
const nc = await connectNats({ servers: server.url, name: "probe" })
const mode = process.argv[3]
if (mode !== undefined) {
  const rnc = await connectNats({ servers: process.argv[4] as string, name: "responder", pendingLimitBytes: 256 * 1024 })
  const body = payload(256)
  const h = headers()
  for (const [k, v] of [["Umbra-Version", "1"], ["Umbra-Source", "shadow"], ["Umbra-Digest", "sha256:" + "a".repeat(64)], ["Umbra-Confidence", "1"], ["Umbra-Valid-From", new Date().toISOString()], ["Umbra-Shadow-Version", "1234"], ["Umbra-Shadow-Origin", "write"], ["Umbra-Shadow-Based-On", "0"], ["Umbra-Time", new Date().toISOString()]]) h.set(k as string, v as string)
  const eh = encodedOnce(h)
  rnc.subscribe(mode === "plain" ? "v.plain" : `v.${mode}.>`, { queue: "q", callback: (_e, m) => { if (mode === "headers") m.respond(body, { headers: eh }); else m.respond(body) } })
  await rnc.flush()
  console.log("ready")
  await new Promise(() => {})
}
const { spawn } = await import("node:child_process")
const kids = ["plain", "subjects", "headers"].map((m) => spawn(process.execPath, ["--import", "tsx", ...(process.env.PROBE_PROF ? ["--import", "./bench/cpu-profiler.ts"] : []), "bench/echo-variants.ts", "0", m, server.url], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, BENCH_CPU_PROFILE: `${process.env.PROBE_PROF}.${m}` } }))
await Promise.all(kids.map((k) => new Promise((r) => k.stdout.once("data", r))))
const ids = Array.from({ length: 1024 }, (_, i) => `blob-${i}`)
const mk = (m: string): LoadCase => ({
  name: m, concurrency: 64,
  op: async (w, n) => (await nc.request(m === "plain" ? "v.plain" : `v.${m}.${ids[(w * 16 + n) % 1024]}`, undefined, { timeout: 10_000 })).data.length === 256,
})
try {
  for (let round = 0; round < 2; round++)
    for (const [i, m] of ["plain", "subjects", "headers"].entries()) {
      const c = mk(m), pid = kids[i]!.pid as number
      await runOnce(c, 500)
      if (process.env.PROBE_PROF && round === 0) kids[i]!.kill("SIGUSR2")
      const s0 = cpuMs(server.pid()), p0 = cpuMs(pid), me0 = process.cpuUsage()
      const r = await runOnce(c, secs * 1000)
      if (process.env.PROBE_PROF && round === 0) kids[i]!.kill("SIGUSR2")
      const n = r.opsPerSec * secs, me = process.cpuUsage(me0)
      console.log(`${m.padEnd(10)} ${Math.round(r.opsPerSec)} ops/s server ${((cpuMs(server.pid()) - s0) * 1000 / n).toFixed(1)} responder ${((cpuMs(pid) - p0) * 1000 / n).toFixed(1)} client ${((me.user + me.system) / n).toFixed(1)} µs/op`)
    }
} finally {
  for (const k of kids) k.kill()
  await nc.close()
  await server.stop()
}
