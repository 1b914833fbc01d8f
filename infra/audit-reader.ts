import * as E from "fp-ts/lib/Either.js"
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type OrderedConsumerOptions } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import { Objm, type ObjectStore } from "@nats-io/obj"
import type { RefObject } from "../domain/audit.ts"
import type { BlobEvent } from "../domain/blob-event.ts"
import { decodeEvent } from "./event-codec.ts"
import { jsMsgHeaders } from "./header-view.ts"
import { objectStoreDigestToUmbra } from "./hasher.ts"
import type { Names } from "./names.ts"

// What an audit reads: every message on event subjects in stream order, through one ordered
// consumer (flow-controlled, re-created by nats.js on a gap), decoded or reported malformed;
// and what the content store holds under a reference. Nothing here judges: domain/audit.ts does.

export interface RawEvent {
  readonly seq: number
  readonly subject: string
  /** Stream time of the message (ms): the only time a malformed message has. */
  readonly streamTimeMs: number
  readonly decoded: E.Either<string, BlobEvent>
}

export interface ReplayOptions {
  /** A subject filter: one blob's subject, or the event wildcard. */
  readonly filter: string
  readonly startTimeMs?: number
  /** Messages after this stream time end the replay (a `--to` bound). */
  readonly endTimeMs?: number
  /** Messages per pull; bounds client memory. */
  readonly batch?: number
  /** Metadata only (a prediction audit needs digests, not content). */
  readonly headersOnly?: boolean
}

const DEFAULT_BATCH = 2_048

export interface Replay {
  readonly total: number
  forEach(visit: (e: RawEvent) => void | Promise<void>): Promise<number>
}

type Consumer = Awaited<ReturnType<JetStreamClient["consumers"]["get"]>>

const drain = async (consumer: Consumer, total: number, endSeq: number, o: ReplayOptions, visit: (e: RawEvent) => void | Promise<void>): Promise<number> => {
  let seen = 0
  if (total === 0) {
    void consumer.delete().catch(() => {})
    return seen
  }
  const messages = await consumer.consume({ max_messages: o.batch ?? DEFAULT_BATCH })
  try {
    for await (const m of messages) {
      const streamTimeMs = Math.floor(m.info.timestampNanos / 1_000_000)
      if (m.seq > endSeq || (o.endTimeMs !== undefined && streamTimeMs > o.endTimeMs)) break
      // Headers parsed from the raw block: decoding nats.js MsgHdrs was a sixth of a replay.
      const decoded = decodeEvent(jsMsgHeaders(m), m.data)
      seen++
      const r = visit({ seq: m.seq, subject: m.subject, streamTimeMs, decoded: E.isLeft(decoded) ? E.left(decoded.left.reason) : decoded })
      if (r !== undefined) await r
      if (m.info.pending === 0 || m.seq >= endSeq) break
    }
  } finally {
    messages.stop()
    void consumer.delete().catch(() => {})
  }
  return seen
}

const AUDIT_API_TIMEOUT_MS = 60_000

export class AuditReader {
  private objects: Promise<ObjectStore> | undefined
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly names: Names,
  ) {}

  static async open(nc: NatsConnection, names: Names): Promise<AuditReader> {
    // Long API timeouts: on nats-server 2.9 creating a consumer filtered on one subject of a
    // large store first walks its blocks, which can take longer than the default 5 s.
    return new AuditReader(nc, jetstream(nc, { timeout: AUDIT_API_TIMEOUT_MS }), await jetstreamManager(nc, { timeout: AUDIT_API_TIMEOUT_MS }), names)
  }

  /** Stream sequence of the last message now: a replay of a live store stops there. */
  async lastSeq(): Promise<number> {
    return (await this.jsm.streams.info(this.names.eventStream)).state.last_seq
  }

  /**
   * Messages matching the filter from the start (or a time) up to the stream's end as it was
   * when the replay began. `total` is the number of matching messages then (for progress).
   * `forEach` hands each message to `visit` and waits only when `visit` returns a promise:
   * a verification pass is CPU-bound, and a microtask per message costs more than it does.
   */
  async replay(o: ReplayOptions): Promise<Replay> {
    const endSeq = await this.lastSeq()
    const opts: Partial<OrderedConsumerOptions> = {
      filter_subjects: o.filter,
      headers_only: o.headersOnly === true,
      ...(o.startTimeMs === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(o.startTimeMs).toISOString() }),
    }
    const consumer = await this.js.consumers.get(this.names.eventStream, opts)
    const total = (await consumer.info(true)).num_pending
    return { total, forEach: (visit) => drain(consumer, total, endSeq, o, visit) }
  }

  private objectStore(): Promise<ObjectStore> {
    this.objects ??= new Objm(this.nc).open(this.names.contentBucket)
    return this.objects
  }

  /**
   * What the content store holds under `name`: its recorded digest and size (cheap), or with
   * `bytes` the content itself, re-hashed here rather than trusting the object's metadata.
   */
  async refObject(name: string, bytes = false): Promise<RefObject> {
    const os = await this.objectStore()
    const info = await os.info(name)
    if (info === null || info.deleted) return { _tag: "RefMissing" }
    const recorded: RefObject = { _tag: "RefFound", digest: objectStoreDigestToUmbra(info.digest), size: info.size }
    if (!bytes) return recorded
    const data = await os.getBlob(name)
    // The audit re-hashes these bytes itself; the object's own digest is not trusted then.
    return data === null ? { _tag: "RefMissing" } : { ...recorded, bytes: data }
  }
}
