import { loadConfig } from "../config.ts"
import { flag } from "./args.ts"
import type { Command } from "./command.ts"
import { err, outJson, outLine, type Io } from "./io.ts"

// `umbra train`: warms the predictor from the recorded history (access log, then every
// event from the start) and saves the checkpoint the predictor service starts from. Stream,
// bucket and durable names come from the same environment as the services (UMBRA_*).

const NOT_SAFE = 1

export const trainCommand: Command = {
  name: "train",
  summary: "warm the predictor from recorded history (events + access log) and save its checkpoint",
  usage: "train [--force] [--json]   (stop the predictor service first; --force trains anyway)",
  options: { force: { type: "boolean" } },
  run: async (ctx) => {
    const { trainFromHistory } = await import("../predictor/train.ts")
    const client = await ctx.client()
    const r = await trainFromHistory(client.nc, loadConfig(), { force: flag(ctx.values, "force") }).catch(async (e: unknown) => {
      if ((e as { _tag?: unknown })._tag !== "PredictorRunning") throw e
      await err(ctx.io, `umbra: PREDICTOR_RUNNING: ${(e as Error).message}`)
      return undefined
    })
    if (r === undefined) return NOT_SAFE
    if (ctx.json) {
      await outJson(ctx.io, r)
      return 0
    }
    await outLine(
      ctx.io,
      `trained on ${r.events} events and ${r.accessFacts} access facts in ${r.elapsedMs} ms (${Math.round(r.eventsPerSec)} events/s): ` +
        `${r.model.trackedBlobs} blobs tracked, ${r.model.classes} classes, checkpoint ${r.checkpointBytes} bytes at event seq ${r.positions.events}`,
    )
    return 0
  },
}

/** For callers without the dispatcher: `runTrain(["--json"], io)`. */
export const runTrain = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { runCli } = await import("./cli.ts")
  return runCli(["train", ...argv], io)
}
