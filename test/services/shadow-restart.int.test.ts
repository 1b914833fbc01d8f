import { Kvm } from "@nats-io/kv"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../support/eventually.ts"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// A standalone server's memory streams vanish on restart, the shadow bucket with them.
let s: TestStack
beforeAll(async () => {
  s = await startTestStack()
})
afterAll(async () => s?.stop())

describe("restart of a standalone nats-server", () => {
  it("re-creates the shadow bucket, rebuilds shadows of hot blobs and keeps answering", async () => {
    await cmd(s.nc, "write", "rs/hot", "hot content")
    await eventually(() => expect(s.blob.shadows.replica.get("rs/hot")?.predicted).toBe(1))
    s.server.signal("SIGKILL")
    await s.server.restart()
    // The bucket comes back (the replica re-creates it before watching again) …
    await eventually(async () => {
      const kv = await new Kvm(s.nc).open(s.config.names.shadowBucket)
      const st = await kv.status()
      expect(String(st.streamInfo.config.storage)).toBe("memory")
    }, 20_000, 200)
    // … and the live blob's shadow is rebuilt from its actor.
    await eventually(() => expect(s.blob.shadows.replica.get("rs/hot")?.predicted).toBe(1), 20_000, 100)
    const r = await eventually(() => cmd(s.nc, "read", "rs/hot"), 20_000, 200)
    expect(r.text).toBe("hot content")
    expect(r.header("Umbra-Source")).toBe("shadow")
    // Writes keep working, and their shadows land in the new bucket.
    const w = await eventually(() => cmd(s.nc, "write", "rs/hot", "after restart", { "Umbra-Expected-Version": "1" }), 20_000, 200)
    expect(w.json().version).toBe(2)
    await eventually(() => expect(s.blob.shadows.replica.get("rs/hot")?.predicted).toBe(2))
    expect(s.blob.shadows.counters.replicaResets).toBeGreaterThanOrEqual(1)
  })
})
