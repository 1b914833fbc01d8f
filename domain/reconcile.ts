import type { Shadow } from "./shadow.ts"
import type { ShadowLifecycleKind, VerdictReason } from "./shadow-lifecycle.ts"

// The reconciler's verdict on one shadow revision, against the committed event it is judged
// by. Pure: the caller brings the head, the time and the blob's heat.
//
// Rules, in the order they apply:
//  1. A discarded shadow is already settled: keep (nothing to do).
//  2. The head reached exactly the predicted version:
//     - same digest: confirm. A `prediction` whose predicted version lies past its base
//       ("the write it foresaw arrived with exactly that content") is `predicted-write-arrived`;
//       anything else equal to the head (a `write` shadow, a conflict whose retry landed) is
//       `matches-head`.
//     - other digest: discard. A `conflict` shadow is `conflict-never-landed` (the head moved
//       past its base with other content); anything else is `wrong-content`.
//  3. The head is past the predicted version (the shadow is obsolete). `atPredicted`, when the
//     caller knows it, is the digest committed at the predicted version and tells whether the
//     shadow was right while it was current:
//     - known wrong: discard as in rule 2 (the outcome matters more than the freshness).
//     - a `conflict` shadow not known to have landed: discard, `conflict-never-landed` (had it
//       landed, the write path would have replaced it with a `write` shadow).
//     - otherwise hot: update (refresh to the head, `obsolete-hot`); cold: discard (`obsolete-cold`).
//  4. The head has not reached the predicted version (no head at all, or behind it): the
//     shadow is a prediction still awaiting its write, whatever its origin (a `write` shadow is
//     put as its append starts, so it is briefly ahead too). Keep it until valid-from + grace;
//     after that discard, `valid-from-expired` (`conflict-never-landed` for a conflict shadow).
//     A shadow ahead of the head and still within its validity is kept even when it is already
//     being served: the read policy decides serving, the reconciler only settles outcomes.
//
// `correct` is the prediction's outcome when it is known: did the committed content at the
// predicted version equal the shadow's? It is what the predictor learns from (calibration).

export interface HeadView {
  readonly version: number
  readonly digest: string
}

export interface ReconcileInput {
  readonly shadow: Shadow
  readonly head: HeadView | undefined
  /** Digest committed at `shadow.predicted`, when the head is past it and the caller knows it. */
  readonly atPredicted?: string | undefined
  readonly nowMs: number
  readonly graceMs: number
  readonly hot: boolean
}

export type ConfirmReason = Extract<VerdictReason, "matches-head" | "predicted-write-arrived">
export type DiscardReason = Extract<
  VerdictReason,
  "wrong-content" | "obsolete-cold" | "conflict-never-landed" | "valid-from-expired"
>
export type KeepReason = "awaiting-write" | "already-discarded"

export type Verdict =
  | { readonly kind: "confirm"; readonly reason: ConfirmReason; readonly correct: true }
  | { readonly kind: "update"; readonly reason: "obsolete-hot"; readonly correct: boolean | undefined }
  | { readonly kind: "discard"; readonly reason: DiscardReason; readonly correct: boolean | undefined }
  | { readonly kind: "keep"; readonly reason: KeepReason }

export type VerdictKind = Verdict["kind"]

const confirm = (reason: ConfirmReason): Verdict => ({ kind: "confirm", reason, correct: true })
const discard = (reason: DiscardReason, correct: boolean | undefined): Verdict => ({ kind: "discard", reason, correct })
const keep = (reason: KeepReason): Verdict => ({ kind: "keep", reason })

const wrong = (s: Shadow): Verdict => discard(s.origin === "conflict" ? "conflict-never-landed" : "wrong-content", false)

const atItsVersion = (s: Shadow, headDigest: string): Verdict => {
  if (headDigest !== s.digest) return wrong(s)
  return confirm(s.origin === "prediction" && s.predicted > s.basedOn ? "predicted-write-arrived" : "matches-head")
}

const obsolete = (s: Shadow, atPredicted: string | undefined, hot: boolean): Verdict => {
  const correct = atPredicted === undefined ? undefined : atPredicted === s.digest
  if (correct === false) return wrong(s)
  if (s.origin === "conflict" && correct !== true) return discard("conflict-never-landed", undefined)
  return hot ? { kind: "update", reason: "obsolete-hot", correct } : discard("obsolete-cold", correct)
}

const awaiting = (s: Shadow, nowMs: number, graceMs: number): Verdict => {
  if (nowMs < s.validFromMs + graceMs) return keep("awaiting-write")
  return discard(s.origin === "conflict" ? "conflict-never-landed" : "valid-from-expired", false)
}

export const reconcile = (i: ReconcileInput): Verdict => {
  const s = i.shadow
  if (s.status === "discarded") return keep("already-discarded")
  if (i.head === undefined || i.head.version < s.predicted) return awaiting(s, i.nowMs, i.graceMs)
  if (i.head.version === s.predicted) return atItsVersion(s, i.head.digest)
  return obsolete(s, i.atPredicted, i.hot)
}

/**
 * Whether a verdict settles the prediction's outcome (recorded even when the shadow was
 * replaced meanwhile), as opposed to a freshness action on an obsolete shadow (recorded only
 * when it changed the shadow tier: a replaced shadow needs no refresh).
 */
export const isOutcome = (v: Verdict): boolean =>
  v.kind === "confirm" || (v.kind === "discard" && v.reason !== "obsolete-cold")

export const lifecycleKindOf = (v: Exclude<Verdict, { kind: "keep" }>): ShadowLifecycleKind =>
  v.kind === "confirm" ? "confirmed" : v.kind === "update" ? "updated" : "discarded"
