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
import { createInbox, deferred, headers as natsHeaders, nuid, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core"
import { setTimeout as sleep } from "node:timers/promises"
import type { BlobEvent } from "../domain/blob-event.ts"
import type { BlobId } from "../domain/blob-id.ts"
import { AlreadyStored, HeadMoved } from "../domain/machines/blob-actor.ts"
import { decodeEvent, eventHeaderPairs } from "./event-codec.ts"
import { encodedHeaders } from "./encoded-headers.ts"
import { fastHeaders, headerView, parseHeaderBlock, rawHeaders, type RawHeaders } from "./header-view.ts"
import { JS_HEADERS, JsApiError, jsPublisherFor, type JsPublisher, type PubAck } from "./js-publisher.ts"
import { DEFAULT_EVERY_ANSWER, everyAnswer, type EveryAnswerOptions } from "./every-answer.ts"
import { LeanRequester } from "./lean-requests.ts"
import { eventSubject, type Names } from "./names.ts"

// The primary: one JetStream message per version. Appends are compare-and-set on the
// subject's last stream sequence; retries reuse one Nats-Msg-Id so a stored-but-unacked
// append is recognised instead of written twice.

/** The event stream as one server answering for its leader reports it. */
export interface StreamMark {
  /** Its creation time: a stream deleted and made again is another stream. */
  readonly stream: string
  readonly lastSeq: number
}

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
  /**
   * Asked before every retry (the caller asks before the first attempt): false stops the
   * retries (`AppendFenced`, an unknown outcome).
   * An owner whose partition lease ran out must not go on retrying: on nats-server 2.9.10 a
   * stream leader cut off by a partition keeps, after the heal, messages only proposed to it,
   * and answered a retry of one with "duplicate", an acknowledgement of a write the cluster
   * never committed (test/faults/cluster.faults.test.ts).
   */
  readonly mayAppend?: () => boolean
}

/** Retries stopped because the appender may no longer write (its partition lease is gone). */
export class AppendFenced extends Error {
  readonly _tag = "AppendFenced"
}

export class UnknownOutcome extends Error {
  readonly _tag = "UnknownOutcome"
}

const isWrongLastSequence = (e: unknown): boolean =>
  (e instanceof JsApiError &&
    (e.errCode === JetStreamApiCodes.StreamWrongLastSequence || e.errCode === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) ||
  (e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown))

/** Outcomes the append decided itself: never retried, whatever their message says (ids and versions are in it). */
const DECIDED = new Set(["AlreadyStored", "HeadMoved", "UnknownOutcome", "AppendFenced"])

/** Whether an attempt's failure leaves the append's outcome open and worth another attempt. */
export const isRetryable = (e: unknown): boolean => {
  if (DECIDED.has((e as { _tag?: unknown } | undefined)?._tag as string)) return false
  const msg = e instanceof Error ? `${e.name} ${e.message}` : String(e)
  return /timeout|TIMEOUT|no responders|503|not enabled|disconnect|closed|reconnect/i.test(msg)
}

