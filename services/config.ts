import { Config, Effect, Schema } from "effect"
import { defaultNames, type Names } from "../infra/names.ts"
import type { TopologyOptions } from "../infra/topology.ts"

// Every knob comes from an environment variable with a documented default (README,
// "Configuration"). Read once at start-up through Effect's Config.

export interface UmbraConfig {
  /** Comma-separated server URLs; empty = find or start a server (see services/main.ts). */
  readonly natsUrl: string
  readonly natsUser: string | undefined
  readonly natsPass: string | undefined
  readonly natsCa: string | undefined
  /**
   * nats.js writes what a callback published once the callback is done, or at once when its
   * outbound buffer holds this many bytes: the replies to a burst of requests leave in a few
   * socket writes, so nats-server and the requesters start on the first while the rest are
   * answered. At least 1 KiB (nats.js would read 0 as its own 32 KiB default).
   */
  readonly natsPendingLimitBytes: number
  readonly names: Names
  readonly replicas: number
  readonly instanceId: string
  /** Content above this many bytes is stored in the content store, by reference. */
  readonly inlineLimitBytes: number
  /** Largest request body accepted (the server's max_payload bounds it too). */
  readonly maxBodyBytes: number
  readonly actorIdleMs: number
  readonly maxLiveActors: number
  readonly maxInFlight: number
  readonly appendDeadlineMs: number
  /** Times a command is re-decided when another writer moved the blob's head under it. */
  readonly headRetries: number
  readonly appendAttemptTimeoutMs: number
  readonly duplicateWindowMs: number
  readonly defaultMinConfidence: number
  readonly conflictConfidence: number
  readonly shadowHistory: number
  readonly shadowMaxBytes: number
  readonly shadowMaxCount: number
  readonly shadowMaxValueBytes: number
  readonly accessFlushMs: number
  readonly historyPageMax: number
  /** History pages, version reads and as-of reads in flight per instance; more are shed with UNAVAILABLE. */
  readonly maxHistoryInFlight: number
  /** Audits (`blob.cmd.audit`) in flight per instance; more are shed with UNAVAILABLE. */
  readonly maxAuditsInFlight: number
  /** Fault injection for the fault suite (services/blob-service/failpoint.ts); unset in production. */
  readonly failpoint: string | undefined
  readonly predictor: PredictorSettings
  readonly reconciler: ReconcilerSettings
  /** Prometheus endpoint and status page (services/metrics/); 0 = off. */
  readonly metricsPort: number
  /** V8 heap growing factor of a blob-service process with a large heap, as 1 + percent/100 (heap-policy.ts); 0 = V8's own. */
  readonly heapGrowingPercent: number
  readonly metricsHost: string
  /** 0 = one instance serves every blob; > 0 = blobs are sharded over this many partitions. */
  readonly partitions: number
  readonly leaseMs: number
  readonly leaseMarginMs: number
}

/** The predictor service's knobs (services/predictor/, README "Configuration"). */
export interface PredictorSettings {
  readonly eventsDurable: string
  readonly accessDurable: string
  readonly verdictsDurable: string
  /** Object store bucket (file storage) holding the model checkpoint. */
  readonly checkpointBucket: string
  readonly checkpointIntervalMs: number
  /** Shadows emitted per second, all blobs together (token bucket, burst of one second). */
  readonly emitPerSec: number
  /** At most one emitted shadow per blob per this many ms. */
  readonly blobEmitIntervalMs: number
  readonly minEmitConfidence: number
  /** Emit served predictions of irregular writers, held until the write confirms them. */
  readonly emitOnWrite: boolean
  /** A time-triggered prediction is stored this long before its valid-from (not earlier). */
  readonly emitLeadMs: number
  /** Emit predictions the gate did not serve too, held the same way (precision/coverage data). */
  readonly emitHeld: boolean
  readonly maxPendingEmissions: number
  readonly maxInFlightPuts: number
  /** Blobs whose last observed version is remembered for exactly-once learning (LRU beyond). */
  readonly maxSeenBlobs: number
  /** Content stored by reference is fetched for learning up to this size. */
  readonly maxLearnBytes: number
  readonly fetchBatch: number
  readonly maxTrackedBlobs: number
}

/** The reconciler's knobs (services/reconciler/, README "Configuration"). */
export interface ReconcilerSettings {
  /** Durable consumer on the event stream, shared by every reconciler process. */
  readonly durable: string
  readonly serviceName: string
  readonly sweepIntervalMs: number
  /** Shadows one sweep step settles concurrently. */
  readonly sweepBatch: number
  /** Settlements per second a sweep may start (its I/O budget next to the event-driven work). */
  readonly sweepRatePerSec: number
  /** How long after its valid-from a shadow waits for its write before it is discarded. */
  readonly graceMs: number
  /** Recent reads (decaying, half-life 10 s) that make a blob hot: its obsolete shadow is refreshed, not dropped. */
  readonly hotReads: number
  readonly maxAckPending: number
  readonly ackWaitMs: number
  /** Replaced revisions still awaiting their outcome are forgotten after this long. */
  readonly pendingMaxAgeMs: number
}

