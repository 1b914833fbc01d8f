import { Kvm } from "@nats-io/kv"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import { decodeShadow } from "../../infra/shadow-codec.ts"
import { eventually } from "../support/eventually.ts"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

let s: TestStack
beforeAll(async () => {
  s = await startTestStack({ shadowHistory: 64, defaultMinConfidence: 0.9, conflictConfidence: 0.5 })
})
afterAll(async () => s?.stop())

const enc = new TextEncoder()
const prediction = (id: string, predicted: number, content: string, o: Partial<Shadow> = {}): Shadow => {
  const bytes = enc.encode(content)
  return {
    id: id as BlobId,
    basedOn: predicted - 1,
    predicted,
    digest: nodeHasher.digest(bytes),
    size: bytes.length,
    contentType: undefined,
    contentRef: undefined,
    content: bytes,
    confidence: 0.99,
    validFromMs: Date.now() - 1,
    createdAtMs: Date.now(),
    origin: "prediction",
    model: "test",
    status: "live",
    reason: undefined,
    shadowVersion: 0,
    ...o,
  }
}

describe("shadow-first reads", () => {
  it("a write leaves a `write` shadow that serves the next read", async () => {
    await cmd(s.nc, "write", "sh/a", "hello")
    await eventually(() => expect(s.blob.shadows.replica.get("sh/a")?.predicted).toBe(1))
    const r = await cmd(s.nc, "read", "sh/a")
    expect(r.text).toBe("hello")
    expect(r.header("Umbra-Source")).toBe("shadow")
    expect(r.header("Umbra-Shadow-Origin")).toBe("write")
    expect(r.header("Umbra-Version")).toBe("1")
    expect(Number(r.header("Umbra-Shadow-Version"))).toBeGreaterThan(0)
    expect(r.header("Umbra-Confidence")).toBe("1")
    expect(r.header("Umbra-Valid-From")).toMatch(/^\d{4}-/)
    const p = await cmd(s.nc, "read", "sh/a", undefined, { "Umbra-Consistency": "primary" })
    expect(p.header("Umbra-Source")).toBe("primary")
  })

  it("a valid shadow is served while the primary is unavailable (actor not hydrated, stream unreadable)", async () => {
    const id = "sh/offline" as BlobId
    await cmd(s.nc, "write", id, "from before")
    await eventually(() => expect(s.blob.shadows.replica.get(id)?.predicted).toBe(1))
    s.blob.registry.passivateAll()
    await eventually(() => expect(s.blob.registry.isLive(id)).toBe(false))
    const events = s.blob.events
    const saved = { head: events.head, nextFrom: events.nextFrom, atSeq: events.atSeq, range: events.range }
    const refuse = async () => {
      throw new Error("primary unavailable for this test")
    }
    Object.assign(events, { head: refuse, nextFrom: refuse, atSeq: refuse, range: refuse })
    try {
      const hydrations = s.blob.registry.stats.hydrations
      const r = await cmd(s.nc, "read", id)
      expect(r.status).toBeUndefined()
      expect(r.text).toBe("from before")
      expect(r.header("Umbra-Source")).toBe("shadow")
      expect(s.blob.registry.stats.hydrations).toBe(hydrations)
      expect(s.blob.registry.isLive(id)).toBe(false)
      // And the primary really is unreachable for it.
      const p = await cmd(s.nc, "read", id, undefined, { "Umbra-Consistency": "primary" })
      expect(p.status).toBeGreaterThanOrEqual(500)
    } finally {
      Object.assign(events, saved)
    }
  })

  it("a shadow whose valid-from is in the future is not served; the primary answers", async () => {
    const id = "sh/future"
    await cmd(s.nc, "write", id, "now")
    await eventually(() => expect(s.blob.shadows.replica.get(id)?.predicted).toBe(1))
    const put = await s.blob.shadows.store.put(prediction(id, 2, "later", { validFromMs: Date.now() + 60_000 }))
    expect(put._tag).toBe("stored")
    await eventually(() => expect(s.blob.shadows.replica.get(id)?.predicted).toBe(2))
    const before = s.blob.shadows.counters.misses["not-yet-valid"]
    const r = await cmd(s.nc, "read", id)
    expect(r.text).toBe("now")
    expect(r.header("Umbra-Source")).toBe("primary")
    expect(s.blob.shadows.counters.misses["not-yet-valid"]).toBe(before + 1)
  })

  it("an obsolete shadow (older than the known head) is not served", async () => {
    const id = "sh/obsolete"
    await cmd(s.nc, "write", id, "one")
    await eventually(() => expect(s.blob.shadows.replica.get(id)?.predicted).toBe(1))
    // The head feed reports a newer version than the shadow holds (as when another instance
    // wrote and its shadow has not arrived yet).
    s.blob.shadows.heads.observe(id, 2)
    const r = await cmd(s.nc, "read", id)
    expect(r.header("Umbra-Source")).toBe("primary")
  })
})

