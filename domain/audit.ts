import type { BlobEvent, BlobOp } from "./blob-event.ts"
import type { Hasher } from "./digest.ts"
import { chainStart, isChainBreak, verifyLink, type ChainBreak, type ChainCursor } from "./hash-chain.ts"
import { diffLine, jsonDiff, type JsonDiff } from "./json-diff.ts"
import type { ShadowLifecycleEvent } from "./shadow-lifecycle.ts"

// The audit of a blob, as a fold over what its subject holds in stream order: every message
// is checked against the chain so far (version, previous hash, own hash, content digest),
// described (writer, op, a short JSON diff), and the first break is the verdict. After a
// break the fold re-anchors on what it saw, so one forged event is one break, not a cascade.

/** What the content store holds under an event's content reference, as the shell found it. */
export type RefObject =
  | { readonly _tag: "RefFound"; readonly digest: string | undefined; readonly size: number; readonly bytes?: Uint8Array }
  | { readonly _tag: "RefMissing" }

export type AuditInput =
  | { readonly _tag: "Event"; readonly seq: number; readonly event: BlobEvent; readonly ref?: RefObject }
  /** A message on the blob's subject that is not an event (published around the service). */
  | { readonly _tag: "Malformed"; readonly seq: number; readonly timeMs: number | undefined; readonly reason: string }

export type BreakCause =
  | ChainBreak["_tag"]
  | "Malformed"
  | "IdMismatch"
  | "SizeMismatch"
  | "ContentMissing"
  | "ContentRefMismatch"
  /** A `--from` audit: the first event in range does not link to the version before it. */
  | "AnchorMismatch"

export interface AuditBreak {
  readonly version: number
  readonly seq: number
  readonly cause: BreakCause
  readonly message: string
}

export type DigestCheck = "ok" | "mismatch" | "missing" | "tombstone" | "unchecked"

export interface VersionEntry {
  readonly kind: "version"
  readonly version: number
  readonly seq: number
  readonly timeMs: number
  readonly op: BlobOp
  readonly writer: string
  readonly size: number
  readonly digest: string
  readonly contentRef?: string
  readonly restoredFrom?: number
  readonly idempotencyKey?: string
  readonly digestCheck: DigestCheck
  /** "ok", or the cause of the break at this version. */
  readonly chain: "ok" | BreakCause
  readonly summary: string
  readonly diff?: JsonDiff
  readonly break?: AuditBreak
}

export interface MalformedEntry {
  readonly kind: "malformed"
  readonly version: number
  readonly seq: number
  readonly timeMs: number | undefined
  readonly chain: "Malformed"
  readonly summary: string
  readonly break: AuditBreak
}

export interface ShadowEntry {
  readonly kind: "shadow"
  readonly lifecycle: ShadowLifecycleEvent["kind"]
  readonly timeMs: number
  readonly shadowVersion: number
  readonly basedOn: number
  readonly predicted: number
  readonly confidence: number
  readonly validFromMs: number
  readonly origin: ShadowLifecycleEvent["origin"]
  readonly model: string
  readonly digest: string
  readonly reason?: string
  readonly headVersion?: number
  readonly served?: number
  readonly summary: string
}

export type TimelineEntry = VersionEntry | MalformedEntry | ShadowEntry

export interface AuditState {
  readonly id: string
  readonly cursor: ChainCursor
  /** The previous version's parsed JSON, for diffs; NOT_JSON when it was not JSON or not at hand. */
  readonly prevJson: unknown
  readonly versions: number
  readonly headVersion: number
  readonly breaks: number
  readonly firstBreak: AuditBreak | undefined
}

export interface Verdict {
  readonly verdict: "intact" | "broken"
  readonly intact: boolean
  readonly firstBrokenVersion: number | null
  readonly cause: BreakCause | null
  readonly reason: string | null
  readonly id: string
  readonly versions: number
  readonly headVersion: number
  readonly breaks: number
  readonly shadowEvents: number
}

const NOT_JSON: unique symbol = Symbol("not-json")

export const auditStart = (id: string): AuditState => ({
  id,
  cursor: chainStart,
  prevJson: NOT_JSON,
  versions: 0,
  headVersion: 0,
  breaks: 0,
  firstBreak: undefined,
})

