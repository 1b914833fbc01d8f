import type { NatsConnection } from "@nats-io/nats-core"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { ensureTopology } from "../infra/topology.ts"
import { loadConfig } from "../services/config.ts"
import { measureGroup, median, type CaseResult, type Progress, type Timing } from "./harness.ts"
import { killAllChildren, startBlobServiceChild, type Child } from "./processes.ts"

// Issue 10's figures: shadow-hit read throughput with 1, 2 and 3 sharded blob-service
// instances (any instance serves any blob's shadow, so reads need no owner), and the time
// for the survivors to own every partition again after one instance is killed.

const PARTITIONS = 64
const LEASE_MS = 2_000
const BLOBS = 256
const enc = new TextEncoder()

export interface ScaleOutResult {
  readonly cases: Record<string, CaseResult>
  /** Median time (ms) from kill -9 of one of 3 instances until all partitions are owned again. */
  readonly reownMs: { readonly median: number; readonly runs: ReadonlyArray<number>; readonly leaseMs: number; readonly partitions: number }
}

const env = { UMBRA_PARTITIONS: String(PARTITIONS), UMBRA_LEASE_MS: String(LEASE_MS), UMBRA_LEASE_MARGIN_MS: "500" }

/** Partitions owned, summed over the instances that answer $SRV.STATS. */
const ownedTotal = async (nc: NatsConnection): Promise<number> => {
  const sub = nc.subscribe(`_INBOX.scale.${Date.now()}.${Math.random().toString(36).slice(2)}`)
  nc.publish("$SRV.STATS.umbra-blob", undefined, { reply: sub.getSubject() })
  let total = 0
  const timer = setTimeout(() => sub.unsubscribe(), 400)
  for await (const m of sub) {
    const s = m.json<{ endpoints: Array<{ data?: { partitions?: { owned: number } } }> }>()
    total += s.endpoints.find((e) => e.data?.partitions)?.data?.partitions?.owned ?? 0
  }
  clearTimeout(timer)
  return total
}

/** Ms from `t0` until every partition is owned (by the instances that answer). */
const waitOwned = async (nc: NatsConnection, timeoutMs: number, t0 = Date.now()): Promise<number> => {
  while (Date.now() - t0 < timeoutMs) {
    if ((await ownedTotal(nc)) === PARTITIONS) return Date.now() - t0
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error("partitions not all owned in time")
}

const readCase = (nc: NatsConnection, instances: number) => ({
  name: `scale-shadow-read-x${instances}@64`,
  concurrency: 64,
  op: async (w: number, n: number) => {
    const r = await nc.request(`blob.cmd.read.scale/${(w * 31 + n) % BLOBS}`, undefined, { timeout: 5_000 })
    return r.headers?.get("Umbra-Source") === "shadow"
  },
})

export const measureScaleOut = async (natsUrl: string, t: Timing, progress: Progress): Promise<ScaleOutResult> => {
  const nc = await connectNats({ servers: natsUrl, name: "bench-scale-out" })
  const children: Child[] = []
  const cases: Record<string, CaseResult> = {}
  try {
    for (const n of [1, 2, 3]) {
      while (children.length < n) children.push(await startBlobServiceChild(natsUrl, `scale-${children.length + 1}`, env))
      await waitOwned(nc, 30_000)
      if (n === 1) for (let i = 0; i < BLOBS; i++) await nc.request(`blob.cmd.write.scale/${i}`, enc.encode(`{"i":${i}}`), { timeout: 5_000 })
      await new Promise((r) => setTimeout(r, 500))
      Object.assign(cases, await measureGroup(`scale-out x${n}`, [readCase(nc, n)], t, progress))
    }
    return { cases, reownMs: await reownRuns(nc, natsUrl, children, progress) }
  } finally {
    await Promise.all(children.map((c) => c.stop()))
    await nc.close()
  }
}

/** Kills in a re-own measurement. */
const REOWN_RUNS = 3

/**
 * kill -9 of one of the running sharded instances, REOWN_RUNS times: time until all partitions
 * are owned again. The killed instance is replaced before the next kill, not after the last.
 */
const reownRuns = async (nc: NatsConnection, natsUrl: string, children: Child[], progress: Progress): Promise<ScaleOutResult["reownMs"]> => {
  const runs: number[] = []
  for (let i = 0; i < REOWN_RUNS; i++) {
    const victim = children.pop()!
    const killedAt = Date.now()
    victim.signal("SIGKILL")
    // Until it has died, the victim may still answer a poll with its partitions: counted from
    // the kill, polled only once it is gone (two of three kills once read ~400 ms that way).
    await victim.exited()
    runs.push(await waitOwned(nc, 30_000, killedAt))
    progress(`[scale-out] re-owned all partitions ${runs.at(-1)} ms after kill -9 (lease ${LEASE_MS} ms)`)
    if (i === REOWN_RUNS - 1) break
    children.push(await startBlobServiceChild(natsUrl, `scale-r${i}`, env))
    await waitOwned(nc, 30_000)
  }
  return { median: median(runs), runs, leaseMs: LEASE_MS, partitions: PARTITIONS }
}

/** Only the re-own time: three sharded instances, one killed REOWN_RUNS times (for the full `npm run bench`; --quick skips it). */
export const measureReown = async (natsUrl: string, progress: Progress): Promise<ScaleOutResult["reownMs"]> => {
  const nc = await connectNats({ servers: natsUrl, name: "bench-reown" })
  const children: Child[] = []
  try {
    for (let i = 1; i <= 3; i++) children.push(await startBlobServiceChild(natsUrl, `reown-${i}`, env))
    await waitOwned(nc, 30_000)
    return await reownRuns(nc, natsUrl, children, progress)
  } finally {
    await Promise.all(children.map((c) => c.stop()))
    await nc.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startNatsServer()
  try {
    const config = loadConfig({ natsUrl: server.url })
    const nc = await connectNats({ servers: server.url, name: "bench-topology" })
    await ensureTopology(nc, { names: config.names, replicas: 1, duplicateWindowNs: 120e9, shadowHistory: 16, shadowMaxBytes: 256 * 1024 * 1024 })
    await nc.close()
    const r = await measureScaleOut(server.url, { warmupMs: 1_000, runMs: 3_000, repeats: 3 }, (l) => process.stderr.write(l + "\n"))
    const x1 = r.cases["scale-shadow-read-x1@64"]!.opsPerSec
    for (const [name, c] of Object.entries(r.cases)) console.log(`${name}: ${c.opsPerSec} ops/s (×${(c.opsPerSec / x1).toFixed(2)} of one instance) p50 ${c.p50Us} µs`)
    console.log(`re-own after kill -9: median ${r.reownMs.median} ms (runs ${r.reownMs.runs.join(", ")})`)
  } finally {
    killAllChildren()
    await server.stop(true)
  }
}
