/**
 * Linearizability of one blob in O(n log n) when every modification's outcome is known.
 *
 * The register's states are then fixed before any search: each acknowledged modification
 * names the version it made, so the states form one chain S0 → S1 → … → Sk, and every other
 * operation names the state it saw (a read or a conflict names a version; a not-found fits
 * any state in which the blob is absent). Give each operation a rank in the chain — the
 * modification making Si rank 2i−1, an operation that saw Sj rank 2j — and a linearization
 * exists exactly when no operation precedes, in real time, one of lower rank: in a cycle of
 * "precedes" and "chain order" edges, chain edges only climb in rank, so some "precedes"
 * edge must go down. Operations that may see several absent states take the lowest rank
 * their predecessors allow, which can only leave more room for their successors.
 *
 * An indeterminate modification leaves the chain itself open; such blobs return
 * "Ambiguous" and go to the generic search (see `resolve-indeterminate.ts` to close them
 * from the final stream history first).
 */
import { isModifying, type Operation } from "../history.ts"
import type { RegisterState } from "./register-model.ts"

export type ChainVerdict =
  | { readonly _tag: "Linearizable" }
  | { readonly _tag: "Ambiguous" }
  | { readonly _tag: "Violation"; readonly op: Operation; readonly stateBefore: RegisterState; readonly linearizedCount: number }

type Bad = { readonly op: Operation; readonly state: RegisterState }

const holds = (s: RegisterState, expected: number | undefined): boolean =>
  expected === undefined || expected === s.version || (expected === 0 && !s.live)

const needsLive = (op: Operation): boolean => op.kind === "patch" || op.kind === "delete"

const ambiguous = (ops: ReadonlyArray<Operation>, initial: RegisterState): boolean =>
  // A live initial state of unknown content is fixed by the first read: a search question.
  (initial.live && initial.digest === undefined) ||
  ops.some((op) => op.endMs < op.startMs || (isModifying(op) && op.outcome._tag === "Indeterminate"))

/** The chain's states from the acknowledged modifications, or the first one that cannot extend it. */
const buildChain = (ops: ReadonlyArray<Operation>, initial: RegisterState): { states: RegisterState[] } | Bad => {
  const makers = ops.filter((op) => isModifying(op) && op.outcome._tag === "Ok")
  makers.sort((a, b) => version(a) - version(b) || a.endMs - b.endMs)
  const states: RegisterState[] = [initial]
  for (const op of makers) {
    const before = states[states.length - 1] as RegisterState
    const o = op.outcome
    if (o._tag !== "Ok" || o.version !== before.version + 1) return { op, state: before }
    if ((needsLive(op) && !before.live) || !holds(before, op.expectedVersion)) return { op, state: before }
    states.push({ version: o.version, digest: o.digest, live: op.kind !== "delete" })
  }
  return { states }
}

const version = (op: Operation): number => (op.outcome._tag === "Ok" ? op.outcome.version : -1)

/** Ranks an operation may take: one fixed rank, or any state in which the blob is absent. */
type Place = { readonly fixed: number } | "absent" | "impossible"

const placeOf = (op: Operation, states: ReadonlyArray<RegisterState>): Place => {
  const base = (states[0] as RegisterState).version
  const o = op.outcome
  const at = (v: number): RegisterState | undefined => states[v - base]
  if (isModifying(op)) {
    if (o._tag === "Ok") return { fixed: 2 * (o.version - base) - 1 }
    if (o._tag === "NotFound") return needsLive(op) ? "absent" : "impossible"
    if (o._tag !== "Conflict" || op.expectedVersion === undefined) return "impossible"
    const s = at(o.currentVersion)
    return s !== undefined && !holds(s, op.expectedVersion) ? { fixed: 2 * (o.currentVersion - base) } : "impossible"
  }
  if (o._tag === "NotFound") return op.kind === "read" ? "absent" : base === 0 ? { fixed: 0 } : "impossible"
  if (o._tag !== "Ok") return "impossible"
  const s = at(o.version)
  const fits = s !== undefined && (op.kind === "history" || s.live) && (s.digest === undefined || s.digest === o.digest)
  return fits ? { fixed: 2 * (o.version - base) } : "impossible"
}

const stateAtRank = (states: ReadonlyArray<RegisterState>, rank: number): RegisterState =>
  states[Math.max(0, Math.ceil(rank / 2))] as RegisterState

/** The smallest rank of an absent state at or above `lowest`, if any. */
const lowestAbsent = (absentRanks: ReadonlyArray<number>, lowest: number): number | undefined => {
  let lo = 0
  let hi = absentRanks.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((absentRanks[mid] as number) < lowest) lo = mid + 1
    else hi = mid
  }
  return absentRanks[lo]
}

/** Sweeps operations by start time, tracking the highest rank among those already returned. */
const sweep = (ops: ReadonlyArray<Operation>, states: ReadonlyArray<RegisterState>): ChainVerdict => {
  const absentRanks = states.flatMap((s, j) => (s.live ? [] : [2 * j]))
  const byStart = ops.map((_, i) => i).sort((a, b) => (ops[a] as Operation).startMs - (ops[b] as Operation).startMs)
  const byEnd = ops.map((_, i) => i).sort((a, b) => (ops[a] as Operation).endMs - (ops[b] as Operation).endMs)
  const rank = new Float64Array(ops.length)
  let returned = 0
  let highest = -1
  for (const i of byStart) {
    const op = ops[i] as Operation
    for (; returned < byEnd.length && (ops[byEnd[returned] as number] as Operation).endMs < op.startMs; returned++) {
      highest = Math.max(highest, rank[byEnd[returned] as number] as number)
    }
    const place = placeOf(op, states)
    const r = place === "impossible" ? undefined : place === "absent" ? lowestAbsent(absentRanks, highest) : place.fixed
    if (r === undefined || r < highest) {
      return { _tag: "Violation", op, stateBefore: stateAtRank(states, Math.max(highest, 0)), linearizedCount: returned }
    }
    rank[i] = r
  }
  return { _tag: "Linearizable" }
}

/** One blob's operations (definite failures already dropped), judged against the chain. */
export const checkChain = (ops: ReadonlyArray<Operation>, initial: RegisterState): ChainVerdict => {
  if (ambiguous(ops, initial)) return { _tag: "Ambiguous" }
  const chain = buildChain(ops, initial)
  if ("op" in chain) return { _tag: "Violation", op: chain.op, stateBefore: chain.state, linearizedCount: 0 }
  return sweep(ops, chain.states)
}
