import { S } from "./class-model.ts"
import { hashBytes } from "./hash.ts"
import { baseKey, jsonProposal, type Override, type ProposeContext, type Proposal } from "./proposal.ts"

/**
 * Logs: one more item shaped like the last one, numeric sub-fields continuing the progression
 * of the last two items (sequence numbers, fixed-period timestamps), the rest copied.
 * Binary content: the last appended chunk again (fixed-size records).
 */
export const COMPONENT = 3

const continueValue = (last: unknown, prev: unknown): unknown =>
  typeof last === "number" && typeof prev === "number" ? last + (last - prev) : last

export const nextItem = (items: readonly unknown[]): unknown => {
  const last = items[items.length - 1]
  const prev = items[items.length - 2]
  if (typeof last !== "object" || last === null || Array.isArray(last)) return continueValue(last, prev)
  const before = (typeof prev === "object" && prev !== null ? prev : {}) as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(last)) out[k] = continueValue(v, before[k])
  return out
}

const proposeBinary = (ctx: ProposeContext): Proposal | undefined => {
  const f = ctx.cls.fields[0]
  if (f === undefined) return undefined
  const chunk = ctx.slab[f.offset + 3] as number
  if (!(chunk > 0) || chunk > ctx.content.length) return undefined
  const appendBytes = ctx.content.slice(ctx.content.length - chunk)
  return {
    component: COMPONENT,
    key: baseKey(COMPONENT, ctx),
    hash: hashBytes(appendBytes, ctx.slab[S.CONTENT] as number),
    overrides: [],
    appendBytes,
  }
}

export const proposeAppendTemplate = (ctx: ProposeContext): Proposal | undefined => {
  if (ctx.cls.binary) return proposeBinary(ctx)
  const overrides: Override[] = []
  ctx.cls.fields.forEach((f, i) => {
    const v = ctx.values[i]
    if (f.array && Array.isArray(v) && v.length > 0) overrides.push([i, [...v, nextItem(v)]])
  })
  if (overrides.length === 0) return undefined
  return jsonProposal(COMPONENT, baseKey(COMPONENT, ctx), ctx, overrides)
}
