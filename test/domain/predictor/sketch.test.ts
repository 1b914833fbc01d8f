import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { add, age, createSketch, estimate } from "../../../domain/predictor/count-min-sketch.ts"
import { createSpaceSaving, offer, top } from "../../../domain/predictor/space-saving.ts"
import { createHotness, heat, hottest, record } from "../../../domain/predictor/hotness.ts"

describe("count-min sketch", () => {
  it("never under-counts, with conservative update and aging", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 5 })), { maxLength: 2000 }),
        fc.integer({ min: 8, max: 64 }),
        (ops, width) => {
          const s = createSketch(3, width, 500)
          const exact = new Map<string, number>()
          for (const [k, c] of ops) {
            const before = s.additions
            add(s, `k${k}`, c)
            exact.set(`k${k}`, (exact.get(`k${k}`) ?? 0) + c)
            // The sketch halved: the reference ages the same way (floor halving is monotone).
            if (s.additions < before + c) for (const [key, v] of exact) exact.set(key, Math.floor(v / 2))
          }
          for (const [k, v] of exact) expect(estimate(s, k)).toBeGreaterThanOrEqual(v)
        },
      ),
      { numRuns: 60 },
    )
  })

  it("halves on aging", () => {
    const s = createSketch(2, 64)
    add(s, "a", 10)
    age(s)
    expect(estimate(s, "a")).toBe(5)
  })
})

describe("space-saving and hotness", () => {
  it("keeps a key more frequent than N/k", () => {
    const ss = createSpaceSaving(4)
    for (let i = 0; i < 1000; i++) offer(ss, i % 2 === 0 ? "hot" : `cold${i}`)
    expect(top(ss, 1)[0]?.key).toBe("hot")
  })

  it("weights writes above reads", () => {
    const h = createHotness()
    record(h, "r", "read", 3)
    record(h, "w", "write", 3)
    expect(heat(h, "w")).toBeGreaterThan(heat(h, "r"))
    expect(hottest(h, 1)[0]?.key).toBe("w")
  })
})
