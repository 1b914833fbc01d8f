import type { BlobId } from "./blob-id.ts"

// A shadow: a likely (or known) state of a blob, kept in the fast tier beside the primary.
// One current shadow per blob; its shadow version is the KV revision that stored it.

export type ShadowOrigin = "prediction" | "write" | "conflict"
/** `discarded` keeps the key's predicted version (so shadows stay monotonic) but serves nothing. */
export type ShadowStatus = "live" | "discarded"

export interface Shadow {
  readonly id: BlobId
  readonly basedOn: number
  readonly predicted: number
  readonly digest: string
  readonly size: number
  readonly contentType: string | undefined
  /** Set when the content lives in the content store; then `content` is absent. */
  readonly contentRef: string | undefined
  readonly content: Uint8Array | undefined
  readonly confidence: number
  readonly validFromMs: number
  readonly createdAtMs: number
  readonly origin: ShadowOrigin
  readonly model: string
  readonly status: ShadowStatus
  /** Why it was discarded (a reconciler verdict reason), when it was. */
  readonly reason: string | undefined
  /** KV revision; 0 before it is stored. */
  readonly shadowVersion: number
}

// At the same predicted version, a shadow of committed content beats a prediction, and a
// prediction beats the content of a write that lost its conflict.
const ORIGIN_RANK: Record<ShadowOrigin, number> = { conflict: 0, prediction: 1, write: 2 }

/**
 * The monotonic rule: a blob's shadow never moves backwards in predicted version. At equal
 * versions the stronger origin wins, and a discard (or relabel) of the same content applies.
 */
export const mayReplace = (current: Shadow | undefined, next: Shadow): boolean => {
  if (current === undefined) return true
  if (next.predicted !== current.predicted) return next.predicted > current.predicted
  if (next.status === "discarded") return current.status === "live" && next.digest === current.digest
  if (current.status === "discarded") return next.digest !== current.digest || ORIGIN_RANK[next.origin] > ORIGIN_RANK[current.origin]
  if (next.digest === current.digest) return next.origin !== current.origin || next.confidence !== current.confidence
  return ORIGIN_RANK[next.origin] >= ORIGIN_RANK[current.origin]
}

export const discarded = (s: Shadow, reason: string): Shadow => ({
  ...s,
  status: "discarded",
  content: undefined,
  contentRef: undefined,
  reason,
})

export const relabelConflict = (s: Shadow, confidence: number): Shadow => ({ ...s, origin: "conflict", confidence })
