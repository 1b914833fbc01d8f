import { Effect, Layer } from "effect"
import { AuditEndpointLayer } from "../audit/layer.ts"
import { runService } from "../run-service.ts"
import { Blob, Nats, Settings, TopologyLayer } from "../layers.ts"
import { metricsEndpointLayer } from "../metrics/layer.ts"
import { createUmbraMetrics } from "../metrics/registry.ts"

// The blob service alone (one of several replicas in docker-compose.yml).
const Ready = Layer.effectDiscard(
  Effect.gen(function* () {
    const { url } = yield* Nats
    const config = yield* Settings
    yield* Blob
    console.log(`umbra blob service ${config.instanceId} ready on ${url}`)
  }),
)

// One registry for the process; served on UMBRA_METRICS_PORT when that is set.
const metrics = createUmbraMetrics()

runService(
  Ready.pipe(
    Layer.provideMerge(Blob.layer({ metrics: metrics.blob })),
    Layer.provideMerge(AuditEndpointLayer),
    Layer.provideMerge(metricsEndpointLayer(metrics, { title: "Umbra blob service" })),
    Layer.provideMerge(TopologyLayer),
    Layer.provideMerge(Nats.layer),
    Layer.provideMerge(Settings.layer),
  ),
)
