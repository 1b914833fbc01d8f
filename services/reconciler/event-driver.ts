import type { ShadowMetrics } from "../metrics/shadow-metrics.ts"
import * as E from "fp-ts/lib/Either.js"
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import type { BlobEvent } from "../../domain/blob-event.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { decodeEvent } from "../../infra/event-codec.ts"
import { eventSubjectsWildcard, type Names } from "../../infra/names.ts"
import type { ReconcilerSettings } from "../config.ts"
import { Coalescer } from "./coalesce.ts"
import type { KeyedQueue } from "./keyed-queue.ts"
import type { ReconcilerMetrics } from "./metrics.ts"
import type { Settler } from "./settler.ts"
import type { ShadowTracker } from "./tracker.ts"
import type { ShadowReplica } from "../../infra/shadow-replica.ts"
import { jsMsgHeaders } from "../../infra/header-view.ts"

// The event-driven driver: one durable pull consumer on the event stream, shared by every
// reconciler process (the server hands each event to one of them). An event is acknowledged
// only after every settlement it started has recorded its verdict; a crash before that leaves
// it unacknowledged, it is redelivered after `ack_wait`, and the re-run records duplicates
// the lifecycle stream drops. `max_ack_pending` bounds the work in flight.

const NAK_DELAY_MS = 1_000
/**
 * Acks of this window leave in one socket write (coalesce.ts): at 1,000 events/s about 0.2
 * socket writes per event instead of 0.4–1. A crash inside it only redelivers events whose
 * records are then duplicates.
 */
const ACK_BATCH_MS = 10

export interface EventDriverDeps {
  readonly nc: NatsConnection
  readonly names: Names
  readonly settings: ReconcilerSettings
  readonly settler: Settler
  readonly tracker: ShadowTracker
  readonly replica: ShadowReplica
  readonly queue: KeyedQueue
  readonly metrics: ReconcilerMetrics
  /** Prometheus: reconciler lag and verdict latency (services/metrics/shadow-metrics.ts). */
  readonly shadowMetrics?: ShadowMetrics | undefined
  /**
   * The bucket's current shadow of a blob when the replica has not caught up with it yet
   * (the write path puts a write's shadow before appending it, so it is usually there).
   */
  readonly catchUp: (id: BlobEvent["id"], version: number) => Promise<Shadow | undefined>
}

export const ensureDurable = async (jsm: JetStreamManager, names: Names, s: ReconcilerSettings): Promise<void> => {
  const exists = await jsm.consumers.info(names.eventStream, s.durable).catch(() => undefined)
  if (exists !== undefined) return
  await jsm.consumers
    .add(names.eventStream, {
      durable_name: s.durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: s.ackWaitMs * 1_000_000,
      max_ack_pending: s.maxAckPending,
      // Settling history from before the reconciler existed would only re-judge old shadows.
      deliver_policy: DeliverPolicy.New,
      filter_subject: eventSubjectsWildcard(names),
      max_deliver: -1,
    })
    // Another reconciler created it first: the same durable, shared.
    .catch(async (e: unknown) => {
      if ((await jsm.consumers.info(names.eventStream, s.durable).catch(() => undefined)) === undefined) throw e
    })
}

/** The settlements one event starts, in order (see settler.ts for the two modes). */
export const settleEvent = async (d: Pick<EventDriverDeps, "settler" | "tracker" | "replica" | "catchUp">, e: BlobEvent): Promise<void> => {
  d.tracker.noteHead(e)
  const seen = d.replica.get(e.id)
  // Settle this version's shadow before the event is acknowledged, even if the watch lags.
  const current = seen === undefined || seen.predicted < e.version ? ((await d.catchUp(e.id, e.version)) ?? seen) : seen
  for (const s of d.tracker.pendingOf(e.id))
    if (s.predicted === e.version) await d.settler.settle({ id: e.id, revision: s.shadowVersion, mode: "outcome", trigger: e })
  if (current === undefined || current.status !== "live") return
  if (!d.tracker.isJudged(e.id, current.shadowVersion))
    await d.settler.settle({ id: e.id, revision: current.shadowVersion, mode: "outcome", trigger: e })
  else if (current.predicted < e.version)
    await d.settler.settle({ id: e.id, revision: current.shadowVersion, mode: "freshness", trigger: e })
}

export class EventDriver {
  private messages: ConsumerMessages | undefined
  private lagTimer: NodeJS.Timeout | undefined
  private inFlight = 0
  private readonly acks = new Coalescer(ACK_BATCH_MS)

  constructor(private readonly d: EventDriverDeps) {}

  async start(): Promise<void> {
    const jsm = await jetstreamManager(this.d.nc)
    await ensureDurable(jsm, this.d.names, this.d.settings)
    const consumer = await jetstream(this.d.nc).consumers.get(this.d.names.eventStream, this.d.settings.durable)
    this.messages = await consumer.consume({
      max_messages: Math.max(1, Math.min(this.d.settings.maxAckPending, 1_000)),
      callback: (m) => this.handle(m),
    })
    this.lagTimer = setInterval(() => {
      consumer.info(false).then(
        (i) => {
          this.d.metrics.c.numPending = i.num_pending
          this.d.metrics.c.numAckPending = i.num_ack_pending
          // Lag in time: how old the newest settled event was when nothing is pending is 0;
          // otherwise the age of the last event settled (the backlog is at least that old).
          const behindMs = i.num_pending + i.num_ack_pending === 0 ? 0 : Date.now() - this.lastSettledArrivalMs
          this.d.shadowMetrics?.reconcilerLag(Math.max(0, behindMs) / 1_000, i.num_pending)
        },
        () => undefined,
      )
    }, 1_000)
    this.lagTimer.unref()
  }

  private lastSettledArrivalMs = Date.now()

  get busy(): number {
    return this.inFlight
  }

  private handle(m: JsMsg): void {
    const decoded = decodeEvent(jsMsgHeaders(m), m.data)
    if (E.isLeft(decoded)) {
      // Published around the service: nothing to settle, and never worth redelivering.
      this.d.metrics.c.malformedEvents++
      m.term()
      return
    }
    const e = decoded.right
    const arrivedMs = Number(m.info.timestampNanos / 1_000_000)
    if (m.redelivered) this.d.metrics.c.eventsRedelivered++
    this.inFlight++
    this.d.queue
      .run(e.id, () => settleEvent(this.d, e))
      .then(
        () => {
          this.acks.later(() => m.ack())
          this.d.metrics.c.events++
          this.lastSettledArrivalMs = arrivedMs
          if (!m.redelivered) {
            this.d.metrics.latency(Date.now() - arrivedMs)
            this.d.shadowMetrics?.verdictRecorded((Date.now() - arrivedMs) / 1_000)
          }
        },
        () => {
          this.d.metrics.c.eventFailures++
          m.nak(NAK_DELAY_MS)
        },
      )
      .finally(() => this.inFlight--)
  }

  async stop(): Promise<void> {
    if (this.lagTimer !== undefined) clearInterval(this.lagTimer)
    this.acks.flush()
    await this.messages?.close().catch(() => undefined)
  }
}
