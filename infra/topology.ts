import { jetstreamManager, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { Objm } from "@nats-io/obj"
import type { NatsConnection } from "@nats-io/nats-core"
import { ensureCasWindow } from "./exclusive-cas.ts"
import { eventSubjectsWildcard, type Names } from "./names.ts"
import { untilDeadline } from "./retry.ts"

// Creates or verifies every stream and bucket Umbra needs. nats-server 2.9 silently drops
// fields it does not know, so what we asked for is compared with what it reports back.

export interface TopologyOptions {
  readonly names: Names
  readonly replicas: number
  /** De-duplication window for idempotent appends (ns). */
  readonly duplicateWindowNs: number
  readonly shadowHistory: number
  readonly shadowMaxBytes: number
  /** Object store of the predictor's model checkpoint (file storage); default `umbra_predictor`. */
  readonly predictorBucket?: string
}

const SECOND_NS = 1_000_000_000

export const eventStreamConfig = (o: TopologyOptions): Partial<StreamConfig> => ({
  name: o.names.eventStream,
  subjects: [eventSubjectsWildcard(o.names)],
  storage: "file" as StreamConfig["storage"],
  retention: "limits" as StreamConfig["retention"],
  max_msgs_per_subject: -1,
  num_replicas: o.replicas,
  duplicate_window: o.duplicateWindowNs,
  // Leader gets are used where currency matters; direct gets for old, immutable versions.
  allow_direct: true,
  // History is evidence: nobody deletes or purges single versions through the API.
  deny_delete: true,
  deny_purge: true,
  // Every process learns each blob's head version from these headers-only copies, so the
  // read path can tell an obsolete shadow without touching the primary.
  republish: { src: eventSubjectsWildcard(o.names), dest: `${o.names.headSubjectPrefix}.>`, headers_only: true },
})

export const shadowEventStreamConfig = (o: TopologyOptions): Partial<StreamConfig> => ({
  name: o.names.shadowEventStream,
  subjects: [`${o.names.shadowEventSubjectPrefix}.>`],
  storage: "file" as StreamConfig["storage"],
  retention: "limits" as StreamConfig["retention"],
  num_replicas: o.replicas,
  duplicate_window: 10 * 60 * SECOND_NS,
  allow_direct: true,
})

export const accessStreamConfig = (o: TopologyOptions): Partial<StreamConfig> => ({
  name: o.names.accessStream,
  subjects: [`${o.names.accessSubject}.>`],
  storage: "file" as StreamConfig["storage"],
  retention: "limits" as StreamConfig["retention"],
  num_replicas: o.replicas,
  max_age: 7 * 24 * 3600 * SECOND_NS,
})

export class TopologyError extends Error {
  readonly _tag = "TopologyError"
}

const CHECKED: ReadonlyArray<keyof StreamConfig> = [
  "storage",
  "num_replicas",
  "duplicate_window",
  "allow_direct",
  "deny_delete",
  "deny_purge",
  "max_msgs_per_subject",
  "max_age",
]

const verify = (want: Partial<StreamConfig>, got: StreamConfig): void => {
  if (want.republish !== undefined && got.republish?.dest !== want.republish.dest)
    throw new TopologyError(`stream ${got.name}: server did not keep republish to ${want.republish.dest}`)
  for (const k of CHECKED) {
    if (want[k] === undefined) continue
    if (got[k] !== want[k])
      throw new TopologyError(`stream ${got.name}: server reports ${String(k)}=${String(got[k])}, wanted ${String(want[k])}`)
  }
}

export const ensureStream = async (jsm: JetStreamManager, want: Partial<StreamConfig>): Promise<void> => {
  const name = want.name!
  const existing = await jsm.streams.info(name).catch(() => undefined)
  if (existing === undefined) {
    const created = await jsm.streams.add({ ...want, name })
    return verify(want, created.config)
  }
  if (existing.config.storage !== want.storage)
    throw new TopologyError(`stream ${name} exists with storage ${existing.config.storage}, wanted ${want.storage}`)
  const mismatch =
    CHECKED.some((k) => want[k] !== undefined && existing.config[k] !== want[k]) ||
    (want.republish !== undefined && existing.config.republish?.dest !== want.republish.dest)
  if (!mismatch) return
  if (want.republish !== undefined && existing.config.republish?.dest !== want.republish.dest)
    throw new TopologyError(
      `stream ${name} exists without the headers-only republish to ${want.republish.dest} that Umbra's read path needs, ` +
        `and nats-server cannot add it to an existing stream: move the history to a new stream (e.g. \`nats stream copy\`), ` +
        `or set UMBRA_EVENT_STREAM to a new name`,
    )
  const updated = await jsm.streams.update(name, { ...existing.config, ...want } as StreamConfig)
  verify(want, updated.config)
}

export const ensureShadowBucket = async (nc: NatsConnection, o: TopologyOptions): Promise<void> => {
  const kvm = new Kvm(nc)
  const kv = await kvm.create(o.names.shadowBucket, {
    storage: "memory" as never,
    history: o.shadowHistory,
    replicas: o.replicas,
    max_bytes: o.shadowMaxBytes,
  })
  // `create` on an existing bucket silently keeps the old config: check what is there.
  const status = await kv.status()
  if (String(status.streamInfo.config.storage) !== "memory")
    throw new TopologyError(`bucket ${o.names.shadowBucket} is not on memory storage`)
  const jsm = await jetstreamManager(nc)
  let config = status.streamInfo.config
  if (status.history !== o.shadowHistory) {
    // The bucket holds only shadows (rebuilt from the primary when lost), so its history
    // setting can follow the configuration instead of refusing to start.
    const updated = await jsm.streams.update(config.name, { ...config, max_msgs_per_subject: o.shadowHistory })
    if (updated.config.max_msgs_per_subject !== o.shadowHistory)
      throw new TopologyError(`bucket ${o.names.shadowBucket} keeps ${updated.config.max_msgs_per_subject} revisions, wanted ${o.shadowHistory}`)
    config = updated.config
  }
  // Replicated shadow writes carry compare-and-set ids (exclusive-cas.ts), kept for seconds.
  await ensureCasWindow(jsm, config.name, config)
}

export const ensureContentBucket = async (nc: NatsConnection, o: TopologyOptions): Promise<void> => {
  const objm = new Objm(nc)
  await objm.create(o.names.contentBucket, { storage: "file" as never, replicas: o.replicas })
}

export const ensurePredictorBucket = async (nc: NatsConnection, o: TopologyOptions): Promise<void> => {
  await new Objm(nc).create(o.predictorBucket ?? "umbra_predictor", { storage: "file" as never, replicas: o.replicas })
}

/** Retried on timeouts and leaderless moments (a cluster that is still starting). */
export const ensureTopology = (nc: NatsConnection, o: TopologyOptions): Promise<void> => untilDeadline(() => ensureTopologyOnce(nc, o))

const ensureTopologyOnce = async (nc: NatsConnection, o: TopologyOptions): Promise<void> => {
  const jsm = await jetstreamManager(nc)
  await ensureStream(jsm, eventStreamConfig(o))
  await ensureStream(jsm, shadowEventStreamConfig(o))
  await ensureStream(jsm, accessStreamConfig(o))
  await ensureShadowBucket(nc, o)
  await ensureContentBucket(nc, o)
  await ensurePredictorBucket(nc, o)
}
