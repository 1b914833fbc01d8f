// Ad-hoc A/B probe: two builds of the blob service, alternated on one nats-server, so a change
// is judged against its base on the same (noisy) machine in the same minutes. Each round starts
// one build's service, warms it up, measures, and stops it; CPU per operation of the service
// and of nats-server is read from /proc and the medians per build are printed.
//
//   git worktree add /tmp/umbra-base <base-commit> && ln -s $PWD/node_modules /tmp/umbra-base/
//   [AB_CONC=64] npx tsx bench/ab-probe.ts write|read /tmp/umbra-base [seconds=3] [rounds=4]
//
// Build A is the other checkout's services/blob-service/main.ts, build B this checkout's;
// AB_B_NODE_FLAGS="--max-semi-space-size=64" runs B with node flags (base . compares flags alone);
// AB_B_ENV='{"NAME":"value"}' runs B with extra environment (base . compares a setting alone).
import { resolve } from "node:path"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { payload } from "./baselines.ts"
import { median, runOnce } from "./harness.ts"
import { BLOB_SERVICE_READY, cpuMs, killAllChildren, spawnTs } from "./processes.ts"
import { awaitService, awaitShadows, blobSet, expectSource, readCase, writeAll, writeCase } from "./umbra-cases.ts"

const [mode, baseDir, secsArg, roundsArg] = process.argv.slice(2)
if ((mode !== "write" && mode !== "read") || baseDir === undefined) {
  console.error("usage: npx tsx bench/ab-probe.ts write|read <base checkout> [seconds] [rounds]")
  process.exit(2)
}
const secs = Number(secsArg ?? "3")
/** Requests in flight (AB_CONC, default 64); 1 compares sequential latency. */
const conc = Number(process.env["AB_CONC"] ?? "64")
/** AB_PRIMARY=1: reads with `Umbra-Consistency: primary` (a live actor answers), not shadow hits. */
const primary = process.env["AB_PRIMARY"] === "1"
const rounds = Number(roundsArg ?? "4")
/** AB_B_NODE_FLAGS: node flags for B only (e.g. "--max-semi-space-size=64"; base = this checkout compares the flags alone). */
const bFlags = (process.env["AB_B_NODE_FLAGS"] ?? "").split(" ").filter((f) => f !== "")
const bEnv = JSON.parse(process.env["AB_B_ENV"] ?? "{}") as Record<string, string>
const builds = [
  { name: "A (base)", script: resolve(baseDir, "services/blob-service/main.ts"), nodeFlags: [] as string[], env: {} as Record<string, string> },
  { name: "B (this)", script: resolve("services/blob-service/main.ts"), nodeFlags: bFlags, env: bEnv },
]

const server = await startNatsServer({ port: -1 })
const nc = await connectNats({ servers: server.url, name: "ab-probe" })
const results = builds.map(() => ({ ops: [] as number[], svc: [] as number[], srv: [] as number[], p50: [] as number[] }))
try {
  const set = blobSet(`ab-${mode}`, 1024, 256)
  for (let round = 1; round <= rounds; round++) {
    for (const [i, b] of builds.entries()) {
      const svc = await spawnTs({
        name: `ab-${i}`,
        script: b.script,
        nodeFlags: b.nodeFlags,
        env: { NATS_URL: server.url, UMBRA_INSTANCE_ID: `ab-${i}-${round}`, UMBRA_ACTOR_IDLE_MS: "600000", ...b.env },
        ready: BLOB_SERVICE_READY,
      })
      try {
        await awaitService(nc, set.ids[0] as string, 10_000)
        await writeAll(nc, set, payload(256), 10_000)
        if (mode === "read") {
          await awaitShadows(nc, set, 10_000)
          await expectSource(nc, set, primary ? "primary" : "shadow", primary, 10_000)
        }
        const c = mode === "write" ? writeCase(nc, set, conc, 10_000) : readCase(nc, primary ? "primary-read" : "shadow-read", set, conc, primary, 10_000)
        await runOnce(c, 1_000)
        const s0 = cpuMs(server.pid()), v0 = cpuMs(svc.pid)
        const r = await runOnce(c, secs * 1000)
        const n = r.opsPerSec * secs
        const row = results[i]!
        row.ops.push(r.opsPerSec)
        row.p50.push(r.p50Us ?? NaN)
        row.svc.push(((cpuMs(svc.pid) - v0) * 1000) / n)
        row.srv.push(((cpuMs(server.pid()) - s0) * 1000) / n)
        console.error(`round ${round} ${b.name}: ${Math.round(r.opsPerSec)} ops/s, p50 ${Math.round(r.p50Us ?? NaN)} µs, service ${row.svc.at(-1)!.toFixed(1)} µs/op, nats-server ${row.srv.at(-1)!.toFixed(1)} µs/op`)
      } finally {
        await svc.stop()
      }
    }
  }
  for (const [i, b] of builds.entries()) {
    const row = results[i]!
    console.log(`${b.name} ${mode}@${conc}: median ${Math.round(median(row.ops))} ops/s, p50 ${Math.round(median(row.p50))} µs, service ${median(row.svc).toFixed(1)} µs/op, nats-server ${median(row.srv).toFixed(1)} µs/op (${row.svc.map((x) => x.toFixed(0)).join(" ")})`)
  }
  console.log(`B/A: ops ${(median(results[1]!.ops) / median(results[0]!.ops)).toFixed(3)}, p50 ${(median(results[1]!.p50) / median(results[0]!.p50)).toFixed(3)}, service CPU ${(median(results[1]!.svc) / median(results[0]!.svc)).toFixed(3)}`)
} finally {
  await nc.close()
  killAllChildren()
  await server.stop(true)
}
