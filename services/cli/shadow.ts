import { shadowVersionRecords, type ShadowVersionRecord } from "../../domain/shadow-lifecycle.ts"
import { inspectShadow, type RawShadowEntry } from "../../infra/client/shadow-inspect.ts"
import { defaultNames } from "../../infra/names.ts"
import { ShadowEvents } from "../../infra/shadow-events.ts"
import { int, positionals, str } from "./args.ts"
import { blobIdArg } from "./blob-id-arg.ts"
import type { Command } from "./command.ts"
import { table } from "./history.ts"
import { outJson, outLine, type Io } from "./io.ts"
import { shadowSummary, shadowView, type ShadowView } from "./shadow-decoder.ts"

// `umbra shadow <id>`: the blob's current shadow and the shadow versions before it, straight
// from the shadow tier (no service involved, so it shows what any service instance could serve),
// then every shadow version the lifecycle stream recorded, with the verdict that settled it:
// the bucket itself keeps one revision per blob by default (docs/decisions.md, "Shadow history").

interface Revision {
  readonly revision: number
  readonly created: string
  readonly operation: string
  readonly shadow: ShadowView | undefined
}

const revisionOf = (e: RawShadowEntry): Revision => ({
  revision: e.revision,
  created: e.created,
  operation: e.operation,
  // A deleted or purged key carries no value worth decoding.
  shadow: e.operation === "PUT" ? shadowView(e.value, e.revision) : undefined,
})

const iso = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : "-")

const versionRow = (v: ShadowVersionRecord): string[] => [
  String(v.shadowVersion),
  iso(v.createdMs),
  `v${v.basedOn}→v${v.predicted}`,
  String(v.confidence),
  v.origin,
  v.verdict === undefined ? "(not settled yet)" : `${v.verdict.kind}${v.verdict.reason === undefined ? "" : ` (${v.verdict.reason})`}`,
]

const printHuman = async (
  io: Io,
  id: string,
  current: Revision | undefined,
  history: ReadonlyArray<Revision>,
  versions: ReadonlyArray<ShadowVersionRecord>,
): Promise<void> => {
  if (current?.shadow === undefined) await outLine(io, `no current shadow for ${id}`)
  else {
    await outLine(io, `current shadow of ${id}:`)
    for (const [k, v] of Object.entries(current.shadow))
      await outLine(io, `  ${(k + ":").padEnd(16)}${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
  }
  if (history.length > 0) {
    await outLine(io, "")
    const rows = history.map((r) => [String(r.revision), r.created, r.operation, r.shadow === undefined ? "" : shadowSummary(r.shadow)])
    for (const l of table(["REVISION", "CREATED", "OP", "SHADOW"], rows)) await outLine(io, l)
  }
  await outLine(io, "")
  if (versions.length === 0) {
    await outLine(io, `no shadow versions of ${id} recorded in the lifecycle stream`)
    return
  }
  await outLine(io, `shadow versions of ${id} (lifecycle stream):`)
  for (const l of table(["SHADOW-VERSION", "CREATED", "PREDICTS", "CONFIDENCE", "ORIGIN", "VERDICT"], versions.map(versionRow))) await outLine(io, l)
}

export const shadowCommand: Command = {
  name: "shadow",
  summary: "show a blob's current shadow and its shadow history",
  usage: "shadow <id> [--limit n] [--bucket name]",
  options: { limit: { type: "string" }, bucket: { type: "string" } },
  run: async (ctx) => {
    const [rawId = ""] = positionals(ctx.positionals, ["id"], 1)
    const id = blobIdArg(rawId)
    const limit = int(ctx.values, "limit", 1)
    const bucket = str(ctx.values, "bucket") ?? ctx.io.env["UMBRA_SHADOW_BUCKET"]
    const client = await ctx.client()
    const found = await inspectShadow(client.nc, id, {
      ...(limit === undefined ? {} : { limit }),
      ...(bucket === undefined || bucket === "" ? {} : { bucket }),
    })
    const current = found.current === undefined ? undefined : revisionOf(found.current)
    const history = found.history.map(revisionOf)
    // The lifecycle stream is the audit record; a user who may not read it still sees the tier.
    const events = await ShadowEvents.open(client.nc, defaultNames).forBlob(id).catch(() => [])
    const versions = shadowVersionRecords(events).slice(-(limit ?? 100))
    if (ctx.json) await outJson(ctx.io, { id, bucket: found.bucket, current: current ?? null, history, versions })
    else await printHuman(ctx.io, id, current, history, versions)
    return 0
  },
}
