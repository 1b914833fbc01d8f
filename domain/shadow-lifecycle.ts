import type { Shadow, ShadowOrigin } from "./shadow.ts"

// What an audit needs to show what readers could have been served: every shadow created,
// and every verdict on it, with its reason. Recorded on `shadow.evt.<id>`.

export type ShadowLifecycleKind = "created" | "confirmed" | "updated" | "discarded"

export type VerdictReason =
  | "matches-head" // confirm: content and version equal the head
  | "predicted-write-arrived" // confirm: the predicted version committed with exactly the predicted content
  | "obsolete-hot" // update: refreshed to the head because the blob is hot
  | "wrong-content" // discard: the predicted version committed with other content
  | "obsolete-cold" // discard: behind the head and the blob is cold
  | "conflict-never-landed" // discard: a conflict shadow whose write never came
  | "valid-from-expired" // discard: valid-from + grace passed without the predicted write
  | "evicted" // discard: the shadow tier was full

export interface ShadowLifecycleEvent {
  readonly kind: ShadowLifecycleKind
  readonly id: string
  /** KV revision of the shadow this event is about. */
  readonly shadowVersion: number
  readonly basedOn: number
  readonly predicted: number
  readonly digest: string
  readonly confidence: number
  readonly validFromMs: number
  readonly origin: ShadowOrigin
  readonly model: string
  readonly timeMs: number
  readonly reason?: VerdictReason
  /** The head version the verdict compared with. */
  readonly headVersion?: number
  /** For an update: the revision of the refreshed shadow. */
  readonly newShadowVersion?: number
  /** Reads this shadow served (as counted by blob services up to the verdict), when known. */
  readonly served?: number
  /**
   * The prediction's outcome, when the verdict knows it: the content committed at the
   * predicted version equalled the shadow's. What the predictor and calibration learn from.
   */
  readonly correct?: boolean
}

/**
 * Deterministic message id: replays and restarts of the reconciler re-publish the same id,
 * and the stream's duplicate window drops the copy, so nothing is counted twice.
 */
export const lifecycleMsgId = (e: Pick<ShadowLifecycleEvent, "kind" | "id" | "shadowVersion" | "digest">): string =>
  `${e.kind}:${e.id}:${e.shadowVersion}:${e.digest.slice(7, 23)}`

/** What every lifecycle event says about the shadow it is about. */
export const shadowFacts = (
  s: Shadow,
): Pick<ShadowLifecycleEvent, "id" | "shadowVersion" | "basedOn" | "predicted" | "digest" | "confidence" | "validFromMs" | "origin" | "model"> => ({
  id: s.id,
  shadowVersion: s.shadowVersion,
  basedOn: s.basedOn,
  predicted: s.predicted,
  digest: s.digest,
  confidence: s.confidence,
  validFromMs: s.validFromMs,
  origin: s.origin,
  model: s.model,
})

/** One shadow version as the lifecycle stream records it: its creation and the verdict that settled it. */
export interface ShadowVersionRecord {
  readonly shadowVersion: number
  readonly basedOn: number
  readonly predicted: number
  readonly confidence: number
  readonly origin: ShadowOrigin
  readonly model: string
  readonly createdMs: number
  readonly validFromMs: number
  /** Undefined while the reconciler has not settled it. */
  readonly verdict: { readonly kind: Exclude<ShadowLifecycleKind, "created">; readonly reason: VerdictReason | undefined; readonly atMs: number } | undefined
}

/**
 * Every shadow version of a blob, oldest first, from its lifecycle events: the history the
 * shadow bucket no longer keeps itself (one revision per blob, docs/decisions.md). A verdict
 * recorded for a version whose creation is missing is ignored (nothing to attach it to).
 */
export const shadowVersionRecords = (events: ReadonlyArray<ShadowLifecycleEvent>): ShadowVersionRecord[] => {
  const verdicts = new Map<number, ShadowLifecycleEvent>()
  for (const e of events) if (e.kind !== "created" && !verdicts.has(e.shadowVersion)) verdicts.set(e.shadowVersion, e)
  const seen = new Set<number>()
  const out: ShadowVersionRecord[] = []
  for (const e of events) {
    if (e.kind !== "created" || seen.has(e.shadowVersion)) continue
    seen.add(e.shadowVersion)
    const v = verdicts.get(e.shadowVersion)
    out.push({
      shadowVersion: e.shadowVersion,
      basedOn: e.basedOn,
      predicted: e.predicted,
      confidence: e.confidence,
      origin: e.origin,
      model: e.model,
      createdMs: e.timeMs,
      validFromMs: e.validFromMs,
      verdict: v === undefined ? undefined : { kind: v.kind as Exclude<ShadowLifecycleKind, "created">, reason: v.reason, atMs: v.timeMs },
    })
  }
  return out.sort((a, b) => a.shadowVersion - b.shadowVersion)
}
