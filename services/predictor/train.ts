import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import { createPredictor, type PredictorStats } from "../../domain/predictor/predictor.ts"
import { ContentStore } from "../../infra/content-store.ts"
import { eventSubjectsWildcard } from "../../infra/names.ts"
import type { UmbraConfig } from "../config.ts"
import { CheckpointStore, type Checkpoint } from "./checkpoint.ts"
import { replayRange } from "./durable-feed.ts"
import { Ledger } from "./ledger.ts"
import { Learner } from "./learner.ts"
import { accessHandler, type AccessCounters } from "./signals.ts"

// `umbra train`: a model learned from everything recorded (the access log first, so hot
// blobs are known, then every event from the start), saved as the checkpoint the service
// starts from. Its positions say what it covers, so the service neither relearns those
// messages nor starts cold. Old verdicts are not replayed: they judged predictions of a
// model that no longer exists, so the verdict position is set past them.

export interface TrainResult {
  readonly events: number
  readonly accessFacts: number
  readonly elapsedMs: number
  readonly eventsPerSec: number
  readonly checkpointBytes: number
  readonly positions: Checkpoint["positions"]
  readonly model: PredictorStats
}

export class PredictorRunning extends Error {
  readonly _tag = "PredictorRunning"
}

const lastSeq = async (nc: NatsConnection, stream: string): Promise<number> =>
  (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq

/** A predictor pulling from its durable consumer would overwrite the trained checkpoint. */
const assertNotRunning = async (nc: NatsConnection, config: UmbraConfig): Promise<void> => {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.consumers.info(config.names.eventStream, config.predictor.eventsDurable).catch(() => undefined)
  if (info !== undefined && info.num_waiting > 0)
    throw new PredictorRunning(`a predictor is pulling from ${config.predictor.eventsDurable}: stop it before training`)
}

export const trainFromHistory = async (nc: NatsConnection, config: UmbraConfig, o: { force?: boolean } = {}): Promise<TrainResult> => {
  if (o.force !== true) await assertNotRunning(nc, config)
  const s = config.predictor
  const js = jetstream(nc)
  const started = Date.now()
  const predictor = createPredictor({ maxTrackedBlobs: s.maxTrackedBlobs })
  const access: AccessCounters = { facts: 0, malformed: 0, reads: 0, readsServedByPredictions: 0 }
  const until = {
    access: await lastSeq(nc, config.names.accessStream),
    events: await lastSeq(nc, config.names.eventStream),
    verdicts: await lastSeq(nc, config.names.shadowEventStream),
  }
  const onAccess = accessHandler(predictor, new Ledger(1), access)
  const accessRead = { seq: 0 }
  await replayRange(js, { stream: config.names.accessStream, filter: `${config.names.accessSubject}.>`, batch: s.fetchBatch }, 0, until.access, (m: JsMsg) => {
    onAccess(m)
    accessRead.seq = m.seq
  })
  const learner = new Learner(predictor, await ContentStore.open(nc, config.names), {
    maxSeenBlobs: s.maxSeenBlobs,
    maxLearnBytes: s.maxLearnBytes,
    onPrediction: () => undefined,
  })
  const eventsRead = { seq: 0 }
  const events = await replayRange(js, { stream: config.names.eventStream, filter: eventSubjectsWildcard(config.names), batch: s.fetchBatch }, 0, until.events, async (m) => {
    await learner.onMessage(m)
    eventsRead.seq = m.seq
  })
  const elapsedMs = Date.now() - started
  const positions = { events: eventsRead.seq, access: accessRead.seq, verdicts: until.verdicts }
  const checkpointBytes = await (await CheckpointStore.open(nc, s.checkpointBucket)).save({
    format: 1,
    savedAtMs: Date.now(),
    writer: "train",
    positions,
    seen: learner.seenEntries(),
    model: predictor.snapshot(),
  })
  return {
    events,
    accessFacts: access.facts,
    elapsedMs,
    eventsPerSec: elapsedMs > 0 ? (events * 1_000) / elapsedMs : events,
    checkpointBytes,
    positions,
    model: predictor.stats(),
  }
}
