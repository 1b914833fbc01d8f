import type { HistoryEntry, HistoryPage } from "../../infra/client/umbra-client.ts"
import { flag, int, positionals } from "./args.ts"
import type { Command } from "./command.ts"
import { outJson, outLine, type Io } from "./io.ts"
import { blobIdArg } from "./blob-id-arg.ts"

const COLUMNS = ["VERSION", "TIME", "OP", "SIZE", "DIGEST", "WRITER", "NOTE"] as const

const shortDigest = (d: string): string => (d.startsWith("sha256:") ? d.slice(0, 19) : d)

const row = (e: HistoryEntry): ReadonlyArray<string> => [
  String(e.version),
  e.time,
  e.op,
  String(e.size),
  shortDigest(e.digest),
  e.writer,
  [e.restoredFrom === undefined ? "" : `restored v${e.restoredFrom}`, e.idempotencyKey === undefined ? "" : `key ${e.idempotencyKey}`]
    .filter((s) => s !== "")
    .join(", "),
]

/** Columns padded to their widest cell; the last one is left ragged. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()
  return [line(header), ...rows.map(line)]
}

const printHuman = async (io: Io, id: string, page: HistoryPage, reverse: boolean): Promise<void> => {
  for (const l of table(COLUMNS, page.entries.map(row))) await outLine(io, l)
  if (page.nextFrom !== undefined)
    await outLine(io, `(head version ${page.headVersion ?? "?"}; next page: umbra history ${id} --from ${page.nextFrom}${reverse ? " --reverse" : ""})`)
}

export const historyCommand: Command = {
  name: "history",
  summary: "list a blob's versions, a page at a time",
  usage: "history <id> [--from n] [--limit n] [--reverse]",
  options: {
    from: { type: "string" },
    limit: { type: "string" },
    reverse: { type: "boolean" },
  },
  run: async (ctx) => {
    const [rawId = ""] = positionals(ctx.positionals, ["id"], 1)
    const id = blobIdArg(rawId)
    const from = int(ctx.values, "from", 1)
    const limit = int(ctx.values, "limit", 1)
    const reverse = flag(ctx.values, "reverse")
    const page = await (await ctx.client()).history(id, {
      ...(from === undefined ? {} : { from }),
      ...(limit === undefined ? {} : { limit }),
      reverse,
    })
    if (ctx.json) await outJson(ctx.io, { id, headVersion: page.headVersion ?? null, nextFrom: page.nextFrom ?? null, entries: page.entries })
    else await printHuman(ctx.io, id, page, reverse)
    return 0
  },
}
