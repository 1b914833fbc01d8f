import { describe, expect, it } from "vitest"
import { checkLinearizability, checkLostWrites, checkVersions, describeViolation, runCheckers } from "../../simulations/checkers/index.ts"
import type { Operation, Outcome } from "../../simulations/history.ts"
import { makeHistoryRecorder } from "../../simulations/history.ts"

let nextId = 0
const op = (kind: Operation["kind"], startMs: number, endMs: number, outcome: Outcome, extra: Partial<Operation> = {}): Operation => ({
  id: nextId++,
  client: nextId,
  blobId: "b",
  kind,
  intendedMs: startMs,
  startMs,
  endMs,
  outcome,
  ...extra,
})
const ok = (version: number, digest: string, source?: "shadow" | "primary"): Outcome =>
  source === undefined ? { _tag: "Ok", version, digest } : { _tag: "Ok", version, digest, source }
const write = (s: number, e: number, version: number, digest: string, extra: Partial<Operation> = {}) =>
  op("write", s, e, ok(version, digest), { writeDigest: digest, ...extra })
const read = (s: number, e: number, version: number, digest: string) => op("read", s, e, ok(version, digest, "primary"))
const indeterminate: Outcome = { _tag: "Indeterminate", reason: "timeout" }

const linearizable = (ops: Operation[]): boolean => checkLinearizability(ops).ok

describe("linearizability checker (versioned register)", () => {
  it("accepts a sequential history", () => {
    expect(linearizable([write(0, 1, 1, "a"), read(2, 3, 1, "a"), write(4, 5, 2, "b"), read(6, 7, 2, "b")])).toBe(true)
  })

  it("accepts concurrent overlapping writes acknowledged in either order", () => {
    // Both writes overlap; the one that started later got v1.
    const ops = [write(0, 10, 2, "a"), write(1, 9, 1, "b"), read(2, 8, 1, "b"), read(11, 12, 2, "a")]
    expect(linearizable(ops)).toBe(true)
  })

  it("accepts a read overlapping a write that sees either side", () => {
    expect(linearizable([write(0, 1, 1, "a"), write(5, 10, 2, "b"), read(6, 7, 1, "a"), read(6, 8, 2, "b")])).toBe(true)
  })

  it("accepts indeterminate writes that did and did not take effect", () => {
    const tookEffect = [write(0, 1, 1, "a"), op("write", 2, 3, indeterminate, { writeDigest: "x" }), read(4, 5, 2, "x"), write(6, 7, 3, "c")]
    const vanished = [write(0, 1, 1, "a"), op("write", 2, 3, indeterminate, { writeDigest: "x" }), read(4, 5, 1, "a"), write(6, 7, 2, "c")]
    expect(linearizable(tookEffect)).toBe(true)
    expect(linearizable(vanished)).toBe(true)
  })

  it("accepts an indeterminate write that took effect long after the client gave up", () => {
    const ops = [write(0, 1, 1, "a"), op("write", 2, 3, indeterminate, { writeDigest: "late" }), read(10, 11, 1, "a"), read(20, 21, 2, "late")]
    expect(linearizable(ops)).toBe(true)
  })

  it("accepts conditional writes, conflicts naming the current version, and not-found", () => {
    const ops = [
      op("read", 0, 1, { _tag: "NotFound" }),
      write(2, 3, 1, "a", { expectedVersion: 0 }),
      op("write", 4, 8, ok(2, "b"), { expectedVersion: 1 }),
      op("write", 5, 9, { _tag: "Conflict", currentVersion: 2 }, { expectedVersion: 1 }),
      op("delete", 10, 11, ok(3, "tomb")),
      op("read", 12, 13, { _tag: "NotFound" }),
      op("patch", 14, 15, { _tag: "NotFound" }),
    ]
    expect(linearizable(ops)).toBe(true)
  })

  it("ignores shadow-served reads (they are judged by served exactness, not here)", () => {
    expect(linearizable([write(0, 1, 1, "a"), write(2, 3, 2, "b"), op("read", 4, 5, ok(1, "a", "shadow"))])).toBe(true)
  })

  it("folds retries under one idempotency key into one write", () => {
    const ops = [
      op("write", 0, 5, indeterminate, { writeDigest: "a", idempotencyKey: "k" }),
      op("write", 6, 7, { _tag: "Ok", version: 1, digest: "a", deduplicated: true }, { writeDigest: "a", idempotencyKey: "k" }),
      read(8, 9, 1, "a"),
    ]
    expect(linearizable(ops)).toBe(true)
  })

  it("rejects a stale read and names it", () => {
    const stale = read(4, 5, 1, "a")
    const report = checkLinearizability([write(0, 1, 1, "a"), write(2, 3, 2, "b"), stale])
    expect(report.ok).toBe(false)
    const violation = report.violations[0]
    expect(violation?._tag).toBe("NotLinearizable")
    if (violation?._tag === "NotLinearizable") {
      expect(violation.opId).toBe(stale.id)
      expect(violation.stateBefore.version).toBe(2)
      expect(describeViolation(violation)).toContain(`read #${stale.id}`)
    }
  })

  it("rejects a lost write: an acknowledged version later read back as the previous one", () => {
    expect(linearizable([write(0, 1, 1, "a"), write(2, 3, 2, "b"), read(4, 5, 1, "a")])).toBe(false)
    // And a version acknowledged twice cannot be linearized either.
    expect(linearizable([write(0, 3, 1, "a"), write(1, 2, 1, "b")])).toBe(false)
  })

  it("rejects a conflict that should have succeeded", () => {
    const ops = [write(0, 1, 1, "a"), op("write", 2, 3, { _tag: "Conflict", currentVersion: 1 }, { expectedVersion: 1 })]
    expect(linearizable(ops)).toBe(false)
    // Also a conflict naming a version that was never current at any point it could take effect.
    const wrongName = [write(0, 1, 1, "a"), op("write", 2, 3, { _tag: "Conflict", currentVersion: 7 }, { expectedVersion: 0 })]
    expect(linearizable(wrongName)).toBe(false)
  })

  it("checks thousands of concurrent operations on a hot key in a search of at most 10 steps per operation", () => {
    const ops: Operation[] = []
    const concurrency = 50
    let version = 0
    for (let i = 0; i < 3000; i++) {
      // Each op overlaps the next `concurrency` ops; acknowledgements arrive in version order.
      const start = i
      const end = i + concurrency
      if (i % 3 === 2) ops.push(op("read", start, end, ok(version, `d${version}`, "primary")))
      else if (i % 97 === 0) ops.push(op("write", start, end, indeterminate, { writeDigest: `lost${i}` }))
      else {
        version++
        ops.push(write(start, end + 0.5, version, `d${version}`))
      }
    }
    // A bound on the search's steps, not on the clock: an exponential search would give up
    // (LinearizabilityUnknown) long before it; with 100 steps this history is not decided.
    expect(checkLinearizability(ops, { maxStepsPerBlob: 30_000 }).ok).toBe(true)
  })
})

