import type { ReadOptions, ReadResult } from "../../infra/client/umbra-client.ts"
import { flag, int, num, oneOf, positionals, str, usageError, type Values } from "./args.ts"
import type { Command } from "./command.ts"
import { err, out, outJson, saveFile, type Io } from "./io.ts"
import { blobIdArg } from "./blob-id-arg.ts"

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** Content in JSON output: as text when it is valid UTF-8, else base64. */
const encodeContent = (bytes: Uint8Array): { encoding: "utf8" | "base64"; content: string } => {
  try {
    return { encoding: "utf8", content: strictUtf8.decode(bytes) }
  } catch {
    return { encoding: "base64", content: Buffer.from(bytes).toString("base64") }
  }
}

export const metadataOf = (r: ReadResult): Record<string, unknown> => ({
  id: r.id,
  version: r.version,
  digest: r.digest,
  source: r.source,
  size: r.content.length,
  ...(r.time === undefined ? {} : { time: r.time }),
  ...(r.contentType === undefined ? {} : { contentType: r.contentType }),
  ...(r.contentRef === undefined ? {} : { contentRef: r.contentRef }),
  ...(r.shadow === undefined ? {} : { shadow: r.shadow }),
})

/** Aligned `key: value` lines: the source and, for a shadow, why it could be served. */
export const metadataLines = (r: ReadResult): ReadonlyArray<string> => {
  const rows: Array<[string, string | number | undefined]> = [
    ["id", r.id],
    ["version", r.version],
    ["source", r.source],
    ["digest", r.digest],
    ["size", r.content.length],
    ["time", r.time],
    ["content-type", r.contentType],
    ["content-ref", r.contentRef],
  ]
  if (r.shadow !== undefined)
    rows.push(
      ["confidence", r.shadow.confidence],
      ["valid-from", new Date(r.shadow.validFrom).toISOString()],
      ["shadow-version", r.shadow.shadowVersion],
      ["shadow-origin", r.shadow.origin],
      ["based-on", r.shadow.basedOn],
    )
  return rows.filter(([, v]) => v !== undefined).map(([k, v]) => `${(k + ":").padEnd(16)}${String(v)}`)
}

const readOptions = (v: Values): ReadOptions => {
  const version = int(v, "version", 1)
  const asOf = str(v, "as-of")
  if (version !== undefined && asOf !== undefined) throw usageError("give either --version or --as-of, not both")
  const consistency = oneOf(v, "consistency", ["shadow", "primary"] as const)
  const minConfidence = num(v, "min-confidence")
  return {
    ...(version === undefined ? {} : { version }),
    ...(asOf === undefined ? {} : { asOf }),
    ...(consistency === undefined ? {} : { consistency }),
    ...(minConfidence === undefined ? {} : { minConfidence }),
  }
}

/** Content to stdout (or a file), metadata to stderr. */
export const printHuman = async (io: Io, r: ReadResult, file: string | undefined, showMeta: boolean): Promise<void> => {
  if (file === undefined) await out(io, r.content)
  else await saveFile(file, r.content)
  if (!showMeta) return
  // On a terminal, content without a final newline would run into the first metadata line.
  if (file === undefined && io.stdout.isTTY === true && io.stderr.isTTY === true && r.content.at(-1) !== 0x0a) await err(io, "")
  for (const line of metadataLines(r)) await err(io, line)
}

export const getCommand: Command = {
  name: "get",
  summary: "print a blob's content (head, a version, or as of a time)",
  usage: "get <id> [--version n | --as-of T] [--consistency shadow|primary] [--min-confidence x] [-o file] [--meta] [-q]",
  options: {
    version: { type: "string" },
    "as-of": { type: "string" },
    consistency: { type: "string" },
    "min-confidence": { type: "string" },
    output: { type: "string", short: "o" },
    meta: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  },
  run: async (ctx) => {
    const [rawId = ""] = positionals(ctx.positionals, ["id"], 1)
    const id = blobIdArg(rawId)
    const opts = readOptions(ctx.values)
    const file = str(ctx.values, "output")
    const r = await (await ctx.client()).read(id, opts)
    if (ctx.json) {
      if (file !== undefined) await saveFile(file, r.content)
      await outJson(ctx.io, { ...metadataOf(r), ...(file === undefined ? encodeContent(r.content) : { file }) })
      return 0
    }
    // Metadata goes to stderr so stdout stays exactly the content; a terminal user sees it unasked.
    const showMeta = flag(ctx.values, "meta") || (ctx.io.stderr.isTTY === true && !flag(ctx.values, "quiet"))
    await printHuman(ctx.io, r, file, showMeta)
    return 0
  },
}
