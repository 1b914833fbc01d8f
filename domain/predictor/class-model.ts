import type { Path } from "./json-fields.ts"
import { mix } from "./hash.ts"

// Tables shared by every blob of a class (key prefix + schema fingerprint), so that a new
// blob of a known class is predicted after a write or two. Every table has a size limit.

export const COMPONENTS = ["no-change", "stride", "field-state-machine", "append-template", "signature-context"] as const
export type ComponentName = (typeof COMPONENTS)[number]
export const COMPONENT_COUNT = COMPONENTS.length

export const MAX_DICTIONARY = 64
export const MAX_PATTERNS = 16_384
export const MAX_SIGNATURE_CONTEXTS_LIMIT = 8_192

/** Counts of next symbols per context; argmax with a deterministic tie-break. */
export type NextCounts = Map<number, number>

export interface FieldModel {
  readonly path: Path
  /** Slab slots: [hash, previous hash] and, for numeric fields, [number, step]. */
  readonly offset: number
  readonly numeric: boolean
  readonly array: boolean
  /** Values seen, by hash, so a predicted symbol can be written back; undefined once too many. */
  dict: Map<number, unknown> | undefined
  readonly fsm1: Map<number, NextCounts>
  readonly fsm2: Map<number, NextCounts>
  classStep: number
  strideHits: number
  strideTries: number
  fsmHits: number
  fsmTries: number
}

export interface PatternStat {
  hits: number
  n: number
  /** Forward probabilistic confidence counter: climbs slowly on hits, back to 0 on a miss. */
  fpc: number
}

export interface ClassModel {
  readonly index: number
  readonly key: string
  readonly binary: boolean
  readonly fingerprint: number
  readonly fields: FieldModel[]
  readonly slabSize: number
  readonly signatures: Map<number, NextCounts>
  readonly patterns: Map<number, PatternStat>
  readonly compHits: number[]
  readonly compTries: number[]
  observed: number
  servedMissScore: number
  throttledUntil: number
}

// Blob slab header: one packed number[] per tracked blob keeps V8 overhead to one object.
export const S = {
  CLS: 0,
  VER: 1,
  TIME: 2,
  GAP_N: 3,
  GAP_MEAN: 4,
  GAP_M2: 5,
  SIG1: 6,
  SIG2: 7,
  SIG3: 8,
  QUIET_UNTIL: 9,
  /** 0 none, 1 pending, 2 pending and already scored via outcome(). */
  P_STATE: 10,
  P_COMP: 11,
  /** validFrom epoch ms, or -1 for on-write. */
  P_VALID: 12,
  P_RAW: 13,
  P_SERVED: 14,
  CONTENT: 15,
  P_HASH: 16,
  P_KEY: 16 + COMPONENT_COUNT,
  HEADER: 16 + 2 * COMPONENT_COUNT,
} as const

export const createClass = (
  index: number,
  key: string,
  binary: boolean,
  fingerprint: number,
  paths: readonly Path[],
  sample: readonly unknown[],
): ClassModel => {
  let offset: number = S.HEADER
  const fields: FieldModel[] = paths.map((path, i) => {
    const v = sample[i]
    const numeric = binary || typeof v === "number"
    const f: FieldModel = {
      path,
      offset,
      numeric,
      array: Array.isArray(v),
      dict: binary || Array.isArray(v) ? undefined : new Map(),
      fsm1: new Map(),
      fsm2: new Map(),
      classStep: Number.NaN,
      strideHits: 0,
      strideTries: 0,
      fsmHits: 0,
      fsmTries: 0,
    }
    offset += numeric ? 4 : 2
    return f
  })
  return {
    index,
    key,
    binary,
    fingerprint,
    fields,
    slabSize: offset,
    signatures: new Map(),
    patterns: new Map(),
    compHits: new Array<number>(COMPONENT_COUNT).fill(0),
    compTries: new Array<number>(COMPONENT_COUNT).fill(0),
    observed: 0,
    servedMissScore: 0,
    throttledUntil: 0,
  }
}

