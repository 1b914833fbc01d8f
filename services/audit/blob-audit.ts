import * as E from "fp-ts/lib/Either.js"
import type { NatsConnection } from "@nats-io/nats-core"
import {
  auditStart,
  auditStep,
  predictedVersions,
  predictionAudit,
  shadowMerger,
  verdictOf,
  type ActualVersion,
  type AuditInput,
  type PredictionRow,
  type TimelineEntry,
  type Verdict,
} from "../../domain/audit.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"
import { AuditReader, type RawEvent } from "../../infra/audit-reader.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import { eventSubject, type Names } from "../../infra/names.ts"
import { ShadowEvents } from "../../infra/shadow-events.ts"
import { ticker, type ProgressSink } from "./progress.ts"

// `umbra audit <id>`: replay the blob's subject once, in stream order, through the pure
// audit fold; entries are handed out as they are made (so a long timeline is never held in
// memory) with the shadow lifecycle merged in by time.

export interface BlobAuditOptions {
  /** Each timeline entry, in order. Awaited, so a slow writer slows the replay instead of buffering. */
  readonly onEntry?: (e: TimelineEntry) => void | Promise<void>
  readonly onProgress?: ProgressSink
  /** Fetch referenced content and hash it, instead of trusting the object store's digest. */
  readonly verifyBytes?: boolean
  /** Include the shadow lifecycle (default true). */
  readonly shadows?: boolean
}

export type BlobAuditResult =
  | { readonly _tag: "Audited"; readonly verdict: Verdict }
  | { readonly _tag: "NotFound"; readonly id: string }

/** A shadow lifecycle stream that is missing or unreadable hides shadows, not history. */
const loadShadows = async (nc: NatsConnection, names: Names, id: BlobId, wanted: boolean): Promise<ReadonlyArray<ShadowLifecycleEvent>> =>
  wanted ? ShadowEvents.open(nc, names).forBlob(id).catch(() => []) : []

/** The input for the fold; a promise only when the content store must be asked. */
const toInput = (reader: AuditReader, raw: RawEvent, verifyBytes: boolean): AuditInput | Promise<AuditInput> => {
  if (E.isLeft(raw.decoded)) return { _tag: "Malformed", seq: raw.seq, timeMs: raw.streamTimeMs, reason: raw.decoded.left }
  const event = raw.decoded.right
  if (event.contentRef === undefined || event.op === "delete") return { _tag: "Event", seq: raw.seq, event }
  return reader.refObject(event.contentRef, verifyBytes).then((ref) => ({ _tag: "Event", seq: raw.seq, event, ref }))
}

const isPromise = <T>(x: T | Promise<T>): x is Promise<T> => typeof (x as { then?: unknown } | undefined)?.then === "function"

/** Emits entries, waiting only for a sink that asks to be waited for. */
const emitAll = (emit: BlobAuditOptions["onEntry"], entries: ReadonlyArray<TimelineEntry>): void | Promise<void> => {
  if (emit === undefined) return
  let chain: Promise<void> | undefined
  for (const e of entries) {
    if (chain !== undefined) chain = chain.then(() => emit(e))
    else {
      const r = emit(e)
      if (isPromise(r)) chain = r
    }
  }
  return chain
}

export const auditBlob = async (nc: NatsConnection, names: Names, id: BlobId, o: BlobAuditOptions = {}): Promise<BlobAuditResult> => {
  const reader = await AuditReader.open(nc, names)
  const [shadows, replay] = await Promise.all([loadShadows(nc, names, id, o.shadows !== false), reader.replay({ filter: eventSubject(names, id) })])
  if (replay.total === 0) return { _tag: "NotFound", id }
  const merge = shadowMerger(shadows)
  const progress = ticker(replay.total, o.onProgress)
  let state = auditStart(id)
  let done = 0
  const visit = (input: AuditInput): void | Promise<void> => {
    const [next, entry] = auditStep(state, input, nodeHasher)
    state = next
    progress.tick(++done)
    if (o.onEntry === undefined) return
    const before = merge.before(entry.timeMs)
    return emitAll(o.onEntry, before.length === 0 ? [entry] : [...before, entry])
  }
  await replay.forEach((raw) => {
    const input = toInput(reader, raw, o.verifyBytes === true)
    return isPromise(input) ? input.then(visit) : visit(input)
  })
  await emitAll(o.onEntry, merge.rest())
  progress.finish(done)
  return { _tag: "Audited", verdict: verdictOf(state, shadows.length) }
}

/**
 * `umbra audit <id> --predictions`: every prediction against the version that came. Only the
 * predicted versions are kept from the replay, which reads headers only.
 */
export const auditPredictions = async (nc: NatsConnection, names: Names, id: BlobId): Promise<ReadonlyArray<PredictionRow>> => {
  const reader = await AuditReader.open(nc, names)
  const shadows = await loadShadows(nc, names, id, true)
  const wanted = predictedVersions(shadows)
  const actual = new Map<number, ActualVersion>()
  if (wanted.size > 0) {
    const replay = await reader.replay({ filter: eventSubject(names, id), headersOnly: true })
    await replay.forEach((raw) => {
      if (E.isLeft(raw.decoded)) return
      const e = raw.decoded.right
      if (wanted.has(e.version) && !actual.has(e.version))
        actual.set(e.version, { version: e.version, digest: e.digest, timeMs: e.timeMs, writer: e.writer, op: e.op })
    })
  }
  return predictionAudit(shadows, (v) => actual.get(v))
}
