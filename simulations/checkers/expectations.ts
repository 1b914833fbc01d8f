/**
 * Scenarios name interesting states a run must reach (a conflict, a deduplicated retry):
 * a run that never exercised the path it was written for passes its checkers vacuously.
 */
import type { Operation } from "../history.ts"
import type { Expectation } from "../scenario.ts"
import { type CheckerResult, result, type Violation } from "./violation.ts"

/** The states the history itself proves; the runner adds those only it can see (stale-read, fault-recovered). */
export const observedInHistory = (ops: ReadonlyArray<Operation>): Set<Expectation> => {
  const seen = new Set<Expectation>()
  for (const op of ops) {
    const o = op.outcome
    if (o._tag === "Conflict") seen.add("conflict")
    if (o._tag === "Indeterminate") seen.add("indeterminate")
    if (o._tag === "NotFound") seen.add("not-found")
    if (o._tag === "Ok" && o.deduplicated === true) seen.add("dedup-retry")
    if (op.kind === "read" && op.consistency !== "primary" && o._tag === "Ok") {
      seen.add(o.source === "shadow" ? "shadow-hit" : "shadow-miss")
    }
  }
  return seen
}

export const checkExpectations = (
  expected: ReadonlyArray<Expectation>,
  observed: ReadonlySet<Expectation>,
  endMs: number,
): CheckerResult => {
  const violations: Violation[] = expected
    .filter((e) => !observed.has(e))
    .map((expectation) => ({ _tag: "ExpectationNotReached", expectation, atMs: endMs }))
  return result("expectations", expected.length, violations)
}
