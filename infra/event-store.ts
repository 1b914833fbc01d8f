import * as E from "fp-ts/lib/Either.js"
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from "@nats-io/jetstream"
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core"
import { setTimeout as sleep } from "node:timers/promises"
import type { BlobEvent } from "../domain/blob-event.ts"
import type { BlobId } from "../domain/blob-id.ts"
import { HeadMoved } from "../domain/machines/blob-actor.ts"
import { decodeEvent, encodeEventHeaders } from "./event-codec.ts"
import { eventSubject, type Names } from "./names.ts"

// The primary: one JetStream message per version. Appends are compare-and-set on the
// subject's last stream sequence; retries reuse one Nats-Msg-Id so a stored-but-unacked
// append is recognised instead of written twice.

export interface StoredEvent {
  readonly seq: number
  readonly event: BlobEvent
  readonly msgId: string | undefined
}

export interface AppendOptions {
  readonly msgId: string
  /** Retries of an append whose outcome is unknown stop at this deadline (inside the dup window). */
  readonly deadlineMs: number
  readonly attemptTimeoutMs: number
}

export class UnknownOutcome extends Error {
  readonly _tag = "UnknownOutcome"
}

const isWrongLastSequence = (e: unknown): boolean =>
  e instanceof JetStreamApiError &&
  (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)

const isRetryable = (e: unknown): boolean => {
  const msg = e instanceof Error ? `${e.name} ${e.message}` : String(e)
  return /timeout|TIMEOUT|no responders|503|not enabled|disconnect|closed|reconnect/i.test(msg)
}