const int = (name: string, d: number) => Config.Int(name).pipe(Config.withDefault(d))
const num = (name: string, d: number) => Config.Number(name).pipe(Config.withDefault(d))
const str = (name: string, d: string) => Config.String(name).pipe(Config.withDefault(d))
const opt = (name: string) => Config.String(name).pipe(Config.withDefault(""))

export const umbraConfig = Config.all({
  natsUrl: opt("NATS_URL"),
  natsUser: opt("NATS_USER"),
  natsPass: opt("NATS_PASS"),
  natsCa: opt("NATS_CA"),
  natsPendingLimitBytes: Config.schema(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1024)), "UMBRA_NATS_PENDING_LIMIT").pipe(
    Config.withDefault(16 * 1024),
  ),
  eventStream: str("UMBRA_EVENT_STREAM", defaultNames.eventStream),
  shadowBucket: str("UMBRA_SHADOW_BUCKET", defaultNames.shadowBucket),
  shadowEventStream: str("UMBRA_SHADOW_EVENT_STREAM", defaultNames.shadowEventStream),
  contentBucket: str("UMBRA_CONTENT_BUCKET", defaultNames.contentBucket),
  accessStream: str("UMBRA_ACCESS_STREAM", defaultNames.accessStream),
  replicas: int("UMBRA_REPLICAS", 1),
  instanceId: opt("UMBRA_INSTANCE_ID"),
  inlineLimitBytes: int("UMBRA_INLINE_LIMIT_BYTES", 256 * 1024),
  maxBodyBytes: int("UMBRA_MAX_BODY_BYTES", 1024 * 1024),
  actorIdleMs: int("UMBRA_ACTOR_IDLE_MS", 60_000),
  maxLiveActors: int("UMBRA_MAX_LIVE_ACTORS", 100_000),
  maxInFlight: int("UMBRA_MAX_IN_FLIGHT", 10_000),
  appendDeadlineMs: int("UMBRA_APPEND_DEADLINE_MS", 10_000),
  headRetries: int("UMBRA_HEAD_RETRIES", 16),
  appendAttemptTimeoutMs: int("UMBRA_APPEND_ATTEMPT_TIMEOUT_MS", 2_000),
  duplicateWindowMs: int("UMBRA_DUPLICATE_WINDOW_MS", 120_000),
  defaultMinConfidence: num("UMBRA_MIN_CONFIDENCE", 0.9),
  conflictConfidence: num("UMBRA_CONFLICT_CONFIDENCE", 0.5),
  // 1, not more: on nats-server 2.9 a compare-and-set on a memory bucket whose keys keep more
  // than one revision scans every message of the bucket (docs/decisions.md, "Shadow history").
  shadowHistory: int("UMBRA_SHADOW_HISTORY", 1),
  shadowMaxBytes: int("UMBRA_SHADOW_MAX_BYTES", 256 * 1024 * 1024),
  shadowMaxCount: int("UMBRA_SHADOW_MAX_COUNT", 100_000),
  shadowMaxValueBytes: int("UMBRA_SHADOW_MAX_VALUE_BYTES", 256 * 1024),
  accessFlushMs: int("UMBRA_ACCESS_FLUSH_MS", 1_000),
  historyPageMax: int("UMBRA_HISTORY_PAGE_MAX", 1_000),
  maxHistoryInFlight: int("UMBRA_MAX_HISTORY_IN_FLIGHT", 256),
  maxAuditsInFlight: int("UMBRA_MAX_AUDITS_IN_FLIGHT", 16),
  failpoint: opt("UMBRA_FAILPOINT"),
  predictor: Config.all({
    eventsDurable: str("UMBRA_PREDICTOR_EVENTS_DURABLE", "umbra-predictor-events"),
    accessDurable: str("UMBRA_PREDICTOR_ACCESS_DURABLE", "umbra-predictor-access"),
    verdictsDurable: str("UMBRA_PREDICTOR_VERDICTS_DURABLE", "umbra-predictor-verdicts"),
    checkpointBucket: str("UMBRA_PREDICTOR_BUCKET", "umbra_predictor"),
    checkpointIntervalMs: int("UMBRA_PREDICTOR_CHECKPOINT_MS", 30_000),
    emitPerSec: num("UMBRA_PREDICTOR_EMIT_PER_SEC", 1_000),
    blobEmitIntervalMs: int("UMBRA_PREDICTOR_BLOB_EMIT_INTERVAL_MS", 100),
    minEmitConfidence: num("UMBRA_PREDICTOR_MIN_CONFIDENCE", 0.99),
    emitOnWrite: Config.Boolean("UMBRA_PREDICTOR_EMIT_ON_WRITE").pipe(Config.withDefault(false)),
    emitLeadMs: int("UMBRA_PREDICTOR_EMIT_LEAD_MS", 50),
    emitHeld: Config.Boolean("UMBRA_PREDICTOR_EMIT_HELD").pipe(Config.withDefault(false)),
    maxPendingEmissions: int("UMBRA_PREDICTOR_MAX_PENDING", 10_000),
    maxInFlightPuts: int("UMBRA_PREDICTOR_MAX_IN_FLIGHT", 64),
    maxSeenBlobs: int("UMBRA_PREDICTOR_MAX_SEEN_BLOBS", 200_000),
    maxLearnBytes: int("UMBRA_PREDICTOR_MAX_LEARN_BYTES", 8 * 1024 * 1024),
    fetchBatch: int("UMBRA_PREDICTOR_FETCH_BATCH", 1_024),
    maxTrackedBlobs: int("UMBRA_PREDICTOR_MAX_TRACKED", 100_000),
  }),
  reconciler: Config.all({
    durable: str("UMBRA_RECONCILER_DURABLE", "umbra-reconciler"),
    serviceName: str("UMBRA_RECONCILER_SERVICE", "umbra-reconciler"),
    sweepIntervalMs: int("UMBRA_RECONCILER_SWEEP_INTERVAL_MS", 5_000),
    sweepBatch: int("UMBRA_RECONCILER_SWEEP_BATCH", 256),
    sweepRatePerSec: num("UMBRA_RECONCILER_SWEEP_RATE", 2_000),
    graceMs: int("UMBRA_RECONCILER_GRACE_MS", 15_000),
    hotReads: num("UMBRA_RECONCILER_HOT_READS", 2),
    maxAckPending: int("UMBRA_RECONCILER_MAX_ACK_PENDING", 1_000),
    ackWaitMs: int("UMBRA_RECONCILER_ACK_WAIT_MS", 30_000),
    pendingMaxAgeMs: int("UMBRA_RECONCILER_PENDING_MAX_AGE_MS", 600_000),
  }),
  metricsPort: int("UMBRA_METRICS_PORT", 0),
  heapGrowingPercent: int("UMBRA_HEAP_GROWING_PERCENT", 50),
  metricsHost: str("UMBRA_METRICS_HOST", "127.0.0.1"),
  partitions: int("UMBRA_PARTITIONS", 0),
  leaseMs: int("UMBRA_LEASE_MS", 5_000),
  leaseMarginMs: int("UMBRA_LEASE_MARGIN_MS", 1_000),
}).pipe(
  Config.map(
    (c): UmbraConfig => ({
      natsUrl: c.natsUrl,
      natsUser: c.natsUser || undefined,
      natsPass: c.natsPass || undefined,
      natsCa: c.natsCa || undefined,
      natsPendingLimitBytes: c.natsPendingLimitBytes,
      names: {
        ...defaultNames,
        eventStream: c.eventStream,
        shadowBucket: c.shadowBucket,
        shadowEventStream: c.shadowEventStream,
        contentBucket: c.contentBucket,
        accessStream: c.accessStream,
      },
      replicas: c.replicas,
      instanceId: c.instanceId || `umbra-${process.pid}`,
      inlineLimitBytes: c.inlineLimitBytes,
      maxBodyBytes: c.maxBodyBytes,
      actorIdleMs: c.actorIdleMs,
      maxLiveActors: c.maxLiveActors,
      maxInFlight: c.maxInFlight,
      appendDeadlineMs: c.appendDeadlineMs,
      headRetries: c.headRetries,
      appendAttemptTimeoutMs: c.appendAttemptTimeoutMs,
      duplicateWindowMs: c.duplicateWindowMs,
      defaultMinConfidence: c.defaultMinConfidence,
      conflictConfidence: c.conflictConfidence,
      shadowHistory: c.shadowHistory,
      shadowMaxBytes: c.shadowMaxBytes,
      shadowMaxCount: c.shadowMaxCount,
      shadowMaxValueBytes: c.shadowMaxValueBytes,
      accessFlushMs: c.accessFlushMs,
      historyPageMax: c.historyPageMax,
      maxHistoryInFlight: c.maxHistoryInFlight,
      maxAuditsInFlight: c.maxAuditsInFlight,
      failpoint: c.failpoint || undefined,
      partitions: c.partitions,
      leaseMs: c.leaseMs,
      leaseMarginMs: c.leaseMarginMs,
      predictor: c.predictor,
      reconciler: c.reconciler,
      metricsPort: c.metricsPort,
      metricsHost: c.metricsHost,
      heapGrowingPercent: c.heapGrowingPercent,
    }),
  ),
)

/** The configuration from the environment, with overrides (tests pass their own). */
export const loadConfig = (overrides: Partial<UmbraConfig> = {}): UmbraConfig => ({
  ...Effect.runSync(Effect.gen(function* () {
    return yield* umbraConfig
  })),
  ...overrides,
})

/** What `ensureTopology` / `ensureShadowBucket` need, from the configuration. */
export const topologyOf = (c: UmbraConfig): TopologyOptions => ({
  names: c.names,
  replicas: c.replicas,
  duplicateWindowNs: c.duplicateWindowMs * 1_000_000,
  shadowHistory: c.shadowHistory,
  shadowMaxBytes: c.shadowMaxBytes,
})
