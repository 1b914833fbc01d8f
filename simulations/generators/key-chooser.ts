/**
 * Seeded key choosers, ported from YCSB (core/src/main/java/site/ycsb/generator) so that
 * "zipfian" here means exactly what it means in published YCSB results: Gray et al.'s
 * "Quickly generating billion-record synthetic databases" (SIGMOD 1994) method.
 */
import type { KeyDistribution } from "../scenario.ts"
import type { Rng } from "./rng.ts"

export const YCSB_ZIPFIAN_CONSTANT = 0.99
/** ScrambledZipfianGenerator draws from this many items, then hashes into the key space. */
export const YCSB_SCRAMBLED_ITEM_COUNT = 10_000_000_000
/** YCSB's precomputed zeta(10^10, 0.99). */
export const YCSB_SCRAMBLED_ZETAN = 26.46902820178302

// Beyond this, zeta is summed with the Euler–Maclaurin tail rather than term by term:
// YCSB itself would spend minutes summing 10^10 terms for a non-default constant.
const EXACT_ZETA_TERMS = 1_000_000

/** sum_{i=st+1}^{n} 1/i^theta + initialSum: YCSB's incremental zeta. */
export const zetaRange = (st: number, n: number, theta: number, initialSum: number): number => {
  if (n - st > EXACT_ZETA_TERMS) return initialSum + zetaApprox(n, theta) - zetaApprox(st, theta)
  let sum = initialSum
  for (let i = st; i < n; i++) sum += 1 / Math.pow(i + 1, theta)
  return sum
}

/** zeta(n, theta) = sum_{i=1}^{n} 1/i^theta, exact for small n, Euler–Maclaurin (error < 1e-12) beyond. */
export const zetaApprox = (n: number, theta: number): number => {
  const m = 1_000
  if (n <= m) return zetaRange(0, n, theta, 0)
  const head = zetaRange(0, m - 1, theta, 0)
  const integral = (Math.pow(n, 1 - theta) - Math.pow(m, 1 - theta)) / (1 - theta)
  const ends = (Math.pow(m, -theta) + Math.pow(n, -theta)) / 2
  const firstDerivative = (theta / 12) * (Math.pow(m, -theta - 1) - Math.pow(n, -theta - 1))
  return head + integral + ends + firstDerivative
}

export interface Zipfian {
  /** A value in [base, base + itemCount), base most popular; itemCount may grow (YCSB's `nextLong(itemcount)`). */
  readonly next: (itemCount?: number) => number
  readonly itemCount: () => number
}

/** YCSB ZipfianGenerator(min, max, constant[, zetan]). */
export const makeZipfian = (rng: Rng, min: number, max: number, theta: number, precomputedZetan?: number): Zipfian => {
  const items = max - min + 1
  const zeta2theta = zetaRange(0, 2, theta, 0)
  const alpha = 1 / (1 - theta)
  let zetan = precomputedZetan ?? zetaRange(0, items, theta, 0)
  let countForZeta = items
  // YCSB recomputes eta with the original `items`, not the grown count; kept for fidelity.
  const etaFor = (z: number): number => (1 - Math.pow(2 / items, 1 - theta)) / (1 - zeta2theta / z)
  let eta = etaFor(zetan)
  const halfPowTheta = 1 + Math.pow(0.5, theta)

  const next = (itemCount: number = countForZeta): number => {
    if (itemCount > countForZeta) {
      zetan = zetaRange(countForZeta, itemCount, theta, zetan)
      countForZeta = itemCount
      eta = etaFor(zetan)
    }
    const u = rng.nextFloat()
    const uz = u * zetan
    if (uz < 1) return min
    if (uz < halfPowTheta) return min + 1
    return min + Math.floor(itemCount * Math.pow(eta * u - eta + 1, alpha))
  }
  return { next, itemCount: () => countForZeta }
}

const FNV_OFFSET_BASIS_64 = 0xcbf29ce484222325n
const FNV_PRIME_64 = 1099511628211n

/** YCSB Utils.fnvhash64: FNV-1a over the 8 little-endian bytes, as a non-negative Java long. */
export const fnvhash64 = (value: number): bigint => {
  let val = BigInt.asIntN(64, BigInt(value))
  let hash = BigInt.asIntN(64, FNV_OFFSET_BASIS_64)
  for (let i = 0; i < 8; i++) {
    const octet = val & 0xffn
    val = val >> 8n
    hash = BigInt.asIntN(64, (hash ^ octet) * FNV_PRIME_64)
  }
  return hash < 0n ? BigInt.asIntN(64, -hash) : hash
}

