import { Effect, Layer } from "effect"
import { runService } from "../run-service.ts"
import { Nats, Settings, TopologyLayer } from "../layers.ts"
import { Predictor } from "./layer.ts"

// The predictor service alone: `tsx services/predictor/main.ts`.
const Ready = Layer.effectDiscard(
  Effect.gen(function* () {
    const { url } = yield* Nats
    const predictor = yield* Predictor
    const s = predictor.stats()
    console.log(
      `umbra predictor ready on ${url}: ${s.startedFrom === "checkpoint" ? `from checkpoint at event seq ${s.positions.events}` : "cold start"}, ${s.model.trackedBlobs} blobs tracked`,
    )
  }),
)

runService(
  Ready.pipe(
    Layer.provideMerge(Predictor.layer),
    Layer.provideMerge(TopologyLayer),
    Layer.provideMerge(Nats.layer),
    Layer.provideMerge(Settings.layer),
  ),
)