/** A `--from` audit starts mid-chain: trust the first event's link, and let the shell check it. */
export const auditFromAnchor = (id: string, event: Pick<BlobEvent, "version" | "prevHash">): AuditState => ({
  ...auditStart(id),
  cursor: { expectedVersion: event.version, prevHash: event.prevHash },
  headVersion: event.version - 1,
})

const MESSAGES: Record<BreakCause, string> = {
  VersionGap: "version out of sequence",
  PrevHashMismatch: "previous-hash does not link to the version before",
  HashMismatch: "event hash does not cover its fields (an event field was altered)",
  DigestMismatch: "stored content does not match the recorded digest",
  Malformed: "message on the blob subject is not a well-formed event (published around the service)",
  IdMismatch: "event names another blob than its subject",
  SizeMismatch: "stored content size differs from the recorded size",
  ContentMissing: "referenced content is missing from the content store",
  ContentRefMismatch: "content reference names another object than the recorded digest",
  AnchorMismatch: "first event in range does not link to the version before it",
}

export const breakAt = (version: number, seq: number, cause: BreakCause, detail?: string): AuditBreak => ({
  version,
  seq,
  cause,
  message: detail === undefined ? MESSAGES[cause] : `${MESSAGES[cause]}: ${detail}`,
})

const chainMessage = (b: ChainBreak): string | undefined =>
  b._tag === "VersionGap" ? `expected version ${b.expected}, found ${b.version}` : undefined

interface ContentFacts {
  readonly digest: string | undefined
  readonly check: DigestCheck
  readonly problem: { readonly cause: BreakCause; readonly detail?: string } | undefined
  readonly bytes: Uint8Array | undefined
}

const inlineFacts = (e: BlobEvent, hasher: Hasher): ContentFacts => {
  const bytes = e.content ?? new Uint8Array(0)
  const digest = hasher.digest(bytes)
  if (bytes.length !== e.size)
    return { digest, check: digest === e.digest ? "ok" : "mismatch", problem: { cause: "SizeMismatch", detail: `${bytes.length} ≠ ${e.size}` }, bytes }
  return { digest, check: digest === e.digest ? "ok" : "mismatch", problem: undefined, bytes }
}

const refFacts = (e: BlobEvent, ref: RefObject | undefined, hasher: Hasher): ContentFacts => {
  if (e.contentRef !== e.digest)
    return { digest: undefined, check: "mismatch", problem: { cause: "ContentRefMismatch", detail: `${e.contentRef} for ${e.digest}` }, bytes: undefined }
  if (ref === undefined) return { digest: undefined, check: "unchecked", problem: undefined, bytes: undefined }
  if (ref._tag === "RefMissing") return { digest: undefined, check: "missing", problem: { cause: "ContentMissing", detail: e.contentRef }, bytes: undefined }
  const digest = ref.bytes === undefined ? ref.digest : hasher.digest(ref.bytes)
  const size = ref.bytes === undefined ? ref.size : ref.bytes.length
  const check: DigestCheck = digest === e.digest ? "ok" : "mismatch"
  if (digest === undefined) return { digest, check: "mismatch", problem: { cause: "DigestMismatch", detail: "object has no digest" }, bytes: undefined }
  if (size !== e.size) return { digest, check, problem: { cause: "SizeMismatch", detail: `${size} ≠ ${e.size}` }, bytes: ref.bytes }
  return { digest, check, problem: undefined, bytes: ref.bytes }
}

const contentFacts = (e: BlobEvent, ref: RefObject | undefined, hasher: Hasher): ContentFacts => {
  if (e.op === "delete") return { digest: undefined, check: "tombstone", problem: undefined, bytes: undefined }
  return e.contentRef === undefined ? inlineFacts(e, hasher) : refFacts(e, ref, hasher)
}

export interface LinkResult {
  readonly cursor: ChainCursor
  readonly break: AuditBreak | undefined
  readonly digestCheck: DigestCheck
  readonly bytes: Uint8Array | undefined
}

/**
 * One event against the chain: the checks an audit of one blob and a whole-store audit share.
 * On a break the cursor moves past the event as it is, so the events after it are judged on
 * their own links.
 */
