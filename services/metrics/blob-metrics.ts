import { Counter, Gauge, type Registry } from "prom-client"
import { CountedHistogram, type Observe } from "./counted-histogram.ts"
import { errorCode, type UmbraError } from "../../domain/errors.ts"
import { MISS_REASONS } from "../../domain/read-policy.ts"
import type { AccessLog } from "../blob-service/access-log.ts"
import type { ActorRegistry } from "../blob-service/actor-registry.ts"
import type { PartitionOwner } from "../blob-service/partition-owner.ts"
import type { ShadowPaths } from "../blob-service/shadow-paths.ts"
import { APPEND_BUCKETS_S, READ_BUCKETS_S } from "./buckets.ts"

// Blob-service metrics. Counts the service already keeps (shadow counters, actor registry)
// are read at scrape time through collect callbacks, so the hot path pays nothing for them;
// only the two latency histograms (counted-histogram.ts) and the write outcomes are measured
// per request.

export type ReadSource = "shadow" | "primary" | "history"
export type WriteOp = "write" | "patch" | "delete"
export type WriteOutcome = "ok" | "conflict" | "not_found" | "invalid" | "too_large" | "unavailable" | "internal"

/** What a running blob service exposes to its metrics (a subset of BlobService). */
export interface BlobMetricsSource {
  readonly registry: ActorRegistry
  readonly shadows: ShadowPaths
  readonly access: AccessLog
  /** Set when blobs are sharded over partitions. */
  readonly partitions?: PartitionOwner | undefined
}

const OUTCOMES: Record<ReturnType<typeof errorCode>, WriteOutcome> = {
  VERSION_CONFLICT: "conflict",
  NOT_FOUND: "not_found",
  INVALID_ID: "invalid",
  INVALID_REQUEST: "invalid",
  TOO_LARGE: "too_large",
  UNAVAILABLE: "unavailable",
  INTERNAL: "internal",
}
const WRITE_OUTCOMES: ReadonlyArray<WriteOutcome> = ["ok", "conflict", "not_found", "invalid", "too_large", "unavailable", "internal"]
const WRITE_OPS: ReadonlyArray<WriteOp> = ["write", "patch", "delete"]
const READ_SOURCES: ReadonlyArray<ReadSource> = ["shadow", "primary", "history"]

type Incrementer = { inc(v?: number): void }

export class BlobMetrics {
  private readonly sources: BlobMetricsSource[] = []
  // Children bound once: a request then costs one bucket search, no label hashing of our own.
  private readonly readTimers: Record<ReadSource, Observe>
  private readonly appendTimers: Record<WriteOp, Observe>
  private readonly writes: Record<WriteOp, Record<WriteOutcome, Incrementer>>

  constructor(registry: Registry) {
    const readHist = new CountedHistogram({
      name: "umbra_read_duration_seconds",
      help: "Read command latency from request receipt to reply, by the source that answered (history = a version or as-of read).",
      labelName: "source",
      labelValues: READ_SOURCES,
      buckets: READ_BUCKETS_S,
      registers: [registry],
    })
    const appendHist = new CountedHistogram({
      name: "umbra_append_duration_seconds",
      help: "Write, patch and delete command latency from request receipt to reply (includes conflicts and retries).",
      labelName: "op",
      labelValues: WRITE_OPS,
      buckets: APPEND_BUCKETS_S,
      registers: [registry],
    })
    const writeCounter = new Counter({
      name: "umbra_writes_total",
      help: "Write commands answered, by operation and outcome (conflict = expected version did not match).",
      labelNames: ["op", "outcome"],
      registers: [registry],
    })
    this.readTimers = bindAll(READ_SOURCES, (s) => readHist.observer(s))
    this.appendTimers = bindAll(WRITE_OPS, (op) => appendHist.observer(op))
    this.writes = bindAll(WRITE_OPS, (op) =>
      bindAll(WRITE_OUTCOMES, (outcome) => {
        const child = writeCounter.labels(op, outcome)
        child.inc(0) // every series exists from the start: rate() and the dashboard see zeros, not gaps
        return child
      }),
    )
    registerCollected(registry, () => this.sources)
  }

  /** Called by startBlobService once its parts exist; several services may share one registry. */
  attach(source: BlobMetricsSource): () => void {
    this.sources.push(source)
    return () => {
      const i = this.sources.indexOf(source)
      if (i >= 0) this.sources.splice(i, 1)
    }
  }

  readDone(source: ReadSource, startMs: number): void {
    this.readTimers[source]((performance.now() - startMs) / 1000)
  }

  writeDone(op: WriteOp, error: UmbraError | undefined, startMs: number): void {
    this.appendTimers[op]((performance.now() - startMs) / 1000)
    this.writes[op][error === undefined ? "ok" : OUTCOMES[errorCode(error)]].inc()
  }
}