describe("lost-write and version checkers", () => {
  const finals = new Map([["b", [{ version: 1, digest: "a" }, { version: 2, digest: "b" }]]])

  it("finds an acknowledged write missing from the final stream", () => {
    const ops = [write(0, 1, 1, "a"), write(2, 3, 2, "b"), write(4, 5, 3, "c")]
    const r = checkLostWrites(ops, finals)
    expect(r.ok).toBe(false)
    expect(r.violations[0]).toMatchObject({ _tag: "LostWrite", version: 3 })
  })

  it("finds duplicate, missing and out-of-order versions, and one version acknowledged twice", () => {
    const bad = new Map([["b", [{ version: 1, digest: "a" }, { version: 3, digest: "c" }, { version: 3, digest: "c" }, { version: 2, digest: "b" }]]])
    const r = checkVersions([write(0, 1, 1, "a"), write(0, 1, 1, "z")], bad)
    expect(r.violations.map((v) => v._tag).sort()).toEqual(["DuplicateAck", "DuplicateVersion", "VersionGap", "VersionOutOfOrder"])
  })

  it("passes a clean run and reports expectations not reached", () => {
    const recorder = makeHistoryRecorder()
    const id = recorder.invoke({ client: 1, blobId: "b", kind: "write", intendedMs: 0, atMs: 0, writeDigest: "a" })
    recorder.complete(id, 1, ok(1, "a"))
    recorder.invoke({ client: 2, blobId: "b", kind: "read", intendedMs: 2, atMs: 2, consistency: "primary" })
    const report = runCheckers({ operations: recorder.operations(10), finalHistories: finals, expect: ["conflict"], endMs: 10 })
    expect(report.results.filter((r) => !r.ok).map((r) => r.checker)).toEqual(["expectations"])
    expect(report.firstViolation).toContain(`"conflict"`)
  })
})
