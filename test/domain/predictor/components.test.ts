import { describe, expect, it } from "vitest"
import { interleave, replay, type Judged } from "./helpers.ts"
import { nextItem } from "../../../domain/predictor/append-template.ts"

// Each component on a small history of a class of blobs: after a short warm-up the emitted
// prediction is the component's, and it is right.

const lastJudged = (judged: readonly Judged[], id: string): Judged | undefined => judged.filter((j) => j.prediction.id === id).at(-1)

const expectLearned = (judged: readonly Judged[], id: string, model: string): void => {
  const last = lastJudged(judged, id)
  expect(last?.correct).toBe(true)
  expect(last?.prediction.model).toBe(model)
}

describe("component predictors", () => {
  it("no-change: rewrites of the same content", () => {
    const { judged } = replay(interleave(5, 30, (b) => `cfg/${b}`, (b) => ({ ttl: 60 * b, on: true })))
    expectLearned(judged, "cfg/3", "no-change")
  })

  it("stride: counters moving by a constant step", () => {
    const { judged } = replay(interleave(5, 30, (b) => `ctr/${b}`, (b, k) => ({ n: b * 100 + 3 * k })))
    expectLearned(judged, "ctr/4", "stride")
    expect(lastJudged(judged, "ctr/4")?.prediction.json).toEqual({ n: 400 + 3 * 29 })
  })

  it("field-state-machine: an order-2 cycle of states", () => {
    const modes = ["idle", "busy", "idle", "maint"]
    const { judged } = replay(interleave(5, 40, (b) => `dev/${b}`, (b, k) => ({ mode: modes[(b + k) % 4] })))
    const last = lastJudged(judged, "dev/2")
    expect(last?.correct).toBe(true)
    expect(["field-state-machine", "signature-context"]).toContain(last?.prediction.model)
  })

  it("append-template: a log growing by a templated entry", () => {
    const entries = (k: number): unknown[] => Array.from({ length: k + 1 }, (_, i) => ({ seq: i + 1, msg: "tick" }))
    const { judged } = replay(interleave(5, 25, (b) => `log/${b}`, (_, k) => ({ entries: entries(k) })))
    const last = lastJudged(judged, "log/1")
    expect(last?.correct).toBe(true)
    // The signature predictor proposes the same state (it appends through the template too).
    expect(["append-template", "signature-context"]).toContain(last?.prediction.model)
  })

  it("append-template continues numeric progressions and copies the rest", () => {
    expect(nextItem([{ seq: 1, at: 100, msg: "a" }, { seq: 2, at: 160, msg: "b" }])).toEqual({ seq: 3, at: 220, msg: "b" })
    expect(nextItem([5, 7])).toBe(9)
    expect(nextItem(["x"])).toBe("x")
  })

  it("signature-context: fields that change together (state and a run counter)", () => {
    const states = ["queued", "running", "done"]
    const value = (b: number, k: number): unknown => {
      const i = (b + k) % 3
      return { state: states[i], runs: Math.floor((b + k + 2) / 3) }
    }
    const { judged } = replay(interleave(6, 45, (b) => `job/${b}`, value))
    const mine = judged.filter((j) => j.prediction.id === "job/5").slice(-6)
    expect(mine.every((j) => j.correct)).toBe(true)
    expect(mine.some((j) => j.prediction.model === "signature-context")).toBe(true)
  })

  it("a new blob of a known class is predicted after a write or two", () => {
    const warm = interleave(20, 30, (b) => `ctr/${b}`, (b, k) => ({ n: b + k }))
    const fresh = Array.from({ length: 4 }, (_, k) => ({ id: "ctr/new", time: 2_000_000_000 + k * 10_000, json: { n: 500 + k } }))
    const { judged } = replay([...warm, ...fresh])
    const mine = judged.filter((j) => j.prediction.id === "ctr/new")
    expect(mine[0]?.prediction.basedOnVersion).toBe(1)
    expect(mine.every((j) => j.correct)).toBe(true)
    // Served from the second write on: the class's record carries the newcomer.
    expect(mine[1]?.prediction.served).toBe(true)
  })
})
