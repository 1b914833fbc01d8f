import { Context, Effect, Layer } from "effect"
import { Nats, Settings } from "../layers.ts"
import type { PredictorMetrics } from "../metrics/predictor-metrics.ts"
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

/** The predictor's size on the metrics endpoint (umbra_predictor_tracked_blobs / _memory_bytes). */
export const trackPredictorGauges = (metrics: PredictorMetrics, predictor: PredictorService): void => {
  metrics.track({
    trackedBlobs: () => predictor.stats().model.trackedBlobs,
    memoryBytes: () => predictor.stats().model.approxBytes,
  })
}
