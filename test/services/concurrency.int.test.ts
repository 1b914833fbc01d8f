import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import { startBlobService, type BlobService } from "../../services/blob-service/blob-service.ts"
import { connectTo } from "../support/nats-server.ts"
import { eventually } from "../support/eventually.ts"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// Two service instances share the queue group, so concurrent writers reach both: the
// per-blob queue of one actor and JetStream's compare-and-set between instances both count.

let s: TestStack
let second: BlobService
let secondNc: Awaited<ReturnType<typeof connectTo>>
beforeAll(async () => {
  s = await startTestStack()
  secondNc = await connectTo(s.server.url, "second-instance")
  second = await startBlobService(secondNc, { ...s.config, instanceId: "second" })
})
afterAll(async () => {
  await second?.stop()
  await secondNc?.close()
  await s?.stop()
})

describe("optimistic concurrency", () => {
  it("32 writers with one expected version: one wins per version, the others get 409 naming the current version", async () => {
    const id = "race/one"
    expect((await cmd(s.nc, "write", id, "v1")).json().version).toBe(1)
    for (let round = 1; round <= 5; round++) {
      const replies = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          cmd(s.nc, "write", id, `round ${round} writer ${i}`, { "Umbra-Expected-Version": String(round) }),
        ),
      )
      const ok = replies.filter((r) => r.status === undefined)
      const conflicts = replies.filter((r) => r.status === 409)
      expect(ok).toHaveLength(1)
      expect(ok[0]!.json().version).toBe(round + 1)
      expect(conflicts).toHaveLength(31)
      for (const c of conflicts) {
        const err = c.json().error
        expect(err.code).toBe("VERSION_CONFLICT")
        expect(err.currentVersion).toBeGreaterThanOrEqual(round)
        expect(c.header("Nats-Service-Error")).toMatch(/conflict/)
      }
    }
    // The stream holds versions 1..6, each exactly once and in order.
    const page = await cmd(s.nc, "history", id, JSON.stringify({ limit: 100 }))
    expect(page.json().map((e: { version: number }) => e.version)).toEqual([1, 2, 3, 4, 5, 6])
  })

  it("unconditional concurrent writers all land, each on its own version, none skipped", async () => {
    const id = "race/free"
    const replies = await Promise.all(Array.from({ length: 32 }, (_, i) => cmd(s.nc, "write", id, `w${i}`)))
    for (const r of replies) expect(r.status, r.text).toBeUndefined()
    const versions = replies.map((r) => r.json().version as number).sort((a, b) => a - b)
    expect(versions).toEqual(Array.from({ length: 32 }, (_, i) => i + 1))
    const page = await cmd(s.nc, "history", id, JSON.stringify({ limit: 100 }))
    expect(page.json().map((e: { version: number }) => e.version)).toEqual(versions)
  })

  it("a primary read on an instance whose live actor is behind another instance's write reloads it", async () => {
    const id = "race/reload" as BlobId
    const bytes = (t: string) => ({ kind: "inline" as const, bytes: new TextEncoder().encode(t) })
    const w = (content: string, expectedVersion: number | undefined) => ({
      _tag: "WriteBlob" as const, content: bytes(content), contentType: undefined, restoredFrom: undefined, expectedVersion, idempotencyKey: undefined, writer: "t",
    })
    expect(await s.blob.registry.command(id, w("one", undefined))).toMatchObject({ version: 1 })
    expect(await second.registry.command(id, w("two", 1))).toMatchObject({ version: 2 })
    // Once the head feed reached the first instance, its live actor (still at 1) is reloaded.
    await eventually(() => expect(s.blob.shadows.heads.get(id)).toBe(2))
    const r = await s.blob.registry.read(id)
    expect(r).toMatchObject({ _tag: "state", state: { version: 2 } })
  })

  it("a deposed view of the head (another instance wrote) is refreshed, never overwritten", async () => {
    const id = "race/two-instances" as BlobId
    const a = await s.blob.registry.command(id, {
      _tag: "WriteBlob", content: { kind: "inline", bytes: new TextEncoder().encode("a") },
      contentType: undefined, restoredFrom: undefined, expectedVersion: undefined, idempotencyKey: undefined, writer: "t",
    })
    expect(a).toMatchObject({ _tag: "written", version: 1 })
    const b = await second.registry.command(id, {
      _tag: "WriteBlob", content: { kind: "inline", bytes: new TextEncoder().encode("b") },
      contentType: undefined, restoredFrom: undefined, expectedVersion: 1, idempotencyKey: undefined, writer: "t",
    })
    expect(b).toMatchObject({ _tag: "written", version: 2 })
    // The first instance still holds version 1 in memory; its stale view must not win.
    const c = await s.blob.registry.command(id, {
      _tag: "WriteBlob", content: { kind: "inline", bytes: new TextEncoder().encode("c") },
      contentType: undefined, restoredFrom: undefined, expectedVersion: 1, idempotencyKey: undefined, writer: "t",
    })
    expect(c).toMatchObject({ _tag: "rejected", error: { _tag: "VersionConflict", currentVersion: 2 } })
    const d = await s.blob.registry.command(id, {
      _tag: "WriteBlob", content: { kind: "inline", bytes: new TextEncoder().encode("d") },
      contentType: undefined, restoredFrom: undefined, expectedVersion: undefined, idempotencyKey: undefined, writer: "t",
    })
    expect(d).toMatchObject({ _tag: "written", version: 3 })
  })
})
