import type { PredictionRow, TimelineEntry, Verdict } from "../../domain/audit.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import { clientError } from "../../infra/client/errors.ts"
import { defaultNames } from "../../infra/names.ts"
import { auditBlob, auditPredictions } from "../audit/blob-audit.ts"
import { progressBar, type ProgressSink } from "../audit/progress.ts"
import { auditStore, type StoreAuditSummary, type StoreBreak } from "../audit/store-audit.ts"
import { flag, positionals, str, usageError, type Values } from "./args.ts"
import { blobIdArg } from "./blob-id-arg.ts"
import type { Command, CommandContext } from "./command.ts"
import { table } from "./history.ts"
import { outJson, outLine } from "./io.ts"

// `umbra audit <id>`: the blob's verified timeline and a verdict; `--all` for every blob in
// a time range; `--predictions` for each prediction against what came. The exit status is 0
// only when everything audited is intact.

const EXIT_BROKEN = 1

const iso = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? "-" : new Date(ms).toISOString())

/** `--from`/`--to`: an ISO time or epoch milliseconds. */
const timeFlag = (v: Values, name: string): number | undefined => {
  const raw = str(v, name)
  if (raw === undefined) return undefined
  const ms = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : Date.parse(raw)
  if (!Number.isFinite(ms)) throw usageError(`--${name} must be an ISO time or epoch milliseconds, got "${raw}"`)
  return ms
}

const progressSink = (ctx: CommandContext): ProgressSink | undefined => {
  if (!(flag(ctx.values, "progress") || ctx.io.stderr.isTTY === true)) return undefined
  // Redrawn in place on a terminal; one line per report otherwise (logs, CI).
  const tty = ctx.io.stderr.isTTY === true
  return (p) => {
    ctx.io.stderr.write(tty ? `\r${progressBar(p)}` : `${progressBar(p)}\n`)
    if (tty && p.done >= p.total) ctx.io.stderr.write("\n")
  }
}

const humanLine = (e: TimelineEntry): string => {
  if (e.kind === "shadow") return `${"".padEnd(8)}${iso(e.timeMs)}  shadow   ${e.summary}`
  if (e.kind === "malformed") return `${`v${e.version}?`.padEnd(8)}${iso(e.timeMs)}  BREAK    seq ${e.seq}: ${e.summary}`
  const checks = `digest ${e.digestCheck}, chain ${e.chain}`
  const mark = e.break === undefined ? "" : `  <-- BREAK: ${e.break.message}`
  return `${`v${e.version}`.padEnd(8)}${iso(e.timeMs)}  ${e.op.padEnd(8)} ${e.writer}  ${e.size} B  ${checks}  ${e.summary}${mark}`
}

const jsonLine = (e: TimelineEntry): Record<string, unknown> => ({ ...e, time: iso(e.timeMs) })

const verdictLine = (v: Verdict): string =>
  v.intact
    ? `verdict: intact — ${v.versions} versions (head v${v.headVersion}), every digest and link verified; ${v.shadowEvents} shadow events`
    : `verdict: BROKEN at version ${v.firstBrokenVersion} — ${v.cause}: ${v.reason} (${v.breaks} break${v.breaks === 1 ? "" : "s"} in ${v.versions} versions)`

const isPermissionDenied = (e: unknown): boolean => /permissions? violation/i.test(e instanceof Error ? `${e.message} ${String(e.cause)}` : String(e))

/**
 * A user who may not read the streams (the `auditor` role) gets the verdict from the
 * service's audit endpoint instead of a replay: no timeline, the same checks.
 */
const runBlobAuditThroughService = async (ctx: CommandContext, id: string): Promise<number> => {
  const client = await ctx.client()
  const body = new TextEncoder().encode(JSON.stringify({ verifyBytes: flag(ctx.values, "verify-bytes") }))
  const reply = await client.nc.request(`${defaultNames.commandSubjectPrefix}.audit.${id}`, body, { timeout: 60_000 })
  const code = reply.headers?.get("Nats-Service-Error-Code")
  if (code) {
    const e = (reply.json() as { error?: { code?: string; message?: string } }).error
    throw clientError(e?.code === "NOT_FOUND" ? "NOT_FOUND" : "INTERNAL", e?.message ?? `audit failed (${code})`, { id })
  }
  const v = reply.json() as Verdict & { firstBreaks: ReadonlyArray<{ version: number; message: string }> }
  if (ctx.json) await outJson(ctx.io, v)
  else {
    await outLine(ctx.io, `(no stream access for this user: verdict from ${defaultNames.commandSubjectPrefix}.audit.${id}, without the timeline)`)
    for (const b of v.firstBreaks) await outLine(ctx.io, `BREAK v${b.version}: ${b.message}`)
    await outLine(ctx.io, verdictLine(v))
  }
  return v.intact ? 0 : EXIT_BROKEN
}

const runBlobAudit = async (ctx: CommandContext, id: string): Promise<number> => {
  try {
    return await runBlobAuditReplay(ctx, id)
  } catch (e) {
    if (!isPermissionDenied(e)) throw e
    return runBlobAuditThroughService(ctx, id)
  }
}

