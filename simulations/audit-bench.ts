import { pathToFileURL } from "node:url"
import { jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import * as E from "fp-ts/lib/Either.js"
import { chainPayload, GENESIS_HASH, type BlobEvent } from "../domain/blob-event.ts"
import { parseBlobId, type BlobId } from "../domain/blob-id.ts"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { encodeEventHeaders } from "../infra/event-codec.ts"
import { EventStore } from "../infra/event-store.ts"
import { jsPublisherFor } from "../infra/js-publisher.ts"
import { nodeHasher } from "../infra/hasher.ts"
import { defaultNames, eventSubject, type Names } from "../infra/names.ts"
import { ensureTopology } from "../infra/topology.ts"
import { readHistory } from "../services/blob-service/history.ts"
import { auditBlob } from "../services/audit/blob-audit.ts"

// Audit targets (issue 6), outside any test because timings on a shared machine are not
// assertions:
//  - audit replay with full verification of one blob with 10,000 versions of 256 B JSON (≥ 50,000/s);
//  - a page of 100 history entries from a blob with 100,000 versions: p50 ≤ 5× one leader get,
//    both measured in the same run, on a blob written in one burst and on one interleaved with
//    another blob (so the version → sequence search cannot just guess).
// Run: node --import tsx simulations/audit-bench.ts [--audit-versions 10000] [--history-versions 100000] [--samples 300]

const enc = new TextEncoder()

const blobId = (raw: string): BlobId => {
  const r = parseBlobId(raw)
  if (E.isLeft(r)) throw new Error(`bad id ${raw}`)
  return r.right
}

/** A JSON document of exactly 256 bytes whose fields change from version to version. */
export const doc256 = (i: number): Uint8Array => {
  const base = JSON.stringify({ n: i, status: i % 3 === 0 ? "open" : "closed", tags: ["a", `t${i % 7}`], owner: `user-${i % 13}`, pad: "" })
  return enc.encode(base.replace('"pad":""', `"pad":"${"x".repeat(256 - base.length)}"`))
}

interface Chain {
  version: number
  prevHash: string
}

const nextEvent = (id: BlobId, c: Chain, content: Uint8Array, timeMs: number): BlobEvent => {
  const unsigned = {
    id,
    version: c.version + 1,
    op: c.version === 0 ? ("write" as const) : ("patch" as const),
    digest: nodeHasher.digest(content),
    size: content.length,
    contentType: "application/json",
    contentRef: undefined,
    writer: "bench",
    timeMs,
    idempotencyKey: undefined,
    restoredFrom: undefined,
    prevHash: c.prevHash,
  }
  const hash = nodeHasher.hashText(chainPayload(unsigned))
  c.version++
  c.prevHash = hash
  return { ...unsigned, content, hash }
}

/**
 * Appends well-formed, chained versions straight to the stream (what the service would have
 * written, minus one request per version), up to `inFlight` publishes at once. With
 * `noise`, every version of `id` is followed by `noise.every` versions of `noise.id`.
 */
export const seedBlob = async (
  nc: NatsConnection,
  names: Names,
  id: BlobId,
  versions: number,
  o: { readonly noise?: { readonly id: BlobId; readonly every: number }; readonly inFlight?: number; readonly t0Ms?: number } = {},
): Promise<void> => {
  // The write path's publisher (one ack subscription, no request per message): seeding 100,000
  // versions took ~10 s through `js.publish`.
  const publisher = jsPublisherFor(nc)
  const chain: Chain = { version: 0, prevHash: GENESIS_HASH }
  const noiseChain: Chain = { version: 0, prevHash: GENESIS_HASH }
  const t0 = o.t0Ms ?? Date.now() - versions
  let pending: Promise<unknown>[] = []
  const publish = async (e: BlobEvent): Promise<void> => {
    pending.push(publisher.publish(eventSubject(names, e.id), e.content ?? new Uint8Array(0), { headers: encodeEventHeaders(e), timeoutMs: 10_000 }))
    if (pending.length >= (o.inFlight ?? 512)) {
      await Promise.all(pending)
      pending = []
    }
  }
  for (let i = 0; i < versions; i++) {
    await publish(nextEvent(id, chain, doc256(i), t0 + i))
    for (let k = 0; k < (o.noise?.every ?? 0); k++) await publish(nextEvent(o.noise!.id, noiseChain, doc256(i + k), t0 + i))
  }
  await Promise.all(pending)
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}

const timeUs = async (f: () => Promise<unknown>): Promise<number> => {
  const t = performance.now()
  await f()
  return (performance.now() - t) * 1000
}

export interface AuditBenchResult {
  readonly auditReplay: {
    readonly versions: number
    readonly versionsPerSec: number
    /** Versions per second of this process's CPU time: what the replay costs, whatever else the machine runs. */
    readonly versionsPerCpuSec: number
    readonly ms: number
    readonly intact: boolean
    readonly target: number
  }
  readonly history: ReadonlyArray<{
    readonly layout: string
    readonly versions: number
    readonly leaderGetP50Us: number
    readonly pageP50Us: number
    readonly pageP99Us: number
    readonly ratio: number
    readonly target: number
  }>
}

const measureAudit = async (nc: NatsConnection, names: Names, versions: number): Promise<AuditBenchResult["auditReplay"]> => {
  const id = blobId("bench/audit")
  await seedBlob(nc, names, id, versions)
  await auditBlob(nc, names, id) // warm-up: connection, consumer API, JIT
  const runs: number[] = []
  const cpu: number[] = []
  let intact = true
  for (let r = 0; r < 5; r++) {
    const t = performance.now()
    const c = process.cpuUsage()
    const res = await auditBlob(nc, names, id)
    const used = process.cpuUsage(c)
    runs.push(performance.now() - t)
    cpu.push((used.user + used.system) / 1000)
    intact &&= res._tag === "Audited" && res.verdict.intact && res.verdict.versions === versions
  }
  const ms = percentile(runs, 50)
  const cpuMs = percentile(cpu, 50)
  return {
    versions,
    versionsPerSec: Math.round(versions / (ms / 1000)),
    versionsPerCpuSec: Math.round(versions / (cpuMs / 1000)),
    ms: Math.round(ms),
    intact,
    target: 50_000,
  }
}

/** Pages at random positions (both directions) and single leader gets, alternated so both see the same load. */
const measureHistory = async (nc: NatsConnection, names: Names, id: BlobId, versions: number, samples: number, layout: string) => {
  const store = await EventStore.open(nc, names)
  const jsm = await jetstreamManager(nc)
  const subject = eventSubject(names, id)
  const gets: number[] = []
  const pages: number[] = []
  let seed = 12345
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  for (let i = 0; i < samples + 20; i++) {
    const from = 1 + rnd(versions)
    const reverse = i % 2 === 1
    const g = await timeUs(() => jsm.streams.getMessage(names.eventStream, { last_by_subj: subject }))
    const p = await timeUs(async () => {
      const r = await readHistory(store, id, { from, limit: 100, reverse }, 1_000)
      if (E.isLeft(r) || r.right.entries.length === 0) throw new Error(`empty page at ${from}`)
    })
    if (i < 20) continue // warm-up
    gets.push(g)
    pages.push(p)
  }
  const leaderGetP50Us = Math.round(percentile(gets, 50))
  const pageP50Us = Math.round(percentile(pages, 50))
  return { layout, versions, leaderGetP50Us, pageP50Us, pageP99Us: Math.round(percentile(pages, 99)), ratio: Math.round((pageP50Us / leaderGetP50Us) * 100) / 100, target: 5 }
}

export const runAuditBench = async (o: { auditVersions?: number; historyVersions?: number; samples?: number } = {}): Promise<AuditBenchResult> => {
  const server = await startNatsServer()
  const nc = await connectNats({ servers: server.url, name: "audit-bench" })
  const names = defaultNames
  try {
    await ensureTopology(nc, { names, replicas: 1, duplicateWindowNs: 120e9, shadowHistory: 8, shadowMaxBytes: 64 * 1024 * 1024 })
    const auditReplay = await measureAudit(nc, names, o.auditVersions ?? 10_000)
    const hv = o.historyVersions ?? 100_000
    const samples = o.samples ?? 300
    await seedBlob(nc, names, blobId("bench/burst"), hv)
    const burst = await measureHistory(nc, names, blobId("bench/burst"), hv, samples, "burst")
    await seedBlob(nc, names, blobId("bench/mixed"), hv, { noise: { id: blobId("bench/noise"), every: 2 } })
    const mixed = await measureHistory(nc, names, blobId("bench/mixed"), hv, samples, "interleaved 1:2")
    // Sparse: the page's span is more than 3× its events, so the filtered consumer is used.
    await seedBlob(nc, names, blobId("bench/sparse"), Math.round(hv / 10), { noise: { id: blobId("bench/noise2"), every: 9 } })
    const sparse = await measureHistory(nc, names, blobId("bench/sparse"), Math.round(hv / 10), samples, "interleaved 1:9 (filtered)")
    return { auditReplay, history: [burst, mixed, sparse] }
  } finally {
    await nc.close().catch(() => {})
    await server.stop(true)
  }
}

const arg = (name: string): number | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : undefined
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await runAuditBench({
    ...(arg("--audit-versions") === undefined ? {} : { auditVersions: arg("--audit-versions")! }),
    ...(arg("--history-versions") === undefined ? {} : { historyVersions: arg("--history-versions")! }),
    ...(arg("--samples") === undefined ? {} : { samples: arg("--samples")! }),
  })
  process.stdout.write(JSON.stringify({ ...r, loadAverage1m: (await import("node:os")).loadavg()[0] }, null, 2) + "\n")
}
