/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32) so a scenario's seed
 * reproduces every random choice of a run. Math.random is never used in simulations:
 * a failing seed must replay the same keys, values and arrival gaps.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  readonly nextFloat: () => number
  /** Uniform integer in [0, n); n must be a positive safe integer. */
  readonly nextInt: (n: number) => number
  /** Exponentially distributed gap with the given rate (events per unit); mean 1/rate. */
  readonly exponential: (rate: number) => number
  /** A new independent stream derived from this one, for a sub-component. */
  readonly fork: () => Rng
}

const splitmix32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0

/** Seeds beyond 32 bits are folded so that large integer seeds from YAML still differ. */
const foldSeed = (seed: number): number => {
  const low = seed >>> 0
  const high = Math.floor(seed / 0x1_0000_0000) >>> 0
  return (low ^ Math.imul(high, 0x27d4eb2d)) >>> 0
}

export const makeRng = (seed: number): Rng => {
  const sm = splitmix32(foldSeed(seed))
  let s0 = sm()
  let s1 = sm()
  let s2 = sm()
  let s3 = sm()
  // xoshiro must not start from the all-zero state.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0
    const t = (s1 << 9) >>> 0
    s2 = (s2 ^ s0) >>> 0
    s3 = (s3 ^ s1) >>> 0
    s1 = (s1 ^ s2) >>> 0
    s0 = (s0 ^ s3) >>> 0
    s2 = (s2 ^ t) >>> 0
    s3 = rotl(s3, 11)
    return result
  }

  // 53 random bits, so that nextFloat resolves the far tail YCSB's Zipfian relies on.
  const nextFloat = (): number => ((nextU32() >>> 5) * 0x4000000 + (nextU32() >>> 6)) / 0x20000000000000

  const nextInt = (n: number): number => Math.floor(nextFloat() * n)

  const exponential = (rate: number): number => -Math.log(1 - nextFloat()) / rate

  const fork = (): Rng => makeRng(nextU32() * 0x1_0000 + (nextU32() >>> 16))

  return { nextFloat, nextInt, exponential, fork }
}
