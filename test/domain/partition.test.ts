import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { caughtUp, desiredOwner, handOver, holds, leaseStep, partitionOf } from "../../domain/partition.ts"

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
    expect(leaseStep(undefined, "a", "a", 0, L)).toEqual({ _tag: "acquire", lease: { owner: "a", term: 1, expiresAtMs: L, floorSeq: 0 } })
    expect(leaseStep({ owner: "b", term: 4, expiresAtMs: 10, floorSeq: 70 }, "a", "a", 11, L, 3)).toEqual({
      _tag: "acquire",
      lease: { owner: "a", term: 5, expiresAtMs: 11 + L, floorSeq: 70 },
    })
  })
  it("wait while another owner's lease is live, even when we are the desired owner", () => {
    expect(leaseStep({ owner: "b", term: 4, expiresAtMs: 100 }, "a", "a", 50, L)).toEqual({ _tag: "wait" })
  })
  it("renew our own lease, keeping the term", () => {
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100 }, "a", "a", 50, L)).toEqual({
      _tag: "renew",
      lease: { owner: "a", term: 4, expiresAtMs: 50 + L, floorSeq: 0 },
    })
  })
  it("every lease written carries the highest floor: the previous one's, or the writer's acknowledged appends", () => {
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100, floorSeq: 10 }, "a", "a", 50, L, 25)).toMatchObject({ _tag: "renew", lease: { floorSeq: 25 } })
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100, floorSeq: 30 }, "a", "a", 50, L, 25)).toMatchObject({ _tag: "renew", lease: { floorSeq: 30 } })
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100, floorSeq: 10 }, "a", "b", 50, L, 25)).toEqual({
      _tag: "release",
      lease: { owner: "", term: 4, expiresAtMs: 0, floorSeq: 25 },
    })
    expect(handOver({ owner: "a", term: 4, expiresAtMs: 100, floorSeq: 10 }, { owner: "a", term: 4, expiresAtMs: 100, floorSeq: 12 }, 11)).toEqual({
      owner: "",
      term: 4,
      expiresAtMs: 0,
      floorSeq: 12,
    })
  })
  it("a partition is caught up once the stream's last sequence reaches the floor (leases without one: at once)", () => {
    expect(caughtUp({ owner: "a", term: 1, expiresAtMs: 1 }, 0)).toBe(true)
    expect(caughtUp({ owner: "a", term: 1, expiresAtMs: 1, floorSeq: 9 }, 8)).toBe(false)
    expect(caughtUp({ owner: "a", term: 1, expiresAtMs: 1, floorSeq: 9 }, 9)).toBe(true)
  })
  it("release a live lease we should no longer hold", () => {
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100 }, "a", "b", 50, L)).toEqual({ _tag: "release", lease: { owner: "", term: 4, expiresAtMs: 0, floorSeq: 0 } })
  })
  it("holds needs the margin left: a process paused past its lease does not act", () => {
    const l = { owner: "a", term: 1, expiresAtMs: 1_000 }
    expect(holds(l, "a", 500, 200)).toBe(true)
    expect(holds(l, "a", 850, 200)).toBe(false)
    expect(holds(l, "b", 0, 0)).toBe(false)
  })
})
