/**
 * Linearizability of the primary per blob: Wing & Gong's search with Lowe's memoisation,
 * as Porcupine implements it (anishathalye/porcupine, checker.go). Blobs are independent
 * registers, so the history is split per blob (P-compositionality, Horn & Kroening) and
 * each part is searched alone, which keeps the search small even for long runs.
 *
 * Indeterminate operations return "at infinity": the search may place them anywhere after
 * their start, and placing one after everything else is the same as it never happening.
 *
 * The search is the reference, but with a thousand writers on one blob its state space is
 * out of reach; most blobs are decided by the version chain (`version-chain.ts`) in
 * O(n log n), after the final stream history has settled what indeterminate writes did
 * (`resolve-indeterminate.ts`). Only blobs left ambiguous are searched.
 */
import { mergeRetries, type Operation } from "../history.ts"
import { ABSENT, type RegisterState, stateKey, step } from "./register-model.ts"
import { resolveIndeterminate, type StoredVersion } from "./resolve-indeterminate.ts"
import { checkChain } from "./version-chain.ts"
import { type CheckerResult, result, type Violation } from "./violation.ts"

export interface LinearizabilityOptions {
  /** Which reads count as primary reads; default: those a primary served (source primary). */
  readonly includeRead?: (op: Operation) => boolean
  /** The register before the history, per blob (e.g. after a preload); default absent. */
  readonly initialState?: (blobId: string) => RegisterState
  /** Search steps allowed per blob before answering "unknown" rather than running for hours. */
  readonly maxStepsPerBlob?: number
  /** Each blob's final stream history: settles which indeterminate modifications took effect. */
  readonly finalHistories?: ReadonlyMap<string, ReadonlyArray<StoredVersion>>
  /** Search every blob generically, as the reference (tests compare the two). */
  readonly searchOnly?: boolean
}

// A violation found by the chain is re-found by the search for its canonical witness
// (the longest linearizable prefix) when that is cheap; otherwise the chain's own is given.
const WITNESS_STEPS = 200_000

interface Entry {
  readonly isCall: boolean
  readonly index: number
  readonly time: number
  match: Entry | undefined
  prev: Entry | undefined
  next: Entry | undefined
}

const servedByPrimary = (op: Operation): boolean =>
  op.kind !== "read" || (op.outcome._tag === "Ok" ? op.outcome.source !== "shadow" : op.consistency !== "shadow")

/** Operations the register model judges: definite failures had no effect and tell nothing. */
const relevant = (op: Operation, includeRead: (op: Operation) => boolean): boolean => {
  if (op.outcome._tag === "Fail") return false
  if (op.kind === "read" || op.kind === "history") {
    return op.outcome._tag !== "Indeterminate" && op.outcome._tag !== "Conflict" && (op.kind === "history" || includeRead(op))
  }
  return true
}

/** A doubly linked list of call and return entries by time; a call sorts before a return at the same instant (they overlap). */
const buildEntries = (ops: ReadonlyArray<Operation>): Entry => {
  const entries: Entry[] = []
  ops.forEach((op, index) => {
    const end = op.outcome._tag === "Indeterminate" ? Number.POSITIVE_INFINITY : op.endMs
    const ret: Entry = { isCall: false, index, time: end, match: undefined, prev: undefined, next: undefined }
    const call: Entry = { isCall: true, index, time: op.startMs, match: ret, prev: undefined, next: undefined }
    entries.push(call, ret)
  })
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.index - b.index : a.isCall ? -1 : 1))
  const head: Entry = { isCall: false, index: -1, time: Number.NEGATIVE_INFINITY, match: undefined, prev: undefined, next: undefined }
  let last = head
  for (const entry of entries) {
    last.next = entry
    entry.prev = last
    last = entry
  }
  return head
}

const lift = (call: Entry): void => {
  const ret = call.match
  if (call.prev !== undefined) call.prev.next = call.next
  if (call.next !== undefined) call.next.prev = call.prev
  if (ret === undefined) return
  if (ret.prev !== undefined) ret.prev.next = ret.next
  if (ret.next !== undefined) ret.next.prev = ret.prev
}

const unlift = (call: Entry): void => {
  const ret = call.match
  if (ret !== undefined) {
    if (ret.prev !== undefined) ret.prev.next = ret
    if (ret.next !== undefined) ret.next.prev = ret
  }
  if (call.prev !== undefined) call.prev.next = call
  if (call.next !== undefined) call.next.prev = call
}

/**
 * Zobrist hashing of the set of linearized operations: two independent 32-bit words per
 * operation, XOR-ed in and out in O(1). The memo keys on the 64-bit pair plus the register
 * state; a collision (odds ~n²/2^64) could only make the checker miss a linearization.
 */
const zobristTable = (n: number): Uint32Array => {
  const table = new Uint32Array(n * 2)
  let x = 0x9e3779b9
  for (let i = 0; i < table.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    table[i] = x >>> 0
  }
  return table
}

export type BlobVerdict =
  | { readonly _tag: "Linearizable"; readonly steps: number }
  | { readonly _tag: "Violation"; readonly violation: Violation; readonly steps: number }

interface Stuck {
  depth: number
  index: number
  state: RegisterState
}

