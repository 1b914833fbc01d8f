/**
 * The version chain (and closing indeterminate writes from the final stream) against the
 * reference search, on small random histories: truthful ones generated from a sequential
 * execution, and the same ones damaged (stale reads, lost writes, conflicts that should have
 * succeeded, reordered versions, shifted intervals).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ABSENT, checkChain, checkLinearizability, registerStep, resolveIndeterminate, type RegisterState, type StoredVersion } from "../../simulations/checkers/index.ts"
import type { Operation, Outcome } from "../../simulations/history.ts"

type Kind = Operation["kind"]

interface Planned {
  readonly kind: Kind
  readonly expect: "none" | "current" | "zero" | "stale" | "ahead"
  readonly digest: string
  readonly lead: number
  readonly lag: number
  readonly indeterminate: "no" | "applied" | "vanished"
}

const planned: fc.Arbitrary<Planned> = fc.record({
  kind: fc.constantFrom<Kind>("read", "read", "write", "write", "write", "patch", "delete", "history"),
  expect: fc.constantFrom("none", "current", "current", "zero", "stale", "ahead"),
  digest: fc.constantFrom("a", "b", "c"),
  lead: fc.integer({ min: 0, max: 6 }),
  lag: fc.integer({ min: 0, max: 6 }),
  indeterminate: fc.constantFrom("no", "no", "no", "no", "applied", "vanished"),
})

const expectedOf = (p: Planned, s: RegisterState): number | undefined => {
  switch (p.expect) {
    case "none":
      return undefined
    case "current":
      return s.version
    case "zero":
      return 0
    case "stale":
      return Math.max(0, s.version - 1)
    case "ahead":
      return s.version + 1
  }
}

/** What the register answers `p` in state `s`, as the service would (conflict before not-found). */
const answer = (p: Planned, s: RegisterState, expectedVersion: number | undefined, i: number): Outcome => {
  if (p.kind === "read") return s.live ? { _tag: "Ok", version: s.version, digest: s.digest ?? "", source: "primary" } : { _tag: "NotFound" }
  if (p.kind === "history") return s.version === 0 ? { _tag: "NotFound" } : { _tag: "Ok", version: s.version, digest: s.digest ?? "" }
  const holds = expectedVersion === undefined || expectedVersion === s.version || (expectedVersion === 0 && !s.live)
  if (!holds) return { _tag: "Conflict", currentVersion: s.version }
  if ((p.kind === "patch" || p.kind === "delete") && !s.live) return { _tag: "NotFound" }
  return { _tag: "Ok", version: s.version + 1, digest: p.kind === "delete" ? `tomb${i}` : p.kind === "patch" ? `p${i}` : p.digest }
}

interface Truth {
  readonly ops: Operation[]
  readonly stored: StoredVersion[]
}

/** Runs the plan sequentially (op i takes effect at time 10·i) and records what clients saw. */
const execute = (plan: ReadonlyArray<Planned>): Truth => {
  let state: RegisterState = ABSENT
  const ops: Operation[] = []
  const stored: StoredVersion[] = []
  plan.forEach((p, i) => {
    const at = 10 * i
    const modifying = p.kind !== "read" && p.kind !== "history"
    const expectedVersion = modifying ? expectedOf(p, state) : undefined
    const key = `k${i}`
    const base = {
      id: i, client: i, blobId: "b", kind: p.kind, intendedMs: at - p.lead, startMs: at - p.lead, endMs: at + p.lag,
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
      ...(modifying ? { idempotencyKey: key } : {}),
      ...(p.kind === "write" ? { writeDigest: p.digest } : {}),
    }
    const indeterminate = modifying && p.indeterminate !== "no"
    const outcome = indeterminate && p.indeterminate === "vanished" ? undefined : answer(p, state, expectedVersion, i)
    if (outcome !== undefined && modifying && outcome._tag === "Ok") {
      stored.push({ version: outcome.version, digest: outcome.digest, idempotencyKey: key })
    }
    if (outcome !== undefined) state = registerStep(state, { ...base, outcome }) ?? state
    ops.push({ ...base, outcome: indeterminate || outcome === undefined ? { _tag: "Indeterminate", reason: "timeout" } : outcome })
  })
  return { ops, stored }
}

type Damage = (ops: Operation[], i: number, by: number) => Operation[]

const replaceAt = (ops: Operation[], i: number, f: (op: Operation) => Operation): Operation[] =>
  ops.map((op, j) => (j === i % Math.max(1, ops.length) ? f(op) : op))

