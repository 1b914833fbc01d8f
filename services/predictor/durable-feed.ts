import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream"
import { nanos, type NatsConnection } from "@nats-io/nats-core"

// One stream, read once, in order, across restarts. A durable pull consumer remembers what
// was delivered; the checkpoint remembers what the *saved model* has learned (`lastSeq`).
// The two differ after a crash: messages acknowledged after the last checkpoint were learned
// by a model that is gone, and messages delivered but not acknowledged come back only after
// the ack wait, out of order. So on start everything between the checkpoint and the
// consumer's last delivered sequence is read again, in order, with an ordered consumer; after
// that the durable consumer continues, and any redelivery at or below `lastSeq` is only acked.

export interface FeedSpec {
  readonly stream: string
  readonly durable: string
  readonly filter: string
  readonly batch: number
  readonly ackWaitMs: number
}

/** Must not throw: a failed message is the handler's to count; the feed acks and moves on. */
export type FeedHandler = (m: JsMsg) => void | Promise<void>

export interface FeedCounters {
  processed: number
  replayed: number
  redeliveriesSkipped: number
  handlerErrors: number
}

const REPLAY_FETCH_EXPIRES_MS = 1_000

export class DurableFeed {
  readonly counters: FeedCounters = { processed: 0, replayed: 0, redeliveriesSkipped: 0, handlerErrors: 0 }
  private messages: ConsumerMessages | undefined
  private loop: Promise<void> | undefined
  private stopped = false

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly spec: FeedSpec,
    /** Highest stream sequence whose message the in-memory model has processed. */
    public lastSeq: number,
  ) {}

  static async open(nc: NatsConnection, spec: FeedSpec, checkpointSeq: number): Promise<DurableFeed> {
    return new DurableFeed(jetstream(nc), await jetstreamManager(nc), spec, checkpointSeq)
  }

  /** Replays the gap since the checkpoint, then follows the durable consumer in the background. */
  async start(handler: FeedHandler): Promise<void> {
    const delivered = await this.ensureConsumer()
    if (delivered > this.lastSeq) await this.replay(delivered, handler)
    const consumer = await this.js.consumers.get(this.spec.stream, this.spec.durable)
    this.messages = await consumer.consume({ max_messages: this.spec.batch })
    this.loop = this.follow(this.messages, handler)
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.messages?.close().catch(() => undefined)
    await this.loop
  }

  /** Creates the consumer if missing (starting after the checkpoint); returns its last delivered stream sequence. */
  private async ensureConsumer(): Promise<number> {
    const existing = await this.jsm.consumers.info(this.spec.stream, this.spec.durable).catch(() => undefined)
    if (existing !== undefined) return existing.delivered.stream_seq
    await this.jsm.consumers.add(this.spec.stream, {
      durable_name: this.spec.durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: this.spec.filter,
      ack_wait: nanos(this.spec.ackWaitMs),
      max_ack_pending: this.spec.batch * 4,
      ...(this.lastSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    })
    return this.lastSeq
  }

  private async replay(untilSeq: number, handler: FeedHandler): Promise<void> {
    const n = await replayRange(this.js, this.spec, this.lastSeq, untilSeq, (m) => this.process(m, handler), () => this.stopped)
    this.counters.replayed += n
  }

  private async follow(messages: ConsumerMessages, handler: FeedHandler): Promise<void> {
    for await (const m of messages) {
      if (m.seq <= this.lastSeq) this.counters.redeliveriesSkipped++
      else await this.process(m, handler)
      m.ack()
    }
  }

  private async process(m: JsMsg, handler: FeedHandler): Promise<void> {
    try {
      await handler(m)
    } catch {
      this.counters.handlerErrors++
    }
    this.lastSeq = m.seq
    this.counters.processed++
  }
}

/**
 * Reads the messages after `afterSeq` up to `untilSeq` in order (an ordered consumer, nothing
 * to acknowledge); returns how many. Stops early when nothing more comes (e.g. aged out).
 */
export const replayRange = async (
  js: JetStreamClient,
  spec: Pick<FeedSpec, "stream" | "filter" | "batch">,
  afterSeq: number,
  untilSeq: number,
  handle: (m: JsMsg) => Promise<void> | void,
  stopped: () => boolean = () => false,
): Promise<number> => {
  if (untilSeq <= afterSeq) return 0
  const ordered = await js.consumers.get(spec.stream, {
    filter_subjects: spec.filter,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: afterSeq + 1,
  })
  let last = afterSeq
  let count = 0
  let more = true
  while (more && last < untilSeq && !stopped()) {
    const batch = await ordered.fetch({ max_messages: Math.min(spec.batch, untilSeq - last), expires: REPLAY_FETCH_EXPIRES_MS })
    more = false
    for await (const m of batch) {
      if (m.seq > untilSeq) break
      await handle(m)
      count++
      last = m.seq
      more = m.seq < untilSeq
    }
  }
  return count
}
