import { Kvm } from "@nats-io/kv"
import { describe, expect, it } from "vitest"
import { CAS_DUPLICATE_WINDOW_MS } from "../../infra/exclusive-cas.ts"
import { ensureTopology } from "../../infra/topology.ts"
import { topologyOf } from "../../services/config.ts"
import { serverPerFile, testConfig } from "../support/nats-server.ts"

const t = serverPerFile()

describe("the shadow bucket's history setting", () => {
  it("defaults to one revision per key (an O(1) compare-and-set on nats-server 2.9)", async () => {
    await ensureTopology(t.nc(), topologyOf(testConfig(t.server().url)))
    expect((await (await new Kvm(t.nc()).open("umbra_shadows")).status()).history).toBe(1)
  })

  it("follows the configuration when the bucket exists with another history, keeping its shadows", async () => {
    const kv = await new Kvm(t.nc()).open("umbra_shadows")
    await kv.put("topology/kept", new TextEncoder().encode("x"))
    await ensureTopology(t.nc(), topologyOf(testConfig(t.server().url, { shadowHistory: 16 })))
    expect((await kv.status()).history).toBe(16)
    await ensureTopology(t.nc(), topologyOf(testConfig(t.server().url, { shadowHistory: 1 })))
    expect((await kv.status()).history).toBe(1)
    expect((await kv.get("topology/kept"))?.string()).toBe("x")
    // The history update did not put JetStream's 2-minute duplicate window back.
    expect((await kv.status()).streamInfo.config.duplicate_window).toBe(CAS_DUPLICATE_WINDOW_MS * 1_000_000)
  })

  it("remembers compare-and-set ids for seconds, not JetStream's 2 minutes (infra/exclusive-cas.ts)", async () => {
    await ensureTopology(t.nc(), topologyOf(testConfig(t.server().url)))
    expect((await (await new Kvm(t.nc()).open("umbra_shadows")).status()).streamInfo.config.duplicate_window).toBe(CAS_DUPLICATE_WINDOW_MS * 1_000_000)
  })
})
