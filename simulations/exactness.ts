/**
 * Ground truth for shadow-served reads: was the content served equal to the primary's
 * content at the moment of serving? Judged after the run from facts only:
 *
 * - the blob's final stream history gives every version's digest (and tombstones);
 * - the run's own history bounds *when* each version became the head: version v was
 *   surely the head or older by the end of any operation that saw a version ≥ v on the
 *   primary (an acknowledged write, a primary read, a history listing, a conflict naming
 *   it); and v cannot have been applied before the start of the write acknowledged with v
 *   (nor before v-1 could have been).
 *
 * A read served during [start, end] could have met any head version from the newest one
 * surely applied at its start (lo) to the newest one possibly applied by its end (hi).
 * It is *exact* if the served digest equals the content of one of those versions, *stale*
 * if it served a version older than lo (one the primary had surely replaced before the
 * read was sent), and otherwise *inexact* (a prediction ahead of the primary, or a
 * conflict shadow whose content never became the head). Uncertainty counts in favour of
 * the system: a read is called stale only when it surely was.
 */
import type { Operation } from "./history.ts"

export interface VersionFact {
  readonly version: number
  readonly digest: string
  /** `delete` marks a tombstone: the primary had no content then. */
  readonly op?: string
}

export interface ServedRead {
  readonly opId: number
  readonly blobId: string
  readonly atMs: number
  readonly exact: boolean
  readonly stale: boolean
}

interface BlobTimeline {
  /** surelyBy[v]: time by which version v surely was applied. */
  readonly surelyBy: number[]
  /** notBefore[v]: earliest time version v could have been applied. */
  readonly notBefore: number[]
  readonly facts: ReadonlyMap<number, VersionFact>
  readonly head: number
}

const primaryVersionSeen = (op: Operation): number | undefined => {
  const o = op.outcome
  if (o._tag === "Conflict") return o.currentVersion
  if (o._tag !== "Ok") return undefined
  if (op.kind === "read" && o.source === "shadow") return undefined
  return o.version
}

const timeline = (ops: ReadonlyArray<Operation>, versions: ReadonlyArray<VersionFact>): BlobTimeline => {
  const head = versions.reduce((m, v) => Math.max(m, v.version), 0)
  const surelyBy = new Array<number>(head + 2).fill(Number.POSITIVE_INFINITY)
  const knownStart = new Array<number>(head + 2).fill(Number.NEGATIVE_INFINITY)
  for (const op of ops) {
    const seen = primaryVersionSeen(op)
    if (seen !== undefined && seen <= head) surelyBy[seen] = Math.min(surelyBy[seen] ?? Infinity, op.endMs)
    if (op.kind !== "read" && op.kind !== "history" && op.outcome._tag === "Ok" && op.outcome.version <= head) {
      knownStart[op.outcome.version] = op.startMs
    }
  }
  // Seeing v proves every earlier version was applied by then too.
  for (let v = head - 1; v >= 0; v--) surelyBy[v] = Math.min(surelyBy[v] ?? Infinity, surelyBy[v + 1] ?? Infinity)
  const notBefore = new Array<number>(head + 2).fill(Number.NEGATIVE_INFINITY)
  for (let v = 1; v <= head + 1; v++) notBefore[v] = Math.max(knownStart[v] ?? -Infinity, notBefore[v - 1] ?? -Infinity)
  notBefore[head + 1] = Number.POSITIVE_INFINITY
  return { surelyBy, notBefore, facts: new Map(versions.map((v) => [v.version, v])), head }
}

/** The largest v in [0, head] with times[v] ≤ at (times is non-decreasing over 1..head); 0 if none. */
const lastAtOrBefore = (times: ReadonlyArray<number>, head: number, at: number): number => {
  let lo = 0
  let hi = head
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if ((times[mid] ?? Infinity) <= at) lo = mid
    else hi = mid - 1
  }
  return lo
}

const judge = (t: BlobTimeline, op: Operation): ServedRead | undefined => {
  const o = op.outcome
  if (o._tag !== "Ok") return undefined
  const lo = lastAtOrBefore(t.surelyBy, t.head, op.startMs)
  const hi = Math.max(lo, lastAtOrBefore(t.notBefore, t.head, op.endMs))
  let exact = false
  for (let v = Math.max(1, lo); v <= hi && !exact; v++) {
    const fact = t.facts.get(v)
    exact = fact !== undefined && fact.op !== "delete" && fact.digest === o.digest
  }
  return { opId: op.id, blobId: op.blobId, atMs: op.endMs, exact, stale: !exact && o.version < lo }
}

/** Every shadow-served read of the run, judged against the primary at its moment. */
export const judgeShadowReads = (
  ops: ReadonlyArray<Operation>,
  finals: ReadonlyMap<string, ReadonlyArray<VersionFact>>,
): ServedRead[] => {
  const byBlob = new Map<string, Operation[]>()
  for (const op of ops) {
    const list = byBlob.get(op.blobId)
    if (list === undefined) byBlob.set(op.blobId, [op])
    else list.push(op)
  }
  const out: ServedRead[] = []
  for (const [blobId, blobOps] of byBlob) {
    const served = blobOps.filter((op) => op.kind === "read" && op.outcome._tag === "Ok" && op.outcome.source === "shadow")
    if (served.length === 0) continue
    const t = timeline(blobOps, finals.get(blobId) ?? [])
    for (const op of served) {
      const r = judge(t, op)
      if (r !== undefined) out.push(r)
    }
  }
  return out.sort((a, b) => a.opId - b.opId)
}