export const argmax = (counts: NextCounts | undefined, exclude?: number): { next: number; count: number; total: number } | undefined => {
  if (counts === undefined) return undefined
  let best: number | undefined
  let bestCount = 0
  let total = 0
  for (const [next, c] of counts) {
    if (next === exclude) continue
    total += c
    if (c > bestCount || (c === bestCount && best !== undefined && next < best)) {
      best = next
      bestCount = c
    }
  }
  return best === undefined ? undefined : { next: best, count: bestCount, total }
}

export const bump = (table: Map<number, NextCounts>, ctx: number, next: number, limit: number): void => {
  let counts = table.get(ctx)
  if (counts === undefined) {
    if (table.size >= limit) return
    counts = new Map()
    table.set(ctx, counts)
  }
  counts.set(next, (counts.get(next) ?? 0) + 1)
}

export const fsmContext1 = (fieldIndex: number, h: number): number => mix(mix(0xf1, fieldIndex), h)
export const fsmContext2 = (fieldIndex: number, h2: number, h: number): number => mix(fsmContext1(fieldIndex, h), h2)

/** Symbol predicted for a field: order-2 context when it has been seen twice, else order 1. */
export const fsmPredict = (
  f: FieldModel,
  index: number,
  h2: number,
  h: number,
  excludeSelf: boolean,
): { next: number; context: number; evidence: number } | undefined => {
  if (f.dict === undefined) return undefined
  const exclude = excludeSelf ? h : undefined
  const c2 = fsmContext2(index, h2, h)
  const o2 = argmax(f.fsm2.get(c2), exclude)
  if (o2 !== undefined && o2.total >= 2) return { next: o2.next, context: c2, evidence: evidenceKey(2, o2.count, o2.total) }
  const c1 = fsmContext1(index, h)
  const o1 = argmax(f.fsm1.get(c1), exclude)
  return o1 === undefined ? undefined : { next: o1.next, context: c1, evidence: evidenceKey(1, o1.count, o1.total) }
}

/**
 * What a table lookup's track record looks like, coarsely: order, purity (share of the
 * winning successor, 5% steps) and support (under 4, under 16, more). Pattern statistics are kept
 * per evidence bucket rather than per context, so that every context with the same kind of
 * evidence shares one success count (empirical Bayes) and rare contexts are not cold.
 */
export const evidenceKey = (order: number, count: number, total: number): number =>
  order * 1000 + Math.floor((20 * count) / total) * 10 + (total >= 16 ? 2 : total >= 4 ? 1 : 0)

export const learnSymbol = (f: FieldModel, index: number, h2: number, h: number, next: number, value: unknown): void => {
  if (f.dict === undefined) return
  if (!f.dict.has(next)) {
    if (f.dict.size >= MAX_DICTIONARY) {
      // Too many distinct values to be a state: stop spending memory on it.
      f.dict = undefined
      f.fsm1.clear()
      f.fsm2.clear()
      return
    }
    f.dict.set(next, value)
  }
  bump(f.fsm1, fsmContext1(index, h), next, MAX_DICTIONARY)
  bump(f.fsm2, fsmContext2(index, h2, h), next, MAX_DICTIONARY * MAX_DICTIONARY)
}

const rate = (hits: number, tries: number): number => (hits + 1) / (tries + 2)

/**
 * A field whose next value is better looked up than computed. Numbers qualify only when the
 * state machine beats the stride (cyclic day-of-week does, a counter does not): otherwise
 * every counter value would become a context of its own and nothing would be learned.
 */
export const isEnumLike = (f: FieldModel): boolean =>
  f.dict !== undefined && (!f.numeric || rate(f.fsmHits, f.fsmTries) > rate(f.strideHits, f.strideTries))

export const pattern = (cls: ClassModel, key: number): PatternStat | undefined => cls.patterns.get(key)

export const patternFor = (cls: ClassModel, key: number): PatternStat | undefined => {
  const hit = cls.patterns.get(key)
  if (hit !== undefined || cls.patterns.size >= MAX_PATTERNS) return hit
  const fresh: PatternStat = { hits: 0, n: 0, fpc: 0 }
  cls.patterns.set(key, fresh)
  return fresh
}
