import { inspectShadow, type RawShadowEntry } from "../../infra/client/shadow-inspect.ts"
import { int, positionals, str } from "./args.ts"
import type { Command } from "./command.ts"
import { table } from "./history.ts"
import { outJson, outLine, type Io } from "./io.ts"
import { decodeLoosely, loadShadowDecoder, printable, type ShadowDecoder } from "./shadow-decoder.ts"
import { blobIdArg } from "./blob-id-arg.ts"

// `umbra shadow <id>`: the blob's current shadow and the shadow versions before it, straight
// from the shadow tier (no service involved, so it also shows what the service would serve).

const decodeWith = (decoder: ShadowDecoder | undefined, e: RawShadowEntry): unknown => {
  if (e.operation !== "PUT") return undefined
  try {
    return printable(decoder === undefined ? decodeLoosely(e.value) : decoder(e.value, e.revision))
  } catch (err) {
    return { undecodable: err instanceof Error ? err.message : String(err), ...(decodeLoosely(e.value) as object) }
  }
}

const SUMMARY_KEYS = ["predicted", "predictedVersion", "version", "basedOn", "confidence", "origin", "status", "validFromMs", "validFrom", "model", "reason"]

const summary = (decoded: unknown): string => {
  if (typeof decoded !== "object" || decoded === null) return ""
  const d = decoded as Record<string, unknown>
  const parts = SUMMARY_KEYS.filter((k) => d[k] !== undefined && typeof d[k] !== "object").map((k) => `${k}=${String(d[k])}`)
  return parts.length > 0 ? parts.join(" ") : JSON.stringify(decoded).slice(0, 100)
}

/** Epoch-millisecond times get their ISO form beside them: people read dates, not numbers. */
const showValue = (key: string, v: unknown): string => {
  if (typeof v === "object") return JSON.stringify(v)
  if (typeof v === "number" && /(At|From)(Ms)?$/.test(key) && v > 1e12) return `${v} (${new Date(v).toISOString()})`
  return String(v)
}

const printHuman = async (io: Io, id: string, current: unknown, history: ReadonlyArray<{ e: RawShadowEntry; decoded: unknown }>): Promise<void> => {
  if (current === undefined) await outLine(io, `no current shadow for ${id}`)
  else {
    await outLine(io, `current shadow of ${id}:`)
    for (const [k, v] of Object.entries(typeof current === "object" && current !== null ? current : { value: current }))
      await outLine(io, `  ${(k + ":").padEnd(18)}${showValue(k, v)}`)
  }
  if (history.length === 0) return
  await outLine(io, "")
  const rows = history.map(({ e, decoded }) => [String(e.revision), e.created, e.operation, summary(decoded)])
  for (const l of table(["REVISION", "CREATED", "OP", "SHADOW"], rows)) await outLine(io, l)
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
    const decoder = await loadShadowDecoder()
    const current = found.current === undefined ? undefined : { revision: found.current.revision, ...(decodeWith(decoder, found.current) as object) }
    const history = found.history.map((e) => ({ e, decoded: decodeWith(decoder, e) }))
    if (ctx.json)
      await outJson(ctx.io, {
        id,
        bucket: found.bucket,
        decoder: decoder === undefined ? "raw" : "shadow-store",
        current: current ?? null,
        history: history.map(({ e, decoded }) => ({ revision: e.revision, created: e.created, operation: e.operation, value: decoded ?? null })),
      })
    else await printHuman(ctx.io, id, current, history)
    return 0
  },
}
