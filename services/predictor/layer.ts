import { Context, Effect, Layer } from "effect"
import { Nats, Settings } from "../layers.ts"
import { startPredictorService, type PredictorService } from "./predictor-service.ts"

// The predictor as a scoped service: started after the topology, stopped (and checkpointed)
// before the connection drains.
export class Predictor extends Context.Service<Predictor, PredictorService>()("umbra/PredictorService") {
  static readonly layer = Layer.effect(
    Predictor,
    Effect.gen(function* () {
      const config = yield* Settings
      const { nc } = yield* Nats
      return yield* Effect.acquireRelease(
        Effect.promise(() => startPredictorService(nc, config)),
        (p) => Effect.promise(() => p.stop()),
      )
    }),
  )
}
