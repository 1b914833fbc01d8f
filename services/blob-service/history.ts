import * as E from "fp-ts/lib/Either.js"
import type { BlobId } from "../../domain/blob-id.ts"
import { notFound, type UmbraError } from "../../domain/errors.ts"
import type { EventStore, StoredEvent } from "../../infra/event-store.ts"
import type { HistoryRequest } from "./request-decoding.ts"

// A page of a blob's versions without replaying it: the head (through the leader), the page's
// first and last versions located by a search over stream sequences, then just that page read
// (headers only). EventStore.historyPage does the I/O.

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
  const limit = Math.min(req.limit ?? 100, maxLimit)
  const bounds = (headVersion: number): { first: number; last: number } => {
    const [first, last] = req.reverse
      ? [Math.max(1, Math.min(req.from ?? headVersion, headVersion) - limit + 1), Math.min(req.from ?? headVersion, headVersion)]
      : [req.from ?? 1, Math.min((req.from ?? 1) + limit - 1, headVersion)]
    return { first, last }
  }
  const page = await store.historyPage(id, bounds)
  if (page === undefined) return E.left(notFound(id))
  const headVersion = page.head.event.version
  const { first, last } = bounds(headVersion)
  if (page.events === undefined) return E.right({ entries: [], headVersion, nextFrom: undefined })
  const entries = page.events.map(toEntry)
  if (req.reverse) entries.reverse()
  const nextFrom = req.reverse ? (first > 1 ? first - 1 : undefined) : last < headVersion ? last + 1 : undefined
  return E.right({ entries, headVersion, nextFrom })
}
