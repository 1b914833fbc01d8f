import * as E from "fp-ts/lib/Either.js"
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core"
import type { BlobEvent } from "../../domain/blob-event.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import type { BlobState } from "../../domain/blob-state.ts"
import { internal, notFound, type UmbraError } from "../../domain/errors.ts"
import type { EventStore, StoredEvent } from "../../infra/event-store.ts"
import { encodedOnce } from "../../infra/encoded-headers.ts"
import { H } from "../../infra/headers.ts"
import type { ActorRegistry } from "./actor-registry.ts"

// Reads that the primary answers: the head through the blob's actor (hydrated on demand),
// and the past (a version, or the state as of a time) straight from the stream.

export interface ContentReply {
  readonly body: Uint8Array
  readonly headers: MsgHdrs
}

const EMPTY = new Uint8Array(0)

const contentHeaders = (version: number, digest: string, timeMs: number, contentType: string | undefined, contentRef: string | undefined): MsgHdrs => {
  const h = natsHeaders()
  h.set(H.version, String(version))
  h.set(H.source, "primary")
  h.set(H.digest, digest)
  h.set(H.time, new Date(timeMs).toISOString())
  if (contentType !== undefined) h.set(H.contentType, contentType)
  if (contentRef !== undefined) h.set(H.contentRef, contentRef)
  return h
}

// A live actor's state object is replaced (never changed) by every event, so its reply can
// be kept with it: repeated primary reads of a live actor reuse one reply.
const stateReplies = new WeakMap<BlobState, E.Either<UmbraError, ContentReply>>()

export const stateReply = (s: BlobState): E.Either<UmbraError, ContentReply> => {
  const cached = stateReplies.get(s)
  if (cached !== undefined) return cached
  const reply: E.Either<UmbraError, ContentReply> =
    !s.exists || s.digest === undefined
      ? E.left(notFound(s.id))
      : E.right({
          body: s.contentRef === undefined ? (s.content ?? EMPTY) : EMPTY,
          headers: encodedOnce(contentHeaders(s.version, s.digest, s.timeMs, s.contentType, s.contentRef)),
        })
  stateReplies.set(s, reply)
  return reply
}

export const eventReply = (e: BlobEvent): E.Either<UmbraError, ContentReply> => {
  if (e.op === "delete") return E.left(notFound(e.id, e.version))
  return E.right({
    body: e.contentRef === undefined ? (e.content ?? EMPTY) : EMPTY,
    headers: contentHeaders(e.version, e.digest, e.timeMs, e.contentType, e.contentRef),
  })
}

export const readHead = async (registry: ActorRegistry, id: BlobId): Promise<E.Either<UmbraError, ContentReply>> => {
  const r = await registry.read(id)
  if (r._tag === "state") return stateReply(r.state)
  if (r._tag === "rejected") return E.left(r.error)
  return E.left(internal("unexpected reply"))
}

export const readVersion = async (store: EventStore, id: BlobId, version: number): Promise<E.Either<UmbraError, ContentReply>> => {
  const e = await store.seqOfVersion(id, version)
  return e === undefined ? E.left(notFound(id, version)) : eventReply(e.event)
}

/**
 * The latest event with time ≤ asOf, by binary search over stream sequences (event times
 * never decrease within a blob): O(log n) gets, no replay.
 */
export const eventAsOf = async (store: EventStore, id: BlobId, asOfMs: number): Promise<StoredEvent | undefined> => {
  const head = await store.head(id)
  if (head === undefined) return undefined
  if (head.event.timeMs <= asOfMs) return head
  let lo = 1
  let hi = head.seq
  let best: StoredEvent | undefined
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2)
    const e = await store.nextFrom(id, mid)
    if (e === undefined || e.seq > hi) hi = mid - 1
    else if (e.event.timeMs <= asOfMs) {
      best = e
      lo = e.seq + 1
    } else hi = mid - 1
  }
  return best
}

export const readAsOf = async (store: EventStore, id: BlobId, asOfMs: number): Promise<E.Either<UmbraError, ContentReply>> => {
  const e = await eventAsOf(store, id, asOfMs)
  return e === undefined ? E.left(notFound(id)) : eventReply(e.event)
}