const bindAll = <K extends string, V>(keys: ReadonlyArray<K>, f: (k: K) => V): Record<K, V> =>
  Object.fromEntries(keys.map((k) => [k, f(k)])) as Record<K, V>

const sum = (sources: ReadonlyArray<BlobMetricsSource>, f: (s: BlobMetricsSource) => number): number =>
  sources.reduce((n, s) => n + f(s), 0)

type Collected = { readonly name: string; readonly help: string; readonly read: (s: BlobMetricsSource) => number }

const COUNTERS: ReadonlyArray<Collected> = [
  { name: "umbra_actor_hydrations_total", help: "Blob actors hydrated from the event stream.", read: (s) => s.registry.stats.hydrations },
  { name: "umbra_actor_passivations_total", help: "Blob actors passivated (idle or over the live-actor cap).", read: (s) => s.registry.stats.passivations },
  { name: "umbra_appends_total", help: "Events appended to the event stream by this process.", read: (s) => s.registry.stats.appends },
  { name: "umbra_commands_shed_total", help: "Commands refused because a limit on in-flight work was reached.", read: (s) => s.registry.stats.shed },
  { name: "umbra_shadow_evictions_total", help: "Shadows evicted from the shadow tier to stay within its size limits.", read: (s) => s.shadows.store.stats.evicted },
  { name: "umbra_shadow_write_failures_total", help: "Shadow writes that failed (they never fail the client's write).", read: (s) => s.shadows.counters.shadowWriteFailures },
  { name: "umbra_shadow_writes_skipped_total", help: "Shadow writes skipped because a newer shadow was already there.", read: (s) => s.shadows.counters.shadowWritesSkipped },
  { name: "umbra_shadow_replica_resets_total", help: "Times the local shadow replica was rebuilt after the shadow bucket was lost.", read: (s) => s.shadows.counters.replicaResets },
  { name: "umbra_shadow_replica_rewatches_total", help: "Times the local shadow replica re-subscribed to the shadow bucket.", read: (s) => s.shadows.replica.rewatches },
  { name: "umbra_access_facts_published_total", help: "Aggregated access-fact messages published for the predictor.", read: (s) => s.access.published },
  { name: "umbra_partition_leases_lost_total", help: "Partition leases this process lost (ran out, or taken by another instance) rather than released.", read: (s) => s.partitions?.stats.lost ?? 0 },
]

const GAUGES: ReadonlyArray<Collected> = [
  { name: "umbra_live_actors", help: "Blob actors currently live (hydrated) in this process.", read: (s) => s.registry.liveCount },
  { name: "umbra_live_actors_peak", help: "Most blob actors live at once since start.", read: (s) => s.registry.stats.peakLive },
  { name: "umbra_shadow_replica_entries", help: "Shadows held in this process's local replica of the shadow tier.", read: (s) => s.shadows.replica.size },
  { name: "umbra_shadow_replica_bytes", help: "Bytes of shadow content held in this process's local replica.", read: (s) => s.shadows.replica.bytes },
  { name: "umbra_partitions_owned", help: "Partitions this process serves as owner (lease held with margin, event stream caught up with the lease's floor).", read: (s) => s.partitions?.stats.owned ?? 0 },
  {
    name: "umbra_partitions_catching_up",
    help: "Partitions whose lease this process holds but does not serve yet: the event stream, as every answering leader reports it, has not reached the lease's floor.",
    read: (s) => s.partitions?.stats.catchingUp ?? 0,
  },
]

const registerCollected = (registry: Registry, sources: () => ReadonlyArray<BlobMetricsSource>): void => {
  for (const c of COUNTERS)
    new Counter({
      name: c.name,
      help: c.help,
      registers: [registry],
      collect() {
        this.reset()
        this.inc(sum(sources(), c.read))
      },
    })
  for (const g of GAUGES)
    new Gauge({
      name: g.name,
      help: g.help,
      registers: [registry],
      collect() {
        this.set(sum(sources(), g.read))
      },
    })
  new Counter({
    name: "umbra_reads_total",
    help: "Head reads by the source that answered; for the primary, the reason the shadow was not used (consistency = the client asked for the primary).",
    labelNames: ["source", "reason"],
    registers: [registry],
    collect() {
      this.reset()
      const all = sources()
      this.inc({ source: "shadow", reason: "hit" }, sum(all, (s) => s.shadows.counters.hits))
      for (const r of MISS_REASONS) this.inc({ source: "primary", reason: r }, sum(all, (s) => s.shadows.counters.misses[r]))
    },
  })
  new Counter({
    name: "umbra_shadow_writes_total",
    help: "Shadows stored by the write path, by origin (write = the state a write produces, conflict = a write that lost its conflict).",
    labelNames: ["origin"],
    registers: [registry],
    collect() {
      this.reset()
      const all = sources()
      for (const o of ["prediction", "write", "conflict"] as const) this.inc({ origin: o }, sum(all, (s) => s.shadows.counters.shadowWrites[o]))
    },
  })
}
