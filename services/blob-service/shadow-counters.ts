import { MISS_REASONS, type MissReason } from "../../domain/read-policy.ts"
import type { ShadowOrigin } from "../../domain/shadow.ts"

// Per-process counters of the shadow paths, reported in $SRV.STATS and (later) as
// Prometheus metrics. Plain numbers: the read path increments them without allocation.

export interface ShadowCounters {
  hits: number
  misses: Record<MissReason, number>
  primaryReads: number
  shadowWrites: Record<ShadowOrigin, number>
  shadowWriteFailures: number
  shadowWritesSkipped: number
  evictions: number
  replicaResets: number
}

export const makeShadowCounters = (): ShadowCounters => ({
  hits: 0,
  misses: Object.fromEntries(MISS_REASONS.map((r) => [r, 0])) as Record<MissReason, number>,
  primaryReads: 0,
  shadowWrites: { prediction: 0, write: 0, conflict: 0 },
  shadowWriteFailures: 0,
  shadowWritesSkipped: 0,
  evictions: 0,
  replicaResets: 0,
})

/** Shadow hit rate as DESIGN.md defines it: shadow-served / reads that allowed shadows. */
export const hitRate = (c: ShadowCounters): number | null => {
  const allowed = c.hits + MISS_REASONS.filter((r) => r !== "consistency").reduce((n, r) => n + c.misses[r], 0)
  return allowed === 0 ? null : c.hits / allowed
}