export class EventStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly names: Names,
  ) {}

  static async open(nc: NatsConnection, names: Names): Promise<EventStore> {
    return new EventStore(nc, jetstream(nc), await jetstreamManager(nc), names)
  }

  async append(event: BlobEvent, expectedHeadSeq: number, o: AppendOptions): Promise<{ seq: number }> {
    const subject = eventSubject(this.names, event.id)
    const body = event.content ?? new Uint8Array(0)
    const until = Date.now() + o.deadlineMs
    let lastError: unknown
    for (let attempt = 0; Date.now() < until; attempt++) {
      try {
        // nats.js mutates the headers it is given: a fresh object for every attempt.
        const ack = await this.js.publish(subject, body, {
          headers: encodeEventHeaders(event),
          msgID: o.msgId,
          expect: { lastSubjectSequence: expectedHeadSeq, streamName: this.names.eventStream },
          timeout: Math.min(o.attemptTimeoutMs, Math.max(1, until - Date.now())),
        })
        if (ack.duplicate) return this.confirmDuplicate(event, ack.seq)
        return { seq: ack.seq }
      } catch (e) {
        lastError = e
        if (isWrongLastSequence(e)) {
          // On a cluster a retry of a stored append can answer "wrong last sequence"
          // instead of "duplicate": the head tells which.
          const head = await this.headRaw(event.id)
          if (head !== undefined && head.msgId === o.msgId) return { seq: head.seq }
          throw new HeadMoved(`head of ${event.id} moved past ${expectedHeadSeq}`)
        }
        if (!isRetryable(e)) throw e
        await sleep(Math.min(50 * 2 ** attempt, 500))
      }
    }
    throw new UnknownOutcome(`append to ${subject} not confirmed before the deadline: ${String(lastError)}`)
  }

  private async confirmDuplicate(event: BlobEvent, seq: number): Promise<{ seq: number }> {
    const m = await this.jsm.streams.getMessage(this.names.eventStream, { seq })
    if (m !== null && m.header?.get("Umbra-Hash") === event.hash) return { seq }
    // Same msg id but different content: the earlier attempt won under another decision.
    throw new HeadMoved(`duplicate message id for ${event.id} with other content`)
  }

  /** The head event through the stream leader (direct get may be stale on replicas). */
  async head(id: BlobId): Promise<StoredEvent | undefined> {
    return this.headRaw(id)
  }

  private async headRaw(id: BlobId): Promise<StoredEvent | undefined> {
    const m = await this.jsm.streams.getMessage(this.names.eventStream, { last_by_subj: eventSubject(this.names, id) })
    return m === null ? undefined : toStoredOrThrow(m)
  }

  async atSeq(seq: number): Promise<StoredEvent | undefined> {
    const m = await this.jsm.streams.getMessage(this.names.eventStream, { seq })
    return m === null ? undefined : toStoredOrThrow(m)
  }

  /** First event of the blob at or after stream sequence `seq`. */
  async nextFrom(id: BlobId, seq: number): Promise<StoredEvent | undefined> {
    const query = { seq, next_by_subj: eventSubject(this.names, id) } as unknown as { seq: number }
    const m = await this.jsm.streams.getMessage(this.names.eventStream, query)
    return m === null ? undefined : toStoredOrThrow(m)
  }

  /**
   * Stream sequence of version `version` by binary search over sequences: versions grow with
   * the stream sequence within a subject, so O(log n) gets instead of a replay.
   */
  async seqOfVersion(id: BlobId, version: number, headHint?: StoredEvent): Promise<StoredEvent | undefined> {
    const head = headHint ?? (await this.headRaw(id))
    if (head === undefined || version < 1 || version > head.event.version) return undefined
    if (version === head.event.version) return head
    let lo = 1
    let hi = head.seq
    let found: StoredEvent | undefined
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2)
      const e = await this.nextFrom(id, mid)
      if (e === undefined || e.event.version >= version) {
        if (e !== undefined && e.event.version === version) found = e
        hi = mid - 1
      } else lo = e.seq + 1
    }
    return found
  }

  /** Up to `limit` events of one blob from stream sequence `fromSeq`, in order. */
  async range(id: BlobId, fromSeq: number, limit: number, headersOnly = false): Promise<StoredEvent[]> {
    if (limit <= 0) return []
    const consumer = await this.js.consumers.get(this.names.eventStream, {
      filter_subjects: eventSubject(this.names, id),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, fromSeq),
      headers_only: headersOnly,
    })
    const out: StoredEvent[] = []
    try {
      const pending = (await consumer.info(true)).num_pending
      const want = Math.min(limit, pending)
      while (out.length < want) {
        const batch = await consumer.fetch({ max_messages: want - out.length, expires: 5_000 })
        let got = 0
        for await (const m of batch) {
          got++
          const decoded = toStored({ seq: m.seq, header: m.headers, data: m.data } as StoredMsg)
          if (decoded !== undefined) out.push(decoded)
          if (out.length >= want) break
        }
        if (got === 0) break
      }
    } finally {
      await consumer.delete().catch(() => {})
    }
    return out
  }

  /** Appends a raw message to a blob subject, bypassing the service (tests of tamper evidence). */
  async publishRaw(id: BlobId, h: MsgHdrs | undefined, body: Uint8Array): Promise<number> {
    const ack = await this.js.publish(eventSubject(this.names, id), body, h === undefined ? {} : { headers: h })
    return ack.seq
  }
}

const toStored = (m: Pick<StoredMsg, "seq" | "header" | "data">): StoredEvent | undefined => {
  const decoded = decodeEvent(m.header, m.data)
  if (E.isLeft(decoded)) return undefined
  return { seq: m.seq, event: decoded.right, msgId: m.header?.get("Nats-Msg-Id") || undefined }
}

/** A message on a blob subject that is not a well-formed event (e.g. published around the service). */
export class MalformedEvent extends Error {
  readonly _tag = "MalformedEvent"
  constructor(readonly seq: number) {
    super(`malformed event at stream sequence ${seq}`)
  }
}

const toStoredOrThrow = (m: Pick<StoredMsg, "seq" | "header" | "data">): StoredEvent => {
  const s = toStored(m)
  if (s === undefined) throw new MalformedEvent(m.seq)
  return s
}

export const emptyHeaders = (): MsgHdrs => natsHeaders()
