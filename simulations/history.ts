/**
 * The operation history of a run: what every client asked and what it was told, the facts
 * the checkers judge. An operation is one logical request; retries of a write under one
 * idempotency key are one operation spanning all attempts (see `mergeRetries`).
 */

export type HistoryOpKind = "read" | "write" | "patch" | "delete" | "history"
export type ReadSource = "shadow" | "primary"

export type Outcome =
  /** Acknowledged. For a read, the version and digest served and which tier served them. */
  | {
      readonly _tag: "Ok"
      readonly version: number
      readonly digest: string
      readonly source?: ReadSource
      /** The service answered a retry with an append it had already made. */
      readonly deduplicated?: boolean
    }
  /** The blob did not exist (never written, or deleted) when the operation took effect. */
  | { readonly _tag: "NotFound" }
  /** A conditional operation lost: the service named the version it found. */
  | { readonly _tag: "Conflict"; readonly currentVersion: number }
  /** Definitely had no effect (bad request, refused before any append). */
  | { readonly _tag: "Fail"; readonly code: string }
  /** Unknown: timed out or the connection dropped; it may or may not have taken effect. */
  | { readonly _tag: "Indeterminate"; readonly reason: string }

export interface Operation {
  readonly id: number
  readonly client: number
  readonly blobId: string
  readonly kind: HistoryOpKind
  /** When the schedule meant to send it (open loop), ms on the run's clock. */
  readonly intendedMs: number
  readonly startMs: number
  /** When the answer arrived, or when the client gave up on an indeterminate operation. */
  readonly endMs: number
  /** Present on conditional operations; 0 means "must not exist". */
  readonly expectedVersion?: number
  /** Digest of the content sent, known before the answer (writes only). */
  readonly writeDigest?: string
  readonly idempotencyKey?: string
  /** The consistency the read asked for. */
  readonly consistency?: ReadSource
  readonly outcome: Outcome
}

export type HistoryEvent =
  | {
      readonly type: "invoke"
      readonly id: number
      readonly client: number
      readonly blobId: string
      readonly kind: HistoryOpKind
      readonly intendedMs: number
      readonly atMs: number
      readonly expectedVersion?: number
      readonly writeDigest?: string
      readonly idempotencyKey?: string
      readonly consistency?: ReadSource
    }
  | { readonly type: "complete"; readonly id: number; readonly atMs: number; readonly outcome: Outcome }

export type Invocation = Omit<Extract<HistoryEvent, { type: "invoke" }>, "type" | "id">

/** Records invoke/complete pairs as a run goes; anything never completed ends indeterminate. */
export interface HistoryRecorder {
  readonly invoke: (invocation: Invocation) => number
  readonly complete: (id: number, atMs: number, outcome: Outcome) => void
  readonly events: () => ReadonlyArray<HistoryEvent>
  /** Operations sorted by id; open invocations become Indeterminate ending at `endOfRunMs`. */
  readonly operations: (endOfRunMs: number) => Operation[]
}

/**
 * Invocations are kept as given (the caller builds a fresh object) and answers in parallel
 * arrays indexed by id; event objects and operations are only built when asked for. At
 * tens of thousands of operations a second, everything recorded survives to the end of
 * the run, so every retained object per operation is garbage-collector work.
 */
export const makeHistoryRecorder = (): HistoryRecorder => {
  const invoked: Invocation[] = []
  const endsAtMs: number[] = []
  const outcomes: Array<Outcome | undefined> = []
  // The order events happened in: id for an invoke, ~id for a completion.
  const order: number[] = []
  const invoke = (invocation: Invocation): number => {
    const id = invoked.length
    invoked.push(invocation)
    endsAtMs.push(0)
    outcomes.push(undefined)
    order.push(id)
    return id
  }
  const complete = (id: number, atMs: number, outcome: Outcome): void => {
    // A late answer after the op was closed is ignored: the first verdict was what the client acted on.
    if (id < 0 || id >= invoked.length || outcomes[id] !== undefined) return
    endsAtMs[id] = atMs
    outcomes[id] = outcome
    order.push(~id)
  }
  const invokeEvent = (id: number): Extract<HistoryEvent, { type: "invoke" }> => ({ type: "invoke", id, ...(invoked[id] as Invocation) })
  const events = (): HistoryEvent[] =>
    order.map((e) => (e >= 0 ? invokeEvent(e) : { type: "complete", id: ~e, atMs: endsAtMs[~e] as number, outcome: outcomes[~e] as Outcome }))
  const operations = (endOfRunMs: number): Operation[] =>
    invoked.map((inv, id) => {
      const outcome = outcomes[id]
      if (outcome !== undefined) return toOperation(id, inv, endsAtMs[id] as number, outcome)
      return toOperation(id, inv, Math.max(endOfRunMs, inv.atMs), { _tag: "Indeterminate", reason: "no answer before the run ended" })
    })
  return { invoke, complete, events, operations }
}

const toOperation = (id: number, inv: Invocation, endMs: number, outcome: Outcome): Operation => {
  const { atMs, ...rest } = inv
  return { id, ...rest, startMs: atMs, endMs, outcome }
}

export const isModifying = (op: Operation): boolean => op.kind === "write" || op.kind === "patch" || op.kind === "delete"

export const isOk = (op: Operation): op is Operation & { readonly outcome: Extract<Outcome, { _tag: "Ok" }> } =>
  op.outcome._tag === "Ok"

/**
 * The outcome of a write and its retry, as one operation. An acknowledgement wins (the
 * retry was deduplicated or the write happened once); otherwise an earlier indeterminate
 * attempt keeps the whole operation indeterminate: a retry that lost a conflict or found
 * nothing only proves that *the retry* had no effect, not that the first attempt had none.
 */
const mergeOutcome = (earlier: Outcome, later: Outcome): Outcome => {
  if (later._tag === "Ok") return later
  if (earlier._tag === "Ok" || earlier._tag === "Indeterminate") return earlier
  return later
}

/**
 * Fold retries of one write (same blob and idempotency key) into one operation, from the
 * first attempt's start to the last answer (see `mergeOutcome`): a retry that was
 * deduplicated acknowledges the append the earlier, indeterminate attempt made.
 */
export const mergeRetries = (ops: ReadonlyArray<Operation>): Operation[] => {
  const byKey = new Map<string, Operation>()
  const out: Operation[] = []
  for (const op of ops) {
    if (op.idempotencyKey === undefined || !isModifying(op)) {
      out.push(op)
      continue
    }
    const key = `${op.blobId}\u0000${op.idempotencyKey}`
    const seen = byKey.get(key)
    if (seen === undefined) {
      byKey.set(key, op)
      continue
    }
    const outcome = mergeOutcome(seen.outcome, op.outcome)
    byKey.set(key, { ...seen, startMs: Math.min(seen.startMs, op.startMs), endMs: Math.max(seen.endMs, op.endMs), outcome })
  }
  return [...out, ...byKey.values()].sort((a, b) => a.id - b.id)
}

/** One entry of a blob's final stream history (from `blob.cmd.history`). */
export interface StreamVersion {
  readonly version: number
  readonly digest: string
}

export type FinalHistories = ReadonlyMap<string, ReadonlyArray<StreamVersion>>
