import { topologyOf } from "../config.ts"
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection, Subscription } from "@nats-io/nats-core"
import { Svcm, type Service } from "@nats-io/services"
import type { BlobId } from "../../domain/blob-id.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { shadowFacts, type ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"
import { EventStore } from "../../infra/event-store.ts"
import { rawHeaderValue } from "../../infra/header-view.ts"
import { JS_HEADERS } from "../../infra/js-publisher.ts"
import type { Names } from "../../infra/names.ts"
import { decodeShadow } from "../../infra/shadow-codec.ts"
import { ShadowEvents } from "../../infra/shadow-events.ts"
import { ShadowReplica } from "../../infra/shadow-replica.ts"
import { ShadowStore } from "../../infra/shadow-store.ts"
import { ensureShadowBucket } from "../../infra/topology.ts"
import type { UmbraConfig } from "../config.ts"
import type { ShadowMetrics } from "../metrics/shadow-metrics.ts"
import { AccessFeed } from "./access-feed.ts"
import { Coalescer } from "./coalesce.ts"
import { EventDriver } from "./event-driver.ts"
import { KeyedQueue } from "./keyed-queue.ts"
import { ReconcilerMetrics } from "./metrics.ts"
import { Settler } from "./settler.ts"
import { Sweeper } from "./sweep.ts"
import { ReplicaWaits } from "./replica-waits.ts"
import { ShadowTracker } from "./tracker.ts"

// The reconciler service (DESIGN.md "Reconciler saga", issue 5). It follows the shadow tier
// with its own replica, records `created` for every live revision it sees, and settles shadows
// from two drivers: each new primary event (event-driver.ts) and a periodic sweep (sweep.ts).
// Every verdict goes through the saga (domain/machines/reconciler-saga.ts) and ends up in the
// lifecycle stream `shadow.evt.<id>` with a deterministic message id.
//
// How the predictor learns: every `prediction` shadow's outcome verdict is a lifecycle event
// carrying its confidence, model, base and predicted versions, digest, the reads it served and
// `correct`. `confirmed` means right; `discarded` for `wrong-content` or `valid-from-expired`
// means wrong; obsolete-* verdicts and evictions say nothing about the prediction. The
// predictor follows `shadow.evt.>` with its own durable consumer (services/predictor/ledger.ts)
// and turns each into `outcome(<id>@<basedOn>, correct)`; calibration uses the same records.

export interface Reconciler {
  readonly metrics: ReconcilerMetrics
  readonly tracker: ShadowTracker
  readonly replica: ShadowReplica
  readonly service: Service
  /** One sweep now (tests, operators); resolves when its settlements are done. */
  sweepNow(): Promise<void>
  stats(): Record<string, unknown>
  stop(): Promise<void>
}

export interface ReconcilerOptions {
  /** Prometheus families fed with every fresh verdict (services/metrics/). */
  readonly shadowMetrics?: ShadowMetrics
  /**
   * A connection of its own, opened with `noEcho`, for the lifecycle records and for following
   * other reconcilers' verdicts. On the service's connection this process received back both of
   * its own records of every write only to drop them (its settler already marked them judged):
   * 3% of its CPU per write at 2,000 writes/s (345 → 334 µs, medians of 4 alternated runs of
   * `PROBE_RATE=2000 npx tsx bench/reconciler-probe.ts 8 10000`), two deliveries less per write. That
   * connection cannot be no-echo itself: in `npm start` the blob service shares it and this
   * process's access feed must hear its reads. Without it, the service's connection is used.
   */
  readonly connectLifecycle?: () => Promise<NatsConnection>
}

/** How long an event waits for the watch to bring its shadow before asking the bucket. */
const REPLICA_WAIT_MS = 20

const createdEvent = (s: Shadow): ShadowLifecycleEvent => ({
  kind: "created",
  ...shadowFacts(s),
  timeMs: s.createdAtMs,
})

