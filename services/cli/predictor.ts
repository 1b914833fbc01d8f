import { existsSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Command } from "./command.ts"
import { err } from "./io.ts"

// `umbra predictor eval ...` hands its arguments to the evaluation runner in simulations/,
// loaded only when asked for (and only if it exists yet): the CLI must not pay for or depend
// on the simulator to put and get blobs.

const EVAL_MAIN = new URL("../../simulations/predictor-eval-main.ts", import.meta.url)
const RUNNER_NAMES = ["runPredictorEval", "runPredictorEvalCli", "runCli", "run", "main"] as const
const NOT_AVAILABLE = 2

type Runner = (argv: ReadonlyArray<string>) => unknown

const loadRunner = async (): Promise<Runner | undefined> => {
  if (!existsSync(fileURLToPath(EVAL_MAIN))) return undefined
  const mod = (await import(pathToFileURL(fileURLToPath(EVAL_MAIN)).href)) as Record<string, unknown>
  const name = RUNNER_NAMES.find((n) => typeof mod[n] === "function")
  return name === undefined ? undefined : (mod[name] as Runner)
}

/** A runner may answer an exit status, an object carrying one, or nothing (success). */
const exitStatusOf = (r: unknown): number =>
  typeof r === "number" ? r : typeof r === "object" && r !== null && typeof (r as { exitCode?: unknown }).exitCode === "number" ? (r as { exitCode: number }).exitCode : 0

export const predictorCommand: Command = {
  name: "predictor",
  summary: "predictor tools: `predictor eval ...` evaluates predictors on a scenario",
  usage: "predictor eval [args...]",
  options: {},
  passThrough: true,
  run: async (ctx) => {
    const [sub, ...args] = ctx.raw
    if (sub !== "eval") {
      await err(ctx.io, `umbra: USAGE: predictor has one subcommand: eval`)
      return 2
    }
    const runner = await loadRunner()
    if (runner === undefined) {
      await err(ctx.io, "umbra: predictor eval is not available yet")
      return NOT_AVAILABLE
    }
    return exitStatusOf(await runner(args))
  },
}
