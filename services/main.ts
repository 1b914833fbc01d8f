import { Effect, Layer } from "effect"
import { Blob, Nats, Settings, TopologyLayer } from "./layers.ts"
import { Predictor, trackPredictorGauges } from "./predictor/layer.ts"
import { Reconciler } from "./reconciler/layer.ts"
import { metricsEndpointLayer } from "./metrics/layer.ts"
import { createUmbraMetrics } from "./metrics/registry.ts"
import { AuditEndpointLayer } from "./audit/layer.ts"
import { runService } from "./run-service.ts"

// `npm start`: the whole system in one process, sharing one connection. Each part is also
// runnable on its own (see docker-compose.yml).

const Ready = Layer.effectDiscard(
  Effect.gen(function* () {
    const { url, embedded } = yield* Nats
    const config = yield* Settings
    yield* Blob
    trackPredictorGauges(metrics.predictor, yield* Predictor)
    yield* Reconciler
    console.log(
      `umbra ready: ${url}${embedded ? " (embedded nats-server, store .data/nats)" : ""} · services: blob(${config.names.serviceName}), predictor, reconciler`,
    )
  }),
)

// One registry for the process; served on UMBRA_METRICS_PORT when that is set.
const metrics = createUmbraMetrics()

runService(
  Ready.pipe(
    // The reconciler records verdicts here, so /metrics exports them (a lifecycle-following
    // view is only for blob-service processes without a reconciler; see monitoring/README.md).
    Layer.provideMerge(Reconciler.layer({ shadowMetrics: metrics.shadow })),
    Layer.provideMerge(Predictor.layer),
    Layer.provideMerge(Blob.layer({ metrics: metrics.blob })),
    Layer.provideMerge(AuditEndpointLayer),
    Layer.provideMerge(metricsEndpointLayer(metrics, { title: "Umbra", followVerdicts: false })),
    Layer.provideMerge(TopologyLayer),
    Layer.provideMerge(Nats.layer),
    Layer.provideMerge(Settings.layer),
  ),
)
