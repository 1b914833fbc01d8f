import * as E from "fp-ts/lib/Either.js"
import { Result, Schema } from "effect"
import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/nats-core"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { invalidRequest, type InvalidId, type InvalidRequest } from "../../domain/errors.ts"
import { rawHeaderBlock } from "../../infra/header-view.ts"
import { H } from "../../infra/headers.ts"
import { idFromSubject } from "../../infra/names.ts"

// Everything that crosses the wire is decoded here, with Effect Schema, before it reaches
// the domain. Client-sent `Nats-Msg-Id` / `Nats-Expected-*` headers are never read: the
// service builds every event's headers itself.

const UInt = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^(0|[1-9][0-9]{0,14})$/, { message: "must be a non-negative integer" })),
)
const PosInt = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[1-9][0-9]{0,14}$/, { message: "must be a positive integer" })),
)
const Token = (max: number) =>
  Schema.String.pipe(
    Schema.check(Schema.isBetweenLength(1, max)),
    Schema.check(Schema.isPattern(/^[\x21-\x7e]+$/, { message: "must be printable ASCII without spaces" })),
  )
const Digest = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^sha256:[0-9a-f]{64}$/, { message: "must be sha256:<64 hex digits>" })),
)
const Confidence = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/, { message: "must be a number in [0,1]" })),
)

const WriteHeaders = Schema.Struct({
  [H.expectedVersion]: Schema.optionalKey(UInt),
  [H.idempotencyKey]: Schema.optionalKey(Token(200)),
  [H.contentType]: Schema.optionalKey(Token(200)),
  [H.contentRef]: Schema.optionalKey(Digest),
  [H.restore]: Schema.optionalKey(PosInt),
  [H.writer]: Schema.optionalKey(Token(100)),
})

const ReadHeaders = Schema.Struct({
  [H.consistency]: Schema.optionalKey(Schema.Literals(["shadow", "primary"])),
  [H.minConfidence]: Schema.optionalKey(Confidence),
  [H.version]: Schema.optionalKey(PosInt),
  [H.asOf]: Schema.optionalKey(Token(64)),
})

const HistoryBody = Schema.Struct({
  from: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  limit: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  reverse: Schema.optionalKey(Schema.Boolean),
})

export interface WriteRequest {
  readonly expectedVersion: number | undefined
  readonly idempotencyKey: string | undefined
  readonly contentType: string | undefined
  readonly contentRef: string | undefined
  readonly restoreVersion: number | undefined
  readonly writer: string
}

export interface ReadRequest {
  readonly consistency: "shadow" | "primary"
  readonly minConfidence: number | undefined
  readonly version: number | undefined
  readonly asOfMs: number | undefined
}

export interface HistoryRequest {
  readonly from: number | undefined
  readonly limit: number | undefined
  readonly reverse: boolean
}

const headerRecord = (h: MsgHdrs | undefined, names: ReadonlySet<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  if (h === undefined) return out
  // One pass over the headers present (usually none or one), not a lookup per known name.
  for (const k of h.keys()) if (names.has(k)) out[k] = h.get(k)
  return out
}

const schemaError = (e: { message: string }): InvalidRequest => {
  const [what, where] = e.message.split("\n")
  const field = where?.match(/\["([^"]+)"\]/)?.[1]
  return invalidRequest(what ?? e.message, field)
}

const decodeWith = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) => {
  // The decoder is built once per schema, not once per request.
  const decode = Schema.decodeUnknownResult(schema as never) as (input: unknown) => Result.Result<S["Type"], { message: string }>
  return (input: unknown): E.Either<InvalidRequest, S["Type"]> => {
    const r = decode(input)
    return Result.isSuccess(r) ? E.right(r.success) : E.left(schemaError(r.failure))
  }
}

const decodeWriteHeaders = decodeWith(WriteHeaders)
const decodeReadHeaders = decodeWith(ReadHeaders)
const WRITE_HEADER_NAMES: ReadonlySet<string> = new Set(Object.keys(WriteHeaders.fields))
const READ_HEADER_NAMES: ReadonlySet<string> = new Set(Object.keys(ReadHeaders.fields))
/** A read without headers (the common case) is a shadow-consistency read of the head. */
const DEFAULT_READ: E.Either<InvalidRequest, ReadRequest> = E.right(
  Object.freeze({ consistency: "shadow", minConfidence: undefined, version: undefined, asOfMs: undefined }),
)
/** `Umbra-Consistency: primary` alone: what the schema would decode it to, without decoding. */
const PRIMARY_READ: E.Either<InvalidRequest, ReadRequest> = E.right(
  Object.freeze({ consistency: "primary", minConfidence: undefined, version: undefined, asOfMs: undefined }),
)
const decodeHistoryBody = decodeWith(HistoryBody)

export const decodeId = (subject: string, prefix: string): E.Either<InvalidId, BlobId> =>
  parseBlobId(idFromSubject(subject, prefix))

export const decodeWriteRequest = (h: MsgHdrs | undefined): E.Either<InvalidRequest, WriteRequest> =>
  E.map((r: Record<string, string | undefined>) => ({
    expectedVersion: r[H.expectedVersion] === undefined ? undefined : Number(r[H.expectedVersion]),
    idempotencyKey: r[H.idempotencyKey],
    contentType: r[H.contentType],
    contentRef: r[H.contentRef],
    restoreVersion: r[H.restore] === undefined ? undefined : Number(r[H.restore]),
    writer: r[H.writer] ?? "anonymous",
  }))(decodeWriteHeaders(headerRecord(h, WRITE_HEADER_NAMES)))

