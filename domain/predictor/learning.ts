import { learnSymbol, fsmPredict, bump, MAX_SIGNATURE_CONTEXTS_LIMIT, S, type ClassModel } from "./class-model.ts"
import { combineTerms, fieldTerm, hashBytes, hashJson } from "./hash.ts"
import { classifyBinary, deltaKindOf, DELTA_KINDS, type VersionContext } from "./delta.ts"
import { MAX_SIGNATURE_FIELDS, signatureContexts } from "./signature-context.ts"
import { addGap } from "./valid-from.ts"

// Folding one committed version into a blob's slab and its class's tables. The slab holds
// only hashes and numbers of the previous version, never its content.

export const newSlab = (cls: ClassModel): number[] => {
  const slab = new Array<number>(cls.slabSize).fill(Number.NaN)
  slab[S.CLS] = cls.index
  slab[S.VER] = 0
  slab[S.GAP_N] = 0
  slab[S.GAP_MEAN] = 0
  slab[S.GAP_M2] = 0
  slab[S.SIG1] = -1
  slab[S.SIG2] = -1
  slab[S.SIG3] = -1
  slab[S.QUIET_UNTIL] = 0
  slab[S.P_STATE] = 0
  return slab
}

export const recordTiming = (slab: number[], timeMs: number): void => {
  const prev = slab[S.TIME] as number
  if (!Number.isNaN(prev) && (slab[S.VER] as number) > 0 && timeMs >= prev) {
    const g = addGap({ n: slab[S.GAP_N] as number, meanMs: slab[S.GAP_MEAN] as number, m2: slab[S.GAP_M2] as number }, timeMs - prev)
    slab[S.GAP_N] = g.n
    slab[S.GAP_MEAN] = g.meanMs
    slab[S.GAP_M2] = g.m2
  }
  slab[S.TIME] = timeMs
}

/** First version of a blob under this class: remember it, nothing to learn yet. */
export const initJson = (cls: ClassModel, slab: number[], values: readonly unknown[]): number => {
  let content = 0
  cls.fields.forEach((f, i) => {
    const v = values[i]
    const h = hashJson(v)
    slab[f.offset] = h
    content = combineTerms(content, fieldTerm(i, h))
    if (f.numeric && typeof v === "number") slab[f.offset + 2] = v
  })
  slab[S.CONTENT] = content
  return content
}

const learnNumeric = (cls: ClassModel, i: number, slab: number[], v: unknown, changed: boolean): void => {
  const f = cls.fields[i]
  if (f === undefined || !f.numeric) return
  if (typeof v !== "number") {
    slab[f.offset + 2] = Number.NaN
    return
  }
  const prevNum = slab[f.offset + 2] as number
  if (changed && !Number.isNaN(prevNum)) {
    const own = slab[f.offset + 3] as number
    const step = Number.isNaN(own) ? f.classStep : own
    f.strideTries++
    if (prevNum + step === v) f.strideHits++
    slab[f.offset + 3] = v - prevNum
    f.classStep = v - prevNum
  }
  slab[f.offset + 2] = v
}

/** Learns from the new version; returns the new whole-state hash. */
export const learnJson = (
  cls: ClassModel,
  slab: number[],
  values: readonly unknown[],
  ctx: VersionContext,
  deltaCounts: number[],
): number => {
  const contexts = signatureContexts(cls, slab)
  let mask = 0
  let content = 0
  for (let i = 0; i < cls.fields.length; i++) {
    const f = cls.fields[i]
    if (f === undefined) continue
    const v = values[i]
    const h = hashJson(v)
    const prev = slab[f.offset] as number
    const prev2 = slab[f.offset + 1] as number
    const changed = h !== prev
    const kind = deltaKindOf(prev, f.numeric ? (slab[f.offset + 2] as number) : Number.NaN, v, h, ctx)
    const k = DELTA_KINDS.indexOf(kind)
    deltaCounts[k] = (deltaCounts[k] ?? 0) + 1
    if (changed) {
      if (i < MAX_SIGNATURE_FIELDS) mask |= 1 << i
      if (f.dict !== undefined) {
        f.fsmTries++
        if (fsmPredict(f, i, prev2, prev, true)?.next === h) f.fsmHits++
      }
    }
    learnSymbol(f, i, prev2, prev, h, v)
    learnNumeric(cls, i, slab, v, changed)
    // Order-2 context is the previous *different* value: where the state came from.
    if (changed) slab[f.offset + 1] = prev
    slab[f.offset] = h
    content = combineTerms(content, fieldTerm(i, h))
  }
  if (cls.fields.length <= MAX_SIGNATURE_FIELDS) {
    for (const c of contexts) bump(cls.signatures, c, mask, MAX_SIGNATURE_CONTEXTS_LIMIT)
  }
  slab[S.SIG3] = slab[S.SIG2] as number
  slab[S.SIG2] = slab[S.SIG1] as number
  slab[S.SIG1] = mask
  slab[S.CONTENT] = content
  return content
}

/** Binary content is one pseudo-field: [hash, -, length, last appended length]. */
export const initBinary = (cls: ClassModel, slab: number[], content: Uint8Array): number => {
  const f = cls.fields[0]
  const h = hashBytes(content)
  if (f !== undefined) {
    slab[f.offset] = h
    slab[f.offset + 2] = content.length
  }
  slab[S.CONTENT] = h
  return h
}

export const learnBinary = (cls: ClassModel, slab: number[], content: Uint8Array, deltaCounts: number[]): number => {
  const f = cls.fields[0]
  if (f === undefined) return initBinary(cls, slab, content)
  const d = classifyBinary(slab[f.offset] as number, slab[f.offset + 2] as number, content)
  const k = DELTA_KINDS.indexOf(d.kind)
  deltaCounts[k] = (deltaCounts[k] ?? 0) + 1
  const h = hashBytes(content)
  slab[S.SIG3] = slab[S.SIG2] as number
  slab[S.SIG2] = slab[S.SIG1] as number
  slab[S.SIG1] = d.kind === "unchanged" ? 0 : d.kind === "append" ? 1 : 2
  slab[f.offset + 3] = d.kind === "append" ? d.count : Number.NaN
  slab[f.offset] = h
  slab[f.offset + 2] = content.length
  slab[S.CONTENT] = h
  return h
}
