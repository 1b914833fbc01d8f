import * as E from "fp-ts/lib/Either.js"
import type { BlobId } from "../../domain/blob-id.ts"
import { notFound, type UmbraError } from "../../domain/errors.ts"
import type { EventStore, StoredEvent } from "../../infra/event-store.ts"
import type { HistoryRequest } from "./request-decoding.ts"

// A page of a blob's versions without replaying it: find the page's first version by binary
// search over stream sequences, then read just that page (headers only).

export interface HistoryEntry {
  readonly version: number
  readonly time: string
  readonly timeMs: number
  readonly op: string
  readonly size: number
  readonly digest: string
  readonly writer: string
  readonly idempotencyKey?: string
  readonly restoredFrom?: number
  readonly contentRef?: string
  readonly seq: number
}

export interface HistoryPage {
  readonly entries: ReadonlyArray<HistoryEntry>
  readonly headVersion: number
  /** The `from` of the next page in the same direction, if there is one. */
  readonly nextFrom: number | undefined
}

export const toEntry = (s: StoredEvent): HistoryEntry => {
  const e = s.event
  return {
    version: e.version,
    time: new Date(e.timeMs).toISOString(),
    timeMs: e.timeMs,
    op: e.op,
    size: e.size,
    digest: e.digest,
    writer: e.writer,
    ...(e.idempotencyKey === undefined ? {} : { idempotencyKey: e.idempotencyKey }),
    ...(e.restoredFrom === undefined ? {} : { restoredFrom: e.restoredFrom }),
    ...(e.contentRef === undefined ? {} : { contentRef: e.contentRef }),
    seq: s.seq,
  }
}

export const readHistory = async (
  store: EventStore,
  id: BlobId,
  req: HistoryRequest,
  maxLimit: number,
): Promise<E.Either<UmbraError, HistoryPage>> => {
  const head = await store.head(id)
  if (head === undefined) return E.left(notFound(id))
  const headVersion = head.event.version
  const limit = Math.min(req.limit ?? 100, maxLimit)
  const [first, last] = req.reverse
    ? [Math.max(1, Math.min(req.from ?? headVersion, headVersion) - limit + 1), Math.min(req.from ?? headVersion, headVersion)]
    : [req.from ?? 1, Math.min((req.from ?? 1) + limit - 1, headVersion)]
  if (first > headVersion || last < first) return E.right({ entries: [], headVersion, nextFrom: undefined })
  // Both ends at once: knowing where the page ends lets the event store read a dense page
  // without a subject filter (see EventStore.range).
  const [start, end] = await Promise.all([store.seqOfVersion(id, first, head), store.seqOfVersion(id, last, head)])
  if (start === undefined) return E.right({ entries: [], headVersion, nextFrom: undefined })
  // start and end were found through the stream leader: the page is checked against them.
  const events = await store.range(id, start.seq, last - first + 1, true, end?.seq, { first: start, ...(end === undefined ? {} : { last: end }) })
  const entries = events.map(toEntry)
  if (req.reverse) entries.reverse()
  const nextFrom = req.reverse ? (first > 1 ? first - 1 : undefined) : last < headVersion ? last + 1 : undefined
  return E.right({ entries, headVersion, nextFrom })
}
