import { describe, expect, it } from "vitest"
import { JustInTime } from "../../services/predictor/just-in-time.ts"

describe("just-in-time emission", () => {
  it("releases held predictions when due, earliest first", () => {
    const j = new JustInTime<string>(10)
    j.hold("a", 30, "a@30")
    j.hold("b", 10, "b@10")
    j.hold("c", 20, "c@20")
    expect(j.release(5)).toEqual([])
    expect(j.nextDueMs()).toBe(10)
    expect(j.release(20)).toEqual(["b@10", "c@20"])
    expect(j.release(100)).toEqual(["a@30"])
    expect(j.size).toBe(0)
  })
  it("keeps one per blob: a newer prediction replaces the held one", () => {
    const j = new JustInTime<string>(10)
    j.hold("a", 10, "old")
    j.hold("a", 50, "new")
    expect(j.release(20)).toEqual([])
    expect(j.nextDueMs()).toBe(50)
    expect(j.release(60)).toEqual(["new"])
  })
  it("is bounded", () => {
    const j = new JustInTime<string>(2)
    j.hold("a", 1, "a")
    j.hold("b", 1, "b")
    j.hold("c", 1, "c")
    expect(j.size).toBe(2)
    expect(j.dropped).toBe(1)
  })
})
