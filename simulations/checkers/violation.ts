/**
 * What a checker found, as tagged facts. The first violation of a run is what a person reads
 * first, so every violation carries the time it was observed and enough to find it again.
 */
import type { Outcome } from "../history.ts"

export interface RegisterSnapshot {
  readonly version: number
  readonly digest: string | undefined
  readonly live: boolean
}

export type Violation =
  | { readonly _tag: "LostWrite"; readonly blobId: string; readonly opId: number; readonly version: number; readonly digest: string; readonly storedDigest: string | undefined; readonly atMs: number }
  | { readonly _tag: "DuplicateVersion"; readonly blobId: string; readonly version: number; readonly atMs: number }
  | { readonly _tag: "VersionGap"; readonly blobId: string; readonly after: number; readonly next: number; readonly atMs: number }
  | { readonly _tag: "VersionOutOfOrder"; readonly blobId: string; readonly previous: number; readonly next: number; readonly atMs: number }
  | { readonly _tag: "DuplicateAck"; readonly blobId: string; readonly version: number; readonly opIds: ReadonlyArray<number>; readonly atMs: number }
  | {
      readonly _tag: "NotLinearizable"
      readonly blobId: string
      /** The operation no linearization could place, at the longest linearizable prefix found. */
      readonly opId: number
      readonly kind: string
      readonly outcome: Outcome
      readonly linearizedCount: number
      readonly stateBefore: RegisterSnapshot
      readonly atMs: number
    }
  | { readonly _tag: "LinearizabilityUnknown"; readonly blobId: string; readonly reason: string; readonly atMs: number }
  | { readonly _tag: "ExpectationNotReached"; readonly expectation: string; readonly atMs: number }

export interface CheckerResult {
  readonly checker: "lost-writes" | "versions" | "linearizability" | "expectations"
  readonly ok: boolean
  /** How many things were checked (writes, versions, operations, expectations). */
  readonly checked: number
  readonly violations: ReadonlyArray<Violation>
}

// A run with a systematic bug can produce millions of violations; the first few say enough.
export const MAX_VIOLATIONS_KEPT = 100

export const result = (checker: CheckerResult["checker"], checked: number, violations: ReadonlyArray<Violation>): CheckerResult => ({
  checker,
  ok: violations.length === 0,
  checked,
  violations: [...violations].sort((a, b) => a.atMs - b.atMs).slice(0, MAX_VIOLATIONS_KEPT),
})

const describeOutcome = (o: Outcome): string => {
  switch (o._tag) {
    case "Ok":
      return `ok v${o.version} ${o.digest}${o.source === undefined ? "" : ` from ${o.source}`}`
    case "NotFound":
      return "not found"
    case "Conflict":
      return `conflict (current v${o.currentVersion})`
    case "Fail":
      return `failed ${o.code}`
    case "Indeterminate":
      return `indeterminate (${o.reason})`
  }
}

const describeState = (s: RegisterSnapshot): string =>
  s.version === 0 ? "absent" : `v${s.version} ${s.live ? "" : "(deleted) "}${s.digest ?? "(digest unknown)"}`.trim()

export const describeViolation = (v: Violation): string => {
  switch (v._tag) {
    case "LostWrite":
      return `blob ${v.blobId}: acknowledged write #${v.opId} (v${v.version} ${v.digest}) is ${v.storedDigest === undefined ? "missing from" : `stored as ${v.storedDigest} in`} the final history`
    case "DuplicateVersion":
      return `blob ${v.blobId}: version ${v.version} appears more than once in the final history`
    case "VersionGap":
      return `blob ${v.blobId}: versions jump from ${v.after} to ${v.next}`
    case "VersionOutOfOrder":
      return `blob ${v.blobId}: version ${v.next} follows ${v.previous}`
    case "DuplicateAck":
      return `blob ${v.blobId}: version ${v.version} was acknowledged to distinct writes ${v.opIds.map((id) => `#${id}`).join(", ")}`
    case "NotLinearizable":
      return `blob ${v.blobId}: ${v.kind} #${v.opId} (${describeOutcome(v.outcome)}) fits no linearization; after the longest linearizable prefix (${v.linearizedCount} ops) the register was ${describeState(v.stateBefore)}`
    case "LinearizabilityUnknown":
      return `blob ${v.blobId}: linearizability undecided (${v.reason})`
    case "ExpectationNotReached":
      return `expected state "${v.expectation}" was never reached`
  }
}