export const startReconciler = async (nc: NatsConnection, config: UmbraConfig, o: ReconcilerOptions = {}): Promise<Reconciler> => {
  const lnc = o.connectLifecycle === undefined ? nc : await o.connectLifecycle()
  const started: Started = []
  try {
    return await startOn(nc, lnc, config, o, started)
  } catch (e) {
    // A start that fails leaves nothing running on the caller's connection: what had started
    // (the access feed, the replica's watch, the verdict follower, the consumer's messages)
    // is stopped, newest first.
    await stopAll(started)
    if (lnc !== nc) await lnc.close().catch(() => undefined)
    throw e
  }
}

/** The parts started so far, each with its stop. */
type Started = Array<() => unknown>

const stopAll = async (started: Started): Promise<void> => {
  for (const stop of started.splice(0).reverse()) {
    try {
      await stop()
    } catch {
      // stopping the rest matters more
    }
  }
}

/**
 * `lnc`: the connection for lifecycle records and other reconcilers' verdicts (`nc` itself or
 * a no-echo one). `started` gets each part's stop as the part starts.
 */
const startOn = async (nc: NatsConnection, lnc: NatsConnection, config: UmbraConfig, o: ReconcilerOptions, started: Started): Promise<Reconciler> => {
  const settings = config.reconciler
  const metrics = new ReconcilerMetrics()
  const tracker = new ShadowTracker({ maxPending: 200_000, maxPerBlob: Math.max(16, config.shadowHistory), maxJudged: 400_000, maxHeads: 200_000, maxRecentEvents: 4_096 })
  const access = new AccessFeed(200_000)
  access.start(nc, config.names)
  started.push(() => access.stop())
  // Lifecycle records of one event-loop turn leave in one socket write (coalesce.ts), in the
  // order they were made: a verdict follows its `created` record without waiting for its ack
  // (settler.ts). A window of a few ms halved the socket writes at 1,000 events/s but, when a
  // verdict still waited for that ack, added twice the window to it: p50 1.7 → 5.6 ms.
  const writes = new Coalescer()
  started.push(() => writes.flush())
  const lifecycleStream = ShadowEvents.open(lnc, config.names)
  const lifecycle: Pick<ShadowEvents, "record"> = { record: (e) => writes.call(() => lifecycleStream.record(e)) }
  const events = await EventStore.open(nc, config.names)
  const queue = new KeyedQueue()
  const created = new Map<string, Promise<void>>()
  let settler: Settler | undefined

  const recordCreated = (s: Shadow): void => {
    const key = `${s.id}@${s.shadowVersion}`
    const p = retry(() => lifecycle.record(createdEvent(s)), 5)
      .then((fresh) => {
        if (!fresh) return
        metrics.c.created++
        o.shadowMetrics?.lifecycle(createdEvent(s))
      })
      .catch(() => undefined)
      // Only its own entry: a revision observed again (after the tracker forgot it) has a newer one.
      .finally(() => {
        if (created.get(key) === p) created.delete(key)
      })
    created.set(key, p)
  }

  const waits = new ReplicaWaits({ waitMs: REPLICA_WAIT_MS, maxWaiters: settings.maxAckPending })
  started.push(() => waits.stop())
  const seen = (id: BlobId, s: Shadow | undefined): void => {
    // An event waiting for this shadow settles it (its continuation runs after this returns).
    const awaited = waits.changed(id, s)
    if (s === undefined || !tracker.observe(s, Date.now())) return
    recordCreated(s)
    if (awaited) return
    const headVersion = tracker.headVersion(id)
    // This process settled the event of its version (or a later one) before the revision
    // arrived: judge it now, against the event at its own version. Left to the sweep, a
    // write's shadow that its blob service stored late, under load, waited seconds for its
    // verdict, or had none at all when the next write replaced it first. Another reconciler
    // judging it too records the same message id, which the lifecycle stream drops. (Behind
    // an older head, the event may have gone to another reconciler: the sweep takes it once
    // that one had its chance.)
    if (headVersion !== undefined && headVersion >= s.predicted && settler !== undefined)
      void queue
        .run(id, async () => {
          if (tracker.isJudged(id, s.shadowVersion)) return
          // Judged by the event at its own version only: were that event not found (history
          // not kept), the head's verdict could contradict another reconciler's judgement of
          // the exact event, under another message id. The sweep takes it then. The tracker
          // keeps recent events (without content: a verdict at the shadow's own version never
          // needs it); an older one is fetched.
          const recent = tracker.recentEvent(id)
          const at = recent?.version === s.predicted ? recent : (await events.seqOfVersion(id, s.predicted))?.event
          if (at !== undefined) await settler!.settle({ id, revision: s.shadowVersion, mode: "outcome", trigger: at })
        })
        .catch(() => undefined)
  }

  const replica = await ShadowReplica.start(nc, {
    bucket: config.names.shadowBucket,
    // Verdicts compare digests; the content of a shadow is never read here.
    withoutContent: true,
    onChange: seen,
    beforeRewatch: () =>
      ensureShadowBucket(nc, topologyOf(config)),
  })
  started.push(() => replica.stop())
  const store = await ShadowStore.open(nc, { bucket: config.names.shadowBucket, maxShadows: config.shadowMaxCount, maxValueBytes: config.shadowMaxValueBytes }, replica)
  settler = new Settler({
    replica,
    tracker,
    store,
    events,
    lifecycle,
    access,
    metrics,
    shadowMetrics: o.shadowMetrics,
    graceMs: settings.graceMs,
    hotReads: settings.hotReads,
    maxValueBytes: config.shadowMaxValueBytes,
    createdRecorded: (id, rev) => created.get(`${id}@${rev}`) ?? Promise.resolve(),
  })
  // Revisions replaced while no reconciler ran still await their outcome (their events are
  // unacknowledged): the bucket's history brings them back.
  await scanHistory(nc, config.names.shadowBucket, (s) => seen(s.id, s))

  const catchUp = async (id: BlobId, version: number): Promise<Shadow | undefined> => {
    // Usually the watch brings it within milliseconds; the bucket is asked only if it does not.
    const arrived = await waits.until(id, version)
    if (arrived !== undefined) return replica.get(id) ?? arrived
    metrics.c.catchUps++
    const fresh = await store.get(id)
    if (fresh !== undefined && fresh.shadowVersion > (replica.get(id)?.shadowVersion ?? 0)) {
      // Its `created` record is published now, ahead of the verdict, even though the watch has
      // not delivered it. Kept without its content, like the replica's shadows.
      seen(id, fresh.content === undefined ? fresh : { ...fresh, content: undefined })
    }
    return fresh
  }
  const verdicts = followVerdicts(lnc, config.names, tracker)
  started.push(() => verdicts.unsubscribe())
  const driver = new EventDriver({ nc, names: config.names, settings, settler, tracker, replica, queue, metrics, catchUp, shadowMetrics: o.shadowMetrics })
  await driver.start()
  const sweeper = new Sweeper({ replica, tracker, settler, queue, metrics, settings })
  sweeper.start()
  started.push(() => sweeper.stop())
  // Listed after the sweep so that it stops first: no more events pulled while a running sweep
  // finishes (they would only be cut off and come back after the ack wait). A start that
  // fails inside driver.start() has nothing of the driver's to stop.
  started.push(() => driver.stop())

  const stats = (): Record<string, unknown> => ({
    instance: config.instanceId,
    ...metrics.snapshot(),
    replicaSize: replica.size,
    pendingRevisions: tracker.pendingSize,
    inFlightEvents: driver.busy,
    replicaWaits: { arrived: waits.arrived, expired: waits.expired },
    accessFacts: access.facts,
    shadowStore: { ...store.stats },
  })
  const service = await new Svcm(nc).add({
    name: settings.serviceName,
    version: "0.1.0",
    description: "Umbra reconciler: settles shadows against the stream head",
    metadata: { instance: config.instanceId },
    statsHandler: async () => stats(),
  })
  started.push(() => service.stop())
  service.addEndpoint("metrics", {
    subject: `umbra.reconciler.metrics.${config.instanceId.replace(/[^A-Za-z0-9_-]/g, "_")}`,
    handler: (err, msg) => {
      if (err === null) msg.respond(JSON.stringify(stats()))
    },
  })

  return {
    metrics,
    tracker,
    replica,
    service,
    sweepNow: () => sweeper.sweep(),
    stats,
    stop: async () => {
      try {
        await stopAll(started)
      } finally {
        if (lnc !== nc) await lnc.drain().catch(() => undefined)
      }
    },
  }
}

