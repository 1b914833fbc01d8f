import { makeRng, type Rng } from "./rng.ts"

// The predictor's generators draw from the simulations' seeded xoshiro128** (rng.ts) and add
// the few helpers value shapes need. Same seed, same history.

export type { Rng }
export { makeRng }

export const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.nextInt(items.length)] as T

export const intBetween = (rng: Rng, lo: number, hi: number): number => lo + rng.nextInt(hi - lo + 1)

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

export const randomString = (rng: Rng, length: number): string => {
  let s = ""
  for (let i = 0; i < length; i++) s += ALPHABET[rng.nextInt(ALPHABET.length)]
  return s
}

/** Index drawn with probability proportional to its weight. */
export const weighted = (rng: Rng, weights: readonly number[]): number => {
  const total = weights.reduce((a, b) => a + b, 0)
  let u = rng.nextFloat() * total
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i] as number
    if (u < 0) return i
  }
  return weights.length - 1
}
