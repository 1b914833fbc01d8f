import { collectDefaultMetrics, Registry } from "prom-client"
import { BlobMetrics } from "./blob-metrics.ts"
import { PredictorMetrics } from "./predictor-metrics.ts"
import { ShadowMetrics } from "./shadow-metrics.ts"

// One registry per Umbra process, holding every family any part of the process may feed:
// the blob service its measuring points, the reconciler and predictor their hooks.
// Start the HTTP endpoint with `startMetricsServer` (http-server.ts) or, in a service's
// layers, with `metricsEndpointLayer` (layer.ts).

export interface UmbraMetrics {
  readonly registry: Registry
  readonly blob: BlobMetrics
  /** For the reconciler (verdicts, lag) and the predictor (emitted predictions). */
  readonly shadow: ShadowMetrics
  readonly predictor: PredictorMetrics
}

export const createUmbraMetrics = (opts: { readonly processMetrics?: boolean } = {}): UmbraMetrics => {
  const registry = new Registry()
  // process_* and nodejs_* (CPU, heap, event-loop lag): what an operator checks first.
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry })
  return {
    registry,
    blob: new BlobMetrics(registry),
    shadow: new ShadowMetrics(registry),
    predictor: new PredictorMetrics(registry),
  }
}

export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from "./http-server.ts"
export { followLifecycle, type LifecycleView } from "./lifecycle-view.ts"
