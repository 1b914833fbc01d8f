import { describe, expect, it } from "vitest"
import { closedLoopPlan, expectedOperationCount, intendedSendTimesMs, rateSegments } from "../../simulations/arrival.ts"
import {
  makeHotspot,
  makeKeyChooser,
  makeScrambledZipfian,
  makeZipfian,
  YCSB_SCRAMBLED_ITEM_COUNT,
  YCSB_SCRAMBLED_ZETAN,
  ycsbZipfianProbability,
  zetaApprox,
  zipfianProbability,
} from "../../simulations/generators/key-chooser.ts"
import { makeRng } from "../../simulations/generators/rng.ts"

const histogram = (draw: () => number, n: number, samples: number): number[] => {
  const counts = new Array<number>(n).fill(0)
  for (let i = 0; i < samples; i++) {
    const k = draw()
    counts[k] = (counts[k] ?? 0) + 1
  }
  return counts
}

describe("YCSB Zipfian (theta 0.99)", () => {
  const n = 1000
  const samples = 200_000

  it("computes zeta as YCSB does, including its precomputed zeta(10^10)", () => {
    expect(zetaApprox(YCSB_SCRAMBLED_ITEM_COUNT, 0.99)).toBeCloseTo(YCSB_SCRAMBLED_ZETAN, 9)
  })

  it("top-key frequencies match YCSB's analytic distribution within tolerance", () => {
    const counts = histogram(makeZipfian(makeRng(42), 0, n - 1, 0.99).next, n, samples)
    for (let rank = 0; rank < 10; rank++) {
      const p = ycsbZipfianProbability(rank, n, 0.99)
      const sigma = Math.sqrt(p * (1 - p) / samples)
      // 5 sigma: a correct generator fails this about once in 3.5 million runs per key.
      expect(Math.abs((counts[rank] ?? 0) / samples - p)).toBeLessThan(5 * sigma)
    }
    // Ranks 0 and 1 are exactly Zipf's 1/zeta(n) and 0.5^theta/zeta(n).
    expect((counts[0] ?? 0) / samples).toBeCloseTo(zipfianProbability(0, n, 0.99), 2)
    expect((counts[1] ?? 0) / samples).toBeCloseTo(zipfianProbability(1, n, 0.99), 2)
  })

  it("the scrambled variant keeps the hottest key's frequency and spreads hot keys", () => {
    const counts = histogram(makeScrambledZipfian(makeRng(7), 0, n - 1, 0.99), n, samples)
    const sorted = [...counts].sort((a, b) => b - a)
    const p0 = 1 / YCSB_SCRAMBLED_ZETAN
    // Hashing 10^10 items onto n keys can only add mass to the hottest key.
    expect((sorted[0] ?? 0) / samples).toBeGreaterThan(p0 - 5 * Math.sqrt(p0 / samples))
    expect((sorted[0] ?? 0) / samples).toBeLessThan(p0 + 0.01)
    expect(counts.indexOf(sorted[0] ?? -1)).not.toBe(0)
  })

  it("is deterministic for a seed", () => {
    const a = makeKeyChooser({ kind: "zipfian", constant: 0.99 }, 100, makeRng(1))
    const b = makeKeyChooser({ kind: "zipfian", constant: 0.99 }, 100, makeRng(1))
    expect(Array.from({ length: 50 }, a.next)).toEqual(Array.from({ length: 50 }, b.next))
  })
})

describe("other key distributions", () => {
  it("hotspot sends the hot fraction of operations to the hot fraction of keys", () => {
    const counts = histogram(makeHotspot(makeRng(3), 100, 0.2, 0.8), 100, 50_000)
    const hot = counts.slice(0, 20).reduce((a, b) => a + b, 0) / 50_000
    expect(hot).toBeGreaterThan(0.78)
    expect(hot).toBeLessThan(0.82)
  })

  it("latest favours the newest inserts", () => {
    const chooser = makeKeyChooser({ kind: "latest" }, 1000, makeRng(5))
    for (let i = 0; i < 100; i++) chooser.insert()
    const draws = Array.from({ length: 20_000 }, chooser.next)
    expect(chooser.size()).toBe(1100)
    expect(draws.every((k) => k >= 0 && k < 1100)).toBe(true)
    expect(draws.filter((k) => k >= 1090).length / draws.length).toBeGreaterThan(0.3)
  })

  it("uniform stays in range", () => {
    const chooser = makeKeyChooser({ kind: "uniform" }, 10, makeRng(9))
    expect(new Set(Array.from({ length: 1000 }, chooser.next))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
  })
})

describe("arrival schedules", () => {
  it("constant arrivals are evenly spaced and follow phase rate changes", () => {
    const segments = rateSegments(10, [{ atSec: 1, ratePerSec: 20, clients: undefined, thinkTimeMs: undefined }], 2)
    const times = [...intendedSendTimesMs("constant", segments, makeRng(1))]
    expect(times.slice(0, 3)).toEqual([0, 100, 200])
    expect(times.length).toBe(30)
    expect(expectedOperationCount(segments)).toBe(30)
  })

  it("poisson arrivals average the rate and are reproducible from the seed", () => {
    const segments = rateSegments(1000, [], 10)
    const a = [...intendedSendTimesMs("poisson", segments, makeRng(11))]
    const b = [...intendedSendTimesMs("poisson", segments, makeRng(11))]
    expect(a).toEqual(b)
    expect(Math.abs(a.length - 10_000)).toBeLessThan(500)
    expect(a.every((t, i) => i === 0 || t >= (a[i - 1] ?? 0))).toBe(true)
  })

  it("closed loop plans step the client population", () => {
    const plan = closedLoopPlan({ mode: "closed", clients: 10, thinkTimeMs: 5 }, [{ atSec: 2, ratePerSec: undefined, clients: 40, thinkTimeMs: undefined }])
    expect(plan.steps).toEqual([{ atMs: 0, clients: 10, thinkTimeMs: 5 }, { atMs: 2000, clients: 40, thinkTimeMs: 5 }])
    expect(plan.peakClients).toBe(40)
  })
})