const damages: ReadonlyArray<Damage> = [
  // A read or acknowledgement naming another version (stale read, reordered versions).
  (ops, i, by) => replaceAt(ops, i, (op) => (op.outcome._tag === "Ok" ? { ...op, outcome: { ...op.outcome, version: Math.max(0, op.outcome.version + by) } } : op)),
  // A write acknowledged but missing: drop it.
  (ops, i) => ops.filter((_, j) => j !== i % ops.length),
  // A conflict where the write should have won, or one naming the wrong version.
  (ops, i, by) => replaceAt(ops, i, (op) => (op.kind === "read" || op.kind === "history" ? op : { ...op, outcome: { _tag: "Conflict", currentVersion: Math.max(0, by + 2) } })),
  // The interval moved: real-time order no longer matches the effects.
  (ops, i, by) => replaceAt(ops, i, (op) => ({ ...op, startMs: op.startMs + 12 * by, endMs: op.endMs + 12 * by })),
  // A different digest read back.
  (ops, i) => replaceAt(ops, i, (op) => (op.outcome._tag === "Ok" ? { ...op, outcome: { ...op.outcome, digest: "z" } } : op)),
  // Not-found where something was there.
  (ops, i) => replaceAt(ops, i, (op) => ({ ...op, outcome: { _tag: "NotFound" } })),
]

const damaged = fc.record({
  plan: fc.array(planned, { minLength: 1, maxLength: 9 }),
  damage: fc.array(fc.record({ which: fc.nat(damages.length - 1), at: fc.nat(20), by: fc.integer({ min: -2, max: 2 }) }), { maxLength: 2 }),
})

const apply = (ops: Operation[], ds: ReadonlyArray<{ which: number; at: number; by: number }>): Operation[] =>
  ds.reduce((acc, d) => (acc.length === 0 ? acc : (damages[d.which] as Damage)(acc, d.at, d.by === 0 ? 1 : d.by)), ops)

const fast = (ops: Operation[], stored?: StoredVersion[]): boolean =>
  checkLinearizability(ops, stored === undefined ? {} : { finalHistories: new Map([["b", stored]]) }).ok
const reference = (ops: Operation[]): boolean => checkLinearizability(ops, { searchOnly: true }).ok

