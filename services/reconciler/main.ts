import { Effect, Layer } from "effect"
import { Nats, Settings, TopologyLayer } from "../layers.ts"
import { metricsEndpointLayer } from "../metrics/layer.ts"
import { createUmbraMetrics } from "../metrics/registry.ts"
import { runService } from "../run-service.ts"
import { Reconciler } from "./layer.ts"

// The reconciler alone: `tsx services/reconciler/main.ts`. Several may run at once: they
// share the durable consumer, so each event is settled by one of them.
const Ready = Layer.effectDiscard(
  Effect.gen(function* () {
    const { url } = yield* Nats
    const config = yield* Settings
    const r = yield* Reconciler
    console.log(
      `umbra reconciler ${config.instanceId} ready on ${url}: durable ${config.reconciler.durable}, ${r.replica.size} shadows, sweep every ${config.reconciler.sweepIntervalMs} ms`,
    )
  }),
)

const metrics = createUmbraMetrics()

runService(
  Ready.pipe(
    Layer.provideMerge(Reconciler.layer({ shadowMetrics: metrics.shadow })),
    // This process records the verdicts itself: its registry already holds them.
    Layer.provideMerge(metricsEndpointLayer(metrics, { title: "Umbra reconciler", followVerdicts: false })),
    Layer.provideMerge(TopologyLayer),
    Layer.provideMerge(Nats.layer),
    Layer.provideMerge(Settings.layer),
  ),
)
