import type { Command } from "./command.ts"
import { err } from "./io.ts"

// `umbra simulate <scenario> ...` hands its arguments to the simulation runner in
// simulations/, imported only when asked for (the runner and simulator are heavy).

export const simulateCommand: Command = {
  name: "simulate",
  summary: "run a simulation scenario live against NATS (or --sim: deterministic, on virtual time)",
  usage: "simulate <scenario> [--duration <s>] [--out <dir>] [--seed <n>] [--sim] [--echo] [--faults none|default]",
  options: {},
  passThrough: true,
  run: async (ctx) => {
    const mod = await import("../../simulations/simulate-main.ts").catch(async (e: unknown) => {
      await err(ctx.io, `umbra: simulate is not available: ${e instanceof Error ? e.message : String(e)}`)
      return undefined
    })
    if (mod === undefined) return 2
    return mod.runSimulateCommand(ctx.raw, {
      stdout: (text) => void ctx.io.stdout.write(text),
      stderr: (text) => void ctx.io.stderr.write(text),
      env: ctx.io.env,
    })
  },
}
