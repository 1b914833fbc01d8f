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
import { fastHeaders } from "./header-view.ts"
import { JS_HEADERS, JsApiError, jsPublisherFor, type JsPublisher } from "./js-publisher.ts"
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
  (e instanceof JsApiError &&
    (e.errCode === JetStreamApiCodes.StreamWrongLastSequence || e.errCode === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) ||
  (e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown))

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
    private readonly publisher: JsPublisher = jsPublisherFor(nc),
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
        const h = encodeEventHeaders(event)
        h.set(JS_HEADERS.msgId, o.msgId)
        h.set(JS_HEADERS.expectedStream, this.names.eventStream)
        h.set(JS_HEADERS.expectedLastSubjectSequence, String(expectedHeadSeq))
        const ack = await this.publisher.publish(subject, body, {
          headers: h,
          timeoutMs: Math.min(o.attemptTimeoutMs, Math.max(1, until - Date.now())),
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
   * `nextFrom` through a direct get (lighter on the server) on a single-replica stream; through
   * the leader on a replicated one. A direct get is answered by any replica, and on nats-server
   * 2.9.10 a replica is not only possibly behind: the stream leader cut off by a partition comes
   * back holding, at some sequences, messages the cluster never committed (issue #9,
   * `test/faults/partition-repro.ts`, docs/reliability.md). Its answer cannot be trusted.
   */
  private async probe(id: BlobId, seq: number): Promise<StoredEvent | undefined> {
    if (await this.replicated()) return this.nextFrom(id, seq)
    const m = await this.jsm.direct.getMessage(this.names.eventStream, { seq, next_by_subj: eventSubject(this.names, id) }).catch(() => null)
    return m === null ? this.nextFrom(id, seq) : toStoredOrThrow(m)
  }

  private replicas: Promise<number> | undefined

  /** Whether the event stream has more than one replica (asked once; 1 if it cannot be told). */
  private async replicated(): Promise<boolean> {
    this.replicas ??= this.jsm.streams.info(this.names.eventStream).then(
      (i) => i.config.num_replicas,
      () => {
        this.replicas = undefined
        return 1
      },
    )
    return (await this.replicas) > 1
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
      const e = await this.probe(id, p)
      if (e === undefined || e.seq >= hi.seq) hi = { seq: p, version: hi.version }
      else if (e.event.version === version) return e
      else if (e.event.version > version) hi = { seq: p, version: e.event.version }
      else lo = { seq: e.seq, version: e.event.version }
    }
    return undefined
  }

  /**
   * Up to `limit` events of one blob from stream sequence `fromSeq`, in order: an ephemeral
   * pull consumer created with one API request, then one pull of the whole page (no_wait, so
   * a short page ends at once). nats.js's ordered consumer added a stream info and awaited
   * the delete; a push consumer was slower still (its first delivery lagged its creation).
   *
   * `untilSeq` (optional) is the stream sequence of the page's last event. When the page's
   * events are dense in that span, the consumer is created without a subject filter and the
   * other blobs' messages are skipped here: on nats-server 2.9 a filtered consumer costs
   * about four message gets to create (it counts the subject's pending messages), an
   * unfiltered one about one.
   */
  async range(id: BlobId, fromSeq: number, limit: number, headersOnly = false, untilSeq?: number, anchors?: PageAnchors): Promise<StoredEvent[]> {
    if (limit <= 0) return []
    const page = await this.consumerPage(id, fromSeq, limit, headersOnly, untilSeq)
    if (!(await this.replicated())) return page
    // A page consumer (R1) is placed on any replica, and a replica can hold what the cluster
    // never committed (see `probe`). The page is kept only if it is the leader's: it starts
    // and ends at events read through the leader and every event chains to the one before
    // (the last event's hash commits to all of them). Otherwise the page is read again
    // through leader gets.
    if (anchors !== undefined && pageMatches(page, limit, anchors)) return page
    return this.leaderPage(id, fromSeq, limit, untilSeq)
  }

  /** Up to `limit` events from `fromSeq` through leader gets, one per event. */
  private async leaderPage(id: BlobId, fromSeq: number, limit: number, untilSeq: number | undefined): Promise<StoredEvent[]> {
    const out: StoredEvent[] = []
    for (let seq = Math.max(1, fromSeq); out.length < limit; ) {
      const e = await this.nextFrom(id, seq)
      if (e === undefined || (untilSeq !== undefined && e.seq > untilSeq)) break
      out.push(e)
      seq = e.seq + 1
    }
    return out
  }

  private async consumerPage(id: BlobId, fromSeq: number, limit: number, headersOnly: boolean, untilSeq: number | undefined): Promise<StoredEvent[]> {
    const subject = eventSubject(this.names, id)
    const span = untilSeq === undefined ? Infinity : untilSeq - Math.max(1, fromSeq) + 1
    const dense = span >= 1 && span <= DENSE_PAGE_FACTOR * limit
    const created = await this.createPageConsumer(fromSeq, dense ? undefined : subject, headersOnly)
    try {
      const want = dense ? Math.min(span, created.pending) : Math.min(limit, created.pending)
      if (want === 0) return []
      const page = await this.pullPage(created.name, want, subject, untilSeq)
      return page.slice(0, limit)
    } finally {
      void this.nc.request(`$JS.API.CONSUMER.DELETE.${this.names.eventStream}.${created.name}`, undefined, { timeout: PAGE_TIMEOUT_MS }).catch(() => {})
    }
  }

  private async createPageConsumer(fromSeq: number, filter: string | undefined, headersOnly: boolean): Promise<{ name: string; pending: number }> {
    const stream = this.names.eventStream
    const name = `umbra_page_${nuid.next()}`
    const config = {
      name,
      ack_policy: "none",
      deliver_policy: "by_start_sequence",
      opt_start_seq: Math.max(1, fromSeq),
      ...(filter === undefined ? {} : { filter_subject: filter }),
      headers_only: headersOnly,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: PAGE_CONSUMER_IDLE_NS,
    }
    const reply = await this.nc.request(`$JS.API.CONSUMER.CREATE.${stream}.${name}`, JSON.stringify({ stream_name: stream, config }), { timeout: PAGE_TIMEOUT_MS })
    const created = reply.json<{ error?: { description: string }; num_pending?: number }>()
    if (created.error !== undefined) throw new Error(`history page consumer: ${created.error.description}`)
    return { name, pending: created.num_pending ?? 0 }
  }

  /** Pulls `batch` messages at once; keeps the blob's events, up to `untilSeq` when given. */
  private async pullPage(consumer: string, batch: number, subject: string, untilSeq: number | undefined): Promise<StoredEvent[]> {
    const out: StoredEvent[] = []
    const page = deferred<void>()
    // The connection's own inbox prefix: users may subscribe only to theirs (deploy/nats-roles.ts).
    const inbox = createInbox((this.nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    let seen = 0
    const sub = this.nc.subscribe(inbox, {
      callback: (err, m) => {
        if (err !== null) return page.reject(err)
        // A status message (404/408: nothing more to pull) ends the page.
        if ((m.headers?.code ?? 0) >= 300) return page.resolve()
        const at = deliveryOf(m.reply)
        if (at === undefined) return page.resolve()
        seen++
        if (m.subject === subject) {
          const decoded = toStored({ seq: at.seq, header: m.headers, data: m.data } as StoredMsg)
          if (decoded !== undefined) out.push(decoded)
        }
        if (seen >= batch || at.pending === 0 || (untilSeq !== undefined && at.seq >= untilSeq)) page.resolve()
      },
    })
    const timer = setTimeout(() => page.reject(new Error(`history page not delivered in ${PAGE_TIMEOUT_MS} ms`)), PAGE_TIMEOUT_MS)
    try {
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.names.eventStream}.${consumer}`, JSON.stringify({ batch, no_wait: true }), { reply: inbox })
      await page
    } finally {
      clearTimeout(timer)
      sub.unsubscribe()
    }
    return out
  }

  /** Appends a raw message to a blob subject, bypassing the service (tests of tamper evidence). */
  async publishRaw(id: BlobId, h: MsgHdrs | undefined, body: Uint8Array): Promise<number> {
    const ack = await this.js.publish(eventSubject(this.names, id), body, h === undefined ? {} : { headers: h })
    return ack.seq
  }
}

/** Events of a page already read through the stream leader: its first and, if known, its last. */
export interface PageAnchors {
  readonly first: StoredEvent
  readonly last?: StoredEvent
}

/** The page starts at `first`, chains event to event, and reaches `last` (or `limit` events). */
export const pageMatches = (page: ReadonlyArray<StoredEvent>, limit: number, a: PageAnchors): boolean => {
  const head = page[0]
  if (head === undefined || head.seq !== a.first.seq || head.event.hash !== a.first.event.hash) return false
  for (let i = 1; i < page.length; i++) {
    const prev = page[i - 1]!.event
    const e = page[i]!.event
    if (e.version !== prev.version + 1 || e.prevHash !== prev.hash) return false
  }
  const tail = page[page.length - 1]!
  if (a.last === undefined) return page.length === limit
  return tail.seq === a.last.seq && tail.event.hash === a.last.event.hash
}

const PAGE_TIMEOUT_MS = 5_000
/** An unfiltered page reads at most this many stream messages per event it returns. */
const DENSE_PAGE_FACTOR = 3
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
  const decoded = decodeEvent(fastHeaders(m.header), m.data)
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
