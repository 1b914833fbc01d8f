import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import { ensureTopology } from "../../infra/topology.ts"
import { topologyOf } from "../../services/config.ts"
import { connectTo, startTestServer, testConfig } from "../support/nats-server.ts"

let server: NatsServerProcess
let nc: NatsConnection

beforeAll(async () => {
  server = await startTestServer()
  nc = await connectTo(server.url)
})

afterAll(async () => {
  await nc.close()
  await server.stop(true)
})

describe("the shadow bucket's history setting", () => {
  it("defaults to one revision per key (an O(1) compare-and-set on nats-server 2.9)", async () => {
    await ensureTopology(nc, topologyOf(testConfig(server.url)))
    expect((await (await new Kvm(nc).open("umbra_shadows")).status()).history).toBe(1)
  })

  it("follows the configuration when the bucket exists with another history, keeping its shadows", async () => {
    const kv = await new Kvm(nc).open("umbra_shadows")
    await kv.put("topology/kept", new TextEncoder().encode("x"))
    await ensureTopology(nc, topologyOf(testConfig(server.url, { shadowHistory: 16 })))
    expect((await kv.status()).history).toBe(16)
    await ensureTopology(nc, topologyOf(testConfig(server.url, { shadowHistory: 1 })))
    expect((await kv.status()).history).toBe(1)
    expect((await kv.get("topology/kept"))?.string()).toBe("x")
  })
})
