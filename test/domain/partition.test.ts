import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { desiredOwner, holds, leaseStep, partitionOf } from "../../domain/partition.ts"

describe("partitions", () => {
  it("map an id to the same partition every time, within range", () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 1024 }), (id, n) => {
      const p = partitionOf(id, n)
      expect(p).toBe(partitionOf(id, n))
      expect(p).toBeGreaterThanOrEqual(0)
      expect(p).toBeLessThan(n)
    }))
  })
  it("spread 10,000 ids over 64 partitions roughly evenly", () => {
    const counts = new Array(64).fill(0)
    for (let i = 0; i < 10_000; i++) counts[partitionOf(`blob/${i}`, 64)]++
    expect(Math.min(...counts)).toBeGreaterThan(100)
    expect(Math.max(...counts)).toBeLessThan(230)
  })
  it("rendezvous: removing a member moves only that member's partitions", () => {
    const all = ["a", "b", "c"]
    for (let p = 0; p < 64; p++) {
      const before = desiredOwner(p, all)
      const after = desiredOwner(p, ["a", "b"])
      if (before !== "c") expect(after).toBe(before)
    }
    expect(desiredOwner(0, [])).toBeUndefined()
  })
})

describe("leases", () => {
  const L = 3_000
  it("acquire a free or expired lease with the next term", () => {
    expect(leaseStep(undefined, "a", "a", 0, L)).toEqual({ _tag: "acquire", lease: { owner: "a", term: 1, expiresAtMs: L } })
    expect(leaseStep({ owner: "b", term: 4, expiresAtMs: 10 }, "a", "a", 11, L)).toEqual({
      _tag: "acquire",
      lease: { owner: "a", term: 5, expiresAtMs: 11 + L },
    })
  })
  it("wait while another owner's lease is live, even when we are the desired owner", () => {
    expect(leaseStep({ owner: "b", term: 4, expiresAtMs: 100 }, "a", "a", 50, L)).toEqual({ _tag: "wait" })
  })
  it("renew our own lease, keeping the term", () => {
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100 }, "a", "a", 50, L)).toEqual({
      _tag: "renew",
      lease: { owner: "a", term: 4, expiresAtMs: 50 + L },
    })
  })
  it("release a live lease we should no longer hold", () => {
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100 }, "a", "b", 50, L)).toEqual({ _tag: "release" })
  })
  it("holds needs the margin left: a process paused past its lease does not act", () => {
    const l = { owner: "a", term: 1, expiresAtMs: 1_000 }
    expect(holds(l, "a", 500, 200)).toBe(true)
    expect(holds(l, "a", 850, 200)).toBe(false)
    expect(holds(l, "b", 0, 0)).toBe(false)
  })
})
