/**
 * The part of the event store the blob service's write and read paths use, as a port both
 * the NATS store (`infra/event-store.ts`) and the simulator's memory store implement. The
 * shared contract suite (`test/infra/event-store-contract.ts`) runs against both, so the
 * stand-in cannot drift from the store it stands in for.
 */
import type { BlobEvent } from "../../domain/blob-event.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import type { AppendOptions, EventStore, StoredEvent } from "../../infra/event-store.ts"

export type { AppendOptions, StoredEvent } from "../../infra/event-store.ts"

export interface EventStorePort {
  /**
   * Compare-and-set append on the blob's last stream sequence (0 = the blob has no event).
   * Rejects with `HeadMoved` when another append got there first, with `UnknownOutcome`
   * when it could not learn the outcome before `o.deadlineMs`. A retry under the same
   * `msgId` of an append already stored answers that append's sequence.
   */
  append(event: BlobEvent, expectedHeadSeq: number, o: AppendOptions): Promise<{ seq: number }>
  head(id: BlobId): Promise<StoredEvent | undefined>
  /** The blob's first event at or after stream sequence `seq`. */
  nextFrom(id: BlobId, seq: number): Promise<StoredEvent | undefined>
  seqOfVersion(id: BlobId, version: number, headHint?: StoredEvent): Promise<StoredEvent | undefined>
  range(id: BlobId, fromSeq: number, limit: number, headersOnly?: boolean): Promise<StoredEvent[]>
}

// Compile-time proof that the NATS store fits the port; nothing runs.
export const natsStoreFitsPort = (store: EventStore): EventStorePort => store
