/**
 * The simulator's stand-in for the JetStream event stream: one log with global sequences,
 * compare-and-set on a subject's last sequence, and `Nats-Msg-Id` de-duplication inside a
 * window, with the NATS store's retry loop (same msg id until a deadline) on top. Faults
 * are injected per publish attempt, as the network and the server produce them: the ack
 * of a stored message is lost, a message is stored only after the attempt timed out, or
 * the stream has no leader and refuses at once.
 */
import type { BlobEvent } from "../../domain/blob-event.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import { HeadMoved } from "../../domain/machines/blob-actor.ts"
import { UnknownOutcome } from "../../infra/event-store.ts"
import type { AppendOptions, EventStorePort, StoredEvent } from "./event-store-port.ts"

export type AttemptFault = "none" | "ack-lost" | "late-commit" | "no-leader"

export interface StoreEnvironment {
  readonly now: () => number
  readonly sleep: (ms: number) => Promise<void>
  /** Decided per publish attempt (the simulator draws it from the seed). */
  readonly attemptFault: () => AttemptFault
  /** Round-trip of one publish attempt. */
  readonly latencyMs: () => number
  /** Called on every stored message, in order (the simulator's trace). */
  readonly onCommit?: (stored: StoredEvent) => void
}

export interface MemoryEventStoreOptions {
  readonly duplicateWindowMs: number
}

interface LogEntry extends StoredEvent {
  readonly storedAtMs: number
}

type CommitResult = { readonly _tag: "stored" | "duplicate"; readonly seq: number } | { readonly _tag: "wrong-last-sequence" }

const copy = (s: StoredEvent, headersOnly = false): StoredEvent => ({
  seq: s.seq,
  msgId: s.msgId,
  event: headersOnly && s.event.content !== undefined ? { ...s.event, content: new Uint8Array(0) } : s.event,
})

export class MemoryEventStore implements EventStorePort {
  private readonly log: LogEntry[] = []
  private readonly bySubject = new Map<string, LogEntry[]>()
  private readonly msgIds = new Map<string, { seq: number; atMs: number }>()

  constructor(
    private readonly env: StoreEnvironment,
    private readonly o: MemoryEventStoreOptions,
  ) {}

  /** What a single publish does on the server: dedup first, then the subject CAS. */
  private commit(event: BlobEvent, expectedHeadSeq: number, msgId: string): CommitResult {
    const now = this.env.now()
    const seen = this.msgIds.get(msgId)
    if (seen !== undefined && now - seen.atMs <= this.o.duplicateWindowMs) return { _tag: "duplicate", seq: seen.seq }
    const list = this.bySubject.get(event.id) ?? []
    const last = list[list.length - 1]?.seq ?? 0
    if (last !== expectedHeadSeq) return { _tag: "wrong-last-sequence" }
    const entry: LogEntry = { seq: this.log.length + 1, event, msgId, storedAtMs: now }
    this.log.push(entry)
    list.push(entry)
    this.bySubject.set(event.id, list)
    this.msgIds.set(msgId, { seq: entry.seq, atMs: now })
    this.env.onCommit?.(entry)
    return { _tag: "stored", seq: entry.seq }
  }

  async append(event: BlobEvent, expectedHeadSeq: number, o: AppendOptions): Promise<{ seq: number }> {
    const until = this.env.now() + o.deadlineMs
    let lastError = "no attempt"
    for (let attempt = 0; this.env.now() < until; attempt++) {
      const outcome = await this.attempt(event, expectedHeadSeq, o, Math.min(o.attemptTimeoutMs, until - this.env.now()))
      if (typeof outcome !== "string") return outcome
      lastError = outcome
      await this.env.sleep(Math.min(50 * 2 ** attempt, 500))
    }
    throw new UnknownOutcome(`append to ${event.id} not confirmed before the deadline: ${lastError}`)
  }

  /** One publish: its result, or why it has to be retried. */
  private async attempt(event: BlobEvent, expected: number, o: AppendOptions, timeoutMs: number): Promise<{ seq: number } | string> {
    const fault = this.env.attemptFault()
    if (fault === "no-leader") {
      await this.env.sleep(1)
      return "jetstream is not enabled (no leader)"
    }
    const latency = this.env.latencyMs()
    if (fault === "late-commit" || latency >= timeoutMs) {
      void this.env.sleep(timeoutMs + latency).then(() => this.commit(event, expected, o.msgId))
      await this.env.sleep(timeoutMs)
      return "TIMEOUT"
    }
    await this.env.sleep(latency)
    const r = this.commit(event, expected, o.msgId)
    if (fault === "ack-lost") {
      await this.env.sleep(Math.max(0, timeoutMs - latency))
      return "TIMEOUT (ack lost)"
    }
    if (r._tag === "stored") return { seq: r.seq }
    if (r._tag === "duplicate") return this.confirmDuplicate(event, r.seq)
    const head = this.last(event.id)
    if (head !== undefined && head.msgId === o.msgId) return { seq: head.seq }
    throw new HeadMoved(`head of ${event.id} moved past ${expected}`)
  }

  private confirmDuplicate(event: BlobEvent, seq: number): { seq: number } {
    if (this.log[seq - 1]?.event.hash === event.hash) return { seq }
    throw new HeadMoved(`duplicate message id for ${event.id} with other content`)
  }

  private last(id: BlobId): StoredEvent | undefined {
    const list = this.bySubject.get(id)
    return list?.[list.length - 1]
  }

  async head(id: BlobId): Promise<StoredEvent | undefined> {
    const h = this.last(id)
    return h === undefined ? undefined : copy(h)
  }

  async nextFrom(id: BlobId, seq: number): Promise<StoredEvent | undefined> {
    const found = (this.bySubject.get(id) ?? []).find((e) => e.seq >= seq)
    return found === undefined ? undefined : copy(found)
  }

  async seqOfVersion(id: BlobId, version: number, headHint?: StoredEvent): Promise<StoredEvent | undefined> {
    const head = headHint ?? this.last(id)
    if (head === undefined || version < 1 || version > head.event.version) return undefined
    const found = (this.bySubject.get(id) ?? []).find((e) => e.event.version === version)
    return found === undefined ? undefined : copy(found)
  }

  async range(id: BlobId, fromSeq: number, limit: number, headersOnly = false): Promise<StoredEvent[]> {
    if (limit <= 0) return []
    return (this.bySubject.get(id) ?? [])
      .filter((e) => e.seq >= Math.max(1, fromSeq))
      .slice(0, limit)
      .map((e) => copy(e, headersOnly))
  }

  /** Every blob's stored events, in order: the simulator's final histories. */
  subjects(): ReadonlyMap<string, ReadonlyArray<StoredEvent>> {
    return this.bySubject
  }
}
