import { positionals, strs, usageError } from "./args.ts"
import type { Command } from "./command.ts"
import { readInput } from "./io.ts"
import { MUTATION_OPTIONS, MUTATION_USAGE, mutationOptions, printWrite } from "./mutation.ts"
import { blobIdArg } from "./blob-id-arg.ts"

const encoder = new TextEncoder()

/** `--op` values, each one operation or an array of them, joined into one RFC 6902 patch. */
const opsFromFlags = (raw: ReadonlyArray<string>): Uint8Array => {
  const ops: unknown[] = []
  for (const text of raw) {
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch {
      throw usageError(`--op is not JSON: ${text}`)
    }
    if (Array.isArray(v)) ops.push(...(v as unknown[]))
    else ops.push(v)
  }
  return encoder.encode(JSON.stringify(ops))
}

export const patchCommand: Command = {
  name: "patch",
  summary: "apply an RFC 6902 JSON Patch to a JSON blob",
  usage: `patch <id> [file|-] | patch <id> --op '{"op":"replace","path":"/a","value":1}' ... ${MUTATION_USAGE}`,
  options: { ...MUTATION_OPTIONS, op: { type: "string", multiple: true } },
  run: async (ctx) => {
    const [rawId = "", file] = positionals(ctx.positionals, ["id", "file"], 1)
    const id = blobIdArg(rawId)
    const flagOps = strs(ctx.values, "op")
    if (flagOps.length > 0 && file !== undefined) throw usageError("give the patch either as --op or as a file, not both")
    const opts = mutationOptions(ctx.values)
    // A patch file is sent as written: the service is the one judge of what is valid.
    const body = flagOps.length > 0 ? opsFromFlags(flagOps) : await readInput(ctx.io, file)
    const r = await (await ctx.client()).patch(id, body, opts)
    await printWrite(ctx.io, ctx.json, "patched", r)
    return 0
  },
}
