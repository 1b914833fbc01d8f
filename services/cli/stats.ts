import { durationMs, strs } from "./args.ts"
import type { Command } from "./command.ts"
import { table } from "./history.ts"
import { outJson, outLine, type Io } from "./io.ts"
import { BLOB_SERVICE, gatherStats, RECONCILER_SERVICE, type InstanceStats, type StatsReport } from "./stats-gather.ts"

// `umbra stats`: the figures of every running instance, found through $SRV.STATS.

export const DEFAULT_WINDOW_MS = 750

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? "-" : `${(v * 100).toFixed(1)}%`)
const n = (v: number | null | undefined): string => (v === null || v === undefined ? "-" : String(Math.round(v)))
const ms = (v: number | undefined): string => (v === undefined ? "-" : v.toFixed(2))

const requests = (i: InstanceStats, names: ReadonlyArray<string>): number =>
  names.reduce((s, name) => s + (i.endpoints[name]?.requests ?? 0), 0)

const blobRow = (i: InstanceStats): ReadonlyArray<string> => [
  i.instance,
  n(requests(i, ["read"])),
  n(requests(i, ["write", "patch", "delete"])),
  n(Object.values(i.endpoints).reduce((s, e) => s + e.errors, 0)),
  pct(i.figures["hitRate"]),
  ms(i.endpoints["read"]?.avgMs),
  ms(i.endpoints["write"]?.avgMs),
  n(i.figures["liveActors"]),
  n(i.figures["hydrations"]),
  n(i.figures["passivations"]),
  n(i.figures["shadowWrites"]),
  n(i.figures["evictions"]),
  n(i.figures["replicaSize"]),
]

const BLOB_COLUMNS = ["INSTANCE", "READS", "WRITES", "ERRORS", "HIT RATE", "READ MS", "WRITE MS", "LIVE", "HYDRATED", "PASSIVATED", "SHADOW W", "EVICTED", "SHADOWS"]

const totalRow = (rows: ReadonlyArray<InstanceStats>): ReadonlyArray<string> => {
  const sum = (k: string) => rows.reduce((s, i) => s + (i.figures[k] ?? 0), 0)
  const allowed = sum("shadowAllowedReads")
  return [
    `total (${rows.length})`,
    n(rows.reduce((s, i) => s + requests(i, ["read"]), 0)),
    n(rows.reduce((s, i) => s + requests(i, ["write", "patch", "delete"]), 0)),
    n(rows.reduce((s, i) => s + Object.values(i.endpoints).reduce((t, e) => t + e.errors, 0), 0)),
    pct(allowed === 0 ? null : sum("shadowHits") / allowed),
    "",
    "",
    n(sum("liveActors")),
    n(sum("hydrations")),
    n(sum("passivations")),
    n(sum("shadowWrites")),
    n(sum("evictions")),
    "",
  ]
}

const otherLines = (rows: ReadonlyArray<InstanceStats>): ReadonlyArray<string> =>
  rows.map((i) => {
    const figures = Object.entries(i.figures).map(([k, v]) => `${k}=${n(v)}`).join(" ")
    return `${i.service} ${i.instance}: ${figures || "(no figures)"}`
  })

/** The human table; shared with `umbra top`. */
export const statsLines = (r: StatsReport): ReadonlyArray<string> => {
  const blobs = r.instances.filter((i) => i.service === BLOB_SERVICE)
  const others = r.instances.filter((i) => i.service !== BLOB_SERVICE)
  if (r.instances.length === 0) return [`no Umbra service answered $SRV.STATS within ${r.windowMs}ms`]
  const rows = blobs.map(blobRow)
  return [
    ...(blobs.length === 0 ? [`no ${BLOB_SERVICE} instance answered`] : table(BLOB_COLUMNS, blobs.length > 1 ? [...rows, totalRow(blobs)] : rows)),
    ...(others.length === 0 ? [] : ["", ...otherLines(others)]),
  ]
}

export const statsServices = (extra: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set([BLOB_SERVICE, RECONCILER_SERVICE, ...extra])]

export const statsCommand: Command = {
  name: "stats",
  summary: "figures of every running Umbra instance (hit rate, latency, actors, shadows)",
  usage: "stats [--window 750ms] [--service name]... [--json]",
  options: { window: { type: "string" }, service: { type: "string", multiple: true } },
  run: async (ctx) => {
    const windowMs = durationMs(ctx.values, "window") ?? DEFAULT_WINDOW_MS
    const client = await ctx.client()
    const report = await gatherStats(client.nc, statsServices(strs(ctx.values, "service")), windowMs)
    await printStats(ctx.io, ctx.json, report)
    return 0
  },
}

const printStats = async (io: Io, json: boolean, report: StatsReport): Promise<void> => {
  if (json) return outJson(io, report)
  for (const l of statsLines(report)) await outLine(io, l)
}
