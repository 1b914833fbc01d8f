import { describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import { decideRead, type ReadInputs } from "../../domain/read-policy.ts"
import { mayReplace, type Shadow } from "../../domain/shadow.ts"

const shadow = (o: Partial<Shadow> = {}): Shadow => ({
  id: "b" as BlobId,
  basedOn: 4,
  predicted: 5,
  digest: "sha256:aa",
  size: 1,
  contentType: undefined,
  contentRef: undefined,
  content: new Uint8Array([1]),
  confidence: 0.95,
  validFromMs: 1_000,
  createdAtMs: 900,
  origin: "prediction",
  model: "m",
  status: "live",
  reason: undefined,
  shadowVersion: 3,
  ...o,
})

const inputs = (o: Partial<ReadInputs> = {}): ReadInputs => ({
  consistency: "shadow",
  shadow: shadow(),
  nowMs: 1_000,
  minConfidence: 0.9,
  knownHeadVersion: 5,
  ...o,
})

describe("read policy (the seed's pseudocode and the contract's extra rules)", () => {
  const table: Array<[string, Partial<ReadInputs>, string]> = [
    ["no shadow → primary", { shadow: undefined }, "none"],
    ["valid-from in the future → primary", { nowMs: 999 }, "not-yet-valid"],
    ["valid-from equal to now → shadow", { nowMs: 1_000 }, "Shadow"],
    ["valid-from in the past → shadow", { nowMs: 5_000 }, "Shadow"],
    ["confidence below the minimum → primary", { minConfidence: 0.96 }, "low-confidence"],
    ["confidence at the minimum → shadow", { minConfidence: 0.95 }, "Shadow"],
    ["confidence above the minimum → shadow", { minConfidence: 0.5 }, "Shadow"],
    ["older than the known head → primary", { knownHeadVersion: 6 }, "obsolete"],
    ["equal to the known head → shadow", { knownHeadVersion: 5 }, "Shadow"],
    ["ahead of the known head (a prediction) → shadow", { knownHeadVersion: 4 }, "Shadow"],
    ["head unknown → shadow", { knownHeadVersion: undefined }, "Shadow"],
    ["primary consistency skips shadows", { consistency: "primary" }, "consistency"],
    ["a discarded shadow serves nothing", { shadow: shadow({ status: "discarded" }) }, "discarded"],
  ]
  for (const [name, o, want] of table) {
    it(name, () => {
      const d = decideRead(inputs(o))
      expect(d._tag === "Shadow" ? "Shadow" : d.reason).toBe(want)
    })
  }
  it("checks validity before confidence before obsolescence", () => {
    const d = decideRead(inputs({ nowMs: 0, minConfidence: 1, knownHeadVersion: 99 }))
    expect(d).toEqual({ _tag: "Primary", reason: "not-yet-valid" })
  })
})

describe("monotonic shadows", () => {
  it("never move backwards in predicted version", () => {
    expect(mayReplace(shadow({ predicted: 5 }), shadow({ predicted: 4, origin: "write" }))).toBe(false)
    expect(mayReplace(shadow({ predicted: 5 }), shadow({ predicted: 6, origin: "conflict" }))).toBe(true)
    expect(mayReplace(undefined, shadow())).toBe(true)
  })
  it("at equal versions the committed content beats a prediction, which beats a conflict", () => {
    expect(mayReplace(shadow({ origin: "prediction" }), shadow({ origin: "write", digest: "sha256:bb" }))).toBe(true)
    expect(mayReplace(shadow({ origin: "write" }), shadow({ origin: "prediction", digest: "sha256:bb" }))).toBe(false)
    expect(mayReplace(shadow({ origin: "conflict" }), shadow({ origin: "prediction", digest: "sha256:bb" }))).toBe(true)
    expect(mayReplace(shadow({ origin: "write" }), shadow({ origin: "conflict", digest: "sha256:bb" }))).toBe(false)
  })
  it("a discard applies to the same content only, and a discarded version can be refilled by other content", () => {
    expect(mayReplace(shadow(), shadow({ status: "discarded" }))).toBe(true)
    expect(mayReplace(shadow(), shadow({ status: "discarded", digest: "sha256:other" }))).toBe(false)
    expect(mayReplace(shadow({ status: "discarded" }), shadow({ digest: "sha256:bb", origin: "write" }))).toBe(true)
    expect(mayReplace(shadow({ status: "discarded" }), shadow())).toBe(false)
  })
})
