import { jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { encodeShadow } from "../../infra/shadow-codec.ts"
import { ShadowReplica, startOf } from "../../infra/shadow-replica.ts"
import { eventually } from "../support/eventually.ts"
import { serverPerFile } from "../support/nats-server.ts"

const t = serverPerFile()

const shadow = (id: string, predicted: number): Shadow => {
  const content = new TextEncoder().encode(`${id} v${predicted}`)
  return {
    id: id as BlobId,
    basedOn: predicted - 1,
    predicted,
    digest: `sha256:${predicted}`,
    size: content.length,
    contentType: undefined,
    contentRef: undefined,
    content,
    confidence: 1,
    validFromMs: 0,
    createdAtMs: 0,
    origin: "write",
    model: "write-path",
    status: "live",
    reason: undefined,
    shadowVersion: 0,
  }
}

/** The deliver policy of the bucket's only consumer: the replica's watch. */
const watchPolicy = async (bucket: string): Promise<string> => {
  const jsm = await jetstreamManager(t.nc())
  const consumers = []
  for await (const c of jsm.consumers.list(`KV_${bucket}`)) consumers.push(c)
  expect(consumers).toHaveLength(1)
  return String(consumers[0]?.config.deliver_policy)
}

/** A replica of `bucket` for the length of `f`. */
const withReplica = async (bucket: string, f: (replica: ShadowReplica) => Promise<void>): Promise<void> => {
  const replica = await ShadowReplica.start(t.nc(), { bucket })
  try {
    await f(replica)
  } finally {
    await replica.stop()
  }
}

describe("where the replica's watch starts (startOf)", () => {
  it("after the last revision seen; from the first sequence with one revision per key or nothing held; else each key's current entry", () => {
    expect(startOf(41, 1, 7)).toEqual({ resumeFromRevision: 42 })
    expect(startOf(41, 16, 7)).toEqual({ resumeFromRevision: 42 })
    expect(startOf(0, 1, 0)).toEqual({ resumeFromRevision: 1 })
    expect(startOf(0, 1, 5)).toEqual({ resumeFromRevision: 1 })
    expect(startOf(0, 16, 0)).toEqual({ resumeFromRevision: 1 })
    expect(startOf(0, 16, 3)).toEqual({})
  })

  // A last-per-subject watch makes nats-server 2.9.10 recount every subject of the bucket on
  // each delivery whenever its num-pending mark is 0 (see startOf): the replica avoids one.
  it("on an empty bucket: a watch by sequence, which sees every put", async () => {
    const bucket = "replica_empty"
    const kv = await new Kvm(t.nc()).create(bucket, { storage: "memory" as never, history: 1 })
    await withReplica(bucket, async (replica) => {
      expect(await watchPolicy(bucket)).toBe("by_start_sequence")
      for (let i = 1; i <= 20; i++) await kv.put(`b${i}`, encodeShadow(shadow(`b${i}`, 1)))
      await kv.put("b1", encodeShadow(shadow("b1", 2)))
      await eventually(() => expect(replica.size).toBe(20))
      expect(replica.get("b1")?.predicted).toBe(2)
      expect(replica.get("b20")?.predicted).toBe(1)
    })
  })

  it("on a bucket with one revision per key: a watch by sequence that loads every current shadow, then follows", async () => {
    const bucket = "replica_full"
    const kv = await new Kvm(t.nc()).create(bucket, { storage: "memory" as never, history: 1 })
    await kv.put("a", encodeShadow(shadow("a", 1)))
    await kv.put("a", encodeShadow(shadow("a", 3)))
    await kv.put("b", encodeShadow(shadow("b", 1)))
    await kv.put("gone", encodeShadow(shadow("gone", 1)))
    await kv.delete("gone")
    await withReplica(bucket, async (replica) => {
      expect(await watchPolicy(bucket)).toBe("by_start_sequence")
      await eventually(() => expect(replica.get("a")?.predicted).toBe(3))
      expect(replica.get("b")?.predicted).toBe(1)
      expect(replica.get("gone")).toBeUndefined()
      await kv.put("b", encodeShadow(shadow("b", 2)))
      await eventually(() => expect(replica.get("b")?.predicted).toBe(2))
      expect(replica.size).toBe(2)
    })
  })

  it("on a purged bucket: only what is put after", async () => {
    const bucket = "replica_purged"
    const kv = await new Kvm(t.nc()).create(bucket, { storage: "memory" as never, history: 1 })
    await kv.put("old1", encodeShadow(shadow("old1", 1)))
    await kv.put("old2", encodeShadow(shadow("old2", 1)))
    await (await jetstreamManager(t.nc())).streams.purge(`KV_${bucket}`)
    await withReplica(bucket, async (replica) => {
      await kv.put("new", encodeShadow(shadow("new", 1)))
      await eventually(() => expect(replica.get("new")?.predicted).toBe(1))
      expect(replica.size).toBe(1)
    })
  })

  it("on a bucket that keeps history: each key's current shadow, not its past revisions", async () => {
    const bucket = "replica_history"
    const kv = await new Kvm(t.nc()).create(bucket, { storage: "memory" as never, history: 8 })
    await kv.put("a", encodeShadow(shadow("a", 1)))
    await kv.put("a", encodeShadow(shadow("a", 2)))
    await withReplica(bucket, async (replica) => {
      expect(await watchPolicy(bucket)).toBe("last_per_subject")
      await eventually(() => expect(replica.get("a")?.predicted).toBe(2))
      expect(replica.size).toBe(1)
    })
  })
})
