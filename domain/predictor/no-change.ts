import { S } from "./class-model.ts"
import { baseKey, type ProposeContext, type Proposal } from "./proposal.ts"

/** The next version equals this one: rewrites of an unchanged config, heartbeats, retries. */
export const COMPONENT = 0

export const proposeNoChange = (ctx: ProposeContext): Proposal => ({
  component: COMPONENT,
  key: baseKey(COMPONENT, ctx),
  hash: ctx.slab[S.CONTENT] as number,
  overrides: [],
})
