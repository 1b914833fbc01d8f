import type { BlobId } from "./blob-id.ts"
import { GENESIS_HASH, type BlobEvent } from "./blob-event.ts"

// The fold of a blob's events. `version` counts every event, tombstones included, so the
// version of a deleted blob keeps growing when it is written again.
export interface BlobState {
  readonly id: BlobId
  readonly version: number
  readonly exists: boolean
  readonly digest: string | undefined
  readonly size: number
  readonly contentType: string | undefined
  readonly content: Uint8Array | undefined
  readonly contentRef: string | undefined
  readonly hash: string
  readonly timeMs: number
  readonly lastIdempotencyKey: string | undefined
}

export const initialState = (id: BlobId): BlobState => ({
  id,
  version: 0,
  exists: false,
  digest: undefined,
  size: 0,
  contentType: undefined,
  content: undefined,
  contentRef: undefined,
  hash: GENESIS_HASH,
  timeMs: 0,
  lastIdempotencyKey: undefined,
})

export const evolve = (state: BlobState, event: BlobEvent): BlobState => {
  const tombstone = event.op === "delete"
  return {
    id: state.id,
    version: event.version,
    exists: !tombstone,
    digest: tombstone ? undefined : event.digest,
    size: tombstone ? 0 : event.size,
    contentType: tombstone ? undefined : event.contentType,
    content: tombstone ? undefined : event.content,
    contentRef: tombstone ? undefined : event.contentRef,
    hash: event.hash,
    timeMs: event.timeMs,
    lastIdempotencyKey: event.idempotencyKey,
  }
}

export const fold = (id: BlobId, events: ReadonlyArray<BlobEvent>): BlobState => events.reduce(evolve, initialState(id))
