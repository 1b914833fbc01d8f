import * as E from "fp-ts/lib/Either.js"
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core"
import type { BlobEvent, BlobOp } from "../domain/blob-event.ts"
import { parseBlobId } from "../domain/blob-id.ts"
import { internal, type Internal } from "../domain/errors.ts"
import { EH } from "./headers.ts"

// An event is a message: metadata in headers, content as the raw body. Nothing is base64'd,
// so a primary read hands the stored bytes straight back.

/** The event's headers as (name, value) pairs, in the order they are sent. */
export const eventHeaderPairs = (e: BlobEvent): Array<readonly [string, string]> => {
  const pairs: Array<readonly [string, string]> = [
    [EH.id, e.id],
    [EH.version, String(e.version)],
    [EH.op, e.op],
    [EH.digest, e.digest],
    [EH.size, String(e.size)],
  ]
  if (e.contentType !== undefined) pairs.push([EH.contentType, e.contentType])
  if (e.contentRef !== undefined) pairs.push([EH.contentRef, e.contentRef])
  pairs.push([EH.writer, e.writer], [EH.time, String(e.timeMs)])
  if (e.idempotencyKey !== undefined) pairs.push([EH.idempotencyKey, e.idempotencyKey])
  if (e.restoredFrom !== undefined) pairs.push([EH.restoredFrom, String(e.restoredFrom)])
  pairs.push([EH.prevHash, e.prevHash], [EH.hash, e.hash])
  return pairs
}

export const encodeEventHeaders = (e: BlobEvent): MsgHdrs => {
  const h = natsHeaders()
  for (const [k, v] of eventHeaderPairs(e)) h.set(k, v)
  return h
}

const OPS: ReadonlyArray<BlobOp> = ["write", "patch", "delete", "restore"]

const intHeader = (h: MsgHdrs, name: string): number | undefined => {
  const v = h.get(name)
  if (!/^\d+$/.test(v)) return undefined
  const n = Number(v)
  return Number.isSafeInteger(n) ? n : undefined
}
const optHeader = (h: MsgHdrs, name: string): string | undefined => (h.has(name) ? h.get(name) : undefined)

/** Decodes a stored event; anything malformed (e.g. a message published around the service) is an error value. */
export const decodeEvent = (
  h: MsgHdrs | undefined,
  data: Uint8Array,
): E.Either<Internal, BlobEvent> => {
  if (h === undefined) return E.left(internal("event without headers"))
  const id = parseBlobId(h.get(EH.id))
  const version = intHeader(h, EH.version)
  const size = intHeader(h, EH.size)
  const timeMs = intHeader(h, EH.time)
  const op = h.get(EH.op) as BlobOp
  if (E.isLeft(id) || version === undefined || size === undefined || timeMs === undefined || !OPS.includes(op))
    return E.left(internal("malformed event headers"))
  const contentRef = optHeader(h, EH.contentRef)
  const restored = h.has(EH.restoredFrom) ? intHeader(h, EH.restoredFrom) : undefined
  return E.right({
    id: id.right,
    version,
    op,
    digest: h.get(EH.digest),
    size,
    contentType: optHeader(h, EH.contentType),
    contentRef,
    content: contentRef === undefined && op !== "delete" ? data : undefined,
    writer: h.get(EH.writer),
    timeMs,
    idempotencyKey: optHeader(h, EH.idempotencyKey),
    restoredFrom: restored,
    prevHash: h.get(EH.prevHash),
    hash: h.get(EH.hash),
  })
}