/** `Umbra-As-Of` is epoch milliseconds or an ISO-8601 time. */
export const parseAsOf = (raw: string): number | undefined => {
  if (/^[0-9]{1,15}$/.test(raw)) return Number(raw)
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw)) return undefined
  const t = Date.parse(raw)
  return Number.isFinite(t) ? t : undefined
}

/** The header block nats.js sends for a request carrying only `Umbra-Consistency: primary`. */
const PRIMARY_ONLY_BLOCK: Uint8Array = (() => {
  const h = natsHeaders()
  h.set(H.consistency, "primary")
  return (h as MsgHdrs & { encode(): Uint8Array }).encode()
})()

/**
 * The field of nats.js's MsgImpl (v3.4) holding the subject's received bytes (`_msg.subject`;
 * the raw header block is read by header-view.ts). The read path peeks at them to skip decoding
 * work; whenever they are not there as expected (another nats.js, another message class) it
 * decodes through the public API instead.
 */
interface ReceivedMsg {
  readonly _msg?: { readonly subject?: unknown }
}

/** The message nats.js received; @nats-io/services hands handlers a wrapper holding it in `msg`. */
const received = (msg: Msg): ReceivedMsg => {
  const inner = (msg as unknown as { readonly msg?: unknown }).msg
  return (typeof inner === "object" && inner !== null ? inner : msg) as ReceivedMsg
}

/**
 * True when a request's raw header block is exactly PRIMARY_ONLY_BLOCK, checked on the bytes
 * received, without decoding them into a headers object (most of a primary read's decoding
 * cost). Anything else — other headers, another layout — is false and decoded as usual.
 */
const isPrimaryOnly = (msg: Msg): boolean => {
  const block = rawHeaderBlock(received(msg) as unknown as Msg)
  if (block === null || block === undefined || block.length !== PRIMARY_ONLY_BLOCK.length) return false
  for (let i = 0; i < block.length; i++) if (block[i] !== PRIMARY_ONLY_BLOCK[i]) return false
  return true
}

/** A read request from its message: decodeReadRequest, with the common primary-read case decoded from the raw bytes. */
export const decodeReadMsg = (msg: Msg): E.Either<InvalidRequest, ReadRequest> =>
  isPrimaryOnly(msg) ? PRIMARY_READ : decodeReadRequest(msg.headers)

const subjectDecoder = new TextDecoder()

/**
 * `decodeId` for the messages of one subject prefix, with the id decoded from the subject's
 * received bytes when it can: a flat string of its own, where `msg.subject.slice(…)` is a
 * slice of the whole subject that each map lookup of the read path (replica, actors, heads,
 * access log) then hashes and compares several times slower. The same id either way: the
 * prefix is ASCII, so its length in bytes and in characters agree.
 */
export const idDecoder = (prefix: string): ((msg: Msg) => E.Either<InvalidId, BlobId>) => {
  const skip = prefix.length + 1
  if (!/^[\x00-\x7f]*$/.test(prefix)) return (msg) => decodeId(msg.subject, prefix)
  return (msg) => {
    const raw = received(msg)._msg?.subject
    if (!(raw instanceof Uint8Array)) return decodeId(msg.subject, prefix)
    return parseBlobId(raw.length > skip ? subjectDecoder.decode(raw.subarray(skip)) : "")
  }
}

export const decodeReadRequest = (h: MsgHdrs | undefined): E.Either<InvalidRequest, ReadRequest> => {
  if (h === undefined) return DEFAULT_READ
  const record = headerRecord(h, READ_HEADER_NAMES)
  const present = Object.keys(record)
  if (present.length === 0) return DEFAULT_READ
  if (present.length === 1 && record[H.consistency] === "primary") return PRIMARY_READ
  const r = decodeReadHeaders(record)
  if (E.isLeft(r)) return r
  const v = r.right as Record<string, string | undefined>
  const asOfRaw = v[H.asOf]
  const asOfMs = asOfRaw === undefined ? undefined : parseAsOf(asOfRaw)
  if (asOfRaw !== undefined && asOfMs === undefined)
    return E.left(invalidRequest("must be epoch milliseconds or an ISO-8601 time", H.asOf))
  if (asOfMs !== undefined && v[H.version] !== undefined)
    return E.left(invalidRequest(`give either ${H.version} or ${H.asOf}, not both`, H.asOf))
  return E.right({
    consistency: (v[H.consistency] as "shadow" | "primary" | undefined) ?? "shadow",
    minConfidence: v[H.minConfidence] === undefined ? undefined : Number(v[H.minConfidence]),
    version: v[H.version] === undefined ? undefined : Number(v[H.version]),
    asOfMs,
  })
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

export const decodeHistoryRequest = (body: Uint8Array): E.Either<InvalidRequest, HistoryRequest> => {
  if (body.length === 0) return E.right({ from: undefined, limit: undefined, reverse: false })
  let parsed: unknown
  try {
    parsed = JSON.parse(utf8.decode(body))
  } catch {
    return E.left(invalidRequest("the body must be JSON like {\"from\":1,\"limit\":100,\"reverse\":false}"))
  }
  return E.map((r: { from?: number; limit?: number; reverse?: boolean }) => ({
    from: r.from,
    limit: r.limit,
    reverse: r.reverse ?? false,
  }))(decodeHistoryBody(parsed))
}
