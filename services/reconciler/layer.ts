import { Context, Effect, Layer } from "effect"
import { Nats, Settings } from "../layers.ts"
import type { ShadowMetrics } from "../metrics/shadow-metrics.ts"
import { startReconciler, type Reconciler as ReconcilerHandle } from "./reconciler.ts"

// The reconciler as a scoped service: started after the topology, stopped (consumer closed,
// sweep finished, replica stopped) before the connection drains.
export class Reconciler extends Context.Service<Reconciler, ReconcilerHandle>()("umbra/Reconciler") {
  static readonly layer = (o: { readonly shadowMetrics?: ShadowMetrics } = {}) =>
    Layer.effect(
      Reconciler,
      Effect.gen(function* () {
        const config = yield* Settings
        const { nc, connectMore } = yield* Nats
        return yield* Effect.acquireRelease(
          Effect.promise(() =>
            startReconciler(nc, config, { ...o, connectLifecycle: () => connectMore(`${config.instanceId}-lifecycle`, { noEcho: true }) }),
          ),
          (r) => Effect.promise(() => r.stop()),
        )
      }),
    )
}

export const reconcilerLayer = Reconciler.layer