/** YCSB ScrambledZipfianGenerator: popular items scattered over [min, max] instead of clustered at min. */
export const makeScrambledZipfian = (rng: Rng, min: number, max: number, theta: number): (() => number) => {
  const itemCount = BigInt(max - min + 1)
  const zetan = theta === YCSB_ZIPFIAN_CONSTANT ? YCSB_SCRAMBLED_ZETAN : zetaApprox(YCSB_SCRAMBLED_ITEM_COUNT, theta)
  const zipfian = makeZipfian(rng, 0, YCSB_SCRAMBLED_ITEM_COUNT, theta, zetan)
  return () => min + Number(fnvhash64(zipfian.next()) % itemCount)
}

/** YCSB HotspotIntegerGenerator: hotOpFraction of draws fall uniformly in the first hotFraction of keys. */
export const makeHotspot = (rng: Rng, count: number, hotFraction: number, hotOpFraction: number): (() => number) => {
  const hotCount = Math.max(1, Math.floor(count * hotFraction))
  const coldCount = count - hotCount
  return () =>
    coldCount === 0 || rng.nextFloat() < hotOpFraction ? rng.nextInt(hotCount) : hotCount + rng.nextInt(coldCount)
}

export interface KeyChooser {
  /** The key index an operation on an existing key targets. */
  readonly next: () => number
  /** A fresh key index for an insert; the key space grows by one (YCSB's insert sequence). */
  readonly insert: () => number
  /** Keys that exist so far: the initial count plus inserts. */
  readonly size: () => number
}

/** YCSB SkewedLatestGenerator: Zipfian over recency, the newest insert most popular. */
const makeLatest = (rng: Rng, size: () => number): (() => number) => {
  const zipfian = makeZipfian(rng, 0, Math.max(1, size() - 1) - 1, YCSB_ZIPFIAN_CONSTANT)
  return () => {
    const last = size() - 1
    return last <= 0 ? 0 : last - zipfian.next(last)
  }
}

export const makeKeyChooser = (distribution: KeyDistribution, initialCount: number, rng: Rng): KeyChooser => {
  let count = initialCount
  const size = (): number => count
  const insert = (): number => count++
  const chooseExisting = ((): (() => number) => {
    switch (distribution.kind) {
      case "uniform":
        return () => rng.nextInt(count)
      case "zipfian":
        // Inserted keys are not drawn, as in YCSB's workloads that pair Zipfian with updates.
        return distribution.scrambled === false
          ? ((z) => () => z.next())(makeZipfian(rng, 0, initialCount - 1, distribution.constant))
          : makeScrambledZipfian(rng, 0, initialCount - 1, distribution.constant)
      case "latest":
        return makeLatest(rng, size)
      case "hotspot":
        return makeHotspot(rng, initialCount, distribution.hotFraction, distribution.hotOpFraction)
    }
  })()
  return { next: chooseExisting, insert, size }
}

/** The blob id of a key index; zero-padding is avoided so ids stay as YCSB numbers them. */
export const keyName = (prefix: string, index: number): string => `${prefix}${index}`

/** Analytic Zipfian probability of the item of rank `rank` (0 = most popular) among n: (1/(rank+1)^theta)/zeta(n). */
export const zipfianProbability = (rank: number, n: number, theta: number): number =>
  1 / Math.pow(rank + 1, theta) / zetaApprox(n, theta)

/**
 * The exact probability that YCSB's ZipfianGenerator (Gray et al.'s approximation) yields
 * `rank` among n items. Ranks 0 and 1 equal the true Zipfian; beyond, Gray's closed form
 * over-weights the next few ranks (rank 2 by ~17% at theta 0.99), which is what YCSB runs do.
 */
export const ycsbZipfianProbability = (rank: number, n: number, theta: number): number => {
  const zetan = zetaApprox(n, theta)
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zetaRange(0, 2, theta, 0) / zetan)
  const firstTwo = (1 + Math.pow(0.5, theta)) / zetan
  // u at which floor(n * (eta*u - eta + 1)^alpha) reaches r, clamped to the third branch.
  const threshold = (r: number): number => Math.min(1, Math.max(firstTwo, 1 + (Math.pow(r / n, 1 - theta) - 1) / eta))
  const direct = rank === 0 ? 1 / zetan : rank === 1 ? Math.pow(0.5, theta) / zetan : 0
  return direct + threshold(rank + 1) - threshold(rank)
}
