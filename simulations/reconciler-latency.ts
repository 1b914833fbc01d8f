import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream"
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core"
import * as hdr from "hdr-histogram-js"
import { writeFileSync } from "node:fs"
import { setTimeout as sleep } from "node:timers/promises"
import { pathToFileURL } from "node:url"
import type { ShadowLifecycleEvent } from "../domain/shadow-lifecycle.ts"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { ensureTopology } from "../infra/topology.ts"
import { startBlobService } from "../services/blob-service/blob-service.ts"
import { loadConfig, type UmbraConfig, topologyOf } from "../services/config.ts"
import { startReconciler } from "../services/reconciler/reconciler.ts"
import { observeGc } from "./gc-observer.ts"

// The reconciler's latency target (issue 5): with a steady write load of at least 2,000
// events/s across 10,000 blobs, the event-driven verdict lands p99 <= 50 ms after the primary
// append is acknowledged, and the reconciler keeps up (its consumer's pending count does not
// grow). Open-loop arrivals: writes are started on a fixed schedule whether or not earlier
// ones finished, so a slow system shows up as latency, not as a politely lower rate.
//
// Measured per write: ack received by the writer -> the verdict record on its `write` shadow
// seen on `shadow.evt.>` by the same process (one clock). A verdict recorded before the ack
// reached the writer counts as 0.
//
//   npx tsx simulations/reconciler-latency.ts [ratePerSec=2000] [blobs=10000] [seconds=20]
//   (NATS_URL set: use that server, else one is started in a temp dir.)

export interface LatencyOptions {
  readonly ratePerSec: number
  readonly blobs: number
  readonly seconds: number
  /** Writes in flight at most; arrivals beyond it are counted as dropped. */
  readonly maxInFlight: number
  /**
   * Seconds of the same load before the measured ones, not recorded (a benchmark's warm-up):
   * the reconciler's and the blob service's code paths are compiled and their caches filled
   * at the offered rate, so the report shows the steady state the target is about.
   */
  readonly warmupSeconds?: number
  /**
   * With BENCH_CHILD_LOG_DIR: add this run's window and slow writes (and the bench process's
   * pauses) to the logs instead of starting them anew, so repeated runs are all diagnosed.
   */
  readonly appendLogs?: boolean
}

export interface LatencyReport {
  readonly offeredPerSec: number
  readonly ackedPerSec: number
  readonly writes: number
  readonly dropped: number
  readonly verdicts: number
  readonly missingVerdicts: number
  /** Up to five `<id>@<version>` writes acknowledged without a verdict on their own shadow. */
  readonly missingKeys: ReadonlyArray<string>
  /**
   * Writes whose shadow was never stored: a later write of the same blob put its shadow first and
   * shadows never move backwards (shadow-store.ts), so there was nothing to settle. Not missing.
   */
  readonly superseded: number
  readonly ackToVerdictMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number }
  readonly ackMs: { readonly p50: number; readonly p99: number }
  /** Consumer num_pending sampled once a second during the load. */
  readonly pendingSamples: ReadonlyArray<number>
  /** The slowest ack → verdict (ms) of the writes acknowledged in each second of the load: where the tail sits in time. */
  readonly maxPerSecondMs: ReadonlyArray<number>
  readonly lagGrows: boolean
  /** False when the consumer still had a backlog after 30 s of waiting: the load began on top of it. */
  readonly drained: boolean
  /**
   * The verdicts slower than the target, and the medians of where their time went: from the
   * write's ack to the start of its settlement (the record's `timeMs`: delivery of the event,
   * the reconciler's queue, the wait for its shadow) and from there until the record was seen.
   */
  readonly slowVerdicts: { readonly count: number; readonly toSettlementMs: number; readonly fromSettlementMs: number }
  readonly reconcilerHeadToVerdictMs: unknown
}

const pct = (h: hdr.Histogram, p: number) => h.getValueAtPercentile(p) / 1_000

/** A `performance.now()` reading as epoch ms, the clock every process's GC log uses. */
const epochMs = (t: number): number => Math.round(performance.timeOrigin + t)

/** Issue 5's bound on the verdict's p99: slower acks and verdicts are logged for diagnosis. */
const SLOW_MS = 50

/** Events the reconciler's durable consumer has not settled yet: pending plus unacknowledged. */
export const consumerBacklog = async (jsm: JetStreamManager, config: UmbraConfig): Promise<number> => {
  const i = await jsm.consumers.info(config.names.eventStream, config.reconciler.durable)
  return i.num_pending + i.num_ack_pending
}

/** Polls until the consumer has no backlog (true) or `timeoutMs` passed (false). */
export const awaitDrained = async (jsm: JetStreamManager, config: UmbraConfig, timeoutMs: number): Promise<boolean> => {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(200)) if ((await consumerBacklog(jsm, config).catch(() => undefined)) === 0) return true
  return false
}

