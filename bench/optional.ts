import { existsSync } from "node:fs"
import type { NatsConnection } from "@nats-io/nats-core"
import { measureAuditReplay, measureHistoryPages, measureReconcilerVerdicts } from "./audit-reconciler.ts"
import { measureClientReplica } from "./client-replica.ts"
import type { Progress, Timing } from "./harness.ts"
import { HISTORY_VERSIONS, HISTORY_VERSIONS_QUICK, historyCaseName } from "./names.ts"
import { unavailable, type CaseEntry } from "./report.ts"

// Cases whose code is written by other parts of the project: measured when the code is in
// the tree, otherwise reported as "not available" (never with a stand-in number).

export interface OptionalContext {
  readonly nc: NatsConnection
  readonly url: string
  readonly timing: Timing
  readonly progress: Progress
  readonly quick: boolean
  readonly timeoutMs: number
  /** Blobs with valid write shadows (the shadow-read set) and their common id prefix. */
  readonly readIds: ReadonlyArray<string>
  readonly readPrefix: string
}

const missing = (what: string, path: string): CaseEntry => unavailable(`not available: ${what} (${path}) is not in this tree`)

export const optionalCases = async (ctx: OptionalContext): Promise<Record<string, CaseEntry>> => {
  const out: Record<string, CaseEntry> = {}
  ctx.progress("[local] client-side replica")
  Object.assign(out, await measureClientReplica(ctx.nc, ctx.readIds, ctx.readPrefix, ctx.timing, ctx.progress))
  return out
}

/**
 * Audit replay of one blob's 10,000 versions, and history pages of a blob with 100,000. Run early, while the event stream is small: on
 * nats-server 2.9 a filtered consumer on a stream of hundreds of MB first walks the blocks to
 * find the subject (seconds), which is the store's cost, not the replay's.
 */
export const auditCases = async (ctx: OptionalContext): Promise<Record<string, CaseEntry>> => {
  if (!existsSync("simulations/audit-bench.ts")) return { "audit-replay-10k-versions@1": missing("the audit replay", "simulations/audit-bench.ts") }
  const replay = await measureAuditReplay(ctx.nc, 10_000, ctx.timing, ctx.progress).catch((e: unknown) => ({
    "audit-replay-10k-versions@1": unavailable(`failed: ${String(e)}`),
  }))
  // Seeding 100,000 versions is a tenth of a --quick run on a slow day (13 s): a quick run pages
  // 20,000, under its own case name, and the target is shown, not judged (bench/report.ts).
  const versions = ctx.quick ? HISTORY_VERSIONS_QUICK : HISTORY_VERSIONS
  const history = await measureHistoryPages(ctx.nc, versions, ctx.timing, ctx.progress).catch((e: unknown) => ({
    [historyCaseName(versions)]: unavailable(`failed: ${String(e)}`),
  }))
  return { ...replay, ...history }
}

/** The reconciler case: run while the main blob service is up and the event stream is still small. */
export const reconcilerCases = async (ctx: OptionalContext): Promise<Record<string, CaseEntry>> => {
  if (!existsSync("services/reconciler/main.ts"))
    return { "reconciler-verdict@1": missing("the reconciler", "services/reconciler/"), "reconciler-verdict@64": missing("the reconciler", "services/reconciler/") }
  return measureReconcilerVerdicts(ctx.nc, ctx.url, ctx.timing, ctx.timeoutMs, ctx.progress, ctx.quick).catch((e: unknown) => ({
    "reconciler-verdict@1": unavailable(`failed: ${String(e).slice(0, 300)}`),
    "reconciler-verdict@64": unavailable(`failed: ${String(e).slice(0, 300)}`),
  }))
}
