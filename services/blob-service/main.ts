import { Effect, Layer } from "effect"
import { runService } from "../run-service.ts"
import { Blob, Nats, Settings, TopologyLayer } from "../layers.ts"

// The blob service alone (one of several replicas in docker-compose.yml).
const Ready = Layer.effectDiscard(
  Effect.gen(function* () {
    const { url } = yield* Nats
    const config = yield* Settings
    yield* Blob
    console.log(`umbra blob service ${config.instanceId} ready on ${url}`)
  }),
)

runService(
  Ready.pipe(
    Layer.provideMerge(Blob.layer()),
    Layer.provideMerge(TopologyLayer),
    Layer.provideMerge(Nats.layer),
    Layer.provideMerge(Settings.layer),
  ),
)