export const checkEvent = (cursor: ChainCursor, blobId: string, seq: number, e: BlobEvent, ref: RefObject | undefined, hasher: Hasher): LinkResult => {
  const facts = contentFacts(e, ref, hasher)
  const next: ChainCursor = { expectedVersion: e.version + 1, prevHash: e.hash }
  const linked = verifyLink(cursor, e, facts.digest, hasher)
  const problem = isChainBreak(linked)
    ? breakAt(linked.version, seq, linked._tag, chainMessage(linked))
    : e.id !== blobId
      ? breakAt(e.version, seq, "IdMismatch", e.id)
      : facts.problem === undefined
        ? undefined
        : breakAt(e.version, seq, facts.problem.cause, facts.problem.detail)
  // A version gap says nothing about this event's own link; keep counting from what is there.
  return { cursor: next, break: problem, digestCheck: facts.check, bytes: facts.bytes }
}

const decoder = new TextDecoder("utf-8", { fatal: true })

const looksJson = (contentType: string | undefined, bytes: Uint8Array): boolean => {
  if (contentType !== undefined) return /json/i.test(contentType)
  for (const b of bytes) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue
    return b === 0x7b || b === 0x5b
  }
  return false
}

const parseJsonOrNot = (contentType: string | undefined, bytes: Uint8Array | undefined): unknown => {
  if (bytes === undefined || !looksJson(contentType, bytes)) return NOT_JSON
  try {
    return JSON.parse(decoder.decode(bytes))
  } catch {
    return NOT_JSON
  }
}

const describe = (e: BlobEvent, prevJson: unknown, json: unknown): { summary: string; diff?: JsonDiff } => {
  const prefix = e.op === "restore" && e.restoredFrom !== undefined ? `restored v${e.restoredFrom}; ` : ""
  if (e.op === "delete") return { summary: "deleted (tombstone)" }
  if (json === NOT_JSON) return { summary: prefix + (e.contentRef === undefined ? `${e.size} bytes` : `${e.size} bytes by reference`) }
  if (prevJson === NOT_JSON) return { summary: prefix + "new JSON document" }
  const diff = jsonDiff(prevJson, json)
  return { summary: prefix + diffLine(diff), diff }
}

const withBreak = (s: AuditState, b: AuditBreak | undefined): AuditState =>
  b === undefined ? s : { ...s, breaks: s.breaks + 1, firstBreak: s.firstBreak ?? b }

const eventEntry = (input: Extract<AuditInput, { _tag: "Event" }>, link: LinkResult, described: { summary: string; diff?: JsonDiff }): VersionEntry => {
  const e = input.event
  return {
    kind: "version",
    version: e.version,
    seq: input.seq,
    timeMs: e.timeMs,
    op: e.op,
    writer: e.writer,
    size: e.size,
    digest: e.digest,
    ...(e.contentRef === undefined ? {} : { contentRef: e.contentRef }),
    ...(e.restoredFrom === undefined ? {} : { restoredFrom: e.restoredFrom }),
    ...(e.idempotencyKey === undefined ? {} : { idempotencyKey: e.idempotencyKey }),
    digestCheck: link.digestCheck,
    chain: link.break === undefined ? "ok" : link.break.cause,
    summary: described.summary,
    ...(described.diff === undefined ? {} : { diff: described.diff }),
    ...(link.break === undefined ? {} : { break: link.break }),
  }
}

const stepMalformed = (s: AuditState, input: Extract<AuditInput, { _tag: "Malformed" }>): [AuditState, MalformedEntry] => {
  // It takes the position of the next version but not its place in the chain: the events
  // after it are still judged against the last well-formed one.
  const b = breakAt(s.cursor.expectedVersion, input.seq, "Malformed", input.reason)
  const entry: MalformedEntry = { kind: "malformed", version: b.version, seq: input.seq, timeMs: input.timeMs, chain: "Malformed", summary: b.message, break: b }
  return [withBreak(s, b), entry]
}

export interface AuditOptions {
  /** Parse JSON and summarise changes (off for whole-store audits, where only the chain matters). */
  readonly diffs: boolean
}

