import { describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import { isOutcome, reconcile, type HeadView, type ReconcileInput, type Verdict } from "../../domain/reconcile.ts"
import type { Shadow, ShadowOrigin } from "../../domain/shadow.ts"

const T0 = 1_700_000_000_000
const GRACE = 5_000
const RIGHT = "sha256:" + "a".repeat(64)
const OTHER = "sha256:" + "b".repeat(64)

const shadowOf = (origin: ShadowOrigin, basedOn: number, predicted: number, o: Partial<Shadow> = {}): Shadow => ({
  id: "r/blob" as BlobId,
  basedOn,
  predicted,
  digest: RIGHT,
  size: 1,
  contentType: undefined,
  contentRef: undefined,
  content: new Uint8Array([1]),
  confidence: 0.8,
  validFromMs: T0,
  createdAtMs: T0,
  origin,
  model: "m",
  status: "live",
  reason: undefined,
  shadowVersion: 7,
  ...o,
})

const head = (version: number, digest = RIGHT): HeadView => ({ version, digest })
const at = (o: Partial<ReconcileInput> & Pick<ReconcileInput, "shadow">): Verdict =>
  reconcile({ head: undefined, nowMs: T0, graceMs: GRACE, hot: false, ...o })

describe("reconcile: one verdict per case, with its reason", () => {
  const cases: ReadonlyArray<[string, Partial<ReconcileInput> & Pick<ReconcileInput, "shadow">, Partial<Verdict>]> = [
    ["a write shadow equal to the head", { shadow: shadowOf("write", 2, 3), head: head(3) }, { kind: "confirm", reason: "matches-head", correct: true }],
    ["a prediction whose write arrived with exactly its content", { shadow: shadowOf("prediction", 2, 3), head: head(3) }, { kind: "confirm", reason: "predicted-write-arrived", correct: true }],
    ["a no-change prediction equal to the head", { shadow: shadowOf("prediction", 3, 3), head: head(3) }, { kind: "confirm", reason: "matches-head" }],
    ["a conflict shadow whose retry landed with its content", { shadow: shadowOf("conflict", 2, 3), head: head(3) }, { kind: "confirm", reason: "matches-head" }],
    ["a prediction with other content at its version", { shadow: shadowOf("prediction", 2, 3), head: head(3, OTHER) }, { kind: "discard", reason: "wrong-content", correct: false }],
    ["a write shadow with other content at its version", { shadow: shadowOf("write", 2, 3), head: head(3, OTHER) }, { kind: "discard", reason: "wrong-content", correct: false }],
    ["a conflict shadow: the head moved past its base with other content", { shadow: shadowOf("conflict", 2, 3), head: head(3, OTHER) }, { kind: "discard", reason: "conflict-never-landed", correct: false }],
    ["a conflict shadow behind the head, landing unknown", { shadow: shadowOf("conflict", 2, 3), head: head(5, OTHER), hot: true }, { kind: "discard", reason: "conflict-never-landed" }],
    ["an obsolete shadow of a hot blob", { shadow: shadowOf("prediction", 2, 3), head: head(4, OTHER), hot: true }, { kind: "update", reason: "obsolete-hot", correct: undefined }],
    ["an obsolete shadow of a cold blob", { shadow: shadowOf("write", 2, 3), head: head(4, OTHER) }, { kind: "discard", reason: "obsolete-cold", correct: undefined }],
    ["an obsolete shadow known right at its version, hot", { shadow: shadowOf("prediction", 2, 3), head: head(4, OTHER), atPredicted: RIGHT, hot: true }, { kind: "update", reason: "obsolete-hot", correct: true }],
    ["an obsolete shadow known right at its version, cold", { shadow: shadowOf("prediction", 2, 3), head: head(4, OTHER), atPredicted: RIGHT }, { kind: "discard", reason: "obsolete-cold", correct: true }],
    ["an obsolete shadow known wrong at its version (outcome wins over heat)", { shadow: shadowOf("prediction", 2, 3), head: head(4), atPredicted: OTHER, hot: true }, { kind: "discard", reason: "wrong-content", correct: false }],
    ["a prediction ahead of the head, before valid-from", { shadow: shadowOf("prediction", 2, 3, { validFromMs: T0 + 60_000 }), head: head(2) }, { kind: "keep", reason: "awaiting-write" }],
    ["a prediction ahead of the head, valid, within grace", { shadow: shadowOf("prediction", 2, 3), head: head(2), nowMs: T0 + GRACE - 1 }, { kind: "keep", reason: "awaiting-write" }],
    ["a prediction ahead of the head, grace passed", { shadow: shadowOf("prediction", 2, 3), head: head(2), nowMs: T0 + GRACE }, { kind: "discard", reason: "valid-from-expired", correct: false }],
    ["a prediction of a blob with no events yet, grace passed", { shadow: shadowOf("prediction", 0, 1), nowMs: T0 + GRACE }, { kind: "discard", reason: "valid-from-expired" }],
    ["a write shadow whose append is in flight", { shadow: shadowOf("write", 2, 3), head: head(2), nowMs: T0 + 10 }, { kind: "keep", reason: "awaiting-write" }],
    ["a conflict shadow whose retry never came within grace", { shadow: shadowOf("conflict", 2, 3), head: head(2), nowMs: T0 + GRACE }, { kind: "discard", reason: "conflict-never-landed", correct: false }],
    ["a discarded shadow", { shadow: shadowOf("prediction", 2, 3, { status: "discarded" }), head: head(9, OTHER) }, { kind: "keep", reason: "already-discarded" }],
  ]
  it.each(cases)("%s", (_name, input, expected) => {
    expect(at(input)).toMatchObject(expected)
  })
})

describe("reconcile: properties of the rules", () => {
  it("a shadow ahead of the head is never confirmed or discarded as wrong, whatever the digests", () => {
    for (const origin of ["prediction", "write", "conflict"] as const)
      for (const digest of [RIGHT, OTHER]) {
        const v = at({ shadow: shadowOf(origin, 4, 5), head: head(4, digest), nowMs: T0 + 1 })
        expect(v.kind).toBe("keep")
      }
  })

  it("freshness verdicts are not outcomes; confirmations and wrong content are", () => {
    expect(isOutcome({ kind: "confirm", reason: "matches-head", correct: true })).toBe(true)
    expect(isOutcome({ kind: "discard", reason: "wrong-content", correct: false })).toBe(true)
    expect(isOutcome({ kind: "discard", reason: "valid-from-expired", correct: false })).toBe(true)
    expect(isOutcome({ kind: "discard", reason: "conflict-never-landed", correct: false })).toBe(true)
    expect(isOutcome({ kind: "discard", reason: "obsolete-cold", correct: true })).toBe(false)
    expect(isOutcome({ kind: "update", reason: "obsolete-hot", correct: undefined })).toBe(false)
  })

  it("is deterministic: the same inputs give the same verdict (replays record the same message id)", () => {
    const i: ReconcileInput = { shadow: shadowOf("prediction", 2, 3), head: head(3, OTHER), nowMs: T0, graceMs: GRACE, hot: true }
    expect(reconcile(i)).toEqual(reconcile({ ...i }))
  })
})