const runBlobAuditReplay = async (ctx: CommandContext, id: string): Promise<number> => {
  const client = await ctx.client()
  const sink = (e: TimelineEntry) => (ctx.json ? outJson(ctx.io, jsonLine(e)) : outLine(ctx.io, humanLine(e)))
  const progress = progressSink(ctx)
  const r = await auditBlob(client.nc, defaultNames, id as BlobId, {
    onEntry: sink,
    ...(progress === undefined ? {} : { onProgress: progress }),
    verifyBytes: flag(ctx.values, "verify-bytes"),
    shadows: !flag(ctx.values, "no-shadows"),
  })
  if (r._tag === "NotFound") throw clientError("NOT_FOUND", `blob ${id} has no events`, { id })
  if (ctx.json) await outJson(ctx.io, r.verdict)
  else await outLine(ctx.io, verdictLine(r.verdict))
  return r.verdict.intact ? 0 : EXIT_BROKEN
}

const predictionCells = (r: PredictionRow): ReadonlyArray<string> => [
  `#${r.shadowVersion}`,
  iso(r.createdMs),
  `v${r.basedOn}→v${r.predicted}`,
  `${Math.round(r.confidence * 1000) / 10}%`,
  iso(r.validFromMs),
  r.actual === null ? "-" : `v${r.actual.version} ${r.actual.op} by ${r.actual.writer} at ${iso(r.actual.timeMs)}`,
  r.outcome,
  r.verdict === null ? "-" : `${r.verdict.kind}${r.verdict.reason === null ? "" : ` (${r.verdict.reason})`}${r.verdict.served === null ? "" : `, served ${r.verdict.served}`}`,
]

const runPredictions = async (ctx: CommandContext, id: string): Promise<number> => {
  const rows = await auditPredictions((await ctx.client()).nc, defaultNames, id as BlobId)
  const settled = rows.filter((r) => r.outcome === "correct" || r.outcome === "wrong-content")
  const correct = settled.filter((r) => r.outcome === "correct").length
  const summary = { id, predictions: rows.length, settled: settled.length, correct, precision: settled.length === 0 ? null : correct / settled.length }
  if (ctx.json) {
    for (const r of rows) await outJson(ctx.io, r)
    await outJson(ctx.io, summary)
    return 0
  }
  if (rows.length === 0) await outLine(ctx.io, `no predictions recorded for ${id}`)
  else for (const l of table(["SHADOW", "CREATED", "PREDICTED", "CONF", "VALID-FROM", "ACTUAL", "OUTCOME", "VERDICT"], rows.map(predictionCells))) await outLine(ctx.io, l)
  const precision = summary.precision === null ? "n/a" : `${Math.round(summary.precision * 1000) / 10}%`
  await outLine(ctx.io, `${rows.length} predictions, ${settled.length} settled, ${correct} correct (precision ${precision})`)
  return 0
}

const breakLine = (b: StoreBreak): string => `BREAK ${b.id} v${b.version} (seq ${b.seq}): ${b.cause}: ${b.message}`

const summaryLine = (s: StoreAuditSummary): string =>
  `${s.intact ? "verdict: intact" : "verdict: BROKEN"} — ${s.blobs} blobs, ${s.versions} versions, ${s.messages} messages, ${s.breaks} breaks` +
  (s.anchorsChecked > 0 ? `, ${s.anchorsChecked} range starts linked back` : "") +
  ` (${s.elapsedMs} ms)`

const runStoreAudit = async (ctx: CommandContext): Promise<number> => {
  const fromMs = timeFlag(ctx.values, "from")
  const toMs = timeFlag(ctx.values, "to")
  const progress = progressSink(ctx)
  const breaks: StoreBreak[] = []
  const s = await auditStore((await ctx.client()).nc, defaultNames, {
    ...(fromMs === undefined ? {} : { fromMs }),
    ...(toMs === undefined ? {} : { toMs }),
    ...(progress === undefined ? {} : { onProgress: progress }),
    // Printed after the pass: the progress bar owns the terminal line meanwhile.
    onBreak: (b) => void (breaks.length < 10_000 && breaks.push(b)),
  })
  if (ctx.json) {
    for (const b of breaks) await outJson(ctx.io, { kind: "break", ...b })
    await outJson(ctx.io, { verdict: s.intact ? "intact" : "broken", ...s })
  } else {
    for (const b of breaks) await outLine(ctx.io, breakLine(b))
    await outLine(ctx.io, summaryLine(s))
  }
  return s.intact ? 0 : EXIT_BROKEN
}

export const auditCommand: Command = {
  name: "audit",
  summary: "replay a blob (or the whole store) and verify every digest and the hash chain",
  usage: "audit <id> [--predictions] [--verify-bytes] [--no-shadows] [--progress] | audit --all [--from T] [--to T] [--progress]",
  options: {
    all: { type: "boolean" },
    from: { type: "string" },
    to: { type: "string" },
    predictions: { type: "boolean" },
    "verify-bytes": { type: "boolean" },
    "no-shadows": { type: "boolean" },
    progress: { type: "boolean" },
  },
  run: async (ctx) => {
    if (flag(ctx.values, "all")) {
      positionals(ctx.positionals, [], 0)
      return runStoreAudit(ctx)
    }
    if (str(ctx.values, "from") !== undefined || str(ctx.values, "to") !== undefined) throw usageError("--from and --to go with --all")
    const [rawId = ""] = positionals(ctx.positionals, ["id"], 1)
    const id = blobIdArg(rawId)
    return flag(ctx.values, "predictions") ? runPredictions(ctx, id) : runBlobAudit(ctx, id)
  },
}
