import * as E from "fp-ts/lib/Either.js"
import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/nats-core"
import { H } from "../headers.ts"
import { clientError, type UmbraClientError } from "./errors.ts"
import type {
  HistoryEntry,
  HistoryOptions,
  HistoryPage,
  ReadOptions,
  ReadResult,
  ReadSource,
  ShadowInfo,
  WriteOptions,
  WriteResult,
} from "./types.ts"

// Request headers and reply decoding, pure and separate from the connection. Options are
// checked here so a bad argument fails before anything is sent, with the same code the
// service would have answered.

type Checked<A> = E.Either<UmbraClientError, A>

const invalid = (field: string, reason: string): UmbraClientError =>
  clientError("INVALID_REQUEST", `invalid request: ${field}: ${reason}`, { field, reason })

const nonNegativeInt = (field: string, v: number | undefined): Checked<string | undefined> =>
  v === undefined ? E.right(undefined) : Number.isSafeInteger(v) && v >= 0 ? E.right(String(v)) : E.left(invalid(field, "must be a non-negative integer"))

const positiveInt = (field: string, v: number | undefined): Checked<string | undefined> =>
  v === undefined ? E.right(undefined) : Number.isSafeInteger(v) && v >= 1 ? E.right(String(v)) : E.left(invalid(field, "must be a positive integer"))

const token = (field: string, v: string | undefined, max: number): Checked<string | undefined> =>
  v === undefined ? E.right(undefined) : v.length >= 1 && v.length <= max && /^[\x21-\x7e]+$/.test(v)
    ? E.right(v)
    : E.left(invalid(field, `must be 1-${max} printable ASCII characters without spaces`))

/** The service accepts decimals only (no exponent), so 1e-7 is spelled out. */
const confidenceText = (v: number | undefined): Checked<string | undefined> => {
  if (v === undefined) return E.right(undefined)
  if (!Number.isFinite(v) || v < 0 || v > 1) return E.left(invalid("minConfidence", "must be a number in [0,1]"))
  const text = String(v)
  return E.right(/e/i.test(text) ? v.toFixed(12).replace(/0+$/, "") : text)
}

const asOfText = (v: Date | number | string | undefined): Checked<string | undefined> => {
  if (v === undefined) return E.right(undefined)
  if (v instanceof Date)
    return Number.isFinite(v.getTime()) ? E.right(v.toISOString()) : E.left(invalid("asOf", "invalid date"))
  if (typeof v === "number")
    return Number.isSafeInteger(v) && v >= 0 ? E.right(String(v)) : E.left(invalid("asOf", "must be epoch milliseconds"))
  return /^[0-9]{1,15}$/.test(v) || (/^\d{4}-\d{2}-\d{2}/.test(v) && Number.isFinite(Date.parse(v)))
    ? E.right(v)
    : E.left(invalid("asOf", "must be epoch milliseconds or an ISO-8601 time"))
}

const setAll = (pairs: ReadonlyArray<readonly [string, string | undefined]>): MsgHdrs => {
  // A fresh object every time: nats.js mutates the headers it is given.
  const h = natsHeaders()
  for (const [k, v] of pairs) if (v !== undefined) h.set(k, v)
  return h
}

const sequence = (items: ReadonlyArray<readonly [string, Checked<string | undefined>]>): Checked<ReadonlyArray<readonly [string, string | undefined]>> => {
  const out: Array<readonly [string, string | undefined]> = []
  for (const [k, v] of items) {
    if (E.isLeft(v)) return v
    out.push([k, v.right])
  }
  return E.right(out)
}

export interface MutationHeaderInput extends WriteOptions {
  readonly contentRef?: string
  readonly restoreVersion?: number
}

export const mutationHeaders = (o: MutationHeaderInput): Checked<MsgHdrs> =>
  E.map(setAll)(
    sequence([
      [H.expectedVersion, nonNegativeInt("expectedVersion", o.expectedVersion)],
      [H.idempotencyKey, token("idempotencyKey", o.idempotencyKey, 200)],
      [H.contentType, token("contentType", o.contentType, 200)],
      [H.writer, token("writer", o.writer, 100)],
      [H.contentRef, E.right(o.contentRef)],
      [H.restore, positiveInt("version", o.restoreVersion)],
    ]),
  )

