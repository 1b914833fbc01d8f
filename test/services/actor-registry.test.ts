import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { writeBlob } from "../../domain/blob-command.ts"
import type { BlobEvent } from "../../domain/blob-event.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import { HeadMoved, type Reply } from "../../domain/machines/blob-actor.ts"
import type { EventStore, StoredEvent } from "../../infra/event-store.ts"
import { ActorRegistry, type RegistryOptions } from "../../services/blob-service/actor-registry.ts"
import { BLOB, given, written } from "../support/given-when-then.ts"
import { testHasher, utf8 } from "../support/hasher.ts"

// The shell around the blob actors, with a store in memory: how actors end (idle, cap,
// eviction, failed hydration, a crash, shutdown) and that every queued request is answered.
// Actors are children of shared roots, so each of these endings is told to the registry by
// a root rather than by an observer on the actor.

interface FakeStore {
  head: (id: BlobId) => Promise<StoredEvent | undefined>
  append: (e: BlobEvent, expected: number) => Promise<{ seq: number }>
}

let seq = 0
const memoryStore = (): FakeStore => ({ head: async () => undefined, append: async () => ({ seq: ++seq }) })

const registries: ActorRegistry[] = []
const registry = (store: FakeStore, o: Partial<RegistryOptions> = {}): ActorRegistry => {
  const r = new ActorRegistry({
    store: store as unknown as EventStore,
    hasher: testHasher,
    inlineLimitBytes: 65_536,
    idleMs: 60_000,
    maxLiveActors: 1_000,
    maxInFlight: 1_000,
    appendDeadlineMs: 1_000,
    headRetries: 2,
    appendAttemptTimeoutMs: 500,
    ...o,
  })
  registries.push(r)
  return r
}
afterEach(() => {
  for (const r of registries.splice(0)) r.stop()
})

const id = (s: string) => s as BlobId
const write = (r: ActorRegistry, blob: string, text = "x"): Promise<Reply> => r.command(id(blob), writeBlob({ kind: "inline", bytes: utf8(text) }))

