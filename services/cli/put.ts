import { positionals, str } from "./args.ts"
import type { Command } from "./command.ts"
import { readInput } from "./io.ts"
import { MUTATION_OPTIONS, MUTATION_USAGE, mutationOptions, printWrite } from "./mutation.ts"
import { blobIdArg } from "./blob-id-arg.ts"

export const putCommand: Command = {
  name: "put",
  summary: "write a blob's content from a file or stdin",
  usage: `put <id> [file|-] [--content-type t] ${MUTATION_USAGE}`,
  options: { ...MUTATION_OPTIONS, "content-type": { type: "string" } },
  run: async (ctx) => {
    const [rawId = "", file] = positionals(ctx.positionals, ["id", "file"], 1)
    const id = blobIdArg(rawId)
    const opts = mutationOptions(ctx.values)
    const contentType = str(ctx.values, "content-type")
    const content = await readInput(ctx.io, file)
    const client = await ctx.client()
    const r = await client.write(id, content, { ...opts, ...(contentType === undefined ? {} : { contentType }) })
    await printWrite(ctx.io, ctx.json, "wrote", r)
    return 0
  },
}
