import { baseKey, jsonProposal, knownStep, type Override, type ProposeContext, type Proposal } from "./proposal.ts"

/**
 * Two-delta stride: every numeric field moves by its last non-zero step (the class's step
 * for a blob that has not moved yet); everything else stays.
 */
export const COMPONENT = 1

export const proposeStride = (ctx: ProposeContext): Proposal | undefined => {
  if (ctx.cls.binary) return undefined
  const overrides: Override[] = []
  ctx.cls.fields.forEach((f, i) => {
    const v = ctx.values[i]
    if (!f.numeric || typeof v !== "number") return
    const step = knownStep(ctx, i)
    if (step !== undefined) overrides.push([i, v + step])
  })
  if (overrides.length === 0) return undefined
  return jsonProposal(COMPONENT, baseKey(COMPONENT, ctx), ctx, overrides)
}
