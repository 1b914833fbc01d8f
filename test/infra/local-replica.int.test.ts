import { Kvm } from "@nats-io/kv"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LocalShadowReplica } from "../../infra/client/local-replica.ts"
import { UmbraClient } from "../../infra/client/umbra-client.ts"
import { eventually } from "../support/eventually.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

let s: TestStack
let replica: LocalShadowReplica
let client: UmbraClient
beforeAll(async () => {
  s = await startTestStack()
  replica = await LocalShadowReplica.start(s.nc, { prefix: "local/" })
  client = new UmbraClient(s.nc, { localReplica: replica })
})
afterAll(async () => {
  await replica?.stop()
  await s?.stop()
})

const text = (b: Uint8Array) => new TextDecoder().decode(b)

describe("client-side shadow replica", () => {
  it("serves a valid shadow with no request leaving the process", async () => {
    await client.write("local/a", "one")
    await eventually(() => expect(replica.lookup("local/a", {})).toBeDefined())
    const before = s.nc.stats().outMsgs
    for (let i = 0; i < 100; i++) {
      const r = await client.read("local/a")
      expect(r.source).toBe("local")
      expect(text(r.content)).toBe("one")
    }
    expect(s.nc.stats().outMsgs).toBe(before)
  })

  it("follows a replacement and stops serving the old content", async () => {
    await client.write("local/b", "old")
    await eventually(() => expect(replica.lookup("local/b", {})?.version).toBe(1))
    await client.write("local/b", "new")
    await eventually(() => expect(replica.lookup("local/b", {})?.version).toBe(2))
    const r = await client.read("local/b")
    expect(r.source).toBe("local")
    expect(text(r.content)).toBe("new")
  })

  it("stops serving a shadow once it is removed from the tier", async () => {
    await client.write("local/c", "soon gone")
    await eventually(() => expect(replica.lookup("local/c", {})).toBeDefined())
    const kv = await new Kvm(s.nc).open(s.config.names.shadowBucket)
    await kv.purge("local/c")
    await eventually(() => expect(replica.lookup("local/c", {})).toBeUndefined())
    // The service's own replica follows the same watch; wait for it too before asking it.
    await eventually(() => expect(s.blob.shadows.replica.get("local/c")).toBeUndefined())
    const r = await client.read("local/c")
    expect(r.source).toBe("primary")
    expect(text(r.content)).toBe("soon gone")
  })

  it("applies the read rules: a higher minimum confidence or a primary read goes to the service", async () => {
    await client.write("local/d", "x")
    await eventually(() => expect(replica.lookup("local/d", {})).toBeDefined())
    expect((await client.read("local/d", { consistency: "primary" })).source).toBe("primary")
    // write shadows have confidence 1: any minimum ≤ 1 is met.
    expect((await client.read("local/d", { minConfidence: 1 })).source).toBe("local")
  })

  it("keeps only the blobs it was asked for", async () => {
    await client.write("other/x", "not mine")
    await client.write("local/e", "mine")
    await eventually(() => expect(replica.lookup("local/e", {})).toBeDefined())
    expect(replica.lookup("other/x", {})).toBeUndefined()
  })
})
