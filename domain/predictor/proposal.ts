import type { ClassModel } from "./class-model.ts"
import { S } from "./class-model.ts"
import { combineTerms, fieldTerm, hashJson, mix, removeTerm } from "./hash.ts"

// What every component predictor sees and returns. A proposal is always a WHOLE next state:
// the current state with some leaves replaced (or, for binary content, bytes appended).

export interface ProposeContext {
  readonly cls: ClassModel
  readonly slab: readonly number[]
  /** Current leaf values in class field order (one pseudo-field for binary content). */
  readonly values: readonly unknown[]
  readonly content: Uint8Array
  /** 1 when the shadow would be time-triggered, 0 when it waits for the write. */
  readonly timing: number
}

export type Override = readonly [fieldIndex: number, value: unknown]

export interface Proposal {
  readonly component: number
  readonly hash: number
  /** Pattern key: the context whose track record gives this proposal its confidence. */
  readonly key: number
  readonly overrides: readonly Override[]
  readonly appendBytes?: Uint8Array
}

export const baseKey = (component: number, ctx: ProposeContext): number =>
  mix(mix(mix(0xc0ffee, component), ctx.timing), ctx.slab[S.SIG1] as number)

/** Whole-state hash after overrides: the state hash is a sum of per-field terms. */
export const hashWith = (ctx: ProposeContext, overrides: readonly Override[]): number => {
  let h = ctx.slab[S.CONTENT] as number
  for (const [i, v] of overrides) {
    const f = ctx.cls.fields[i]
    if (f === undefined) continue
    h = removeTerm(h, fieldTerm(i, ctx.slab[f.offset] as number))
    h = combineTerms(h, fieldTerm(i, hashJson(v)))
  }
  return h
}

export const jsonProposal = (component: number, key: number, ctx: ProposeContext, overrides: readonly Override[]): Proposal => ({
  component,
  key,
  overrides,
  hash: hashWith(ctx, overrides),
})

export const knownStep = (ctx: ProposeContext, fieldIndex: number): number | undefined => {
  const f = ctx.cls.fields[fieldIndex]
  if (f === undefined || !f.numeric) return undefined
  const own = ctx.slab[f.offset + 3] as number
  const step = Number.isNaN(own) ? f.classStep : own
  return Number.isFinite(step) && step !== 0 ? step : undefined
}
