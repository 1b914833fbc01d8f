import * as E from "fp-ts/lib/Either.js"
import type { NatsConnection } from "@nats-io/nats-core"
import { breakAt, checkEvent, type AuditBreak, type RefObject } from "../../domain/audit.ts"
import type { BlobEvent } from "../../domain/blob-event.ts"
import { parseBlobId } from "../../domain/blob-id.ts"
import { chainStart, type ChainCursor } from "../../domain/hash-chain.ts"
import { AuditReader, type RawEvent } from "../../infra/audit-reader.ts"
import { EventStore } from "../../infra/event-store.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import { eventSubjectsWildcard, idFromSubject, type Names } from "../../infra/names.ts"
import { ticker, type ProgressSink } from "./progress.ts"

// `umbra audit --all`: one pass over the event stream in stream order, keeping one chain
// cursor per blob (id → expected version and previous hash) and nothing else, so memory
// grows with the number of blobs, never with the number of events.

export interface StoreBreak extends AuditBreak {
  readonly id: string
}

export interface StoreAuditSummary {
  readonly intact: boolean
  readonly blobs: number
  readonly versions: number
  readonly messages: number
  readonly breaks: number
  /** The first breaks (at most `maxReported`), in stream order. */
  readonly firstBreaks: ReadonlyArray<StoreBreak>
  /** Blobs whose first event in range is not version 1, linked back to the version before. */
  readonly anchorsChecked: number
  readonly fromMs: number | null
  readonly toMs: number | null
  readonly elapsedMs: number
}

export interface StoreAuditOptions {
  readonly fromMs?: number
  readonly toMs?: number
  readonly onProgress?: ProgressSink
  readonly onBreak?: (b: StoreBreak) => void
  /** Look up referenced content in the content store (default true). */
  readonly checkRefs?: boolean
  readonly maxReported?: number
  /** Anchor checks in flight at once after the pass. */
  readonly anchorConcurrency?: number
}

interface Anchor {
  readonly id: string
  readonly version: number
  readonly seq: number
  readonly prevHash: string
}

interface Walk {
  readonly cursors: Map<string, ChainCursor>
  readonly anchors: Anchor[]
  readonly reported: StoreBreak[]
  breaks: number
  versions: number
  messages: number
}

const record = (w: Walk, o: StoreAuditOptions, b: StoreBreak): void => {
  w.breaks++
  if (w.reported.length < (o.maxReported ?? 100)) w.reported.push(b)
  o.onBreak?.(b)
}

/** The cursor a blob starts from when first seen: genesis, or (mid-range) the event's own link. */
const firstCursor = (w: Walk, id: string, raw: RawEvent, fromMs: number | undefined): ChainCursor => {
  if (fromMs === undefined || E.isLeft(raw.decoded) || raw.decoded.right.version <= 1) return chainStart
  const e = raw.decoded.right
  w.anchors.push({ id, version: e.version, seq: raw.seq, prevHash: e.prevHash })
  return { expectedVersion: e.version, prevHash: e.prevHash }
}

const link = (w: Walk, o: StoreAuditOptions, id: string, cursor: ChainCursor, raw: RawEvent, e: BlobEvent, ref: RefObject | undefined): void => {
  const r = checkEvent(cursor, id, raw.seq, e, ref, nodeHasher)
  w.cursors.set(id, r.cursor)
  w.versions++
  if (r.break !== undefined) record(w, o, { id, ...r.break })
}

/** One message; a promise only when the content store must be asked about a reference. */
const step = (w: Walk, reader: AuditReader, raw: RawEvent, o: StoreAuditOptions): void | Promise<void> => {
  w.messages++
  const id = idFromSubject(raw.subject, reader.names.eventSubjectPrefix)
  const cursor = w.cursors.get(id) ?? firstCursor(w, id, raw, o.fromMs)
  if (E.isLeft(raw.decoded)) {
    // Takes the next version's position, not its place in the chain (as in a blob audit).
    w.cursors.set(id, cursor)
    return record(w, o, { id, ...breakAt(cursor.expectedVersion, raw.seq, "Malformed", raw.decoded.left) })
  }
  const e = raw.decoded.right
  if (e.contentRef === undefined || e.op === "delete" || o.checkRefs === false) return link(w, o, id, cursor, raw, e, undefined)
  return reader.refObject(e.contentRef).then((ref) => link(w, o, id, cursor, raw, e, ref))
}

/** Each mid-range first event must link to the version before it, wherever that is in the stream. */
const checkAnchors = async (nc: NatsConnection, names: Names, w: Walk, o: StoreAuditOptions): Promise<void> => {
  const store = await EventStore.open(nc, names)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let a = w.anchors[next++]; a !== undefined; a = w.anchors[next++]) {
      const id = parseBlobId(a.id)
      const prev = E.isRight(id) ? await store.seqOfVersion(id.right, a.version - 1).catch(() => undefined) : undefined
      if (prev?.event.hash !== a.prevHash) record(w, o, { id: a.id, ...breakAt(a.version, a.seq, "AnchorMismatch") })
    }
  }
  await Promise.all(Array.from({ length: o.anchorConcurrency ?? 8 }, worker))
}

export const auditStore = async (nc: NatsConnection, names: Names, o: StoreAuditOptions = {}): Promise<StoreAuditSummary> => {
  const startMs = Date.now()
  const reader = await AuditReader.open(nc, names)
  const replay = await reader.replay({
    filter: eventSubjectsWildcard(names),
    ...(o.fromMs === undefined ? {} : { startTimeMs: o.fromMs }),
    ...(o.toMs === undefined ? {} : { endTimeMs: o.toMs }),
  })
  const w: Walk = { cursors: new Map(), anchors: [], reported: [], breaks: 0, versions: 0, messages: 0 }
  const progress = ticker(replay.total, o.onProgress)
  await replay.forEach((raw) => {
    const r = step(w, reader, raw, o)
    progress.tick(w.messages)
    return r
  })
  progress.finish(w.messages)
  await checkAnchors(nc, names, w, o)
  return {
    intact: w.breaks === 0,
    blobs: w.cursors.size,
    versions: w.versions,
    messages: w.messages,
    breaks: w.breaks,
    firstBreaks: w.reported,
    anchorsChecked: w.anchors.length,
    fromMs: o.fromMs ?? null,
    toMs: o.toMs ?? null,
    elapsedMs: Date.now() - startMs,
  }
}
