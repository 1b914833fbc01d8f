import type { Shadow } from "./shadow.ts"

// The seed's read pseudocode made precise (DESIGN.md "The read path"): serve the shadow
// only when it exists, is live, is already valid, is confident enough and is not older
// than the head this process knows; otherwise the primary answers, with the reason.

export type MissReason =
  | "consistency"
  | "none"
  | "discarded"
  | "not-yet-valid"
  | "low-confidence"
  | "obsolete"
  | "by-reference"

export type ReadDecision =
  | { readonly _tag: "Shadow"; readonly shadow: Shadow }
  | { readonly _tag: "Primary"; readonly reason: MissReason }

export interface ReadInputs {
  readonly consistency: "shadow" | "primary"
  readonly shadow: Shadow | undefined
  readonly nowMs: number
  readonly minConfidence: number
  /** The newest head version this process has seen for the blob, if any. */
  readonly knownHeadVersion: number | undefined
}

const primary = (reason: MissReason): ReadDecision => ({ _tag: "Primary", reason })

export const decideRead = (i: ReadInputs): ReadDecision => {
  if (i.consistency === "primary") return primary("consistency")
  const s = i.shadow
  if (s === undefined) return primary("none")
  if (s.status === "discarded") return primary("discarded")
  if (s.validFromMs > i.nowMs) return primary("not-yet-valid")
  if (s.confidence < i.minConfidence) return primary("low-confidence")
  if (i.knownHeadVersion !== undefined && s.predicted < i.knownHeadVersion) return primary("obsolete")
  return { _tag: "Shadow", shadow: s }
}

export const MISS_REASONS: ReadonlyArray<MissReason> = [
  "consistency",
  "none",
  "discarded",
  "not-yet-valid",
  "low-confidence",
  "obsolete",
  "by-reference",
]
