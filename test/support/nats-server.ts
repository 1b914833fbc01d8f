import type { NatsConnection } from "@nats-io/nats-core"
import { connectNats } from "../../infra/connection.ts"
import { startNatsServer, type NatsServerOptions, type NatsServerProcess } from "../../infra/embedded-server.ts"
import { ensureTopology } from "../../infra/topology.ts"
import { loadConfig, type UmbraConfig, topologyOf } from "../../services/config.ts"

// Each integration test file gets its own nats-server (random free port, temp store),
// stopped in afterAll, never the machine's shared one.

export const startTestServer = (opts: NatsServerOptions = {}): Promise<NatsServerProcess> => startNatsServer(opts)

export const testConfig = (url: string, overrides: Partial<UmbraConfig> = {}): UmbraConfig =>
  loadConfig({ natsUrl: url, actorIdleMs: 30_000, ...overrides })

export const connectTo = (url: string, name = "umbra-test"): Promise<NatsConnection> =>
  connectNats({ servers: url, name })

export const prepareTopology = async (nc: NatsConnection, config: UmbraConfig): Promise<void> =>
  ensureTopology(nc, topologyOf(config))