describe("actor registry", () => {
  it("an idle actor passivates on its timer and says so", async () => {
    const activations: Array<[string, boolean]> = []
    const r = registry(memoryStore(), { idleMs: 20, activation: (i, live) => activations.push([i, live]) })
    expect((await write(r, "a"))._tag).toBe("written")
    expect(r.isLive(id("a"))).toBe(true)
    await sleep(150)
    expect(r.isLive(id("a"))).toBe(false)
    expect(r.stats.passivations).toBe(1)
    expect(activations).toEqual([["a", true], ["a", false]])
    // It comes back with its state: the next write is version 1 again (the fake store has no head).
    expect((await write(r, "a"))._tag).toBe("written")
  })

  it("the cap passivates the least recently used idle actor", async () => {
    const r = registry(memoryStore(), { maxLiveActors: 2 })
    await write(r, "a")
    await write(r, "b")
    await write(r, "a")
    await write(r, "c")
    expect(r.liveCount).toBe(2)
    expect(r.isLive(id("b"))).toBe(false)
    expect(r.isLive(id("a"))).toBe(true)
    expect(r.stats.passivations).toBe(1)
  })

  it("a failed hydration answers the queued commands and frees the slot", async () => {
    const store = memoryStore()
    store.head = async () => {
      throw new Error("stream unavailable")
    }
    const r = registry(store)
    const replies = await Promise.all([write(r, "a", "1"), write(r, "a", "2")])
    for (const reply of replies) expect(reply).toMatchObject({ _tag: "rejected", error: { _tag: "Unavailable", reason: "stream unavailable" } })
    expect(r.isLive(id("a"))).toBe(false)
    expect(r.liveCount).toBe(0)
  })

  it("an actor that crashes answers its queue with an internal error", async () => {
    const r = registry(memoryStore(), {
      hooks: {
        appendStarted: () => {
          throw new Error("hook exploded")
        },
      },
    })
    const reply = await write(r, "a")
    expect(reply).toMatchObject({ _tag: "rejected", error: { _tag: "Internal" } })
    expect(reply._tag === "rejected" && reply.error._tag === "Internal" && reply.error.reason).toContain("hook exploded")
    expect(r.isLive(id("a"))).toBe(false)
  })

  it("evicting a busy actor stops it and answers its queue retryably; the blob comes back", async () => {
    const store = memoryStore()
    let release: (() => void) | undefined
    store.append = () =>
      new Promise((resolve) => {
        release = () => resolve({ seq: ++seq })
      })
    const r = registry(store)
    const pending = write(r, "a")
    await sleep(10)
    expect(r.evictWhere((i) => i === "a")).toBe(1)
    expect(await pending).toMatchObject({ _tag: "rejected", error: { _tag: "Unavailable" } })
    expect(r.isLive(id("a"))).toBe(false)
    release?.()
    store.append = async () => ({ seq: ++seq })
    expect((await write(r, "a"))._tag).toBe("written")
    expect(r.isLive(id("a"))).toBe(true)
  })

  it("stop answers every request in flight and reports every actor gone", async () => {
    const store = memoryStore()
    store.append = () => new Promise(() => {})
    const activations: Array<[string, boolean]> = []
    const r = registry(store, { activation: (i, live) => activations.push([i, live]) })
    const pending = [write(r, "a"), write(r, "b")]
    await sleep(10)
    r.stop()
    for (const reply of await Promise.all(pending)) expect(reply).toMatchObject({ _tag: "rejected", error: { _tag: "Unavailable" } })
    expect(r.liveCount).toBe(0)
    expect(activations.filter(([, live]) => !live).map(([i]) => i).sort()).toEqual(["a", "b"])
  })

  it("an actor whose reads are answered from its state (no message to it) is in use: it stays live", async () => {
    let t = 0
    const r = registry(memoryStore(), { idleMs: 1_000, now: () => t })
    expect((await write(r, "hot"))._tag).toBe("written")
    expect((await write(r, "cold"))._tag).toBe("written")
    for (let i = 0; i < 10; i++) {
      t += 300
      expect(r.readNow(id("hot"))?.version).toBe(1)
      r.passivateIdle()
    }
    // 3 s of reads, three times the idle time: still live; the blob nobody used is not.
    expect(r.isLive(id("hot"))).toBe(true)
    expect(r.isLive(id("cold"))).toBe(false)
    t += 1_000
    r.passivateIdle()
    expect(r.isLive(id("hot"))).toBe(false)
    expect(r.stats.passivations).toBe(2)
  })

  it("a busy actor that another writer overtook (the head feed past its write in flight) answers no read from its state", async () => {
    const store = memoryStore()
    let known = 0
    let release: (() => void) | undefined
    const r = registry(store, { knownHead: () => known })
    expect(await write(r, "o")).toMatchObject({ _tag: "written", version: 1 })
    store.append = () =>
      new Promise((resolve) => {
        release = () => resolve({ seq: ++seq })
      })
    const pending = write(r, "o")
    await sleep(10)
    // Its own append seen on the head feed before its acknowledgement: the state before it is an answer.
    known = 2
    expect(r.readNow(id("o"))?.version).toBe(1)
    expect(await r.read(id("o"))).toMatchObject({ _tag: "state", state: { version: 1 } })
    // Another writer's version 3 (a second owner): refused, retryably, instead of version 1.
    known = 3
    expect(r.readNow(id("o"))).toBeUndefined()
    expect(await r.read(id("o"))).toMatchObject({ _tag: "rejected", error: { _tag: "Unavailable" } })
    expect(release).toBeDefined()
    release!()
    expect(await pending).toMatchObject({ _tag: "written", version: 2 })
  })

  it("an actor reloading after another writer moved its head answers a read once reloaded, not from its old state nor with a refusal", async () => {
    const [v1, , v3] = given([written("a"), written("b"), written("c")]).events
    let head: StoredEvent = { seq: 1, event: v1!, msgId: undefined }
    let reloaded: (() => void) | undefined
    let gate: Promise<void> = Promise.resolve()
    let appends = 0
    const store: FakeStore = {
      head: async () => {
        await gate
        return head
      },
      // The first append meets the moved head; the one after the reload is stored.
      append: async () => {
        if (appends++ === 0) throw new HeadMoved("moved")
        return { seq: 4 }
      },
    }
    let known = 0
    const r = registry(store, { knownHead: () => known })
    expect(await r.read(BLOB)).toMatchObject({ _tag: "state", state: { version: 1 } })
    // Another writer took the blob to version 3; this instance's write meets the moved head and
    // reloads (held up here) while a read arrives.
    head = { seq: 3, event: v3!, msgId: undefined }
    known = 3
    gate = new Promise((resolve) => (reloaded = resolve))
    const writing = r.command(BLOB, writeBlob({ kind: "inline", bytes: utf8("d") }))
    await sleep(10)
    const reading = r.read(BLOB)
    await sleep(10)
    reloaded?.()
    expect(await writing).toMatchObject({ _tag: "written", version: 4 })
    expect(await reading).toMatchObject({ _tag: "state", state: { version: 4 } })
  })

  it("many actors over several shared systems all passivate", async () => {
    const r = registry(memoryStore(), { idleMs: 30 })
    await Promise.all(Array.from({ length: 200 }, (_, i) => write(r, `m/${i}`)))
    expect(r.liveCount).toBe(200)
    await sleep(200)
    expect(r.liveCount).toBe(0)
    expect(r.stats.passivations).toBe(200)
  })
})

describe("actor registry: content held once", () => {
  const v1 = given([written("hello")]).events[0]!
  const storeWithHead = { head: async () => ({ seq: 1, event: v1, msgId: undefined }), append: async () => ({ seq: 2 }) }

  it("a hydrated state keeps bytes already held under the head's digest", async () => {
    const held = new Uint8Array(v1.content!)
    const r = registry(storeWithHead, { held: (_, digest) => (digest === v1.digest ? { digest, content: held } : undefined) })
    const reply = await r.read(v1.id)
    expect(reply._tag === "state" && reply.state.content).toBe(held)
  })

  it("and its own copy when what is held has another digest", async () => {
    const other = utf8("other")
    const r = registry(storeWithHead, { held: () => ({ digest: "sha256:other", content: other }) })
    const reply = await r.read(v1.id)
    expect(reply._tag === "state" && reply.state.content).not.toBe(other)
    expect(reply._tag === "state" && reply.state.content).toEqual(v1.content)
  })
})
