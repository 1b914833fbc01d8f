import { Kvm, type KV } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import { defaultNames } from "../../infra/names.ts"
import { decodeShadow } from "../../infra/shadow-codec.ts"
import { durationMs, int, str, strs } from "./args.ts"
import type { Command } from "./command.ts"
import { table } from "./history.ts"
import { HotBlobs, type HotBlob } from "./hot-blobs.ts"
import { out, outJson, type Io } from "./io.ts"
import { statsLines, statsServices } from "./stats.ts"
import { gatherStats, type StatsReport } from "./stats-gather.ts"

// `umbra top`: `umbra stats` refreshed in place, with the hottest blobs of the last seconds
// and what the shadow tier currently holds for each. Ctrl-C ends it.

const DEFAULT_INTERVAL_MS = 2_000
/** The hot-blob ranking covers this many refreshes. */
const WINDOW_FRAMES = 15
const CLEAR = "\x1b[H\x1b[2J"

export interface ShadowState {
  readonly predicted: number
  readonly basedOn: number
  readonly confidence: number
  readonly origin: string
  readonly status: string
  readonly model: string
  readonly shadowVersion: number
  readonly ageMs: number
}

export interface TopFrame {
  readonly stats: StatsReport
  readonly hot: ReadonlyArray<HotBlob & { readonly shadow: ShadowState | null }>
}

const shadowOf = async (kv: KV | undefined, id: string, nowMs: number): Promise<ShadowState | null> => {
  const e = await kv?.get(id).catch(() => null)
  if (e === null || e === undefined || e.operation !== "PUT") return null
  const s = decodeShadow(e.value, e.revision)
  if (s === undefined) return null
  return { predicted: s.predicted, basedOn: s.basedOn, confidence: s.confidence, origin: s.origin, status: s.status, model: s.model, shadowVersion: s.shadowVersion, ageMs: nowMs - s.createdAtMs }
}

const hotLines = (hot: TopFrame["hot"], windowS: number): ReadonlyArray<string> => {
  if (hot.length === 0) return [`hottest blobs (last ${windowS}s): none read yet`]
  const rows = hot.map((h) => [
    h.id.length > 48 ? `${h.id.slice(0, 45)}...` : h.id,
    String(h.reads),
    String(h.served),
    h.shadow === null ? "-" : `v${h.shadow.predicted} (on v${h.shadow.basedOn})`,
    h.shadow === null ? "" : h.shadow.confidence.toFixed(3),
    h.shadow === null ? "" : `${h.shadow.origin}/${h.shadow.status}`,
    h.shadow === null ? "" : h.shadow.model,
    h.shadow === null ? "" : `${Math.round(h.shadow.ageMs / 1000)}s`,
  ])
  return [`hottest blobs (last ${windowS}s):`, ...table(["ID", "READS", "SHADOW-SERVED", "SHADOW", "CONF", "ORIGIN/STATUS", "MODEL", "AGE"], rows)]
}

const render = (f: TopFrame, intervalMs: number): string =>
  [
    `umbra top · ${f.stats.at} · every ${intervalMs / 1000}s (Ctrl-C to quit)`,
    "",
    ...statsLines(f.stats),
    "",
    ...hotLines(f.hot, (intervalMs * WINDOW_FRAMES) / 1000),
  ].join("\n") + "\n"

const openBucket = (nc: NatsConnection, bucket: string): Promise<KV | undefined> => new Kvm(nc).open(bucket).catch(() => undefined)

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true })
  })

export interface TopOptions {
  readonly intervalMs: number
  readonly iterations: number
  readonly limit: number
  readonly windowMs: number
  readonly services: ReadonlyArray<string>
  readonly bucket: string
  readonly accessSubject: string
  readonly json: boolean
}

export const runTop = async (nc: NatsConnection, io: Io, o: TopOptions, signal: AbortSignal): Promise<void> => {
  const hot = new HotBlobs(nc, o.accessSubject, WINDOW_FRAMES)
  const kv = await openBucket(nc, o.bucket)
  try {
    for (let i = 0; (o.iterations === 0 || i < o.iterations) && !signal.aborted; i++) {
      const stats = await gatherStats(nc, o.services, o.windowMs)
      const now = Date.now()
      const top = await Promise.all(hot.top(o.limit).map(async (h) => ({ ...h, shadow: await shadowOf(kv, h.id, now) })))
      const frame: TopFrame = { stats, hot: top }
      if (o.json) await outJson(io, frame)
      else await out(io, (io.stdout.isTTY === true ? CLEAR : i > 0 ? "\n" : "") + render(frame, o.intervalMs))
      hot.tick()
      if (o.iterations === 0 || i + 1 < o.iterations) await sleep(Math.max(0, o.intervalMs - o.windowMs), signal)
    }
  } finally {
    hot.stop()
  }
}

export const topCommand: Command = {
  name: "top",
  summary: "live stats of every instance and the hottest blobs with their shadows",
  usage: "top [--interval 2s] [--iterations n] [--limit 10] [--window 750ms] [--bucket name] [--json]",
  options: {
    interval: { type: "string" },
    iterations: { type: "string" },
    limit: { type: "string" },
    window: { type: "string" },
    bucket: { type: "string" },
    service: { type: "string", multiple: true },
  },
  run: async (ctx) => {
    const intervalMs = durationMs(ctx.values, "interval") ?? DEFAULT_INTERVAL_MS
    const options: TopOptions = {
      intervalMs,
      iterations: int(ctx.values, "iterations") ?? 0,
      limit: int(ctx.values, "limit", 1) ?? 10,
      // The stats window is part of the refresh interval, never longer than it.
      windowMs: Math.min(durationMs(ctx.values, "window") ?? 750, intervalMs),
      services: statsServices(strs(ctx.values, "service")),
      bucket: str(ctx.values, "bucket") || ctx.io.env["UMBRA_SHADOW_BUCKET"] || defaultNames.shadowBucket,
      accessSubject: defaultNames.accessSubject,
      json: ctx.json,
    }
    const client = await ctx.client()
    const abort = new AbortController()
    const stop = () => abort.abort()
    process.once("SIGINT", stop)
    try {
      await runTop(client.nc, ctx.io, options, abort.signal)
    } finally {
      process.off("SIGINT", stop)
    }
    return 0
  },
}