describe("conflicts", () => {
  it("a write that loses a conflict leaves a `conflict` shadow; a higher minimum confidence skips it", async () => {
    const id = "sh/conflict"
    await cmd(s.nc, "write", id, "winner")
    const lost = await cmd(s.nc, "write", id, "loser", { "Umbra-Expected-Version": "0" })
    expect(lost.status).toBe(409)
    await eventually(() => expect(s.blob.shadows.replica.get(id)?.origin).toBe("conflict"))
    const sh = s.blob.shadows.replica.get(id)!
    expect(sh.predicted).toBe(2)
    expect(sh.confidence).toBe(0.5)
    const strict = await cmd(s.nc, "read", id, undefined, { "Umbra-Min-Confidence": "0.6" })
    expect(strict.text).toBe("winner")
    expect(strict.header("Umbra-Source")).toBe("primary")
    const loose = await cmd(s.nc, "read", id, undefined, { "Umbra-Min-Confidence": "0.4" })
    expect(loose.text).toBe("loser")
    expect(loose.header("Umbra-Shadow-Origin")).toBe("conflict")
  })
})

describe("monotonic shadows under concurrency", () => {
  it("64 writers and a concurrent shadow producer: the predicted version never decreases", async () => {
    const id = "sh/mono"
    const kv = await new Kvm(s.nc).open(s.config.names.shadowBucket)
    const seen: number[] = []
    const watch = await kv.watch({ key: id })
    const collecting = (async () => {
      for await (const e of watch) {
        const sh = e.operation === "PUT" ? decodeShadow(e.value, e.revision) : undefined
        if (sh !== undefined) seen.push(sh.predicted)
      }
    })()
    let producing = true
    const producer = (async () => {
      let n = 0
      while (producing) {
        const head = s.blob.shadows.knownHead(id as BlobId) ?? 0
        // Predictions both ahead of and behind the head, as a confused model might emit.
        await s.blob.shadows.store.put(prediction(id, Math.max(1, head + (n % 3) - 1), `guess ${n}`))
        n++
      }
    })()
    const writes = await Promise.all(Array.from({ length: 64 }, (_, i) => cmd(s.nc, "write", id, `w${i}`)))
    producing = false
    await producer
    const maxVersion = Math.max(...writes.map((w) => w.json().version as number))
    expect(maxVersion).toBe(64)
    await eventually(() => expect(s.blob.shadows.replica.get(id)!.predicted).toBeGreaterThanOrEqual(64))
    watch.stop()
    await collecting
    expect(seen.length).toBeGreaterThan(10)
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!)
    const history: number[] = []
    for await (const e of await kv.history({ key: id })) {
      const sh = decodeShadow(e.value, e.revision)
      if (sh) history.push(sh.predicted)
    }
    for (let i = 1; i < history.length; i++) expect(history[i]!).toBeGreaterThanOrEqual(history[i - 1]!)
    expect((await s.blob.shadows.store.get(id as BlobId))!.predicted).toBeGreaterThanOrEqual(64)
  })
})

describe("deletes", () => {
  it("a delete discards the blob's shadow everywhere at once", async () => {
    const id = "sh/deleted"
    await cmd(s.nc, "write", id, "alive")
    await eventually(() => expect(s.blob.shadows.replica.get(id)?.status).toBe("live"))
    await cmd(s.nc, "delete", id)
    await eventually(() => expect(s.blob.shadows.replica.get(id)).toMatchObject({ status: "discarded", predicted: 2, reason: "deleted" }))
    const r = await cmd(s.nc, "read", id)
    expect(r.status).toBe(404)
    // Written again, it is shadowed again.
    await cmd(s.nc, "write", id, "back")
    await eventually(() => expect(s.blob.shadows.replica.get(id)).toMatchObject({ status: "live", predicted: 3 }))
    expect((await cmd(s.nc, "read", id)).text).toBe("back")
  })
})
