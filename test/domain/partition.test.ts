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
  const S = "2026-11-25T00:00:00.000000001Z"
  const acked = (seq: number) => ({ seq, stream: S })
  it("acquire a free or expired lease with the next term", () => {
    expect(leaseStep(undefined, "a", "a", 0, L)).toEqual({ _tag: "acquire", lease: { owner: "a", term: 1, expiresAtMs: L, floorSeq: 0, floorStream: undefined } })
    expect(leaseStep({ owner: "b", term: 4, expiresAtMs: 10, floorSeq: 70, floorStream: S }, "a", "a", 11, L, acked(3))).toEqual({
      _tag: "acquire",
      lease: { owner: "a", term: 5, expiresAtMs: 11 + L, floorSeq: 70, floorStream: S },
    })
  })
  it("wait while another owner's lease is live, even when we are the desired owner", () => {
    expect(leaseStep({ owner: "b", term: 4, expiresAtMs: 100 }, "a", "a", 50, L)).toEqual({ _tag: "wait" })
  })
  it("renew our own lease, keeping the term", () => {
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100 }, "a", "a", 50, L)).toEqual({
      _tag: "renew",
      lease: { owner: "a", term: 4, expiresAtMs: 50 + L, floorSeq: 0, floorStream: undefined },
    })
  })
  it("release a live lease we should no longer hold (its actors go first, then the hand-over is written)", () => {
    expect(leaseStep({ owner: "a", term: 4, expiresAtMs: 100 }, "a", "b", 50, L)).toEqual({ _tag: "release" })
    expect(handOver(4, { owner: "a", term: 4, expiresAtMs: 100, floorSeq: 10, floorStream: S }, acked(12))).toEqual({
      owner: "",
      term: 4,
      expiresAtMs: 0,
      floorSeq: 12,
      floorStream: S,
    })
  })
  it("every lease written carries the highest floor of the stream: the previous one's, or the writer's acknowledged appends", () => {
    const mine = (floorSeq: number, floorStream = S) => ({ owner: "a", term: 4, expiresAtMs: 100, floorSeq, floorStream })
    expect(leaseStep(mine(10), "a", "a", 50, L, acked(25))).toMatchObject({ _tag: "renew", lease: { floorSeq: 25, floorStream: S } })
    expect(leaseStep(mine(30), "a", "a", 50, L, acked(25))).toMatchObject({ _tag: "renew", lease: { floorSeq: 30, floorStream: S } })
    // A writer that has not seen the stream yet leaves the floor alone.
    expect(leaseStep(mine(30), "a", "a", 50, L, { seq: 99, stream: undefined })).toMatchObject({ _tag: "renew", lease: { floorSeq: 30, floorStream: S } })
    // The stream was made again: the old floor means nothing there, the writer's appends start it over.
    expect(leaseStep(mine(3_000, "old"), "a", "a", 50, L, acked(7))).toMatchObject({ _tag: "renew", lease: { floorSeq: 7, floorStream: S } })
  })
  it("a partition is caught up once every answering leader reports the floor reached (leases without one: once anyone answers)", () => {
    const lease = { owner: "a", term: 1, expiresAtMs: 1, floorSeq: 9, floorStream: S }
    expect(caughtUp({ owner: "a", term: 1, expiresAtMs: 1 }, [{ stream: S, lastSeq: 0 }])).toBe(true)
    expect(caughtUp({ owner: "a", term: 1, expiresAtMs: 1 }, [])).toBe(false)
    expect(caughtUp(lease, [{ stream: S, lastSeq: 8 }])).toBe(false)
    expect(caughtUp(lease, [{ stream: S, lastSeq: 9 }])).toBe(true)
    // A stale leader still answering beside the current one holds the partition back.
    expect(caughtUp(lease, [{ stream: S, lastSeq: 40 }, { stream: S, lastSeq: 5 }])).toBe(false)
    // A stream made again since the floor was written is not held to it.
    expect(caughtUp(lease, [{ stream: "new", lastSeq: 0 }])).toBe(true)
  })
  it("holds needs the margin left: a process paused past its lease does not act", () => {
    const l = { owner: "a", term: 1, expiresAtMs: 1_000 }
    expect(holds(l, "a", 500, 200)).toBe(true)
    expect(holds(l, "a", 850, 200)).toBe(false)
    expect(holds(l, "b", 0, 0)).toBe(false)
  })
})