export class EventStore {
  private leanRequester: LeanRequester | undefined
  /** Known (version, stream sequence) points per blob: guesses for the version search (see `anchorGuess`). */
  private readonly anchors = new Map<BlobId, Probe[]>()
  private highestAck = 0

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
    // Built as bytes once for every attempt: MsgHdrs validates and scans its keys on each
    // `set`, which for these 14 or so headers was about a twentieth of a write's CPU.
    const h = encodedHeaders([
      ...eventHeaderPairs(event),
      [JS_HEADERS.msgId, o.msgId],
      [JS_HEADERS.expectedStream, this.names.eventStream],
      [JS_HEADERS.expectedLastSubjectSequence, String(expectedHeadSeq)],
    ])
    let lastError: unknown
    for (let attempt = 0; Date.now() < until; attempt++) {
      if (attempt > 0 && o.mayAppend !== undefined && !o.mayAppend())
        throw new AppendFenced(`append to ${subject} stopped after ${attempt} attempts: this instance no longer owns the blob (outcome unknown)`)
      let ack: PubAck
      try {
        ack = await this.publisher.publish(subject, body, {
          headers: h,
          timeoutMs: Math.min(o.attemptTimeoutMs, Math.max(1, until - Date.now())),
        })
      } catch (e) {
        lastError = e
        if (isWrongLastSequence(e)) {
          // On a cluster a retry of a stored append can answer "wrong last sequence"
          // instead of "duplicate": the head, as every answering leader has it, tells which.
          const head = await this.agreed({ last_by_subj: subject }, `head of ${event.id}`)
          if (head !== undefined && head.msgId === o.msgId) {
            if (head.event.hash === event.hash) return this.acked({ seq: head.seq })
            if (event.idempotencyKey !== undefined && head.event.idempotencyKey === event.idempotencyKey) {
              this.acked(head)
              throw new AlreadyStored(head.event.version, head.event.digest)
            }
          }
          throw new HeadMoved(`head of ${event.id} moved past ${expectedHeadSeq}`)
        }
        if (!isRetryable(e)) throw e
        await sleep(Math.min(50 * 2 ** attempt, 500))
        continue
      }
      // Outside the try: what the confirmation decides (stored, another write's, unknown) is final.
      if (ack.duplicate) return this.acked(await this.confirmDuplicate(event, ack.seq))
      return this.acked({ seq: ack.seq })
    }
    throw new UnknownOutcome(`append to ${subject} not confirmed before the deadline: ${String(lastError)}`)
  }

  /** The highest stream sequence an append of this process was acknowledged at (0: none yet). */
  get highestAckedSeq(): number {
    return this.highestAck
  }

  private acked(r: { seq: number }): { seq: number } {
    if (r.seq > this.highestAck) this.highestAck = r.seq
    return r
  }

  /**
   * The stream as every server that answers for its leader reports it (identity: its creation
   * time; its last sequence). More than one answers while a healed, isolated 2.9.10 leader
   * still calls itself leader. Throws when none answers or one answers with an error.
   */
  async streamMarks(wait: EveryAnswerOptions = DEFAULT_EVERY_ANSWER): Promise<StreamMark[]> {
    const answers = await everyAnswer(this.nc, `$JS.API.STREAM.INFO.${this.names.eventStream}`, "", wait)
    if (answers.length === 0) throw new Error(`no answer about ${this.names.eventStream}`)
    return answers.map((m) => {
      const r = m.json<{ error?: { code: number; description?: string }; created?: string; state?: { last_seq?: number } }>()
      if (r.error !== undefined || typeof r.created !== "string" || typeof r.state?.last_seq !== "number")
        throw new Error(`${this.names.eventStream} info: ${r.error?.description ?? "malformed answer"}`)
      return { stream: r.created, lastSeq: r.state.last_seq }
    })
  }

  /**
   * The message `query` names (STREAM.MSG.GET) as every answering leader has it; undefined when
   * all say there is none. Used where an answer decides that an append was stored: a stale
   * leader keeps messages only proposed to it during a partition and would confirm them. A
   * single-replica stream has one server to answer: asked once, without waiting for others
   * (unsharded instances writing one blob meet "wrong last sequence" often).
   */
  private async agreed(query: Record<string, unknown>, what: string): Promise<StoredEvent | undefined> {
    // Not knowing the replicas counts as replicated here: the careful answer.
    if ((await this.replicaCount()) === 1) return this.leaderGet(query, what)
    const answers = await everyAnswer(this.nc, this.msgGetSubject, JSON.stringify(query))
    if (answers.length === 0) throw new UnknownOutcome(`${what}: no answer from the stream's leader`)
    const [first, ...rest] = answers.map((m) => msgGetAnswer(m, what))
    if (rest.some((e) => e?.seq !== first?.seq || e?.event.hash !== first?.event.hash))
      throw new UnknownOutcome(`${what}: the servers answering for the stream's leader disagree (a partition healing?)`)
    return first
  }

  private async confirmDuplicate(event: BlobEvent, seq: number): Promise<{ seq: number }> {
    const stored = await this.agreed({ seq }, `duplicate of ${event.id}`)
    if (stored !== undefined && stored.event.hash === event.hash) return { seq }
    // The same logical write (same blob and idempotency key) stored by an earlier attempt
    // under another decision: the retry must not append it a second time.
    if (stored !== undefined && stored.event.id === event.id && event.idempotencyKey !== undefined && stored.event.idempotencyKey === event.idempotencyKey) {
      this.acked(stored)
      throw new AlreadyStored(stored.event.version, stored.event.digest)
    }
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
    const found = (await this.replicated()) ? undefined : await this.directNext(id, seq).catch(() => undefined)
    const e = found ?? (await this.nextFrom(id, seq))
    if (e !== undefined) this.remember(id, e)
    return e
  }

  private get lean(): LeanRequester {
    return (this.leanRequester ??= new LeanRequester(this.nc))
  }

  /** Direct get of the blob's first event at or after `seq` (any replica); undefined when it has none. */
  private async directNext(id: BlobId, seq: number): Promise<StoredEvent | undefined> {
    const m = await this.lean.request(`$JS.API.DIRECT.GET.${this.names.eventStream}`, JSON.stringify({ seq, next_by_subj: eventSubject(this.names, id) }), PAGE_TIMEOUT_MS)
    const h = rawHeaders(m)
    if (h.code !== 0) return undefined
    const at = Number(h.map.get("Nats-Sequence"))
    if (!Number.isSafeInteger(at)) throw new Error("direct get reply without Nats-Sequence")
    return toStoredOrThrowRaw(at, h, m.data)
  }

  private get msgGetSubject(): string {
    return `$JS.API.STREAM.MSG.GET.${this.names.eventStream}`
  }

  /** The message `query` names (STREAM.MSG.GET), through the stream leader, with one lean request. */
  private async leaderGet(query: Record<string, unknown>, what: string): Promise<StoredEvent | undefined> {
    return msgGetAnswer(await this.lean.request(this.msgGetSubject, JSON.stringify(query), PAGE_TIMEOUT_MS), what)
  }

  /** The head through the stream leader, as `head`, with one lean request (the history path). */
  private async leaderHead(id: BlobId): Promise<StoredEvent | undefined> {
    const e = await this.leaderGet({ last_by_subj: eventSubject(this.names, id) }, `head of ${id}`)
    if (e !== undefined) this.remember(id, e)
    return e
  }

  /**
   * A page of history: the head through the leader (so the page is current), then the events of
   * versions `[first, last]` that `bounds` picks from the head version. Earlier pages leave
   * known points of the blob (version → stream sequence, see `remember`) that save round trips:
   * - where the known points show the blob dense around the page (as many sequences as versions
   *   between them), the page's sequences are known: the page is pulled in the same round trip
   *   as the head, and used only if it holds exactly the versions asked for;
   * - otherwise both ends are probed in the same round trip as the head (a guess is verified by
   *   the probe: the blob's first event at or after the guessed sequence has exactly the version
   *   asked for), then the page is pulled;
   * - without known points, or when a guess was wrong, the search of `seqOfVersion`.
   * `events` is undefined when the page is empty or its first version was not found.
   */
  async historyPage(
    id: BlobId,
    bounds: (headVersion: number) => { readonly first: number; readonly last: number } | undefined,
  ): Promise<{ readonly head: StoredEvent; readonly events: StoredEvent[] | undefined } | undefined> {
    const known = this.anchors.get(id)
    const knownHead = known?.[known.length - 1]
    const early = knownHead === undefined ? undefined : bounds(knownHead.version)
    const headP = this.leaderHead(id)
    // Awaited below, after other awaits: a failure meanwhile must not be an unhandled
    // rejection (it crashed blob services whenever JetStream was briefly unavailable).
    headP.catch(() => undefined)
    const startSeq = early === undefined ? undefined : this.denseSeq(id, early.first)
    const endSeq = early === undefined ? undefined : this.denseSeq(id, early.last)
    // On a replicated stream a page must be checked against leader-read ends (see `range`).
    const dense = !(await this.replicated()) && early !== undefined && early.last >= early.first && startSeq !== undefined && endSeq !== undefined && endSeq - startSeq === early.last - early.first
    const subject = eventSubject(this.names, id)
    const pageP = dense ? this.pullPage(startSeq, subject, true, endSeq - startSeq + 1, endSeq).catch(() => undefined) : undefined
    const firstP = early === undefined || dense ? undefined : this.tryExact(id, early.first)
    const lastP = early === undefined || dense || early.last === early.first ? undefined : this.tryExact(id, early.last)
    const head = await headP
    const [page, firstHit, lastHit] = await Promise.all([pageP, firstP, lastP])
    if (head === undefined) return undefined
    const b = bounds(head.event.version)
    if (b === undefined || b.first > head.event.version || b.last < b.first) return { head, events: undefined }
    const last = Math.min(b.last, head.event.version)
    if (page !== undefined && early!.first === b.first && early!.last === last && page.length === last - b.first + 1 && page.every((e, i) => e.event.version === b.first + i))
      return { head, events: page }
    const exact = (hit: StoredEvent | undefined, v: number): StoredEvent | undefined => (hit !== undefined && hit.event.version === v ? hit : undefined)
    const [start, end] = await Promise.all([
      exact(firstHit, b.first) ?? this.seqOfVersion(id, b.first, head),
      exact(lastHit, last) ?? exact(firstHit, last) ?? this.seqOfVersion(id, last, head),
    ])
    if (start === undefined) return { head, events: undefined }
    // start and end were read through the stream leader: a replicated stream's page is checked against them.
    const events = await this.range(id, start.seq, last - b.first + 1, true, end?.seq, { first: start, ...(end === undefined ? {} : { last: end }) })
    return { head, events }
  }

  /** The stream sequence of `version` when known points pin it: a point at it, or points around it with no room for anything else. */
  private denseSeq(id: BlobId, version: number): number | undefined {
    const points = this.anchors.get(id)
    const i = points?.findIndex((x) => x.version >= version) ?? -1
    if (points === undefined || i < 0) return undefined
    const hi = points[i]!
    if (hi.version === version) return hi.seq
    const lo = points[i - 1] ?? { seq: 0, version: 0 }
    return hi.seq - lo.seq === hi.version - lo.version ? lo.seq + (version - lo.version) : undefined
  }

  /** One probe at the sequence the known points give for `version`; the event there or after it, if a guess was possible. */
  private async tryExact(id: BlobId, version: number): Promise<StoredEvent | undefined> {
    const seq = this.anchorGuess(id, version)
    return seq === undefined ? undefined : this.probe(id, seq).catch(() => undefined)
  }

  /** Records a true point of the blob (an event read from the stream): later searches start from it. */
  private remember(id: BlobId, e: StoredEvent): void {
    const points = this.anchors.get(id) ?? []
    this.anchors.delete(id) // re-inserted last: the map's order is least recently used first
    const p = { seq: e.seq, version: e.event.version }
    const i = points.findIndex((x) => x.version >= p.version)
    if (i < 0) points.push(p)
    else if (points[i]!.version === p.version) points[i] = p
    else points.splice(i, 0, p)
    // The highest point (the head, usually) stays; the others are a sample of the blob.
    if (points.length > ANCHORS_PER_BLOB) points.splice(Math.floor(Math.random() * (points.length - 1)), 1)
    this.anchors.set(id, points)
    if (this.anchors.size > ANCHOR_BLOBS) this.anchors.delete(this.anchors.keys().next().value!)
  }

  /** Interpolated between the nearest known points around `version` (exact where the blob is dense or evenly interleaved). */
  private anchorGuess(id: BlobId, version: number): number | undefined {
    const points = this.anchors.get(id)
    if (points === undefined) return undefined
    const i = points.findIndex((x) => x.version >= version)
    if (i < 0) return undefined
    const hi = points[i]!
    if (hi.version === version) return hi.seq
    const lo = points[i - 1] ?? { seq: 0, version: 0 }
    return hi.seq - lo.seq > 1 ? probeSeq(lo, hi, version, 0) : undefined
  }

  private replicas: Promise<number | undefined> | undefined

  /** The event stream's replicas (asked once it can be told; undefined while it cannot). */
  private replicaCount(): Promise<number | undefined> {
    this.replicas ??= this.jsm.streams.info(this.names.eventStream).then(
      (i) => i.config.num_replicas,
      () => {
        this.replicas = undefined
        return undefined
      },
    )
    return this.replicas
  }

  /** Whether the event stream has more than one replica (1 if it cannot be told). */
  private async replicated(): Promise<boolean> {
    return ((await this.replicaCount()) ?? 1) > 1
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
    const guess = this.anchorGuess(id, version)
    for (let step = 0; hi.seq - lo.seq > 1; step++) {
      const p = step === 0 && guess !== undefined && guess > lo.seq && guess < hi.seq ? guess : probeSeq(lo, hi, version, step)
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
   * `untilSeq` (optional) is the stream sequence of the page's last event.
   *
   * The consumer is always filtered by the blob's subject. nats-server 2.9.10 never forgets a
   * deleted consumer's signal subscription: `consumer.signalSub()` makes a new one on each call,
   * so the stream's `csl.Remove` misses the one `Insert`ed. Every later message that matches the
   * dead consumer's filter still signals it. An unfiltered page consumer matched every event of
   * every blob: after the bench's 4,000 history pages, nats-server spent over half its CPU
   * signalling them, and the write path and the reconciler slowed for the server's lifetime.
   * Filtered, each page leaves its trace on its own blob's subject only (docs/decisions.md,
   * "History pages"). On 2.9 a filtered consumer costs about four message gets to create
   * (it counts the subject's pending messages), an unfiltered one about one.
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
    const from = Math.max(1, fromSeq)
    // Up to `untilSeq`, pull as many as the span could hold: messages on the subject that are
    // not events (published around the service) must not take a version's place in the batch.
    const batch = untilSeq === undefined || untilSeq < from ? limit : Math.max(limit, untilSeq - from + 1)
    const page = await this.pullPage(from, subject, headersOnly, batch, untilSeq)
    for (const e of page.slice(0, 1).concat(page.slice(-1))) this.remember(id, e)
    return page.slice(0, limit)
  }

  /**
   * Creates a pull consumer and pulls `batch` messages from it in the same socket write (a
   * standalone server handles a client's API requests in order, so the pull finds the
   * consumer); keeps the blob's events, up to `untilSeq` when given. In a cluster the consumer
   * is created asynchronously by the meta leader: there the pull waits for the creation's answer
   * (an early pull could vanish unanswered), and a pull that finds no responder yet (503) is sent
   * again. The consumer is deleted without waiting for the answer.
   */
  private async pullPage(fromSeq: number, subject: string, headersOnly: boolean, batch: number, untilSeq: number | undefined): Promise<StoredEvent[]> {
    const stream = this.names.eventStream
    const name = `umbra_page_${nuid.next()}`
    const config = {
      name,
      ack_policy: "none",
      deliver_policy: "by_start_sequence",
      opt_start_seq: fromSeq,
      filter_subject: subject,
      headers_only: headersOnly,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: PAGE_CONSUMER_IDLE_NS,
    }
    const out: StoredEvent[] = []
    // How the pull ended. It can fail after this function stopped waiting for it (the consumer's
    // creation failed first, and is what is thrown): its rejection is handled from the start.
    const pullEnd = () => {
      const d = deferred<number>()
      d.catch(() => undefined)
      return d
    }
    let ended = pullEnd()
    // The connection's own inbox prefix: users may subscribe only to theirs (deploy/nats-roles.ts).
    const inbox = createInbox((this.nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    let seen = 0
    const sub = this.nc.subscribe(inbox, {
      callback: (err, m) => {
        if (err !== null) return ended.reject(err)
        const at = deliveryOf(m.reply)
        // Anything but a delivery is a status message (404/408: nothing more to pull; 503: no consumer yet): it ends the pull.
        if (at === undefined) return ended.resolve(rawHeaders(m).code)
        seen++
        if (m.subject === subject) {
          const decoded = toStoredRaw(at.seq, rawHeaders(m), m.data)
          if (decoded !== undefined) out.push(decoded)
        }
        if (seen >= batch || at.pending === 0 || (untilSeq !== undefined && at.seq >= untilSeq)) ended.resolve(0)
      },
    })
    const pull = (): void => this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`, JSON.stringify({ batch: batch - seen, no_wait: true }), { reply: inbox })
    const timer = setTimeout(() => ended.reject(new Error(`history page not delivered in ${PAGE_TIMEOUT_MS} ms`)), PAGE_TIMEOUT_MS)
    const created = this.lean.request(`$JS.API.CONSUMER.CREATE.${stream}.${name}`, JSON.stringify({ stream_name: stream, config }), PAGE_TIMEOUT_MS).then((reply) => {
      const r = reply.json<{ error?: { description: string }; num_pending?: number }>()
      if (r.error !== undefined) throw new Error(`history page consumer: ${r.error.description}`)
      return r.num_pending ?? 0
    })
    created.catch((e: unknown) => ended.reject(e))
    try {
      // In a cluster the meta leader creates the consumer asynchronously, and an early pull may
      // vanish without an answer: there the pull waits for the creation's answer.
      if (this.nc.info?.cluster !== undefined) await created
      pull()
      // 503: pulled before the consumer existed (or before this server knew where it is): pull
      // again once its creation is answered, a few times.
      for (let attempt = 0; (await ended) === 503 && attempt < 5; attempt++) {
        if ((await created) === 0) return out
        if (attempt > 0) await sleep(5 * attempt)
        ended = pullEnd()
        pull()
      }
      await created
      return out
    } finally {
      clearTimeout(timer)
      sub.unsubscribe()
      this.nc.publish(`$JS.API.CONSUMER.DELETE.${stream}.${name}`)
    }
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
/** Known points kept per blob, and blobs with known points (least recently used forgotten first). */
const ANCHORS_PER_BLOB = 16
const ANCHOR_BLOBS = 1024
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

/** An event from headers parsed by `lean-requests.ts`; undefined when malformed. */
const toStoredRaw = (seq: number, h: RawHeaders, data: Uint8Array): StoredEvent | undefined => {
  const decoded = decodeEvent(headerView(h), data)
  if (E.isLeft(decoded)) return undefined
  return { seq, event: decoded.right, msgId: h.map.get("Nats-Msg-Id") || undefined }
}

/** A STREAM.MSG.GET answer: the event, undefined for "no message", thrown for any other error. */
const msgGetAnswer = (m: Msg, what: string): StoredEvent | undefined => {
  // A status without a body (503: no responders) is not an answer about the stream.
  if (m.data.length === 0) throw new Error(`${what}: no responders (status ${rawHeaders(m).code})`)
  const r = m.json<{ error?: { code: number; err_code?: number; description?: string }; message?: { seq: number; hdrs?: string; data?: string } }>()
  if (r.error !== undefined) {
    // "No message"; not any 404 (a missing stream is one too, and is an error).
    if (r.error.err_code === JetStreamApiCodes.NoMessageFound || (r.error.err_code === undefined && r.error.code === 404)) return undefined
    throw new Error(`${what}: ${r.error.description ?? r.error.code}`)
  }
  if (r.message === undefined) throw new Error(`${what}: empty reply`)
  const h = r.message.hdrs === undefined ? { code: 0, map: new Map<string, string>() } : parseHeaderBlock(Buffer.from(r.message.hdrs, "base64"))
  const data = r.message.data === undefined ? new Uint8Array(0) : new Uint8Array(Buffer.from(r.message.data, "base64"))
  return toStoredOrThrowRaw(r.message.seq, h, data)
}

const toStoredOrThrowRaw = (seq: number, h: RawHeaders, data: Uint8Array): StoredEvent => {
  const s = toStoredRaw(seq, h, data)
  if (s === undefined) throw new MalformedEvent(seq)
  return s
}

const toStoredOrThrow = (m: Pick<StoredMsg, "seq" | "header" | "data">): StoredEvent => {
  const s = toStored(m)
  if (s === undefined) throw new MalformedEvent(m.seq)
  return s
}

export const emptyHeaders = (): MsgHdrs => natsHeaders()
