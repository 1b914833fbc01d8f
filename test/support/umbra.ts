import type { NatsConnection } from "@nats-io/nats-core"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import type { UmbraConfig } from "../../services/config.ts"
import { startBlobService, type BlobService } from "../../services/blob-service/blob-service.ts"
import { connectTo, prepareTopology, startTestServer, testConfig } from "./nats-server.ts"

export interface TestStack {
  readonly server: NatsServerProcess
  readonly config: UmbraConfig
  /** The service's own connection. */
  readonly serviceNc: NatsConnection
  /** A separate client connection, as an application would have. */
  readonly nc: NatsConnection
  readonly blob: BlobService
  stop(): Promise<void>
}

export const startTestStack = async (overrides: Partial<UmbraConfig> = {}): Promise<TestStack> => {
  const server = await startTestServer()
  const config = testConfig(server.url, overrides)
  const serviceNc = await connectTo(server.url, "umbra-blob-test")
  await prepareTopology(serviceNc, config)
  const blob = await startBlobService(serviceNc, config)
  const nc = await connectTo(server.url, "umbra-client-test")
  return {
    server,
    config,
    serviceNc,
    nc,
    blob,
    stop: async () => {
      await blob.stop().catch(() => {})
      await nc.close().catch(() => {})
      await serviceNc.close().catch(() => {})
      await server.stop(true)
    },
  }
}