export const auditStep = (s: AuditState, input: AuditInput, hasher: Hasher, o: AuditOptions = { diffs: true }): [AuditState, VersionEntry | MalformedEntry] => {
  if (input._tag === "Malformed") return stepMalformed(s, input)
  const e = input.event
  const link = checkEvent(s.cursor, s.id, input.seq, e, input.ref, hasher)
  const json = o.diffs && e.op !== "delete" ? parseJsonOrNot(e.contentType, link.bytes) : NOT_JSON
  const described = o.diffs ? describe(e, s.prevJson, json) : { summary: "" }
  const next: AuditState = {
    ...withBreak(s, link.break),
    cursor: link.cursor,
    prevJson: json,
    versions: s.versions + 1,
    headVersion: Math.max(s.headVersion, e.version),
  }
  return [next, eventEntry(input, link, described)]
}

/** Adds a break found outside the fold (e.g. a `--from` anchor checked against its predecessor). */
export const auditAddBreak = (s: AuditState, b: AuditBreak): AuditState => withBreak(s, b)

export const verdictOf = (s: AuditState, shadowEvents = 0): Verdict => ({
  verdict: s.firstBreak === undefined ? "intact" : "broken",
  intact: s.firstBreak === undefined,
  firstBrokenVersion: s.firstBreak?.version ?? null,
  cause: s.firstBreak?.cause ?? null,
  reason: s.firstBreak?.message ?? null,
  id: s.id,
  versions: s.versions,
  headVersion: s.headVersion,
  breaks: s.breaks,
  shadowEvents,
})

/** The whole audit of an in-memory history (tests, small blobs); the shell streams instead. */
export const auditAll = (
  id: string,
  inputs: Iterable<AuditInput>,
  shadows: ReadonlyArray<ShadowLifecycleEvent>,
  hasher: Hasher,
): { readonly timeline: ReadonlyArray<TimelineEntry>; readonly verdict: Verdict } => {
  let s = auditStart(id)
  const merge = shadowMerger(shadows)
  const timeline: TimelineEntry[] = []
  for (const input of inputs) {
    const [next, entry] = auditStep(s, input, hasher)
    s = next
    timeline.push(...merge.before(entry.timeMs), entry)
  }
  timeline.push(...merge.rest())
  return { timeline, verdict: verdictOf(s, shadows.length) }
}

// ---------------------------------------------------------------------------------------
// Shadow lifecycle, interleaved by time.

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`

const shadowSummary = (e: ShadowLifecycleEvent, iso: (ms: number) => string): string => {
  const about = `shadow #${e.shadowVersion} (${e.origin}, v${e.basedOn}→v${e.predicted})`
  const served = e.served === undefined ? "" : `, served ${e.served} read${e.served === 1 ? "" : "s"}`
  switch (e.kind) {
    case "created":
      return `${about} created, confidence ${pct(e.confidence)}, valid from ${iso(e.validFromMs)}, model ${e.model}`
    case "confirmed":
      return `${about} confirmed${e.reason === undefined ? "" : ` (${e.reason})`}${served}`
    case "updated":
      return `${about} updated${e.newShadowVersion === undefined ? "" : ` to #${e.newShadowVersion}`}${e.reason === undefined ? "" : ` (${e.reason})`}${served}`
    case "discarded":
      return `${about} discarded: ${e.reason ?? "no reason recorded"}${served}`
  }
}

const isoTime = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms))

export const shadowEntry = (e: ShadowLifecycleEvent): ShadowEntry => ({
  kind: "shadow",
  lifecycle: e.kind,
  timeMs: e.timeMs,
  shadowVersion: e.shadowVersion,
  basedOn: e.basedOn,
  predicted: e.predicted,
  confidence: e.confidence,
  validFromMs: e.validFromMs,
  origin: e.origin,
  model: e.model,
  digest: e.digest,
  ...(e.reason === undefined ? {} : { reason: e.reason }),
  ...(e.headVersion === undefined ? {} : { headVersion: e.headVersion }),
  ...(e.served === undefined ? {} : { served: e.served }),
  summary: shadowSummary(e, isoTime),
})

