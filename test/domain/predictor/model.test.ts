import { describe, expect, it } from "vitest"
import { createPredictor, restorePredictor } from "../../../domain/predictor/predictor.ts"
import { binOf, calibrate, createCalibrator, pav, recordOutcome } from "../../../domain/predictor/calibration.ts"
import { expectedCalibrationError, reliabilityBins, wilsonLower } from "../../../domain/predictor/ece.ts"
import { addGap, emptyGaps, validFrom, type GapStats } from "../../../domain/predictor/valid-from.ts"
import { interleave, replay } from "./helpers.ts"

const gaps = (values: readonly number[]): GapStats => values.reduce(addGap, emptyGaps)

describe("valid-from", () => {
  it("time-triggers regular writers at a high quantile of the gap", () => {
    const v = validFrom(gaps(Array.from({ length: 20 }, (_, i) => 60_000 + (i % 2 === 0 ? 300 : -300))), 1_000_000)
    expect(v.kind).toBe("at")
    expect(v.kind === "at" && v.epochMs).toBeGreaterThan(1_000_000 + 60_300)
    expect(v.kind === "at" && v.epochMs).toBeLessThan(1_000_000 + 65_000)
  })

  it("irregular writers and short histories wait for the write", () => {
    expect(validFrom(gaps([1_000, 90_000, 5_000, 40_000, 2_000, 70_000, 10_000, 30_000, 8_000]), 0)).toEqual({ kind: "on-write" })
    expect(validFrom(gaps([60_000, 60_000]), 0)).toEqual({ kind: "on-write" })
  })
})

describe("calibration and measures", () => {
  it("PAV pools violators into a monotone fit", () => {
    const blocks = pav([9, 1, 5], [10, 10, 10])
    expect(blocks.map((b) => b.hits / b.total)).toEqual([0.5, 0.5])
  })

  it("isotonic recalibration maps an over-confident score to the observed rate", () => {
    const c = createCalibrator(100, 20)
    for (let i = 0; i < 5_000; i++) recordOutcome(c, 0.95, i % 10 < 7)
    expect(calibrate(c, 0.95)).toBeCloseTo(0.7, 1)
    expect(binOf(0.999)).toBeGreaterThan(binOf(0.99))
  })

  it("ECE is 0 when calibrated and the Wilson bound is below the rate", () => {
    const outcomes = Array.from({ length: 1000 }, (_, i) => ({ confidence: 0.7, correct: i % 10 < 7 }))
    expect(expectedCalibrationError(outcomes)).toBeCloseTo(0, 5)
    expect(reliabilityBins(outcomes)).toHaveLength(10)
    expect(wilsonLower(995, 1000)).toBeGreaterThan(0.988)
    expect(wilsonLower(995, 1000)).toBeLessThan(0.995)
  })
})

describe("predictor facade", () => {
  const history = interleave(10, 40, (b) => `ctr/${b}`, (b, k) => ({ n: b + 2 * k, s: ["a", "b"][k % 2] }))

  it("a restored snapshot continues exactly like the original", () => {
    const cut = history.length / 2
    const a = replay(history.slice(0, cut))
    const snapshot = JSON.parse(JSON.stringify(a.predictor.snapshot())) as ReturnType<typeof a.predictor.snapshot>
    const cont = replay(history.slice(cut), {}, a.predictor).judged.map((j) => [j.prediction.key, j.prediction.confidence, j.prediction.served])
    const restored = replay(history.slice(cut), {}, restorePredictor(snapshot)).judged.map((j) => [j.prediction.key, j.prediction.confidence, j.prediction.served])
    expect(restored).toEqual(cont)
  })

  it("outcome() takes reconciler verdicts, and a served miss makes the blob quiet", () => {
    const { predictor } = replay(history)
    const p = predictor.observe({ id: "ctr/1", version: 41, timeMs: 1_400_001, content: new TextEncoder().encode('{"n":81,"s":"a"}'), json: { n: 81, s: "a" } })
    expect(p?.served).toBe(true)
    expect(predictor.outcome(p?.key ?? "", false)).toBe(true)
    expect(predictor.outcome(p?.key ?? "", false)).toBe(false)
    const q = predictor.observe({ id: "ctr/1", version: 42, timeMs: 1_410_001, content: new TextEncoder().encode('{"n":99,"s":"a"}'), json: { n: 99, s: "a" } })
    expect(q?.served ?? false).toBe(false)
  })

  it("tracks at most maxTrackedBlobs and reports its size", () => {
    const p = createPredictor({ maxTrackedBlobs: 5 })
    replay(history, {}, p)
    expect(p.stats().trackedBlobs).toBe(5)
    expect(p.stats().approxBytesPerTrackedBlob).toBeGreaterThan(0)
  })

  it("predicts binary append-only content", () => {
    const chunk = new Uint8Array([1, 2, 3, 4])
    const p = createPredictor()
    let last
    for (let b = 0; b < 4; b++) {
      for (let v = 1; v <= 30; v++) {
        const content = new Uint8Array(chunk.length * v)
        for (let i = 0; i < v; i++) content.set(chunk, i * chunk.length)
        last = p.observe({ id: `bin/${b}`, version: v, timeMs: v * 1000 + b, content })
      }
    }
    expect(last?.model).toBe("append-template")
    expect(last?.content.length).toBe(31 * 4)
  })
})