/** What a lifecycle record's message id (`lifecycleMsgId`) says: its kind, blob and revision. */
export const recordOfMsgId = (msgId: string | undefined): { kind: string; id: string; shadowVersion: number } | undefined => {
  const parts = msgId?.split(":")
  if (parts === undefined || parts.length !== 4 || !/^\d+$/.test(parts[2] as string)) return undefined
  return { kind: parts[0] as string, id: parts[1] as string, shadowVersion: Number(parts[2]) }
}

/**
 * Verdicts recorded by any reconciler (core subscription on the lifecycle subjects): a
 * revision another process judged is not judged again here by a sweep. Two records arrive per
 * write (its `created` and its verdict), so each is read from its deterministic message id
 * (`<kind>:<id>:<revision>:<digest>`, domain/shadow-lifecycle.ts) without decoding the message;
 * the JSON body only when the id is missing or unreadable.
 */
const followVerdicts = (nc: NatsConnection, names: Names, tracker: ShadowTracker): Subscription => {
  const dec = new TextDecoder()
  const judged = (id: unknown, rev: unknown): void => {
    if (typeof id === "string" && typeof rev === "number" && !tracker.isJudged(id, rev)) tracker.judge(id, rev)
  }
  return nc.subscribe(`${names.shadowEventSubjectPrefix}.>`, {
    callback: (err, msg) => {
      if (err !== null) return
      const known = recordOfMsgId(rawHeaderValue(msg, JS_HEADERS.msgId))
      if (known !== undefined) {
        if (known.kind !== "created") judged(known.id, known.shadowVersion)
        return
      }
      try {
        const e = JSON.parse(dec.decode(msg.data)) as ShadowLifecycleEvent
        if (e.kind !== "created") judged(e.id, e.shadowVersion)
      } catch {
        // not a lifecycle event: ignored
      }
    },
  })
}

const retry = async <T>(f: () => Promise<T>, attempts: number): Promise<T> => {
  for (let i = 1; ; i++) {
    try {
      return await f()
    } catch (e) {
      if (i >= attempts) throw e
      await new Promise((r) => setTimeout(r, 100 * i))
    }
  }
}

/** Every kept revision of every key, oldest first (an ordered consumer on the bucket's stream). */
const scanHistory = async (nc: NatsConnection, bucket: string, onShadow: (s: Shadow) => void): Promise<void> => {
  const stream = `KV_${bucket}`
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  const lastSeq = info.state.last_seq
  if (info.state.messages === 0) return
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All })
  const prefix = `$KV.${bucket}.`
  const messages = await consumer.consume({ max_messages: 1_000 })
  try {
    for await (const m of messages) {
      const op = m.headers?.get("KV-Operation") ?? ""
      const s = op === "" ? decodeShadow(m.data, m.seq, { withoutContent: true }) : undefined
      if (s !== undefined && m.subject.startsWith(prefix)) onShadow(s)
      // Up to where the bucket was when the scan began: the replica follows from there.
      if (m.info.pending === 0 || m.seq >= lastSeq) break
    }
  } finally {
    await messages.close().catch(() => undefined)
  }
}