export interface ShadowMerger {
  /** Shadow entries strictly before `timeMs` not yet emitted (a version's own write shadow follows it). */
  before(timeMs: number | undefined): ReadonlyArray<ShadowEntry>
  rest(): ReadonlyArray<ShadowEntry>
}

const NONE: ReadonlyArray<ShadowEntry> = Object.freeze([])

export const shadowMerger = (events: ReadonlyArray<ShadowLifecycleEvent>): ShadowMerger => {
  const sorted = [...events].sort((a, b) => a.timeMs - b.timeMs)
  let i = 0
  const takeWhile = (ok: (e: ShadowLifecycleEvent) => boolean): ShadowEntry[] => {
    const out: ShadowEntry[] = []
    for (let e = sorted[i]; e !== undefined && ok(e); e = sorted[++i]) out.push(shadowEntry(e))
    return out
  }
  return {
    // Most versions have no shadow event before them: no array for those.
    before: (timeMs) => (timeMs === undefined || (sorted[i]?.timeMs ?? Infinity) >= timeMs ? NONE : takeWhile((e) => e.timeMs < timeMs)),
    rest: () => takeWhile(() => true),
  }
}

// ---------------------------------------------------------------------------------------
// Prediction audit: each prediction against the version that actually came.

export type PredictionOutcome = "correct" | "wrong-content" | "pending" | "expired" | "superseded"

export interface ActualVersion {
  readonly version: number
  readonly digest: string
  readonly timeMs: number
  readonly writer: string
  readonly op: BlobOp
}

export interface PredictionRow {
  readonly shadowVersion: number
  readonly createdMs: number
  readonly basedOn: number
  readonly predicted: number
  readonly confidence: number
  readonly validFromMs: number
  readonly model: string
  readonly predictedDigest: string
  readonly actual: ActualVersion | null
  readonly outcome: PredictionOutcome
  /** Actual arrival minus valid-from: positive when the write came after the shadow became valid. */
  readonly arrivalAfterValidFromMs: number | null
  readonly verdict: { readonly kind: ShadowLifecycleEvent["kind"]; readonly reason: string | null; readonly served: number | null } | null
}

/** The versions a prediction audit needs to look at (so the shell keeps only those). */
export const predictedVersions = (events: ReadonlyArray<ShadowLifecycleEvent>): ReadonlySet<number> =>
  new Set(events.filter(isPrediction).map((e) => e.predicted))

const isPrediction = (e: ShadowLifecycleEvent): boolean => e.kind === "created" && e.origin === "prediction"

const outcomeOf = (created: ShadowLifecycleEvent, actual: ActualVersion | undefined, verdict: ShadowLifecycleEvent | undefined): PredictionOutcome => {
  if (actual !== undefined) return actual.digest === created.digest ? "correct" : "wrong-content"
  if (verdict?.reason === "valid-from-expired") return "expired"
  if (verdict?.kind === "discarded" || verdict?.kind === "updated") return "superseded"
  return "pending"
}

export const predictionAudit = (
  events: ReadonlyArray<ShadowLifecycleEvent>,
  actualOf: (version: number) => ActualVersion | undefined,
): ReadonlyArray<PredictionRow> => {
  const verdicts = new Map<number, ShadowLifecycleEvent>()
  for (const e of events) if (e.kind !== "created" && !verdicts.has(e.shadowVersion)) verdicts.set(e.shadowVersion, e)
  return events
    .filter(isPrediction)
    .sort((a, b) => a.timeMs - b.timeMs)
    .map((c) => {
      const actual = actualOf(c.predicted)
      const verdict = verdicts.get(c.shadowVersion)
      return {
        shadowVersion: c.shadowVersion,
        createdMs: c.timeMs,
        basedOn: c.basedOn,
        predicted: c.predicted,
        confidence: c.confidence,
        validFromMs: c.validFromMs,
        model: c.model,
        predictedDigest: c.digest,
        actual: actual ?? null,
        outcome: outcomeOf(c, actual, verdict),
        arrivalAfterValidFromMs: actual === undefined ? null : actual.timeMs - c.validFromMs,
        verdict: verdict === undefined ? null : { kind: verdict.kind, reason: verdict.reason ?? null, served: verdict.served ?? null },
      }
    })
}
