import { flatten, type Path } from "./json-fields.ts"
import { hashArrayPrefix, hashBytes, hashJson } from "./hash.ts"

// Typed per-field deltas between two consecutive versions. The classifier works from a
// small summary of the previous value (hash, number, length) so that the predictor can
// use it without keeping the previous content; `diffJson` builds the summaries itself.

export type FieldDelta =
  | { readonly kind: "unchanged" }
  | { readonly kind: "step"; readonly by: number }
  | { readonly kind: "derived-time"; readonly offsetMs: number }
  | { readonly kind: "derived-version"; readonly offset: number }
  | { readonly kind: "transition"; readonly from: unknown; readonly to: unknown }
  | { readonly kind: "append"; readonly count: number; readonly template: unknown }
  | { readonly kind: "set"; readonly to: unknown }
  | { readonly kind: "opaque" }

export type DeltaKind = FieldDelta["kind"]

export const DELTA_KINDS: readonly DeltaKind[] = [
  "unchanged",
  "step",
  "derived-time",
  "derived-version",
  "transition",
  "append",
  "set",
  "opaque",
]

export interface ValueSummary {
  readonly hash: number
  readonly value?: unknown
  readonly num?: number
  readonly length?: number
}

export interface VersionContext {
  readonly timeMs: number
  readonly version: number
}

/** A value that is enum-like: short strings, booleans, null. Longer strings are opaque. */
export const isSymbol = (v: unknown): boolean =>
  v === null || typeof v === "boolean" || (typeof v === "string" && v.length <= 32)

/** Timestamps written by the writer itself rarely equal the commit time; a window absorbs that. */
export const DERIVED_TIME_WINDOW_MS = 5_000

export const summarize = (v: unknown): ValueSummary => ({
  hash: hashJson(v),
  value: v,
  ...(typeof v === "number" ? { num: v } : {}),
  ...(Array.isArray(v) ? { length: v.length } : {}),
})

const templateOf = (items: readonly unknown[]): unknown => {
  const first = items[0]
  if (typeof first !== "object" || first === null || Array.isArray(first)) return typeof first
  return Object.fromEntries(Object.entries(first).map(([k, v]) => [k, typeof v]))
}

const numericDelta = (prev: number, next: number, ctx: VersionContext): FieldDelta => {
  if (Math.abs(next - ctx.timeMs) <= DERIVED_TIME_WINDOW_MS) return { kind: "derived-time", offsetMs: next - ctx.timeMs }
  if (next === ctx.version) return { kind: "derived-version", offset: 0 }
  return { kind: "step", by: next - prev }
}

const arrayDelta = (prev: ValueSummary, next: readonly unknown[]): FieldDelta => {
  const n = prev.length ?? -1
  if (n >= 0 && next.length > n && hashArrayPrefix(next, n) === prev.hash) {
    const appended = next.slice(n)
    return { kind: "append", count: appended.length, template: templateOf(appended) }
  }
  return { kind: "opaque" }
}

export const classifyField = (prev: ValueSummary | undefined, next: unknown, ctx: VersionContext): FieldDelta => {
  if (prev === undefined) return { kind: "set", to: next }
  const nextHash = hashJson(next)
  if (nextHash === prev.hash) return { kind: "unchanged" }
  if (typeof next === "number" && prev.num !== undefined) return numericDelta(prev.num, next, ctx)
  if (Array.isArray(next) && prev.length !== undefined) return arrayDelta(prev, next)
  if (isSymbol(next) && (prev.value === undefined || isSymbol(prev.value))) {
    return { kind: "transition", from: prev.value, to: next }
  }
  if (next === undefined) return { kind: "set", to: null }
  return { kind: "opaque" }
}

export interface FieldChange {
  readonly path: Path
  readonly delta: FieldDelta
}

export type VersionDelta =
  | { readonly kind: "json"; readonly fields: readonly FieldChange[] }
  | { readonly kind: "binary"; readonly delta: BinaryDelta }

/** Per-field deltas; a field present in only one version is "set" (to null if removed). */
export const diffJson = (prev: unknown, next: unknown, ctx: VersionContext, maxFields = 64): VersionDelta => {
  const a = flatten(prev, maxFields)
  const b = flatten(next, maxFields)
  if (a === undefined || b === undefined) {
    return { kind: "json", fields: [{ path: [], delta: hashJson(prev) === hashJson(next) ? { kind: "unchanged" } : { kind: "opaque" } }] }
  }
  const before = new Map(a.paths.map((p, i) => [p.join("\u0000"), summarize(a.values[i])]))
  const fields: FieldChange[] = b.paths.map((p, i) => ({
    path: p,
    delta: classifyField(before.get(p.join("\u0000")), b.values[i], ctx),
  }))
  const after = new Set(b.paths.map((p) => p.join("\u0000")))
  for (const p of a.paths) if (!after.has(p.join("\u0000"))) fields.push({ path: p, delta: { kind: "set", to: null } })
  return { kind: "json", fields }
}

export type BinaryDelta =
  | { readonly kind: "unchanged" }
  | { readonly kind: "append"; readonly count: number }
  | { readonly kind: "opaque" }

export const classifyBinary = (prevHash: number, prevLength: number, next: Uint8Array): BinaryDelta => {
  if (next.length === prevLength && hashBytes(next) === prevHash) return { kind: "unchanged" }
  if (next.length > prevLength && hashBytes(next.subarray(0, prevLength)) === prevHash) {
    return { kind: "append", count: next.length - prevLength }
  }
  return { kind: "opaque" }
}

export const diffBinary = (prev: Uint8Array, next: Uint8Array): VersionDelta => ({
  kind: "binary",
  delta: classifyBinary(hashBytes(prev), prev.length, next),
})

/**
 * Allocation-free kind of a field change for the predictor's hot path. Same rules as
 * classifyField, except that a grown array counts as an append without re-hashing its prefix.
 */
export const deltaKindOf = (
  prevHash: number,
  prevNum: number,
  next: unknown,
  nextHash: number,
  ctx: VersionContext,
): DeltaKind => {
  if (nextHash === prevHash) return "unchanged"
  if (typeof next === "number" && !Number.isNaN(prevNum)) return numericDelta(prevNum, next, ctx).kind
  if (Array.isArray(next)) return "append"
  if (isSymbol(next)) return "transition"
  return "opaque"
}
