// What the wire alone costs a write: thin-write (one compare-and-set publish), wire-write (the
// messages of DESIGN.md's write, no domain: bench/baseline-service.ts) and Umbra's write,
// alternated round by round on one nats-server, 256 B over 1,024 blobs. Answers how much of
// Umbra's write/thin-write ratio the protocol itself takes, and how much is left to the
// blob service's own work (decide, hashes, the actor, the shadow's encoding).
//   [FLOOR_CONC=1] [WIRE_PARTS=shadow,heads,watch] [WIRE_LEAN=1] npx tsx bench/write-floor.ts [seconds=3] [rounds=5]
// WIRE_PARTS names what wire-write does besides the event's compare-and-set: `shadow` (the KV
// put), `heads` (the republished heads: the stream republishes and the responder hears them),
// `watch` (the responder watches the bucket). All three by default, as in DESIGN.md's write.
// WIRE_LEAN=1 publishes through Umbra's own publisher (infra/js-publisher.ts) instead of nats.js's.
import { writeFileSync } from "node:fs"
import { jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { isServiceError, payload, setUpBaselines, thinWriteCase } from "./baselines.ts"
import { median, runOnce, type LoadCase } from "./harness.ts"
import { BENCH, blobName, ownedIndex, wireParts } from "./names.ts"
import { cpuMs, killAllChildren, startBaselineChild, startBlobServiceChild } from "./processes.ts"
import { awaitService, blobSet, writeAll, writeCase } from "./umbra-cases.ts"

const secs = Number(process.argv[2] ?? "3")
const rounds = Number(process.argv[3] ?? "5")
const conc = Number(process.env["FLOOR_CONC"] ?? "1")
const BLOBS = 1024
const SIZE = 256
const TIMEOUT_MS = 10_000

const setUpWire = async (nc: NatsConnection): Promise<void> => {
  const jsm = await jetstreamManager(nc)
  // Like Umbra's event stream: file storage, every version kept, headers republished.
  await jsm.streams.add({
    name: BENCH.wireStream,
    subjects: [`${BENCH.wireEvtPrefix}.>`],
    storage: "file" as never,
    max_msgs_per_subject: -1,
    ...(wireParts().has("heads")
      ? { republish: { src: `${BENCH.wireEvtPrefix}.>`, dest: `${BENCH.wireHeadPrefix}.>`, headers_only: true } }
      : {}),
  })
  // Like the shadow bucket: memory storage, one revision per key.
  await new Kvm(nc).create(BENCH.wireBucket, { storage: "memory" as never, history: 1 })
}

const wireWriteCase = (nc: NatsConnection): LoadCase => {
  const body = payload(SIZE)
  const subjects = Array.from({ length: BLOBS }, (_, i) => `${BENCH.wireCmdPrefix}.${blobName("w", i)}`)
  return {
    name: `wire-write-256B@${conc}`,
    concurrency: conc,
    op: async (w, n) => !isServiceError(await nc.request(subjects[ownedIndex(w, n, conc, BLOBS)] as string, body, { timeout: TIMEOUT_MS })),
  }
}

// FLOOR_PPROF=<port>: nats-server serves pprof there, and each measured run's server profile is saved to FLOOR_PPROF_DIR (default /tmp).
const pprofPort = process.env["FLOOR_PPROF"]
const server = await startNatsServer({ port: -1, ...(pprofPort === undefined ? {} : { extraArgs: ["--profile", pprofPort] }) })
const serverProfile = async (file: string): Promise<void> => {
  const r = await fetch(`http://127.0.0.1:${pprofPort}/debug/pprof/profile?seconds=${Math.max(1, secs - 1)}`)
  writeFileSync(file, Buffer.from(await r.arrayBuffer()))
}
const nc = await connectNats({ servers: server.url, name: "write-floor" })
try {
  await setUpBaselines(nc)
  await setUpWire(nc)
  const thin = await startBaselineChild(server.url, "thin-write")
  const wire = await startBaselineChild(server.url, "wire-write")
  const svc = await startBlobServiceChild(server.url, "floor-blob", { UMBRA_ACTOR_IDLE_MS: "600000" })
  const set = blobSet("bench-floor", BLOBS, SIZE)
  await awaitService(nc, set.ids[0] as string, TIMEOUT_MS)
  await writeAll(nc, set, payload(SIZE), TIMEOUT_MS)
  const cases = [
    { label: "thin-write", c: thinWriteCase(nc, conc, SIZE, BLOBS, TIMEOUT_MS), pid: thin.pid },
    { label: "wire-write", c: wireWriteCase(nc), pid: wire.pid },
    { label: "umbra write", c: writeCase(nc, set, conc, TIMEOUT_MS), pid: svc.pid },
  ]
  const results = new Map<string, Array<{ p50: number; ops: number; server: number; responder: number }>>(cases.map((c) => [c.label, []]))
  for (let r = 0; r < rounds; r++) {
    // Rotated, so no case always follows the same one.
    for (let k = 0; k < cases.length; k++) {
      const { label, c, pid } = cases[(k + r) % cases.length] as (typeof cases)[number]
      await runOnce(c, 500)
      const s0 = cpuMs(server.pid()), p0 = cpuMs(pid)
      const profiled = pprofPort === undefined ? undefined : serverProfile(`${process.env["FLOOR_PPROF_DIR"] ?? "/tmp"}/nats-server-${label.replace(" ", "-")}-${r + 1}.pb.gz`)
      const res = await runOnce(c, secs * 1000)
      await profiled
      const n = Math.max(1, res.opsPerSec * secs)
      const row = { p50: res.p50Us, ops: res.opsPerSec, server: ((cpuMs(server.pid()) - s0) * 1000) / n, responder: ((cpuMs(pid) - p0) * 1000) / n }
      results.get(label)?.push(row)
      console.log(`round ${r + 1}/${rounds} ${label.padEnd(12)} ${String(res.opsPerSec).padStart(6)} ops/s  p50 ${Math.round(res.p50Us)} µs  CPU per write: nats-server ${row.server.toFixed(0)} µs, responder ${row.responder.toFixed(0)} µs${res.errors > 0 ? `  (${res.errors} errors)` : ""}`)
    }
  }
  const med = (label: string, k: "p50" | "ops" | "server" | "responder") => median((results.get(label) ?? []).map((x) => x[k]))
  console.log(`\nmedians of ${rounds} rounds, ${conc} in flight:`)
  for (const { label } of cases)
    console.log(`  ${label.padEnd(12)} ${med(label, "ops").toFixed(0).padStart(6)} ops/s  p50 ${med(label, "p50").toFixed(0)} µs  nats-server ${med(label, "server").toFixed(0)} µs/write  responder ${med(label, "responder").toFixed(0)} µs/write`)
  // Ratios per round (same minutes), then their median.
  const ratio = (a: string, b: string, k: "p50" | "ops") =>
    median((results.get(a) ?? []).map((x, i) => x[k] / ((results.get(b) ?? [])[i]?.[k] ?? Number.NaN)))
  console.log(`  p50: wire-write/thin-write ${ratio("wire-write", "thin-write", "p50").toFixed(3)}, umbra/thin-write ${ratio("umbra write", "thin-write", "p50").toFixed(3)}, umbra/wire-write ${ratio("umbra write", "wire-write", "p50").toFixed(3)}`)
  console.log(`  ops: wire-write/thin-write ${ratio("wire-write", "thin-write", "ops").toFixed(3)}, umbra/thin-write ${ratio("umbra write", "thin-write", "ops").toFixed(3)}, umbra/wire-write ${ratio("umbra write", "wire-write", "ops").toFixed(3)}`)
  // A watch that fell behind is re-created by nats.js (an ordered consumer): each one left
  // behind costs nats-server CPU per message on 2.9.10 (docs/decisions.md, "History pages").
  const jsm = await jetstreamManager(nc)
  for (const s of [`KV_${BENCH.wireBucket}`, BENCH.wireStream])
    console.log(`  ${s}: ${(await jsm.streams.info(s)).state.consumer_count} consumers at the end`)
} finally {
  await nc.close()
  killAllChildren()
  await server.stop()
}