describe("version chain against the reference search", () => {
  it("agrees with the search on truthful and damaged histories", () => {
    const decided = { accepted: 0, rejected: 0 }
    fc.assert(
      fc.property(damaged, ({ plan, damage }) => {
        const ops = apply(execute(plan).ops, damage)
        const verdict = reference(ops)
        expect(fast(ops)).toBe(verdict)
        // The chain alone, without the search re-checking its violations.
        const chain = checkChain(ops, ABSENT)
        if (chain._tag === "Ambiguous") return
        expect(chain._tag === "Linearizable").toBe(verdict)
        decided[verdict ? "accepted" : "rejected"]++
      }),
      { numRuns: 4000 },
    )
    // The generator must exercise both answers on the chain, or the agreement says little.
    expect(decided.accepted).toBeGreaterThan(300)
    expect(decided.rejected).toBeGreaterThan(300)
  })

  it("accepts every truthful history once the final stream settles its indeterminate writes", () => {
    fc.assert(
      fc.property(fc.array(planned, { minLength: 1, maxLength: 12 }), (plan) => {
        const truth = execute(plan)
        expect(fast(truth.ops, truth.stored)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  it("never accepts with the final stream what the search rejects without it", () => {
    fc.assert(
      fc.property(damaged, ({ plan, damage }) => {
        const truth = execute(plan)
        const ops = apply(truth.ops, damage)
        if (fast(ops, truth.stored)) expect(reference(ops)).toBe(true)
      }),
      { numRuns: 3000 },
    )
  })
})

describe("version chain at hot-key scale", () => {
  /**
   * `writers` conditional writers on one blob per round, all overlapping; one wins, the
   * rest conflict naming its version. Every 50th round one more append's answer is lost
   * (it expected the winner's version); the final stream has it.
   */
  const storm = (writers: number, rounds: number): { ops: Operation[]; stored: StoredVersion[] } => {
    const ops: Operation[] = []
    const stored: StoredVersion[] = []
    let version = 0
    for (let r = 0; r < rounds; r++) {
      const lostAnswer = r % 50 === 7
      for (let w = 0; w < writers; w++) {
        const key = `k${ops.length}`
        const startMs = r * 10 + w / writers
        const base = { id: ops.length, client: w, blobId: "hot", kind: "write" as const, intendedMs: startMs, startMs, endMs: startMs + 20, idempotencyKey: key, writeDigest: key }
        if (w === 0) {
          ops.push({ ...base, expectedVersion: version, outcome: { _tag: "Ok", version: version + 1, digest: key } })
          stored.push({ version: version + 1, digest: key, idempotencyKey: key })
        } else if (w === 1 && lostAnswer) {
          ops.push({ ...base, expectedVersion: version + 1, outcome: { _tag: "Indeterminate", reason: "timeout" } })
          stored.push({ version: version + 2, digest: key, idempotencyKey: key })
        } else ops.push({ ...base, expectedVersion: version, outcome: { _tag: "Conflict", currentVersion: version + 1 } })
      }
      version += lostAnswer ? 2 : 1
    }
    return { ops, stored }
  }

  it("decides 1,000 concurrent writers over 20,000 operations by the version chain, with no search", () => {
    const { ops, stored } = storm(1000, 20)
    // A search of even one step would give up (LinearizabilityUnknown): the O(n log n) chain
    // must decide this history alone (the search's state space is out of reach here).
    const report = checkLinearizability(ops, { finalHistories: new Map([["hot", stored]]), maxStepsPerBlob: 0 })
    expect(report.ok).toBe(true)
    expect(report.checked).toBe(20_000)
  })

  it("still finds a stale conflict among 1,000 concurrent writers", () => {
    const { ops, stored } = storm(1000, 10)
    const late = ops[ops.length - 1] as Operation
    const bad = [...ops.slice(0, -1), { ...late, startMs: 1_000, endMs: 1_001, outcome: { _tag: "Conflict", currentVersion: 1 } } as Operation]
    const report = checkLinearizability(bad, { finalHistories: new Map([["hot", stored]]) })
    expect(report.ok).toBe(false)
    expect(report.violations[0]).toMatchObject({ _tag: "NotLinearizable", opId: late.id })
  })
})

describe("settling indeterminate writes from the final stream", () => {
  const lost = (id: number, key: string, digest: string, startMs: number): Operation => ({
    id, client: id, blobId: "b", kind: "write", intendedMs: startMs, startMs, endMs: startMs + 5,
    idempotencyKey: key, writeDigest: digest, outcome: { _tag: "Indeterminate", reason: "timeout" },
  })
  const acked = (id: number, version: number, digest: string, startMs: number): Operation => ({
    id, client: id, blobId: "b", kind: "write", intendedMs: startMs, startMs, endMs: startMs + 1,
    idempotencyKey: `ok${id}`, writeDigest: digest, outcome: { _tag: "Ok", version, digest },
  })

  it("places the write the stream shows at its version, and drops the one it does not", () => {
    const ops = [acked(0, 1, "a", 0), lost(1, "k1", "x", 2), lost(2, "k2", "y", 2), acked(3, 3, "c", 20)]
    const stored = [{ version: 1, digest: "a" }, { version: 2, digest: "x", idempotencyKey: "k1" }, { version: 3, digest: "c" }]
    const settled = resolveIndeterminate(ops, stored, 0)
    expect(settled.map((op) => [op.id, op.outcome._tag])).toEqual([[0, "Ok"], [1, "Ok"], [3, "Ok"]])
    expect(settled[1]).toMatchObject({ endMs: Number.POSITIVE_INFINITY, outcome: { version: 2, digest: "x" } })
  })

  it("leaves the history alone when the stream does not settle it", () => {
    const ops = [acked(0, 1, "a", 0), lost(1, "k1", "x", 2), lost(2, "k2", "x", 2)]
    // No key stored and two writes of the same content: either could have made version 2.
    expect(resolveIndeterminate(ops, [{ version: 1, digest: "a" }, { version: 2, digest: "x" }], 0)).toBe(ops)
    // The stored content is not what the write sent.
    expect(resolveIndeterminate(ops, [{ version: 1, digest: "a" }, { version: 2, digest: "z", idempotencyKey: "k1" }], 0)).toBe(ops)
    // A version nobody in the history could have made.
    expect(resolveIndeterminate(ops, [{ version: 1, digest: "a" }, { version: 2, digest: "q" }], 0)).toBe(ops)
  })
})
