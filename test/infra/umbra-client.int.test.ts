import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { nodeHasher } from "../../infra/hasher.ts"
import { UmbraClient, UmbraClientError, type ReadResult } from "../../infra/client/umbra-client.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"
import { READER, startSecuredStack } from "./secured-stack.ts"

let s: TestStack
let client: UmbraClient
beforeAll(async () => {
  s = await startTestStack()
  client = new UmbraClient(s.nc, { timeoutMs: 30_000 })
})
afterAll(async () => {
  await client?.close()
  await s?.stop()
})

const text = (r: ReadResult) => new TextDecoder().decode(r.content)

/** The rejection of `p`, which must be an UmbraClientError. */
const failure = async (p: Promise<unknown>): Promise<UmbraClientError> => {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(UmbraClientError)
    return e as UmbraClientError
  }
  throw new Error("expected the call to fail")
}

describe("UmbraClient round trip", () => {
  it("writes, reads, patches, deletes, lists history and restores", async () => {
    const id = "client/round-trip"
    const w1 = await client.write(id, '{"n":1,"tags":[]}', { contentType: "application/json", writer: "alice" })
    expect(w1).toMatchObject({ id, version: 1 })
    expect(w1.digest).toBe(nodeHasher.digest(new TextEncoder().encode('{"n":1,"tags":[]}')))

    const r1 = await client.read(id, { consistency: "primary" })
    expect(text(r1)).toBe('{"n":1,"tags":[]}')
    expect(r1).toMatchObject({ version: 1, digest: w1.digest, source: "primary", contentType: "application/json" })
    expect(r1.time).toMatch(/^\d{4}-\d{2}-\d{2}T/)

    const w2 = await client.patch(id, [{ op: "replace", path: "/n", value: 2 }], { expectedVersion: 1 })
    expect(w2.version).toBe(2)
    expect(JSON.parse(text(await client.read(id)))).toEqual({ n: 2, tags: [] })

    const del = await client.delete(id, { expectedVersion: 2 })
    expect(del.version).toBe(3)
    expect((await failure(client.read(id))).code).toBe("NOT_FOUND")
    expect(text(await client.read(id, { version: 1 }))).toBe('{"n":1,"tags":[]}')

    const page = await client.history(id)
    expect(page.entries.map((e) => [e.version, e.op])).toEqual([[1, "write"], [2, "patch"], [3, "delete"]])
    expect(page.entries[0]?.writer).toBe("alice")
    expect(page.headVersion).toBe(3)
    expect(page.nextFrom).toBeUndefined()

    const restored = await client.restore(id, 1)
    expect(restored).toMatchObject({ version: 4, digest: w1.digest })
    const head = await client.read(id, { consistency: "primary" })
    expect(text(head)).toBe('{"n":1,"tags":[]}')
    expect(head.version).toBe(4)
  })

  it("pages history both ways and reads as of a time", async () => {
    const id = "client/paging"
    for (let i = 1; i <= 7; i++) await client.write(id, `v${i}`)
    const forward = await client.history(id, { limit: 3 })
    expect(forward.entries.map((e) => e.version)).toEqual([1, 2, 3])
    expect(forward.nextFrom).toBe(4)
    const back = await client.history(id, { limit: 3, reverse: true })
    expect(back.entries.map((e) => e.version)).toEqual([7, 6, 5])
    const all: number[] = []
    for await (const e of client.historyAll(id, { limit: 2, reverse: true })) all.push(e.version)
    expect(all).toEqual([7, 6, 5, 4, 3, 2, 1])
    const v3 = forward.entries[2]
    expect(text(await client.read(id, { asOf: v3?.time ?? "" }))).toBe("v3")
    expect(text(await client.read(id, { asOf: new Date(Date.now() + 60_000) }))).toBe("v7")
  })
})

