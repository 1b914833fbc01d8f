import { argmax, evidenceKey, fsmPredict, isEnumLike, type ClassModel, S } from "./class-model.ts"
import { combineTerms, fieldTerm, mix } from "./hash.ts"
import { nextItem } from "./append-template.ts"
import { baseKey, jsonProposal, knownStep, type Override, type ProposeContext, type Proposal } from "./proposal.ts"

/**
 * Which fields change together. The signature of a version is the bit mask of fields that
 * changed; contexts are the enum state plus the last 0–3 signatures, and the longest context
 * seen often enough wins (as in VTAGE). Each changing field gets the value from the
 * producer that has been right most often for that field in the class.
 */
export const COMPONENT = 4
export const MAX_SIGNATURE_FIELDS = 30
const MIN_CONTEXT_COUNT = 2

export const signatureContexts = (cls: ClassModel, slab: readonly number[]): number[] => {
  let enumState = 0
  cls.fields.forEach((f, i) => {
    if (isEnumLike(f)) enumState = combineTerms(enumState, fieldTerm(i, slab[f.offset] as number))
  })
  const contexts = [mix(0x5c, enumState)]
  for (const slot of [S.SIG1, S.SIG2, S.SIG3]) {
    const sig = slab[slot] as number
    if (sig < 0) break
    contexts.push(mix(contexts[contexts.length - 1] as number, sig))
  }
  return contexts
}

const rate = (hits: number, tries: number): number => (hits + 1) / (tries + 2)

/** Value of a changing field, and the evidence behind it (0 when computed, not looked up). */
const produce = (ctx: ProposeContext, i: number): readonly [unknown, number] | undefined => {
  const f = ctx.cls.fields[i]
  const v = ctx.values[i]
  if (f === undefined) return undefined
  if (f.array) return Array.isArray(v) && v.length > 0 ? [[...v, nextItem(v)], 0] : undefined
  const fsm = f.dict === undefined ? undefined : fsmPredict(f, i, ctx.slab[f.offset + 1] as number, ctx.slab[f.offset] as number, true)
  const step = typeof v === "number" ? knownStep(ctx, i) : undefined
  const preferFsm = fsm !== undefined && (step === undefined || rate(f.fsmHits, f.fsmTries) > rate(f.strideHits, f.strideTries))
  if (preferFsm && f.dict?.has(fsm.next) === true) return [f.dict.get(fsm.next), fsm.evidence]
  if (step !== undefined && typeof v === "number") return [v + step, 0]
  return undefined
}

export const proposeSignatureContext = (ctx: ProposeContext): Proposal | undefined => {
  if (ctx.cls.binary || ctx.cls.fields.length > MAX_SIGNATURE_FIELDS) return undefined
  const contexts = signatureContexts(ctx.cls, ctx.slab)
  for (let level = contexts.length - 1; level >= 0; level--) {
    const c = contexts[level] as number
    const best = argmax(ctx.cls.signatures.get(c))
    if (best === undefined || best.total < MIN_CONTEXT_COUNT) continue
    let key = mix(mix(baseKey(COMPONENT, ctx), level), evidenceKey(1, best.count, best.total))
    const overrides: Override[] = []
    for (let i = 0; i < ctx.cls.fields.length; i++) {
      if ((best.next & (1 << i)) === 0) continue
      const produced = produce(ctx, i)
      if (produced === undefined) return undefined
      overrides.push([i, produced[0]])
      key = mix(key, produced[1])
    }
    return jsonProposal(COMPONENT, key, ctx, overrides)
  }
  return undefined
}
