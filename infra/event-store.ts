import * as E from "fp-ts/lib/Either.js"
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from "@nats-io/jetstream"
import { createInbox, deferred, headers as natsHeaders, nuid, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core"
import { setTimeout as sleep } from "node:timers/promises"
import type { BlobEvent } from "../domain/blob-event.ts"
import type { BlobId } from "../domain/blob-id.ts"
import { AlreadyStored, HeadMoved } from "../domain/machines/blob-actor.ts"
import { EH } from "./headers.ts"
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
          if (head !== undefined && head.msgId === o.msgId) {
            if (head.event.hash === event.hash) return { seq: head.seq }
            if (event.idempotencyKey !== undefined && head.event.idempotencyKey === event.idempotencyKey)
              throw new AlreadyStored(head.event.version, head.event.digest)
          }
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
    if (m !== null && m.header?.get(EH.hash) === event.hash) return { seq }
    // The same logical write (same blob and idempotency key) stored by an earlier attempt
    // under another decision: the retry must not append it a second time.
    const stored = m === null ? undefined : toStored(m)
    if (stored !== undefined && stored.event.id === event.id && event.idempotencyKey !== undefined && stored.event.idempotencyKey === event.idempotencyKey)
      throw new AlreadyStored(stored.event.version, stored.event.digest)
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
   * The event of version `version`, without a replay: a search over stream sequences (versions
   * grow with the sequence within a subject). Probes interpolate between the nearest known
   * events, so a blob written in a burst or evenly interleaved with others is found in one
   * to three gets; every other probe bisects after the first few, so a skewed layout still
   * costs O(log n). Correctness rests only on the bracket (lo.seq, hi.seq), never on a guess.
   */
  async seqOfVersion(id: BlobId, version: number, headHint?: StoredEvent): Promise<StoredEvent | undefined> {
    const head = headHint ?? (await this.headRaw(id))
    if (head === undefined || version < 1 || version > head.event.version) return undefined
    if (version === head.event.version) return head
    let lo: Probe = { seq: 0, version: 0 }
    let hi: Probe = { seq: head.seq, version: head.event.version }
    for (let step = 0; hi.seq - lo.seq > 1; step++) {
      const p = probeSeq(lo, hi, version, step)
      const e = await this.nextFrom(id, p)
      if (e === undefined || e.seq >= hi.seq) hi = { seq: p, version: hi.version }
      else if (e.event.version === version) return e
      else if (e.event.version > version) hi = { seq: p, version: e.event.version }
      else lo = { seq: e.seq, version: e.event.version }
    }
    return undefined
  }

  /**
   * Up to `limit` events of one blob from stream sequence `fromSeq`, in order. One request:
   * a push consumer is created with this page's inbox as its deliver subject, so the server
   * sends the page as the answer to its creation (an ordered pull consumer cost a stream
   * info, a create and a pull — three round trips for one page). Its delete is not awaited.
   */
  async range(id: BlobId, fromSeq: number, limit: number, headersOnly = false): Promise<StoredEvent[]> {
    if (limit <= 0) return []
    const name = `umbra_page_${nuid.next()}`
    // The connection's own prefix: with per-user inboxes (nats.conf) the default `_INBOX` is
    // not this user's to subscribe to, and the page would be refused.
    const inbox = createInbox((this.nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    const out: StoredEvent[] = []
    const page = deferred<void>()
    const sub = this.nc.subscribe(inbox, {
      max: limit,
      callback: (err, m) => {
        if (err !== null) return page.reject(err)
        const at = deliveryOf(m.reply)
        if (at === undefined) return
        const decoded = toStored({ seq: at.seq, header: m.headers, data: m.data } as StoredMsg)
        if (decoded !== undefined) out.push(decoded)
        if (at.pending === 0 || out.length >= limit) page.resolve()
      },
    })
    sub.closed.then(() => page.resolve()).catch(() => {})
    const config = {
      name,
      deliver_subject: inbox,
      ack_policy: "none",
      deliver_policy: "by_start_sequence",
      opt_start_seq: Math.max(1, fromSeq),
      filter_subject: eventSubject(this.names, id),
      headers_only: headersOnly,
      mem_storage: true,
      num_replicas: 1,
      max_deliver: 1,
      inactive_threshold: PAGE_CONSUMER_IDLE_NS,
    }
    try {
      const reply = await this.nc.request(`$JS.API.CONSUMER.CREATE.${this.names.eventStream}.${name}`, JSON.stringify({ stream_name: this.names.eventStream, config }), {
        timeout: PAGE_TIMEOUT_MS,
      })
      const created = reply.json<{ error?: { description: string }; num_pending?: number; delivered?: { consumer_seq: number } }>()
      if (created.error !== undefined) throw new Error(`history page consumer: ${created.error.description}`)
      if ((created.num_pending ?? 0) + (created.delivered?.consumer_seq ?? 0) === 0) page.resolve()
      const timer = setTimeout(() => page.reject(new Error(`history page of ${id} not delivered in ${PAGE_TIMEOUT_MS} ms`)), PAGE_TIMEOUT_MS)
      await page.finally(() => clearTimeout(timer))
    } finally {
      sub.unsubscribe()
      void this.nc.request(`$JS.API.CONSUMER.DELETE.${this.names.eventStream}.${name}`, undefined, { timeout: PAGE_TIMEOUT_MS }).catch(() => {})
    }
    return out.slice(0, limit)
  }

  /** Appends a raw message to a blob subject, bypassing the service (tests of tamper evidence). */
  async publishRaw(id: BlobId, h: MsgHdrs | undefined, body: Uint8Array): Promise<number> {
    const ack = await this.js.publish(eventSubject(this.names, id), body, h === undefined ? {} : { headers: h })
    return ack.seq
  }
}

const PAGE_TIMEOUT_MS = 5_000
/** A page consumer whose delete got lost goes away on its own. */
const PAGE_CONSUMER_IDLE_NS = 10 * 1_000_000_000

/** Stream sequence and pending count from a push delivery's `$JS.ACK...` reply subject (old and new layouts). */
const deliveryOf = (reply: string | undefined): { seq: number; pending: number } | undefined => {
  const t = reply?.split(".")
  if (t === undefined || t[0] !== "$JS" || t[1] !== "ACK") return undefined
  const [seq, pending] = t.length === 9 ? [t[5], t[8]] : [t[7], t[10]]
  return seq === undefined || pending === undefined ? undefined : { seq: Number(seq), pending: Number(pending) }
}

/** A known point of the search: the subject's event at `seq` has `version`. */
interface Probe {
  readonly seq: number
  readonly version: number
}

/**
 * The next sequence to probe, strictly inside (lo.seq, hi.seq). Interpolated, then clamped by
 * what contiguous versions allow (at least one sequence per version between the known points).
 */
const probeSeq = (lo: Probe, hi: Probe, version: number, step: number): number => {
  const inside = (x: number): number => Math.min(hi.seq - 1, Math.max(lo.seq + 1, Math.round(x)))
  if (step >= 3 && step % 2 === 1) return inside((lo.seq + hi.seq) / 2)
  const spanVersions = Math.max(1, hi.version - lo.version)
  const guess = lo.seq + ((version - lo.version) * (hi.seq - lo.seq)) / spanVersions
  const earliest = lo.seq + (version - lo.version)
  const latest = hi.seq - (hi.version - version)
  return inside(earliest <= latest ? Math.min(latest, Math.max(earliest, guess)) : guess)
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
