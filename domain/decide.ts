import * as E from "fp-ts/lib/Either.js"
import { pipe } from "fp-ts/lib/function.js"
import type { BlobCommand, DeleteBlob, PatchBlob, WriteBlob } from "./blob-command.ts"
import { chainPayload, type BlobEvent, type BlobOp } from "./blob-event.ts"
import type { BlobState } from "./blob-state.ts"
import type { Hasher } from "./digest.ts"
import { invalidRequest, notFound, tooLarge, versionConflict, type UmbraError } from "./errors.ts"
import { applyJsonPatch, encodeJson, parseJson } from "./json-patch.ts"

// decide(command, state) -> the one event to append, or a rejection as a value. A retried
// command (same idempotency key as the head event) is recognised and answered with the
// version it already produced, so a retry never creates a second version.

export interface DecideContext {
  readonly nowMs: number
  readonly hasher: Hasher
  /** Largest content kept inline in an event; larger content must arrive as a reference. */
  readonly inlineLimitBytes: number
}

export type Decision =
  | { readonly _tag: "Append"; readonly event: BlobEvent }
  | { readonly _tag: "AlreadyApplied"; readonly version: number; readonly digest: string }

const EMPTY = new Uint8Array(0)

export const decide = (command: BlobCommand, state: BlobState, ctx: DecideContext): E.Either<UmbraError, Decision> => {
  if (command.idempotencyKey !== undefined && command.idempotencyKey === state.lastIdempotencyKey) {
    return E.right({ _tag: "AlreadyApplied", version: state.version, digest: state.digest ?? ctx.hasher.digest(EMPTY) })
  }
  // Plain checks rather than pipe(E.chain, E.map): fp-ts's curried combinators were a tenth of
  // an actor's CPU per write (bench/xstate-probe.ts), and this runs on every write.
  const expected = checkExpectedVersion(command, state)
  if (E.isLeft(expected)) return expected
  const event = decideByTag(command, state, ctx)
  return E.isLeft(event) ? event : E.right({ _tag: "Append", event: event.right })
}

const decideByTag = (command: BlobCommand, state: BlobState, ctx: DecideContext): E.Either<UmbraError, BlobEvent> => {
  switch (command._tag) {
    case "WriteBlob":
      return decideWrite(command, state, ctx)
    case "PatchBlob":
      return decidePatch(command, state, ctx)
    case "DeleteBlob":
      return decideDelete(command, state, ctx)
  }
}

/** `0` means "must not exist"; any other number must equal the current version. */
export const checkExpectedVersion = (command: BlobCommand, state: BlobState): E.Either<UmbraError, void> => {
  const expected = command.expectedVersion
  if (expected === undefined) return E.right(undefined)
  if (!Number.isSafeInteger(expected) || expected < 0)
    return E.left(invalidRequest("must be a non-negative integer", "expectedVersion"))
  const ok = expected === 0 ? !state.exists : expected === state.version
  return ok ? E.right(undefined) : E.left(versionConflict(state.id, expected, state.version))
}

const decideWrite = (c: WriteBlob, state: BlobState, ctx: DecideContext): E.Either<UmbraError, BlobEvent> => {
  const op: BlobOp = c.restoredFrom === undefined ? "write" : "restore"
  if (c.restoredFrom !== undefined && !(Number.isSafeInteger(c.restoredFrom) && c.restoredFrom >= 1 && c.restoredFrom <= state.version))
    return E.left(notFound(state.id, c.restoredFrom))
  if (c.content.kind === "ref") {
    return E.right(
      makeEvent(state, ctx, c, {
        op,
        digest: c.content.digest,
        size: c.content.size,
        contentType: c.contentType,
        contentRef: c.content.digest,
        content: undefined,
      }),
    )
  }
  const bytes = c.content.bytes
  if (bytes.length > ctx.inlineLimitBytes) return E.left(tooLarge(bytes.length, ctx.inlineLimitBytes))
  return E.right(
    makeEvent(state, ctx, c, {
      op,
      digest: ctx.hasher.digest(bytes),
      size: bytes.length,
      contentType: c.contentType,
      contentRef: undefined,
      content: bytes,
    }),
  )
}

const decidePatch = (c: PatchBlob, state: BlobState, ctx: DecideContext): E.Either<UmbraError, BlobEvent> => {
  if (!state.exists) return E.left(notFound(state.id))
  if (state.content === undefined)
    return E.left(invalidRequest("blob is stored by reference; patch it by writing new content", "patch"))
  return pipe(
    parseJson(state.content, "content"),
    E.mapLeft(() => invalidRequest("the blob's content is not JSON", "patch")),
    E.chainW((doc) => applyJsonPatch(doc, c.patch)),
    E.map(encodeJson),
    E.chainW((bytes) =>
      bytes.length > ctx.inlineLimitBytes ? E.left(tooLarge(bytes.length, ctx.inlineLimitBytes)) : E.right(bytes),
    ),
    E.map((bytes) =>
      makeEvent(state, ctx, c, {
        op: "patch",
        digest: ctx.hasher.digest(bytes),
        size: bytes.length,
        contentType: "application/json",
        contentRef: undefined,
        content: bytes,
      }),
    ),
  )
}

const decideDelete = (c: DeleteBlob, state: BlobState, ctx: DecideContext): E.Either<UmbraError, BlobEvent> => {
  if (!state.exists) return E.left(notFound(state.id))
  return E.right(
    makeEvent(state, ctx, c, {
      op: "delete",
      digest: ctx.hasher.digest(EMPTY),
      size: 0,
      contentType: undefined,
      contentRef: undefined,
      content: undefined,
    }),
  )
}

type EventBody = Pick<BlobEvent, "op" | "digest" | "size" | "contentType" | "contentRef" | "content">

const makeEvent = (state: BlobState, ctx: DecideContext, c: BlobCommand, body: EventBody): BlobEvent => {
  const unsigned = {
    id: state.id,
    version: state.version + 1,
    op: body.op,
    digest: body.digest,
    size: body.size,
    contentType: body.contentType,
    contentRef: body.contentRef,
    writer: c.writer,
    // Time never goes backwards within a blob's history, even if a node's clock does.
    timeMs: Math.max(ctx.nowMs, state.timeMs),
    idempotencyKey: c.idempotencyKey,
    restoredFrom: c._tag === "WriteBlob" ? c.restoredFrom : undefined,
    prevHash: state.hash,
  }
  return { ...unsigned, content: body.content, hash: ctx.hasher.hashText(chainPayload(unsigned)) }
}
