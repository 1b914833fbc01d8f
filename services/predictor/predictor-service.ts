import type { NatsConnection } from "@nats-io/nats-core"
import { createPredictor, restorePredictor, type Predictor, type PredictorStats } from "../../domain/predictor/predictor.ts"
import { ContentStore } from "../../infra/content-store.ts"
import { eventSubjectsWildcard } from "../../infra/names.ts"
import { ShadowReplica } from "../../infra/shadow-replica.ts"
import { ShadowStore } from "../../infra/shadow-store.ts"
import { ensureShadowBucket } from "../../infra/topology.ts"
import type { UmbraConfig } from "../config.ts"
import { topologyOf } from "../config.ts"
import { CheckpointStore, NO_POSITIONS, type Checkpoint, type FeedPositions } from "./checkpoint.ts"
import { DurableFeed, type FeedCounters, type FeedSpec } from "./durable-feed.ts"
import { Emitter } from "./emitter.ts"
import { Learner } from "./learner.ts"
import { accessHandler, verdictHandler, type AccessCounters, type VerdictCounters } from "./signals.ts"

// The predictor service (DESIGN.md, issue 4 item 6): learns from the event stream, the
// access facts and the reconciler's verdicts through three durable consumers, emits
// `prediction` shadows within limits, and checkpoints the model with the positions it covers.

const ACK_WAIT_MS = 30_000

export interface PredictorServiceHooks {
  /** Called once per (id, version) learned: what tests count to prove exactly-once learning. */
  readonly onObserved?: (id: string, version: number) => void
}

export interface PredictorServiceStats {
  readonly startedFrom: "checkpoint" | "cold"
  readonly positions: FeedPositions
  readonly feeds: Readonly<Record<keyof FeedPositions, FeedCounters>>
  readonly learner: Learner["counters"]
  readonly emitter: Emitter["counters"]
  readonly emission: Emitter["queueCounters"]
  readonly access: AccessCounters
  readonly verdicts: VerdictCounters
  readonly checkpoints: { saved: number; failed: number; lastBytes: number; lastMs: number }
  readonly model: PredictorStats
}

export interface PredictorService {
  readonly predictor: Predictor
  stats(): PredictorServiceStats
  /** Saves the model and the positions it covers, as of this call. */
  checkpoint(): Promise<void>
  /** `checkpoint: false` stops like a crash would (tests of the recovery path). */
  stop(o?: { readonly checkpoint?: boolean }): Promise<void>
}

interface Feeds {
  readonly events: DurableFeed
  readonly access: DurableFeed
  readonly verdicts: DurableFeed
}

const feedSpecs = (config: UmbraConfig): Record<keyof Feeds, Omit<FeedSpec, "batch" | "ackWaitMs">> => ({
  events: { stream: config.names.eventStream, durable: config.predictor.eventsDurable, filter: eventSubjectsWildcard(config.names) },
  access: { stream: config.names.accessStream, durable: config.predictor.accessDurable, filter: `${config.names.accessSubject}.>` },
  verdicts: {
    stream: config.names.shadowEventStream,
    durable: config.predictor.verdictsDurable,
    filter: `${config.names.shadowEventSubjectPrefix}.>`,
  },
})

const openFeeds = async (nc: NatsConnection, config: UmbraConfig, from: FeedPositions): Promise<Feeds> => {
  const specs = feedSpecs(config)
  const open = (k: keyof Feeds) => DurableFeed.open(nc, { ...specs[k], batch: config.predictor.fetchBatch, ackWaitMs: ACK_WAIT_MS }, from[k])
  return { events: await open("events"), access: await open("access"), verdicts: await open("verdicts") }
}

const openShadows = async (nc: NatsConnection, config: UmbraConfig): Promise<{ replica: ShadowReplica; store: ShadowStore }> => {
  const replica = await ShadowReplica.start(nc, {
    bucket: config.names.shadowBucket,
    // After a server restart the memory bucket is gone: make it again before watching.
    beforeRewatch: () =>
      ensureShadowBucket(nc, topologyOf(config)),
  })
  const store = await ShadowStore.open(
    nc,
    { bucket: config.names.shadowBucket, maxShadows: config.shadowMaxCount, maxValueBytes: config.shadowMaxValueBytes },
    replica,
  )
  return { replica, store }
}

