import { Kvm } from "@nats-io/kv"
import { beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { encodeShadow } from "../../infra/shadow-codec.ts"
import { ShadowReplica } from "../../infra/shadow-replica.ts"
import { ShadowStore } from "../../infra/shadow-store.ts"
import { eventually } from "../support/eventually.ts"
import { prepareTopology, serverPerFile, testConfig } from "../support/nats-server.ts"

// A shadow this process writes comes back through its replica's watch; the replica keeps the
// object it wrote (at the entry's revision) instead of decoding its own frame, and decodes
// anything else, including a different frame written under the same key by someone else.

const t = serverPerFile()
const bucket = () => testConfig(t.server().url).names.shadowBucket

beforeAll(async () => {
  await prepareTopology(t.nc(), testConfig(t.server().url))
})

const shadow = (id: string, predicted: number, text: string): Shadow => ({
  id: id as BlobId,
  basedOn: predicted - 1,
  predicted,
  digest: `sha256-${text}`,
  size: text.length,
  contentType: undefined,
  contentRef: undefined,
  content: new TextEncoder().encode(text),
  confidence: 1,
  validFromMs: 1_700_000_000_000,
  createdAtMs: 1_700_000_000_000,
  origin: "write",
  model: "write-path",
  status: "live",
  reason: undefined,
  shadowVersion: 0,
})

describe("shadow replica: own writes", () => {
  it("keeps the written shadow's own bytes, at the revision the watch gives it", async () => {
    const replica = await ShadowReplica.start(t.nc(), { bucket: bucket() })
    try {
      const store = await ShadowStore.open(t.nc(), { bucket: bucket(), maxShadows: 1_000, maxValueBytes: 1 << 20 }, replica)
      const mine = shadow("own/a", 1, "hello")
      const r = await store.put(mine)
      expect(r._tag).toBe("stored")
      const rev = r._tag === "stored" ? r.revision : -1
      await eventually(() => expect(replica.get("own/a")?.shadowVersion).toBe(rev))
      const kept = replica.get("own/a")!
      // The very bytes written, not a decoded copy; every field as decoding would give it.
      expect(kept.content).toBe(mine.content)
      expect(kept).toEqual({ ...mine, shadowVersion: rev })
    } finally {
      await replica.stop()
    }
  })

  it("decodes a frame someone else wrote under a key it expects", async () => {
    const replica = await ShadowReplica.start(t.nc(), { bucket: bucket() })
    try {
      const kv = await new Kvm(t.nc()).open(bucket())
      const mine = shadow("own/b", 1, "mine")
      // This process meant to write `mine`, but another writer's frame is what lands.
      replica.expect(encodeShadow(mine), mine)
      const theirs = shadow("own/b", 1, "theirs")
      const rev = await kv.put("own/b", encodeShadow(theirs))
      await eventually(() => expect(replica.get("own/b")?.shadowVersion).toBe(rev))
      const kept = replica.get("own/b")!
      expect(new TextDecoder().decode(kept.content)).toBe("theirs")
      expect(kept.content).not.toBe(theirs.content)
      expect(kept).toEqual({ ...theirs, shadowVersion: rev })
    } finally {
      await replica.stop()
    }
  })
})
