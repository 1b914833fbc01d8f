import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { makeRng } from "../../../simulations/generators/prng.ts"
import { stochasticNext, ycsbHistory } from "../../../simulations/generators/value-shapes.ts"
import { interleave, replay, type Step } from "./helpers.ts"

const ORDER = ["new", "paid", "packed", "shipped", "delivered"]

describe("predictor honesty", () => {
  it("serves nothing on random YCSB payloads", () => {
    const history = ycsbHistory({ seed: 3, workload: "a", versions: 6000, recordCount: 300 })
    const { judged } = replay(history)
    expect(judged.filter((j) => j.prediction.served)).toHaveLength(0)
  })

  it("a stochastic state machine (p = 0.8) reports ~0.8 and is never served", () => {
    const rng = makeRng(11)
    const state = Array.from({ length: 40 }, () => rng.nextInt(ORDER.length))
    const history = interleave(40, 120, (b) => `order/${b}`, (b) => {
      const s = state[b] as number
      state[b] = stochasticNext(rng, s)
      return { state: ORDER[s] }
    })
    const { judged } = replay(history)
    expect(judged.filter((j) => j.prediction.served)).toHaveLength(0)
    const late = judged.slice(judged.length / 2)
    const mean = late.reduce((a, j) => a + j.prediction.confidence, 0) / late.length
    const accuracy = late.filter((j) => j.correct).length / late.length
    expect(Math.abs(mean - 0.8)).toBeLessThanOrEqual(0.05)
    expect(Math.abs(accuracy - 0.8)).toBeLessThanOrEqual(0.05)
  })

  it("a regime switch costs at most one served miss per blob", () => {
    const blobs = 30
    const switchAt = 60
    const history = interleave(blobs, 180, (b) => `ctr/${b}`, (b, k) => ({ n: k < switchAt ? b + k : b + switchAt + 5 * (k - switchAt) }))
    const { judged } = replay(history)
    const misses = new Map<string, number>()
    for (const j of judged) if (j.prediction.served && !j.correct) misses.set(j.prediction.id, (misses.get(j.prediction.id) ?? 0) + 1)
    for (const n of misses.values()) expect(n).toBeLessThanOrEqual(1)
    // The class is throttled for a while (classThrottleWrites), then the new regime is served.
    expect(judged.filter((j) => j.prediction.served && j.correct && j.prediction.basedOnVersion > switchAt + 80).length).toBeGreaterThan(0)
  })
})

const arbitraryHistory = fc
  .array(
    fc.record({ blob: fc.integer({ min: 0, max: 5 }), kind: fc.integer({ min: 0, max: 3 }), noise: fc.integer({ min: 0, max: 3 }) }),
    { minLength: 50, maxLength: 400 },
  )
  .map((ops): Step[] => {
    const k = new Map<number, number>()
    return ops.map((o, i) => {
      const n = (k.get(o.blob) ?? 0) + 1
      k.set(o.blob, n)
      const json = [{ n }, { s: ["a", "b", "c"][n % 3] }, { s: ["a", "b"][o.noise % 2], n }, { r: o.noise }][o.kind % 4]
      return { id: `p/${o.blob}`, time: 1_000 + i * 1_000, json }
    })
  })

describe("predictor properties", () => {
  it("never serves below the threshold", () => {
    fc.assert(
      fc.property(arbitraryHistory, fc.double({ min: 0.5, max: 0.999, noNaN: true }), (history, threshold) => {
        const { judged } = replay(history, { serveThreshold: threshold })
        for (const j of judged) if (j.prediction.served) expect(j.prediction.confidence).toBeGreaterThanOrEqual(threshold)
      }),
      { numRuns: 40 },
    )
  })

  it("the same history and seed give the same predictions", () => {
    fc.assert(
      fc.property(arbitraryHistory, fc.integer(), (history, seed) => {
        const a = replay(history, { seed }).judged.map((j) => [j.prediction.key, j.prediction.confidence, j.prediction.served, JSON.stringify(j.prediction.json)])
        const b = replay(history, { seed }).judged.map((j) => [j.prediction.key, j.prediction.confidence, j.prediction.served, JSON.stringify(j.prediction.json)])
        expect(a).toEqual(b)
      }),
      { numRuns: 30 },
    )
  })
})