/** Drives the load against a running blob service + reconciler reachable through `nc`. */
export const measureReconcilerLatency = async (nc: NatsConnection, config: UmbraConfig, o: LatencyOptions): Promise<Omit<LatencyReport, "reconcilerHeadToVerdictMs">> => {
  const ackAt = new Map<string, number>()
  const verdictAt = new Map<string, number>()
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
  const ackLatency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
  const dec = new TextDecoder()
  const maxPerSecond: number[] = []
  const created = new Set<string>()
  /** Per blob, the newest version whose write shadow has a `created` record. */
  const newestCreated = new Map<string, number>()
  // Each verdict's `timeMs` (its settlement's start, epoch ms on the same machine's clock), to
  // split a slow verdict's time into before and after the reconciler began settling it.
  const settledFrom = new Map<string, number>()
  const toSettlement: number[] = []
  const fromSettlement: number[] = []
  // Writes whose ack or verdict took longer than the target, with the epoch ms of their start
  // and ack, for lining the tail up with every process's GC pauses (bench/gc-timeline.ts).
  const slow: string[] = []
  let loadStart = performance.now()
  const observe = (key: string) => {
    const a = ackAt.get(key)
    const v = verdictAt.get(key)
    if (a === undefined || v === undefined) return
    latency.recordValue(Math.max(1, Math.round((v - a) * 1_000)))
    const second = Math.max(0, Math.floor((a - loadStart) / 1_000))
    maxPerSecond[second] = Math.max(maxPerSecond[second] ?? 0, Math.round(v - a))
    if (v - a <= SLOW_MS) return
    slow.push(`${epochMs(a)} verdict ${Math.round(v - a)} ${key}`)
    const s = settledFrom.get(key)
    if (s === undefined) return
    toSettlement.push(s - epochMs(a))
    fromSettlement.push(epochMs(v) - s)
  }
  const sub = nc.subscribe(`${config.names.shadowEventSubjectPrefix}.>`, {
    callback: (err, msg) => {
      if (err !== null) return
      const e = JSON.parse(dec.decode(msg.data)) as ShadowLifecycleEvent
      if (e.kind === "created" && e.origin === "write") {
        created.add(`${e.id}@${e.predicted}`)
        newestCreated.set(e.id, Math.max(newestCreated.get(e.id) ?? 0, e.predicted))
      }
      if (e.kind === "created" || e.origin !== "write" || e.headVersion !== e.predicted) return
      const key = `${e.id}@${e.predicted}`
      if (verdictAt.has(key)) return
      verdictAt.set(key, performance.now())
      settledFrom.set(key, e.timeMs)
      observe(key)
    },
  })
  const jsm = await jetstreamManager(nc)
  const pending = (): Promise<number> => consumerBacklog(jsm, config)
  // Start from a drained consumer: a backlog left by earlier writes (a set-up burst) would be
  // measured as this load's latency.
  const drained = await awaitDrained(jsm, config, 30_000)
  const pendingSamples: number[] = []
  let sampling = false
  const sampler = setInterval(() => {
    if (sampling)
      pending().then(
        (n) => pendingSamples.push(n),
        () => undefined,
      )
  }, 1_000)
  let inFlight = 0
  let dropped = 0
  let writes = 0
  const body = new TextEncoder().encode(JSON.stringify({ n: 0, pad: "x".repeat(200) }))
  const write = async (id: string, measured: boolean) => {
    inFlight++
    const started = performance.now()
    try {
      const r = await nc.request(`${config.names.commandSubjectPrefix}.write.${id}`, body, { timeout: 10_000, headers: natsHeaders() })
      const acked = performance.now()
      if (measured && acked - started > SLOW_MS) slow.push(`${epochMs(started)} ack ${Math.round(acked - started)} ${id}`)
      if (!measured || r.headers?.get("Nats-Service-Error-Code")) return
      const version = (JSON.parse(dec.decode(r.data)) as { version: number }).version
      const key = `${id}@${version}`
      ackAt.set(key, acked)
      ackLatency.recordValue(Math.max(1, Math.round((acked - started) * 1_000)))
      writes++
      observe(key)
    } catch {
      // timed out: counted as missing below
    } finally {
      inFlight--
    }
  }
  const openLoop = async (seconds: number, measured: boolean): Promise<void> => {
    const t0 = performance.now()
    const total = o.ratePerSec * seconds
    for (let i = 0; i < total; ) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1_000) * o.ratePerSec))
      for (; i < due; i++) {
        if (inFlight >= o.maxInFlight) {
          if (measured) dropped++
        } else void write(`lat/${Math.floor(Math.random() * o.blobs)}`, measured)
      }
      await sleep(2)
    }
  }
  // This process's own GC pauses delay the acks and verdicts it sees: logged with the services'.
  const logDir = process.env["BENCH_CHILD_LOG_DIR"]
  const ownGc: string[] = []
  const stopObserving = logDir === undefined ? () => undefined : observeGc((l) => ownGc.push(l))
  await openLoop(o.warmupSeconds ?? 0, false)
  const started = performance.now()
  loadStart = started
  sampling = true
  await openLoop(o.seconds, true)
  const loadEnd = performance.now()
  const elapsedS = (loadEnd - started) / 1_000
  // Waits for every verdict that can still come. A write whose shadow a later write of the
  // blob replaced before it was recorded (no `created` of its own, a newer one of the blob's)
  // gets none: waiting for it took the whole 15 s after every run that had one.
  const superseded = (key: string): boolean => {
    const at = key.lastIndexOf("@")
    return !created.has(key) && (newestCreated.get(key.slice(0, at)) ?? 0) > Number(key.slice(at + 1))
  }
  const until = Date.now() + 15_000
  while (Date.now() < until && (inFlight > 0 || [...ackAt.keys()].some((k) => !verdictAt.has(k) && !superseded(k)))) await sleep(100)
  clearInterval(sampler)
  sub.unsubscribe()
  const unsettled = [...ackAt.keys()].filter((k) => !verdictAt.has(k))
  const missingKeys = unsettled.filter((k) => created.has(k))
  const missing = missingKeys.length
  const half = Math.floor(pendingSamples.length / 2)
  const avg = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
  // Growing lag: the second half of the run waits clearly longer than the first.
  const lagGrows = avg(pendingSamples.slice(half)) > 2 * avg(pendingSamples.slice(0, half)) + o.ratePerSec * 0.05
  stopObserving()
  if (logDir !== undefined) {
    const flag = o.appendLogs === true ? "a" : "w"
    writeFileSync(`${logDir}/reconciler-slow-writes.log`, [`window ${epochMs(started)} ${epochMs(loadEnd)}`, ...slow].map((l) => `${l}\n`).join(""), { flag })
    writeFileSync(`${logDir}/bench-process.log`, ownGc.join(""), { flag })
  }
  return {
    offeredPerSec: o.ratePerSec,
    ackedPerSec: writes / elapsedS,
    writes,
    dropped,
    verdicts: latency.totalCount,
    missingVerdicts: missing,
    missingKeys: missingKeys.slice(0, 5),
    superseded: unsettled.length - missing,
    ackToVerdictMs: { p50: pct(latency, 50), p90: pct(latency, 90), p99: pct(latency, 99), max: latency.maxValue / 1_000 },
    ackMs: { p50: pct(ackLatency, 50), p99: pct(ackLatency, 99) },
    pendingSamples,
    maxPerSecondMs: Array.from(maxPerSecond, (x) => x ?? 0),
    lagGrows,
    drained,
    slowVerdicts: { count: toSettlement.length, toSettlementMs: median(toSettlement), fromSettlementMs: median(fromSettlement) },
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

/** A whole stack in this process (server in a temp dir unless NATS_URL is set), measured. */
export const runReconcilerLatency = async (o: LatencyOptions): Promise<LatencyReport> => {
  const server = process.env["NATS_URL"] ? undefined : await startNatsServer({})
  const url = process.env["NATS_URL"] || server!.url
  const config = loadConfig({ natsUrl: url, instanceId: "latency", maxLiveActors: 20_000 })
  const serviceNc = await connectNats({ servers: url, name: "latency-blob" })
  const reconcilerNc = await connectNats({ servers: url, name: "latency-reconciler" })
  const clientNc = await connectNats({ servers: url, name: "latency-client" })
  await ensureTopology(serviceNc, topologyOf(config))
  const blob = await startBlobService(serviceNc, config)
  const reconciler = await startReconciler(reconcilerNc, config, {
    connectLifecycle: () => connectNats({ servers: url, name: "latency-reconciler-lifecycle", noEcho: true }),
  })
  try {
    const r = await measureReconcilerLatency(clientNc, config, o)
    return { ...r, reconcilerHeadToVerdictMs: reconciler.metrics.latencyMs() }
  } finally {
    await reconciler.stop()
    await blob.stop()
    for (const nc of [clientNc, reconcilerNc, serviceNc]) await nc.close().catch(() => undefined)
    await server?.stop(true)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [rate = "2000", blobs = "10000", seconds = "20"] = process.argv.slice(2)
  runReconcilerLatency({ ratePerSec: Number(rate), blobs: Number(blobs), seconds: Number(seconds), maxInFlight: 4_096 }).then(
    (r) => {
      console.log(JSON.stringify(r, null, 2))
      process.exit(0)
    },
    (e: unknown) => {
      console.error(e)
      process.exit(1)
    },
  )
}
