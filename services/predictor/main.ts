import { Effect, Layer } from "effect"
import { runService } from "../run-service.ts"
import { Nats, Settings, TopologyLayer } from "../layers.ts"
import { metricsEndpointLayer } from "../metrics/layer.ts"
import { createUmbraMetrics } from "../metrics/registry.ts"
import { Predictor, trackPredictorGauges } from "./layer.ts"

// One registry for the process; served on UMBRA_METRICS_PORT when that is set.
const metrics = createUmbraMetrics()

// The predictor service alone: `tsx services/predictor/main.ts`.
const Ready = Layer.effectDiscard(
  Effect.gen(function* () {
    const { url } = yield* Nats
    const predictor = yield* Predictor
    trackPredictorGauges(metrics.predictor, predictor)
    const s = predictor.stats()
    console.log(
      `umbra predictor ready on ${url}: ${s.startedFrom === "checkpoint" ? `from checkpoint at event seq ${s.positions.events}` : "cold start"}, ${s.model.trackedBlobs} blobs tracked`,
    )
  }),
)

runService(
  Ready.pipe(
    Layer.provideMerge(Predictor.layer),
    Layer.provideMerge(metricsEndpointLayer(metrics, { title: "Umbra predictor", followVerdicts: false })),
    Layer.provideMerge(TopologyLayer),
    Layer.provideMerge(Nats.layer),
    Layer.provideMerge(Settings.layer),
  ),
)
