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

describe("where the replica's watch starts (startOf)", () => {
  it("after the last revision seen; after the last sequence of an empty bucket; else every current value", () => {
    expect(startOf(41, 7, 90)).toEqual({ resumeFromRevision: 42 })
    expect(startOf(0, 0, 0)).toEqual({ resumeFromRevision: 1 })
    expect(startOf(0, 0, 17)).toEqual({ resumeFromRevision: 18 })
    expect(startOf(0, 3, 17)).toEqual({})
  })

  // A last-per-subject watch created on an empty bucket makes nats-server 2.9.10 recount every
  // subject of the bucket on each delivery (see startOf): the replica must not create one.
  it("on an empty bucket: a watch from the next sequence, which still sees every put", async () => {
    const bucket = "replica_empty"
    const kv = await new Kvm(t.nc()).create(bucket, { storage: "memory" as never, history: 1 })
    const replica = await ShadowReplica.start(t.nc(), { bucket })
    try {
      expect(await watchPolicy(bucket)).toBe("by_start_sequence")
      for (let i = 1; i <= 20; i++) await kv.put(`b${i}`, encodeShadow(shadow(`b${i}`, 1)))
      await kv.put("b1", encodeShadow(shadow("b1", 2)))
      await eventually(() => expect(replica.size).toBe(20))
      expect(replica.get("b1")?.predicted).toBe(2)
      expect(replica.get("b20")?.predicted).toBe(1)
    } finally {
      await replica.stop()
    }
  })

  it("on a bucket with shadows: every current value first, then the changes", async () => {
    const bucket = "replica_full"
    const kv = await new Kvm(t.nc()).create(bucket, { storage: "memory" as never, history: 1 })
    await kv.put("a", encodeShadow(shadow("a", 3)))
    await kv.put("b", encodeShadow(shadow("b", 1)))
    const replica = await ShadowReplica.start(t.nc(), { bucket })
    try {
      expect(await watchPolicy(bucket)).toBe("last_per_subject")
      await eventually(() => expect(replica.get("a")?.predicted).toBe(3))
      await kv.put("b", encodeShadow(shadow("b", 2)))
      await eventually(() => expect(replica.get("b")?.predicted).toBe(2))
      expect(replica.size).toBe(2)
    } finally {
      await replica.stop()
    }
  })
})
