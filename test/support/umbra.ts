import type { NatsConnection } from "@nats-io/nats-core"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import type { UmbraConfig } from "../../services/config.ts"
import { startBlobService, type BlobService } from "../../services/blob-service/blob-service.ts"
import { createUmbraMetrics, followLifecycle, startMetricsServer, type MetricsServer, type UmbraMetrics } from "../../services/metrics/registry.ts"
import { connectTo, prepareTopology, startTestServer, testConfig } from "./nats-server.ts"

export interface TestStack {
  readonly server: NatsServerProcess
  readonly config: UmbraConfig
  /** The service's own connection. */
  readonly serviceNc: NatsConnection
  /** A separate client connection, as an application would have. */
  readonly nc: NatsConnection
  readonly blob: BlobService
  /** With `{ metrics: true }`: the process registry and its endpoint on an ephemeral port. */
  readonly metrics: { readonly metrics: UmbraMetrics; readonly server: MetricsServer } | undefined
  stop(): Promise<void>
}

export interface TestStackOptions {
  readonly metrics?: boolean
  readonly sampleIntervalMs?: number
}

export const startTestStack = async (overrides: Partial<UmbraConfig> = {}, opts: TestStackOptions = {}): Promise<TestStack> => {
  const server = await startTestServer()
  const config = testConfig(server.url, overrides)
  const serviceNc = await connectTo(server.url, "umbra-blob-test")
  await prepareTopology(serviceNc, config)
  const metrics = opts.metrics === true ? createUmbraMetrics() : undefined
  const blob = await startBlobService(serviceNc, config, metrics === undefined ? {} : { metrics: metrics.blob })
  const view = metrics === undefined ? undefined : followLifecycle(serviceNc, config.names)
  const endpoint =
    metrics === undefined
      ? undefined
      : await startMetricsServer({
          host: "127.0.0.1",
          port: 0,
          registry: metrics.registry,
          statusRegistries: view === undefined ? [] : [view.registry],
          title: `Umbra test · ${config.instanceId}`,
          ...(opts.sampleIntervalMs === undefined ? {} : { sampleIntervalMs: opts.sampleIntervalMs }),
        })
  const nc = await connectTo(server.url, "umbra-client-test")
  return {
    server,
    config,
    serviceNc,
    nc,
    blob,
    metrics: metrics === undefined || endpoint === undefined ? undefined : { metrics, server: endpoint },
    stop: async () => {
      await endpoint?.stop().catch(() => {})
      view?.stop()
      await blob.stop().catch(() => {})
      await nc.close().catch(() => {})
      await serviceNc.close().catch(() => {})
      await server.stop(true)
    },
  }
}