/** Search one blob's operations. */
export const checkBlob = (blobId: string, ops: ReadonlyArray<Operation>, initial: RegisterState, maxSteps: number): BlobVerdict => {
  const head = buildEntries(ops)
  const claimed = claimedVersions(ops)
  const zobrist = zobristTable(ops.length)
  const seen = new Set<string>()
  const calls: Array<{ readonly entry: Entry; readonly state: RegisterState }> = []
  let h1 = 0
  let h2 = 0
  let state = initial
  let entry = head.next
  let steps = 0
  const stuck: Stuck = { depth: -1, index: -1, state: initial }
  while (head.next !== undefined) {
    if (++steps > maxSteps) {
      const reason = `gave up after ${maxSteps} search steps over ${ops.length} operations`
      return { _tag: "Violation", violation: { _tag: "LinearizabilityUnknown", blobId, reason, atMs: ops[0]?.startMs ?? 0 }, steps }
    }
    if (entry === undefined) break
    if (entry.isCall) {
      const next = step(state, ops[entry.index] as Operation, claimed)
      const n1 = (h1 ^ (zobrist[entry.index * 2] ?? 0)) >>> 0
      const n2 = (h2 ^ (zobrist[entry.index * 2 + 1] ?? 0)) >>> 0
      const key = next === undefined ? "" : `${n1}:${n2}:${stateKey(next)}`
      if (next !== undefined && !seen.has(key)) {
        seen.add(key)
        calls.push({ entry, state })
        state = next
        h1 = n1
        h2 = n2
        lift(entry)
        entry = head.next
      } else {
        entry = entry.next
      }
      continue
    }
    // A return whose call is still pending: nothing left can be linearized before it.
    if (calls.length > stuck.depth) Object.assign(stuck, { depth: calls.length, index: entry.index, state })
    const top = calls.pop()
    if (top === undefined) return notLinearizable(blobId, ops, stuck, steps)
    state = top.state
    h1 = (h1 ^ (zobrist[top.entry.index * 2] ?? 0)) >>> 0
    h2 = (h2 ^ (zobrist[top.entry.index * 2 + 1] ?? 0)) >>> 0
    unlift(top.entry)
    entry = top.entry.next
  }
  return { _tag: "Linearizable", steps }
}

const claimedVersions = (ops: ReadonlyArray<Operation>): Set<number> => {
  const claimed = new Set<number>()
  for (const op of ops) if (op.kind !== "read" && op.kind !== "history" && op.outcome._tag === "Ok") claimed.add(op.outcome.version)
  return claimed
}

const notLinearizable = (blobId: string, ops: ReadonlyArray<Operation>, stuck: Stuck, steps: number): BlobVerdict => {
  const op = ops[stuck.index] as Operation
  const violation: Violation = {
    _tag: "NotLinearizable",
    blobId,
    opId: op.id,
    kind: op.kind,
    outcome: op.outcome,
    linearizedCount: stuck.depth,
    stateBefore: stuck.state,
    atMs: op.endMs,
  }
  return { _tag: "Violation", violation, steps }
}

const byBlob = (ops: ReadonlyArray<Operation>): Map<string, Operation[]> => {
  const parts = new Map<string, Operation[]>()
  for (const op of ops) {
    const part = parts.get(op.blobId)
    if (part === undefined) parts.set(op.blobId, [op])
    else part.push(op)
  }
  return parts
}

const chainViolation = (blobId: string, v: Extract<ReturnType<typeof checkChain>, { _tag: "Violation" }>): Violation => ({
  _tag: "NotLinearizable",
  blobId,
  opId: v.op.id,
  kind: v.op.kind,
  outcome: v.op.outcome,
  linearizedCount: v.linearizedCount,
  stateBefore: v.stateBefore,
  atMs: v.op.endMs,
})

interface BlobInput {
  readonly blobId: string
  readonly ops: ReadonlyArray<Operation>
  readonly initial: RegisterState
  readonly maxSteps: number
}

const searchViolation = (b: BlobInput): Violation | undefined => {
  const verdict = checkBlob(b.blobId, b.ops, b.initial, b.maxSteps)
  return verdict._tag === "Violation" ? verdict.violation : undefined
}

/** The chain first; the search only for a blob the chain cannot decide, or to name a violation. */
const judgeBlob = (b: BlobInput): Violation | undefined => {
  const chain = checkChain(b.ops, b.initial)
  if (chain._tag === "Linearizable") return undefined
  if (chain._tag === "Ambiguous") return searchViolation(b)
  const witness = checkBlob(b.blobId, b.ops, b.initial, Math.min(b.maxSteps, WITNESS_STEPS))
  if (witness._tag === "Violation" && witness.violation._tag === "NotLinearizable") return witness.violation
  // The search is the definition: were it to find a linearization, the chain would be wrong.
  return witness._tag === "Linearizable" ? undefined : chainViolation(b.blobId, chain)
}

export const checkLinearizability = (ops: ReadonlyArray<Operation>, options: LinearizabilityOptions = {}): CheckerResult => {
  const includeRead = options.includeRead ?? servedByPrimary
  const maxSteps = options.maxStepsPerBlob ?? 20_000_000
  const judged = mergeRetries(ops).filter((op) => relevant(op, includeRead))
  const violations: Violation[] = []
  for (const [blobId, part] of byBlob(judged)) {
    const initial = options.initialState?.(blobId) ?? ABSENT
    // The search is run on the raw history when it is asked for as the reference.
    const resolved = resolveIndeterminate(part, options.finalHistories?.get(blobId), initial.version)
    const violation =
      options.searchOnly === true
        ? searchViolation({ blobId, ops: part, initial, maxSteps })
        : judgeBlob({ blobId, ops: resolved, initial, maxSteps })
    if (violation !== undefined) violations.push(violation)
  }
  return result("linearizability", judged.length, violations)
}
