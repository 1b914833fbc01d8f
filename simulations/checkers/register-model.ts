/**
 * The sequential specification of one blob, as a versioned register: every modification
 * makes version = previous + 1; a conditional one succeeds exactly when its expected version
 * is the current one (0 = "must not exist") and otherwise conflicts naming the current
 * version; a read returns the current (version, digest) or not-found.
 *
 * The digest may be unknown (an indeterminate patch took effect: its result was never seen);
 * a later read then fixes it, which keeps the model a function of its inputs.
 */
import type { Operation, Outcome } from "../history.ts"
import type { RegisterSnapshot } from "./violation.ts"

export type RegisterState = RegisterSnapshot

const NONE_CLAIMED: ClaimedVersions = new Set()

export const ABSENT: RegisterState = { version: 0, digest: undefined, live: false }

const expectationHolds = (state: RegisterState, expected: number | undefined): boolean =>
  expected === undefined || expected === state.version || (expected === 0 && !state.live)

const digestFits = (state: RegisterState, digest: string): boolean => state.digest === undefined || state.digest === digest

const readStep = (state: RegisterState, outcome: Outcome): RegisterState | undefined => {
  if (outcome._tag === "NotFound") return state.live ? undefined : state
  if (outcome._tag !== "Ok") return undefined
  const fits = state.live && outcome.version === state.version && digestFits(state, outcome.digest)
  return fits ? { ...state, digest: outcome.digest } : undefined
}

/** The history listing: its head must be the current version, tombstones included. */
const historyStep = (state: RegisterState, outcome: Outcome): RegisterState | undefined => {
  if (outcome._tag === "NotFound") return state.version === 0 ? state : undefined
  if (outcome._tag !== "Ok") return undefined
  return outcome.version === state.version && digestFits(state, outcome.digest) ? { ...state, digest: outcome.digest } : undefined
}

const appended = (state: RegisterState, op: Operation, digest: string | undefined): RegisterState => ({
  version: state.version + 1,
  digest,
  live: op.kind !== "delete",
})

/** Whether the modification can apply at all: patch and delete need a live blob. */
const needsLive = (op: Operation): boolean => op.kind === "patch" || op.kind === "delete"

/**
 * Versions acknowledged to some modification of this blob. In any linearization the op
 * acknowledged with version v is the one that made v, so an indeterminate op cannot have
 * made it: pruning those placements is exact, and it stops the search from trying every
 * indeterminate write at every position of a long history.
 */
export type ClaimedVersions = ReadonlySet<number>

const modifyStep = (state: RegisterState, op: Operation, claimed: ClaimedVersions): RegisterState | undefined => {
  const outcome = op.outcome
  const applicable = !(needsLive(op) && !state.live)
  const holds = expectationHolds(state, op.expectedVersion)
  switch (outcome._tag) {
    case "Ok":
      return applicable && holds && outcome.version === state.version + 1 ? appended(state, op, outcome.digest) : undefined
    case "Conflict":
      return op.expectedVersion !== undefined && !holds && outcome.currentVersion === state.version ? state : undefined
    case "NotFound":
      return !state.live && needsLive(op) ? state : undefined
    case "Indeterminate":
      // Had it taken effect here, this is the state; "never took effect" is the same op placed last.
      return applicable && holds && !claimed.has(state.version + 1)
        ? appended(state, op, op.kind === "write" ? op.writeDigest : undefined)
        : state
    case "Fail":
      return state
  }
}

/** The register after `op`, or undefined if `op`'s outcome is impossible from `state`. */
export const step = (state: RegisterState, op: Operation, claimed: ClaimedVersions = NONE_CLAIMED): RegisterState | undefined => {
  switch (op.kind) {
    case "read":
      return readStep(state, op.outcome)
    case "history":
      return historyStep(state, op.outcome)
    default:
      return modifyStep(state, op, claimed)
  }
}

export const stateKey = (s: RegisterState): string => `${s.version}${s.live ? "+" : "-"}${s.digest ?? "?"}`
