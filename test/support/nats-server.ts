import { afterAll, beforeAll } from "vitest"
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

/**
 * A server and one connection for the whole test file: started in beforeAll, closed and
 * stopped (store removed) in afterAll. Read them inside tests: `t.nc()`, `t.server()`.
 */
export const serverPerFile = (): { readonly server: () => NatsServerProcess; readonly nc: () => NatsConnection } => {
  let server: NatsServerProcess | undefined
  let nc: NatsConnection | undefined
  beforeAll(async () => {
    server = await startTestServer()
    nc = await connectTo(server.url)
  })
  afterAll(async () => {
    await nc?.close()
    await server?.stop(true)
  })
  const must = <T,>(x: T | undefined): T => {
    if (x === undefined) throw new Error("the test server is not up (used outside a test?)")
    return x
  }
  return { server: () => must(server), nc: () => must(nc) }
}
