import { Effect, Layer } from "effect"
import { Nats, Settings } from "../layers.ts"
import { followLifecycle, startMetricsServer, type UmbraMetrics } from "./registry.ts"

// The metrics endpoint of a service process: started only when UMBRA_METRICS_PORT is set,
// stopped (port closed, lifecycle subscription dropped) when the service shuts down.
// `followVerdicts`: false in a process that records verdicts itself (the reconciler),
// whose own registry already holds them.

export const metricsEndpointLayer = (metrics: UmbraMetrics, opts: { readonly title: string; readonly followVerdicts?: boolean }) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const config = yield* Settings
      if (config.metricsPort <= 0) return
      const { nc } = yield* Nats
      const view = opts.followVerdicts === false ? undefined : yield* Effect.acquireRelease(Effect.sync(() => followLifecycle(nc, config.names)), (v) => Effect.sync(() => v.stop()))
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startMetricsServer({
            host: config.metricsHost,
            port: config.metricsPort,
            registry: metrics.registry,
            statusRegistries: view === undefined ? [] : [view.registry],
            title: `${opts.title} · ${config.instanceId}`,
          }),
        ),
        (s) => Effect.promise(() => s.stop()),
      )
      yield* Effect.sync(() => console.log(`umbra metrics: ${server.url}/metrics · status page ${server.url}/`))
    }),
  )
