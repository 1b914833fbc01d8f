import * as E from "fp-ts/lib/Either.js"
import { deleteBlob, patchBlob, writeBlob, type BlobCommand, type ContentInput } from "../../domain/blob-command.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import { invalidRequest, notFound, tooLarge, type UmbraError } from "../../domain/errors.ts"
import { parseJson } from "../../domain/json-patch.ts"
import type { Reply } from "../../domain/machines/blob-actor.ts"
import type { ContentStore } from "../../infra/content-store.ts"
import type { EventStore } from "../../infra/event-store.ts"
import type { ActorRegistry } from "./actor-registry.ts"
import type { WriteRequest } from "./request-decoding.ts"

// Turns a decoded write/patch/delete request into one command for the blob's actor.
// Content larger than the inline limit is put in the content store first, so the event
// (one JetStream message) only carries its digest.

export interface WriteDeps {
  readonly registry: ActorRegistry
  readonly content: ContentStore
  readonly events: EventStore
  readonly inlineLimitBytes: number
  readonly maxBodyBytes: number
}

export type WriteResult = E.Either<UmbraError, Extract<Reply, { _tag: "written" }>>

const fromReply = (r: Reply): WriteResult =>
  r._tag === "written" ? E.right(r) : r._tag === "rejected" ? E.left(r.error) : E.left(invalidRequest("unexpected reply"))

const base = (req: WriteRequest) => ({
  expectedVersion: req.expectedVersion,
  idempotencyKey: req.idempotencyKey,
  writer: req.writer,
})

const contentOf = async (d: WriteDeps, req: WriteRequest, body: Uint8Array): Promise<E.Either<UmbraError, ContentInput>> => {
  if (req.contentRef !== undefined) {
    if (body.length > 0) return E.left(invalidRequest("a write with a content reference has an empty body", "Umbra-Content-Ref"))
    const size = await d.content.verifiedSize(req.contentRef)
    if (size === undefined) return E.left(invalidRequest("no object with this digest in the content store", "Umbra-Content-Ref"))
    return E.right({ kind: "ref", digest: req.contentRef, size })
  }
  if (body.length > d.maxBodyBytes) return E.left(tooLarge(body.length, d.maxBodyBytes))
  if (body.length > d.inlineLimitBytes) return E.right({ kind: "ref", digest: await d.content.put(body), size: body.length })
  return E.right({ kind: "inline", bytes: body })
}

/** Restore: version n's content becomes the head again, as a new version. */
const restoreContent = async (d: WriteDeps, id: BlobId, version: number): Promise<E.Either<UmbraError, ContentInput>> => {
  const past = await d.events.seqOfVersion(id, version)
  if (past === undefined || past.event.op === "delete") return E.left(notFound(id, version))
  const ev = past.event
  if (ev.contentRef !== undefined) return E.right({ kind: "ref", digest: ev.contentRef, size: ev.size })
  return E.right({ kind: "inline", bytes: ev.content ?? new Uint8Array(0) })
}

export const handleWrite = async (d: WriteDeps, id: BlobId, req: WriteRequest, body: Uint8Array): Promise<WriteResult> => {
  if (req.restoreVersion !== undefined && (body.length > 0 || req.contentRef !== undefined))
    return E.left(invalidRequest("a restore carries no content", "Umbra-Restore-Version"))
  const content =
    req.restoreVersion !== undefined ? await restoreContent(d, id, req.restoreVersion) : await contentOf(d, req, body)
  if (E.isLeft(content)) return content
  const cmd: BlobCommand = writeBlob(content.right, {
    ...base(req),
    ...(req.contentType === undefined ? {} : { contentType: req.contentType }),
    ...(req.restoreVersion === undefined ? {} : { restoredFrom: req.restoreVersion }),
  })
  return fromReply(await d.registry.command(id, cmd))
}

export const handlePatch = async (d: WriteDeps, id: BlobId, req: WriteRequest, body: Uint8Array): Promise<WriteResult> => {
  if (body.length > d.maxBodyBytes) return E.left(tooLarge(body.length, d.maxBodyBytes))
  const patch = parseJson(body, "patch")
  if (E.isLeft(patch)) return patch
  return fromReply(await d.registry.command(id, patchBlob(patch.right, base(req))))
}

export const handleDelete = async (d: WriteDeps, id: BlobId, req: WriteRequest): Promise<WriteResult> =>
  fromReply(await d.registry.command(id, deleteBlob(base(req))))