export const readHeaders = (o: ReadOptions): Checked<MsgHdrs> => {
  if (o.version !== undefined && o.asOf !== undefined) return E.left(invalid("asOf", "give either version or asOf, not both"))
  return E.map(setAll)(
    sequence([
      [H.consistency, E.right(o.consistency)],
      [H.minConfidence, confidenceText(o.minConfidence)],
      [H.version, positiveInt("version", o.version)],
      [H.asOf, asOfText(o.asOf)],
    ]),
  )
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const historyBody = (o: HistoryOptions): Checked<Uint8Array> => {
  const from = positiveInt("from", o.from)
  if (E.isLeft(from)) return from
  const limit = positiveInt("limit", o.limit)
  if (E.isLeft(limit)) return limit
  const body = {
    ...(o.from === undefined ? {} : { from: o.from }),
    ...(o.limit === undefined ? {} : { limit: o.limit }),
    ...(o.reverse === undefined ? {} : { reverse: o.reverse }),
  }
  return E.right(Object.keys(body).length === 0 ? new Uint8Array(0) : encoder.encode(JSON.stringify(body)))
}

const malformed = (what: string): UmbraClientError => clientError("INTERNAL", `malformed ${what} reply from the service`)

const parseJson = (msg: Msg, what: string): Checked<unknown> => {
  try {
    return E.right(JSON.parse(decoder.decode(msg.data)) as unknown)
  } catch {
    return E.left(malformed(what))
  }
}

export const decodeWriteReply = (msg: Msg): Checked<WriteResult> =>
  E.chain((v: unknown): Checked<WriteResult> => {
    const r = v as Partial<WriteResult> | null
    return r !== null && typeof r === "object" && typeof r.id === "string" && typeof r.version === "number" && typeof r.digest === "string"
      ? E.right({ id: r.id, version: r.version, digest: r.digest })
      : E.left(malformed("write"))
  })(parseJson(msg, "write"))

const intHeader = (h: MsgHdrs | undefined, name: string): number | undefined => {
  const raw = h?.get(name) ?? ""
  if (raw === "") return undefined
  const n = Number(raw)
  return Number.isFinite(n) ? n : undefined
}

const textHeader = (h: MsgHdrs | undefined, name: string): string | undefined => {
  const v = h?.get(name) ?? ""
  return v === "" ? undefined : v
}

/** Valid-from travels as epoch ms; an ISO time is accepted too, since the header is text. */
const timeHeaderMs = (h: MsgHdrs | undefined, name: string): number | undefined => {
  const raw = textHeader(h, name)
  if (raw === undefined) return undefined
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(raw)) return Number(raw)
  const t = Date.parse(raw)
  return Number.isFinite(t) ? t : undefined
}

const shadowOf = (h: MsgHdrs | undefined): ShadowInfo | undefined => {
  const confidence = intHeader(h, H.confidence)
  if (confidence === undefined) return undefined
  const basedOn = intHeader(h, H.shadowBasedOn)
  return {
    confidence,
    validFrom: timeHeaderMs(h, H.validFrom) ?? 0,
    shadowVersion: intHeader(h, H.shadowVersion) ?? 0,
    origin: textHeader(h, H.shadowOrigin) ?? "unknown",
    ...(basedOn === undefined ? {} : { basedOn }),
  }
}

/** A read reply's metadata; the content is resolved by the caller (it may be a reference). */
export interface ReadMeta extends Omit<ReadResult, "content"> {
  readonly body: Uint8Array
}

export const decodeReadReply = (id: string, msg: Msg): Checked<ReadMeta> => {
  const h = msg.headers
  const version = intHeader(h, H.version)
  const digest = textHeader(h, H.digest)
  if (version === undefined || digest === undefined) return E.left(malformed("read"))
  const source: ReadSource = textHeader(h, H.source) === "shadow" ? "shadow" : "primary"
  const time = textHeader(h, H.time)
  const contentType = textHeader(h, H.contentType)
  const contentRef = textHeader(h, H.contentRef)
  const shadow = source === "shadow" ? shadowOf(h) : undefined
  return E.right({
    id,
    body: msg.data,
    version,
    digest,
    source,
    ...(time === undefined ? {} : { time }),
    ...(contentType === undefined ? {} : { contentType }),
    ...(contentRef === undefined ? {} : { contentRef }),
    ...(shadow === undefined ? {} : { shadow }),
  })
}

const isEntry = (v: unknown): v is HistoryEntry => {
  const e = v as Partial<HistoryEntry> | null
  return e !== null && typeof e === "object" && typeof e.version === "number" && typeof e.op === "string"
}

export const decodeHistoryReply = (msg: Msg): Checked<HistoryPage> =>
  E.chain((v: unknown): Checked<HistoryPage> => {
    if (!Array.isArray(v) || !v.every(isEntry)) return E.left(malformed("history"))
    return E.right({
      entries: v,
      headVersion: intHeader(msg.headers, "Umbra-Head-Version"),
      nextFrom: intHeader(msg.headers, "Umbra-Next-From"),
    })
  })(parseJson(msg, "history"))
