// 32-bit structural hashes. The predictor compares states by hash so that it never has to
// keep a blob's previous content in memory (per-blob state must stay a few hundred bytes).

const scratch = new Float64Array(1)
const scratchWords = new Uint32Array(scratch.buffer)

/** Avalanche mixer (murmur3 finaliser) so that sums of mixed hashes stay well spread. */
export const mix = (h: number, x: number): number => {
  let k = (h ^ x) >>> 0
  k = Math.imul(k ^ (k >>> 16), 0x85ebca6b)
  k = Math.imul(k ^ (k >>> 13), 0xc2b2ae35)
  return (k ^ (k >>> 16)) >>> 0
}

export const hashString = (s: string, seed = 0x811c9dc5): number => {
  let h = seed >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** FNV-1a over bytes; streaming, so hash(a ++ b) = hashBytes(b, hashBytes(a)). */
export const hashBytes = (bytes: Uint8Array, seed = 0x811c9dc5): number => {
  let h = seed >>> 0
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export const hashNumber = (n: number): number => {
  scratch[0] = n
  return mix(mix(0x9e3779b9, scratchWords[0] as number), scratchWords[1] as number)
}

/** Key order matters on purpose: it is part of the bytes a reader would see. */
export const hashJson = (v: unknown): number => {
  if (v === null || v === undefined) return 0x1b873593
  switch (typeof v) {
    case "number":
      return hashNumber(v)
    case "string":
      return mix(0x2f, hashString(v))
    case "boolean":
      return v ? 0x3c6ef372 : 0xa54ff53a
    default:
      break
  }
  if (Array.isArray(v)) {
    let h = mix(0x51, v.length)
    for (const item of v) h = mix(h, hashJson(item))
    return h
  }
  let h = 0x7f4a7c15
  for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
    h = mix(mix(h, hashString(k)), hashJson(item))
  }
  return h
}

/** Hash of an array prefix, equal to hashJson(arr) when n = arr.length. */
export const hashArrayPrefix = (arr: readonly unknown[], n: number): number => {
  let h = mix(0x51, n)
  for (let i = 0; i < n; i++) h = mix(h, hashJson(arr[i]))
  return h
}

/** Per-field contribution to a whole-state hash; a sum so that one field can be swapped in O(1). */
export const fieldTerm = (index: number, valueHash: number): number => mix(index + 1, valueHash)

export const combineTerms = (a: number, b: number): number => (a + b) >>> 0
export const removeTerm = (a: number, b: number): number => (a - b) >>> 0