export const startPredictorService = async (
  nc: NatsConnection,
  config: UmbraConfig,
  hooks: PredictorServiceHooks = {},
): Promise<PredictorService> => {
  const s = config.predictor
  const checkpoints = await CheckpointStore.open(nc, s.checkpointBucket)
  const saved = await checkpoints.load()
  const predictor = saved !== undefined ? restorePredictor(saved.model) : createPredictor({ maxTrackedBlobs: s.maxTrackedBlobs })
  const { replica, store } = await openShadows(nc, config)
  let learner: Learner | undefined
  const emitter = new Emitter(store, replica, s, config.shadowMaxValueBytes, (id) => learner?.lastVersion(id) ?? 0)
  learner = new Learner(
    predictor,
    await ContentStore.open(nc, config.names),
    { maxSeenBlobs: s.maxSeenBlobs, maxLearnBytes: s.maxLearnBytes, onPrediction: (p, e) => emitter.offer(p, e), ...hooks },
    saved?.seen,
  )
  const access: AccessCounters = { facts: 0, malformed: 0, reads: 0, readsServedByPredictions: 0 }
  const verdicts: VerdictCounters = { lifecycleEvents: 0, malformed: 0, notOurs: 0, confirmed: 0, wrong: 0, noVerdict: 0, outcomesApplied: 0 }
  const feeds = await openFeeds(nc, config, saved?.positions ?? NO_POSITIONS)
  const ckpt = { saved: 0, failed: 0, lastBytes: 0, lastMs: 0 }
  const l = learner

  const positions = (): FeedPositions => ({ events: feeds.events.lastSeq, access: feeds.access.lastSeq, verdicts: feeds.verdicts.lastSeq })
  // Taken in one synchronous step: the model, the seen versions and the positions agree.
  const capture = (): Checkpoint => ({
    format: 1,
    savedAtMs: Date.now(),
    writer: "service",
    positions: positions(),
    seen: l.seenEntries(),
    model: predictor.snapshot(),
  })
  const save = async (c: Checkpoint): Promise<void> => {
    const started = Date.now()
    try {
      ckpt.lastBytes = await checkpoints.save(c)
      ckpt.saved++
      ckpt.lastMs = Date.now() - started
    } catch {
      ckpt.failed++
    }
  }
  let checkpointing: Promise<void> = Promise.resolve()
  // Captured at the call, saved after any save still in flight (saves never overlap).
  const checkpoint = (): Promise<void> => {
    const c = capture()
    checkpointing = checkpointing.then(() => save(c))
    return checkpointing
  }

  // Verdicts and access facts first: the events feed is the one that emits shadows.
  await feeds.verdicts.start(verdictHandler(predictor, emitter.ledger, verdicts))
  await feeds.access.start(accessHandler(predictor, emitter.ledger, access))
  await feeds.events.start(l.onMessage)
  const timer = setInterval(() => void checkpoint(), s.checkpointIntervalMs)
  timer.unref()

  return {
    predictor,
    stats: () => ({
      startedFrom: saved !== undefined ? "checkpoint" : "cold",
      positions: positions(),
      feeds: { events: feeds.events.counters, access: feeds.access.counters, verdicts: feeds.verdicts.counters },
      learner: l.counters,
      emitter: emitter.counters,
      emission: emitter.queueCounters,
      access,
      verdicts,
      checkpoints: ckpt,
      model: predictor.stats(),
    }),
    checkpoint,
    stop: async (o = {}) => {
      clearInterval(timer)
      await feeds.events.stop()
      await feeds.access.stop()
      await feeds.verdicts.stop()
      await checkpointing
      if (o.checkpoint !== false) await checkpoint()
      await emitter.stop()
      await replica.stop()
      // Acks are fire-and-forget publishes: make sure the server has them before we go.
      await nc.flush().catch(() => undefined)
    },
  }
}