describe("read sources", () => {
  it("a shadow-served read carries the shadow's fields", async () => {
    const id = "client/shadow-fields"
    const w = await client.write(id, "s1")
    // The write path's shadow is written without waiting; give it a moment to land.
    await new Promise((r) => setTimeout(r, 200))
    const r = await client.read(id, { minConfidence: 0 })
    expect(text(r)).toBe("s1")
    expect(r.digest).toBe(w.digest)
    if (r.source === "shadow") {
      expect(r.shadow?.confidence).toBeGreaterThanOrEqual(0)
      expect(r.shadow?.shadowVersion).toBeGreaterThanOrEqual(1)
      expect(typeof r.shadow?.origin).toBe("string")
      expect(r.shadow?.validFrom).toBeGreaterThan(0)
    } else expect(r.source).toBe("primary")
  })

  it("a local replica answers first; primary consistency and past reads bypass it", async () => {
    const id = "client/local"
    await client.write(id, "from-service")
    const lookups: Array<{ id: string; minConfidence?: number }> = []
    const replica = {
      lookup: (blob: string, q: { minConfidence?: number }): ReadResult | undefined => {
        lookups.push({ id: blob, ...q })
        return blob === id ? { id, content: new TextEncoder().encode("from-replica"), version: 9, digest: "sha256:x", source: "shadow" } : undefined
      },
    }
    const local = new UmbraClient(s.nc, { localReplica: replica })
    const hit = await local.read(id, { minConfidence: 0.5 })
    expect(hit.source).toBe("local")
    expect(text(hit)).toBe("from-replica")
    expect(lookups).toEqual([{ id, minConfidence: 0.5 }])
    expect(text(await local.read(id, { consistency: "primary" }))).toBe("from-service")
    expect(text(await local.read(id, { version: 1 }))).toBe("from-service")
    expect(text(await local.read(id, { localReplica: null }))).toBe("from-service")
    expect(lookups).toHaveLength(1)
    // A miss falls through to the service.
    await local.write("client/local-miss", "svc")
    expect(text(await local.read("client/local-miss"))).toBe("svc")
  })
})

describe("typed errors", () => {
  it("a version conflict names the current version", async () => {
    const id = "client/conflict"
    await client.write(id, "a")
    await client.write(id, "b")
    const e = await failure(client.write(id, "c", { expectedVersion: 1 }))
    expect(e.code).toBe("VERSION_CONFLICT")
    expect(e.currentVersion).toBe(2)
    expect(e.details).toMatchObject({ status: 409, currentVersion: 2, expectedVersion: 1 })
    expect((await failure(client.write("client/fresh-only", "x", { expectedVersion: 0 }).then(() => client.write("client/fresh-only", "y", { expectedVersion: 0 })))).code).toBe(
      "VERSION_CONFLICT",
    )
  })

  it("not found, invalid id, bad patch, bad options", async () => {
    expect((await failure(client.read("client/never-written"))).code).toBe("NOT_FOUND")
    expect((await failure(client.history("client/never-written"))).code).toBe("NOT_FOUND")
    for (const bad of ["a.b", "a*", "a>", "a b", "", "x".repeat(201)]) {
      expect((await failure(client.write(bad, "x"))).code).toBe("INVALID_ID")
      expect((await failure(client.read(bad))).code).toBe("INVALID_ID")
    }
    const id = "client/patch-target"
    await client.write(id, '{"a":1}')
    expect((await failure(client.patch(id, "not json"))).code).toBe("INVALID_REQUEST")
    expect((await failure(client.patch(id, [{ op: "replace", path: "/missing/deep", value: 1 }]))).code).toBe("INVALID_REQUEST")
    await client.write("client/not-json", "plain text")
    expect((await failure(client.patch("client/not-json", [{ op: "add", path: "/a", value: 1 }]))).code).toBe("INVALID_REQUEST")
    expect((await failure(client.write(id, "x", { expectedVersion: -1 }))).code).toBe("INVALID_REQUEST")
    expect((await failure(client.read(id, { minConfidence: 2 }))).code).toBe("INVALID_REQUEST")
    expect((await failure(client.read(id, { version: 99 }))).code).toBe("NOT_FOUND")
    // Nothing above changed the blob.
    expect((await client.read(id, { consistency: "primary" })).version).toBe(1)
  })

  it("no responders when no service listens on the subject prefix", async () => {
    const lonely = new UmbraClient(s.nc, { names: { commandSubjectPrefix: "nobody.home" }, timeoutMs: 2_000 })
    expect((await failure(lonely.read("client/any"))).code).toBe("NO_RESPONDERS")
  })

  it("a connection to no server fails with CONNECTION", async () => {
    const e = await failure(UmbraClient.connect({ servers: "nats://127.0.0.1:1", failFast: true, timeoutMs: 1_000 }))
    expect(e.code).toBe("CONNECTION")
  })
})

