import { fsmPredict, isEnumLike } from "./class-model.ts"
import { mix } from "./hash.ts"
import { baseKey, jsonProposal, type Override, type ProposeContext, type Proposal } from "./proposal.ts"

/**
 * Per-field state machine over enum-like fields (statuses, toggles, small cyclic numbers),
 * order 2 when that context is known, else order 1. The pattern key is the weakest evidence
 * among the lookups used, so a 0.8 transition is scored with other 0.8 transitions.
 */
export const COMPONENT = 2

export const proposeFieldStateMachine = (ctx: ProposeContext): Proposal | undefined => {
  if (ctx.cls.binary) return undefined
  const overrides: Override[] = []
  let predicted = 0
  let weakest = Number.POSITIVE_INFINITY
  ctx.cls.fields.forEach((f, i) => {
    if (f.dict === undefined || !isEnumLike(f)) return
    const h = ctx.slab[f.offset] as number
    const p = fsmPredict(f, i, ctx.slab[f.offset + 1] as number, h, false)
    if (p === undefined) return
    predicted++
    weakest = Math.min(weakest, p.evidence)
    if (p.next !== h && f.dict.has(p.next)) overrides.push([i, f.dict.get(p.next)])
  })
  if (predicted === 0) return undefined
  return jsonProposal(COMPONENT, mix(baseKey(COMPONENT, ctx), weakest), ctx, overrides)
}
