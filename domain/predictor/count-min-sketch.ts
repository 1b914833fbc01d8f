import { hashString, mix } from "./hash.ts"

// Count-Min with conservative update: only the smallest counters grow, which tightens the
// over-estimate without ever under-counting. Periodic halving (as in TinyLFU) makes old
// popularity fade, so "hot" means hot recently.

export interface CountMinSketch {
  readonly depth: number
  readonly width: number
  readonly counters: Uint32Array
  additions: number
  readonly agingPeriod: number
}

export interface CountMinSketchJson {
  readonly depth: number
  readonly width: number
  readonly counters: number[]
  readonly additions: number
  readonly agingPeriod: number
}

export const createSketch = (depth: number, width: number, agingPeriod = width * 10): CountMinSketch => ({
  depth,
  width,
  counters: new Uint32Array(depth * width),
  additions: 0,
  agingPeriod,
})

const slot = (s: CountMinSketch, row: number, keyHash: number): number =>
  row * s.width + (mix(keyHash, row * 0x9e3779b1 + 1) % s.width)

export const estimateHash = (s: CountMinSketch, keyHash: number): number => {
  let min = Number.POSITIVE_INFINITY
  for (let r = 0; r < s.depth; r++) min = Math.min(min, s.counters[slot(s, r, keyHash)] as number)
  return min
}

export const estimate = (s: CountMinSketch, key: string): number => estimateHash(s, hashString(key))

/** Halves every counter; floor keeps estimates >= the equally halved exact count. */
export const age = (s: CountMinSketch): void => {
  for (let i = 0; i < s.counters.length; i++) s.counters[i] = (s.counters[i] as number) >>> 1
  s.additions = 0
}

export const addHash = (s: CountMinSketch, keyHash: number, count = 1): number => {
  const target = estimateHash(s, keyHash) + count
  for (let r = 0; r < s.depth; r++) {
    const i = slot(s, r, keyHash)
    if ((s.counters[i] as number) < target) s.counters[i] = Math.min(target, 0xffffffff)
  }
  s.additions += count
  if (s.additions >= s.agingPeriod) age(s)
  return target
}

export const add = (s: CountMinSketch, key: string, count = 1): number => addHash(s, hashString(key), count)

export const sketchToJson = (s: CountMinSketch): CountMinSketchJson => ({
  depth: s.depth,
  width: s.width,
  counters: Array.from(s.counters),
  additions: s.additions,
  agingPeriod: s.agingPeriod,
})

export const sketchFromJson = (j: CountMinSketchJson): CountMinSketch => ({
  depth: j.depth,
  width: j.width,
  counters: Uint32Array.from(j.counters),
  additions: j.additions,
  agingPeriod: j.agingPeriod,
})
