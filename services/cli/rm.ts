import { positionals } from "./args.ts"
import type { Command } from "./command.ts"
import { MUTATION_OPTIONS, MUTATION_USAGE, mutationOptions, printWrite } from "./mutation.ts"
import { blobIdArg } from "./blob-id-arg.ts"

export const rmCommand: Command = {
  name: "rm",
  summary: "delete a blob (a tombstone version; its past stays readable)",
  usage: `rm <id> ${MUTATION_USAGE}`,
  options: MUTATION_OPTIONS,
  run: async (ctx) => {
    const [rawId = ""] = positionals(ctx.positionals, ["id"], 1)
    const id = blobIdArg(rawId)
    const opts = mutationOptions(ctx.values)
    const r = await (await ctx.client()).delete(id, opts)
    await printWrite(ctx.io, ctx.json, "deleted", r)
    return 0
  },
}
