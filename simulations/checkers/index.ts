/** All end-of-run checkers at once, for the live runner and the deterministic simulator alike. */
import { type FinalHistories, mergeRetries, type Operation } from "../history.ts"
import type { Expectation } from "../scenario.ts"
import { checkExpectations, observedInHistory } from "./expectations.ts"
import { checkLinearizability, type LinearizabilityOptions } from "./linearizability.ts"
import { checkLostWrites } from "./lost-writes.ts"
import { checkVersions } from "./versions.ts"
import { type CheckerResult, describeViolation, type Violation } from "./violation.ts"

export { checkExpectations, observedInHistory } from "./expectations.ts"
export { checkBlob, checkLinearizability, type LinearizabilityOptions } from "./linearizability.ts"
export { checkLostWrites } from "./lost-writes.ts"
export { resolveIndeterminate, type StoredVersion } from "./resolve-indeterminate.ts"
export { checkChain, type ChainVerdict } from "./version-chain.ts"
export { checkVersions } from "./versions.ts"
export { ABSENT, type RegisterState, step as registerStep } from "./register-model.ts"
export { type CheckerResult, describeViolation, type RegisterSnapshot, type Violation } from "./violation.ts"

export interface CheckInput {
  readonly operations: ReadonlyArray<Operation>
  /** Each touched blob's final stream history, fetched after the run settled. */
  readonly finalHistories: FinalHistories
  readonly expect: ReadonlyArray<Expectation>
  /** States only the runner can observe (stale-read, fault-recovered). */
  readonly observedByRunner?: ReadonlySet<Expectation>
  readonly endMs: number
  readonly linearizability?: LinearizabilityOptions
}

export interface CheckReport {
  readonly ok: boolean
  readonly results: ReadonlyArray<CheckerResult>
  /** The earliest violation across checkers, in words; undefined when all passed. */
  readonly firstViolation: string | undefined
}

export const runCheckers = (input: CheckInput): CheckReport => {
  const ops = mergeRetries(input.operations)
  const observed = new Set([...observedInHistory(input.operations), ...(input.observedByRunner ?? [])])
  const results = [
    checkLostWrites(ops, input.finalHistories),
    checkVersions(ops, input.finalHistories),
    checkLinearizability(ops, { finalHistories: input.finalHistories, ...input.linearizability }),
    checkExpectations(input.expect, observed, input.endMs),
  ]
  const all: Violation[] = results.flatMap((r) => r.violations)
  const first = all.sort((a, b) => a.atMs - b.atMs)[0]
  return { ok: all.length === 0, results, firstViolation: first === undefined ? undefined : describeViolation(first) }
}
