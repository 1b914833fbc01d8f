import { int, positionals, usageError } from "./args.ts"
import type { Command } from "./command.ts"
import { MUTATION_OPTIONS, MUTATION_USAGE, mutationOptions, printWrite } from "./mutation.ts"
import { blobIdArg } from "./blob-id-arg.ts"

export const restoreCommand: Command = {
  name: "restore",
  summary: "make a past version's content the head again, as a new version",
  usage: `restore <id> --version n ${MUTATION_USAGE}`,
  options: { ...MUTATION_OPTIONS, version: { type: "string" } },
  run: async (ctx) => {
    const [rawId = ""] = positionals(ctx.positionals, ["id"], 1)
    const id = blobIdArg(rawId)
    const version = int(ctx.values, "version", 1)
    if (version === undefined) throw usageError("restore needs --version n")
    const opts = mutationOptions(ctx.values)
    const r = await (await ctx.client()).restore(id, version, opts)
    await printWrite(ctx.io, ctx.json, `restored version ${version} of`, r, { restoredFrom: version })
    return 0
  },
}
