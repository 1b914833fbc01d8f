import { readFile, writeFile } from "node:fs/promises"
import { performance } from "node:perf_hooks"
import type { Command } from "./command.ts"
import { err } from "./io.ts"

// `umbra predictor eval ...` hands its arguments to the evaluation runner in simulations/.
// It is imported only when asked for: putting and getting blobs should not pay for loading
// the simulator.

const NOT_AVAILABLE = 2

export const predictorCommand: Command = {
  name: "predictor",
  summary: "predictor tools: `predictor eval ...` replays a scenario or history through the predictor",
  usage: "predictor eval [--scenario name | --history file.jsonl] [--versions n] [--seed n] [--json] [--html file]",
  options: {},
  passThrough: true,
  run: async (ctx) => {
    const [sub, ...args] = ctx.raw
    if (sub !== "eval") {
      await err(ctx.io, "umbra: USAGE: predictor has one subcommand: eval")
      return NOT_AVAILABLE
    }
    const mod = await import("../../simulations/predictor-eval-main.ts").catch(() => undefined)
    if (mod === undefined || typeof mod.runPredictorEval !== "function") {
      await err(ctx.io, "umbra: predictor eval is not available yet")
      return NOT_AVAILABLE
    }
    return mod.runPredictorEval(args, {
      stdout: (text) => void ctx.io.stdout.write(text),
      readFile: (path) => readFile(path, "utf8"),
      writeFile: (path, data) => writeFile(path, data),
      now: () => performance.now(),
    })
  },
}