describe("idempotent retries", () => {
  it("the same idempotency key creates one version", async () => {
    const id = "client/idem"
    const a = await client.write(id, "once", { idempotencyKey: "key-1" })
    const b = await client.write(id, "once", { idempotencyKey: "key-1", retries: 3 })
    expect(b).toEqual(a)
    const page = await client.history(id)
    expect(page.entries.map((e) => e.version)).toEqual([1])
    expect(page.entries[0]?.idempotencyKey).toBe("key-1")
  })

  it("a write whose attempts time out while the server is stalled is stored once", async () => {
    const id = "client/idem-stalled"
    // SIGSTOP holds the request in the socket: the first attempt times out although the
    // server will process it once resumed; later attempts carry the same generated key. Each
    // attempt has its own deadline, so the retries allowed (the client's maximum) leave room
    // for a slow resume when other test files load the machine.
    await s.server.pause()
    const resume = setTimeout(() => s.server.signal("SIGCONT"), 800)
    const started = Date.now()
    try {
      const w = await client.write(id, "stalled", { retries: 10, timeoutMs: 400 })
      expect(w.version).toBe(1)
      // Past the first attempt's deadline: at least one attempt did time out.
      expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    } finally {
      clearTimeout(resume)
      s.server.signal("SIGCONT")
    }
    const page = await client.history(id)
    expect(page.entries.map((e) => e.version)).toEqual([1])
    expect(page.entries[0]?.idempotencyKey).toBeDefined()
  })

  it("a write with retries carries a generated key", async () => {
    const id = "client/idem-generated"
    await client.write(id, "x", { retries: 2 })
    const [entry] = (await client.history(id)).entries
    expect(entry?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe("large content through the content store", () => {
  const roundTrip = async (id: string, size: number) => {
    const bytes = randomBytes(size)
    const digest = nodeHasher.digest(bytes)
    const w = await client.write(id, bytes)
    expect(w.digest).toBe(digest)
    const r = await client.read(id, { consistency: "primary" })
    expect(r.contentRef).toBe(digest)
    expect(r.content.length).toBe(size)
    expect(r.digest).toBe(digest)
    expect(nodeHasher.digest(r.content)).toBe(digest)
    expect(Buffer.from(r.content).equals(bytes)).toBe(true)
  }

  it("1 MiB + 1 byte", () => roundTrip("client/big-1m", 1024 * 1024 + 1))
  it("512 KiB sent inline, stored by reference by the service", () => roundTrip("client/big-512k", 512 * 1024))
  it("64 MiB", () => roundTrip("client/big-64m", 64 * 1024 * 1024), 300_000)
})

describe("permissions", () => {
  it("a denied command is PERMISSION_DENIED; an allowed one works", async () => {
    const secured = await startSecuredStack()
    const reader = await UmbraClient.connect({ servers: secured.server.url, ...READER, failFast: true, timeoutMs: 5_000 })
    try {
      const denied = await failure(reader.write("client/locked", "x"))
      expect(denied.code).toBe("PERMISSION_DENIED")
      expect(denied.message).toMatch(/blob\.cmd\.write\.client\/locked/)
      expect((await failure(reader.read("client/locked"))).code).toBe("NOT_FOUND")
      const wrongPassword = await failure(UmbraClient.connect({ servers: secured.server.url, user: "reader", pass: "nope", failFast: true }))
      expect(wrongPassword.code).toBe("PERMISSION_DENIED")
    } finally {
      await reader.close()
      await secured.stop()
    }
  })
})
