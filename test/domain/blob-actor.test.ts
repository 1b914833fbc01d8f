import { describe, expect, it } from "vitest"
import { transition } from "xstate"
import { deleteBlob, patchBlob, writeBlob } from "../../domain/blob-command.ts"
import { blobActorMachine, HeadMoved, heldContent, pendingWork, versionInHand } from "../../domain/machines/blob-actor.ts"
import {
  appended,
  appendFailed,
  BLOB,
  command,
  given,
  HYDRATE_ID,
  hydrated,
  hydrateFailed,
  inline,
  read,
  send,
  sendAll,
  startActor,
  written,
  type Step,
} from "../support/given-when-then.ts"
import { digestOf, testHasher, utf8 } from "../support/hasher.ts"

// The blob actor as a reducer: every test feeds events to `transition()` and checks the
// state value, the context and the `respond` actions it asks the shell to run.

const fresh = given([]).state
const withV1 = given([written("v1", { idempotencyKey: "k-1" })]).state

/** Hydrated with `state`, head at stream sequence `headSeq`: the usual starting point. */
const ready = (state = fresh, headSeq = state.version * 10): Step => send(startActor().snapshot, hydrated(state, headSeq))

const writeV = (text: string, replyTo: number, o: Parameters<typeof writeBlob>[1] = {}) =>
  command(writeBlob(inline(text), o), replyTo)

describe("blob actor: hydration", () => {
  it("starts hydrating the blob it is for, with nothing to answer yet", () => {
    const start = startActor()
    expect(start.snapshot.value).toBe("hydrating")
    expect(start.hydrates).toBe(true)
    expect(start.responds).toEqual([])
    expect(HYDRATE_ID).toBe("0.blob.hydrating")
  })

  it("hydrated → ready, holding the state and head sequence it was given", () => {
    const step = ready(withV1, 17)
    expect(step.snapshot.value).toBe("ready")
    expect(step.snapshot.context).toMatchObject({ state: withV1, headSeq: 17, queue: [] })
    expect(step.responds).toEqual([])
  })

  it("queues commands and reads that arrive while hydrating, answering none of them yet", () => {
    const [a, b, c] = sendAll(startActor().snapshot, [writeV("one", 1), read(2), writeV("two", 3)])
    for (const s of [a, b, c]) {
      expect(s?.snapshot.value).toBe("hydrating")
      expect(s?.responds).toEqual([])
    }
    expect(c?.snapshot.context.queue.map((w) => w.replyTo)).toEqual([1, 2, 3])
  })

  it("processes the queued work in order once hydrated", () => {
    const queued = sendAll(startActor().snapshot, [writeV("one", 1), read(2), writeV("two", 3)]).at(-1)!.snapshot
    const h = send(queued, hydrated(fresh, 0))
    expect(h.snapshot.value).toBe("appending")
    expect(h.appendInput).toMatchObject({ expectedHeadSeq: 0, event: { version: 1, content: utf8("one") } })
    expect(h.responds).toEqual([])

    const first = send(h.snapshot, appended(1))
    // #1 answered, then #2 (a read, sees version 1), then #3 goes to the store.
    expect(first.responds).toEqual([
      { replyTo: 1, reply: { _tag: "written", id: BLOB, version: 1, digest: digestOf("one") } },
      { replyTo: 2, reply: { _tag: "state", state: expect.objectContaining({ version: 1, content: utf8("one") }) } },
    ])
    expect(first.snapshot.value).toBe("appending")
    expect(first.appendInput).toMatchObject({ expectedHeadSeq: 1, event: { version: 2, content: utf8("two") } })

    const second = send(first.snapshot, appended(2))
    expect(second.responds).toEqual([{ replyTo: 3, reply: { _tag: "written", id: BLOB, version: 2, digest: digestOf("two") } }])
    expect(second.snapshot.value).toBe("ready")
    expect(second.snapshot.context).toMatchObject({ queue: [], headSeq: 2, state: { version: 2 }, decision: undefined })
  })

  it("answers queued rejections in order without appending", () => {
    const queued = sendAll(startActor().snapshot, [command(deleteBlob(), 1), command(patchBlob([]), 2), read(3)]).at(-1)!
    const h = send(queued.snapshot, hydrated(fresh, 0))
    expect(h.snapshot.value).toBe("ready")
    expect(h.appendInput).toBeUndefined()
    expect(h.responds).toEqual([
      { replyTo: 1, reply: { _tag: "rejected", error: expect.objectContaining({ _tag: "NotFound" }) } },
      { replyTo: 2, reply: { _tag: "rejected", error: expect.objectContaining({ _tag: "NotFound" }) } },
      { replyTo: 3, reply: { _tag: "state", state: fresh } },
    ])
  })

  it("failed hydration → final `failed`, with the queue intact for the shell to answer", () => {
    const queued = sendAll(startActor().snapshot, [writeV("one", 1), read(2)]).at(-1)!
    const f = send(queued.snapshot, hydrateFailed(new Error("timeout")))
    expect(f.snapshot.value).toBe("failed")
    expect(f.snapshot.status).toBe("done")
    expect(f.responds).toEqual([])
    expect(pendingWork(f.snapshot.context).map((w) => [w._tag, w.replyTo])).toEqual([
      ["command", 1],
      ["read", 2],
    ])
  })
})

describe("blob actor: commands", () => {
  it("ready + command → appending the decided event against the hydrated head sequence", () => {
    const a = send(ready(withV1, 10).snapshot, writeV("v2", 5, { expectedVersion: 1, writer: "bob" }))
    expect(a.snapshot.value).toBe("appending")
    expect(a.responds).toEqual([])
    expect(a.appendInput).toMatchObject({
      expectedHeadSeq: 10,
      event: { id: BLOB, version: 2, op: "write", writer: "bob", prevHash: withV1.hash, content: utf8("v2") },
    })
  })

  it("a command on an idle actor is decided once, on arrival: one hash of its content, one of its chain link", () => {
    const calls: string[] = []
    const counting = {
      digest: (b: Uint8Array) => (calls.push("digest"), testHasher.digest(b)),
      hashText: (t: string) => (calls.push("hashText"), testHasher.hashText(t)),
    }
    const idle = send(startActor({ hasher: counting }).snapshot, hydrated(withV1, 10))
    calls.length = 0
    const a = send(idle.snapshot, writeV("v2", 5))
    expect(a.snapshot.value).toBe("appending")
    expect(calls.sort()).toEqual(["digest", "hashText"])
    expect(a.snapshot.context.queue).toEqual([expect.objectContaining({ _tag: "command", replyTo: 5 })])
    expect(a.snapshot.context.decision).toMatchObject({ _tag: "Right", right: { _tag: "Append", event: { version: 2 } } })
  })

  it("the same command object sent to another actor is decided there, with that actor's limits", () => {
    const cmd = writeV("too long for three bytes", 6)
    const roomy = send(ready(withV1, 10).snapshot, cmd)
    expect(roomy.snapshot.value).toBe("appending")
    const tight = send(send(startActor({ inlineLimitBytes: 3 }).snapshot, hydrated(withV1, 10)).snapshot, cmd)
    expect(tight.snapshot.value).toBe("ready")
    expect(tight.appendInput).toBeUndefined()
    expect(tight.responds).toEqual([{ replyTo: 6, reply: { _tag: "rejected", error: expect.objectContaining({ _tag: "TooLarge" }) } }])
  })

  it("append done → respond with the version and digest, evolve, take the new head sequence", () => {
    const a = send(ready(withV1, 10).snapshot, writeV("v2", 5))
    const done = send(a.snapshot, appended(11))
    expect(done.responds).toEqual([{ replyTo: 5, reply: { _tag: "written", id: BLOB, version: 2, digest: digestOf("v2") } }])
    expect(done.snapshot.value).toBe("ready")
    expect(done.snapshot.context).toMatchObject({
      headSeq: 11,
      queue: [],
      retries: 0,
      decision: undefined,
      state: { version: 2, exists: true, content: utf8("v2"), hash: a.appendInput?.event.hash },
    })
  })

  it("a command while appending is queued, then decided against the appended state", () => {
    const a = send(ready().snapshot, writeV("one", 1))
    const q = send(a.snapshot, writeV("two", 2, { expectedVersion: 1 }))
    expect(q.snapshot.value).toBe("appending")
    expect(q.responds).toEqual([])
    expect(q.appendInput).toBeUndefined() // no second append in flight
    expect(q.snapshot.context.queue.map((w) => w.replyTo)).toEqual([1, 2])

    const d = send(q.snapshot, appended(1))
    expect(d.responds.map((r) => r.replyTo)).toEqual([1])
    expect(d.snapshot.value).toBe("appending")
    expect(d.appendInput).toMatchObject({ expectedHeadSeq: 1, event: { version: 2 } })
  })

  it("a rejected command is answered at once and changes nothing", () => {
    const r = ready(withV1, 10)
    const c = send(r.snapshot, writeV("v2", 4, { expectedVersion: 0 }))
    expect(c.snapshot.value).toBe("ready")
    expect(c.appendInput).toBeUndefined()
    expect(c.responds).toEqual([
      {
        replyTo: 4,
        reply: { _tag: "rejected", error: { _tag: "VersionConflict", id: BLOB, expectedVersion: 0, currentVersion: 1 } },
      },
    ])
    expect(c.snapshot.context).toMatchObject({ state: withV1, headSeq: 10, queue: [], decision: undefined })
  })

  it("a retried command (same idempotency key as the head) is answered without appending", () => {
    const c = send(ready(withV1).snapshot, writeV("v1", 8, { idempotencyKey: "k-1" }))
    expect(c.snapshot.value).toBe("ready")
    expect(c.appendInput).toBeUndefined()
    expect(c.responds).toEqual([{ replyTo: 8, reply: { _tag: "written", id: BLOB, version: 1, digest: digestOf("v1") } }])
  })
})

describe("blob actor: reads", () => {
  it("ready + read → the current state", () => {
    const r = send(ready(withV1).snapshot, read(3))
    expect(r.snapshot.value).toBe("ready")
    expect(r.responds).toEqual([{ replyTo: 3, reply: { _tag: "state", state: withV1 } }])
  })

  it("a read while appending answers the pre-append state (the write is not acknowledged yet)", () => {
    const a = send(ready(withV1).snapshot, writeV("v2", 1))
    const r = send(a.snapshot, read(2))
    expect(r.snapshot.value).toBe("appending")
    expect(r.responds).toEqual([{ replyTo: 2, reply: { _tag: "state", state: withV1 } }])
    expect(r.snapshot.context.queue.map((w) => w.replyTo)).toEqual([1])
  })
})

describe("blob actor: the version in hand", () => {
  it("is the state's version when ready, the write in flight's while appending, 0 before hydration", () => {
    expect(versionInHand(startActor().snapshot.context)).toBe(0)
    const r = ready(withV1)
    expect(versionInHand(r.snapshot.context)).toBe(1)
    const appending = send(r.snapshot, writeV("v2", 1))
    expect(appending.snapshot.value).toBe("appending")
    expect(versionInHand(appending.snapshot.context)).toBe(2)
    expect(versionInHand(send(appending.snapshot, appended(20)).snapshot.context)).toBe(2)
  })

  it("a rejected command adds nothing to it", () => {
    const r = ready(withV1)
    const rejected = send(r.snapshot, command(writeBlob(inline("x"), { expectedVersion: 7 }), 1))
    expect(versionInHand(rejected.snapshot.context)).toBe(1)
  })
})

describe("blob actor: append failures", () => {
  it("HeadMoved → rehydrate, then re-decide the same command against the new head", () => {
    const a = send(ready(fresh, 0).snapshot, writeV("mine", 1))
    const moved = send(a.snapshot, appendFailed(new HeadMoved("wrong last sequence")))
    expect(moved.snapshot.value).toBe("hydrating")
    expect(moved.hydrates).toBe(true)
    expect(moved.responds).toEqual([])
    expect(moved.snapshot.context).toMatchObject({ retries: 1, decision: undefined })
    expect(moved.snapshot.context.queue.map((w) => w.replyTo)).toEqual([1])

    // Someone else wrote v1 meanwhile: the command is decided again as version 2.
    const again = send(moved.snapshot, hydrated(withV1, 7))
    expect(again.snapshot.value).toBe("appending")
    expect(again.appendInput).toMatchObject({ expectedHeadSeq: 7, event: { version: 2, prevHash: withV1.hash } })

    const done = send(again.snapshot, appended(8))
    expect(done.responds).toEqual([{ replyTo: 1, reply: expect.objectContaining({ _tag: "written", version: 2 }) }])
    expect(done.snapshot.context.retries).toBe(0)
  })

  it("HeadMoved, and the re-decision is a rejection: answered with the conflict", () => {
    const a = send(ready(fresh, 0).snapshot, writeV("mine", 1, { expectedVersion: 0 }))
    const moved = send(a.snapshot, appendFailed(new HeadMoved()))
    const again = send(moved.snapshot, hydrated(withV1, 7))
    expect(again.snapshot.value).toBe("ready")
    expect(again.responds).toEqual([
      { replyTo: 1, reply: { _tag: "rejected", error: expect.objectContaining({ _tag: "VersionConflict", currentVersion: 1 }) } },
    ])
    expect(again.snapshot.context.retries).toBe(0)
  })

  it.each([0, 1, 2, 5])("retries at most maxRetries=%i times, then answers Unavailable and moves on", (maxRetries) => {
    let s = send(startActor({ maxRetries }).snapshot, hydrated(fresh, 0)).snapshot
    s = sendAll(s, [writeV("mine", 1), writeV("next", 2)]).at(-1)!.snapshot
    let appends = 1
    for (let i = 0; i < maxRetries; i++) {
      const moved = send(s, appendFailed(new HeadMoved()))
      expect(moved.responds).toEqual([])
      expect(moved.snapshot.context.retries).toBe(i + 1)
      const again = send(moved.snapshot, hydrated(fresh, 0))
      expect(again.snapshot.value).toBe("appending")
      appends += again.appendInput === undefined ? 0 : 1
      s = again.snapshot
    }
    expect(appends).toBe(maxRetries + 1)
    const gaveUp = send(s, appendFailed(new HeadMoved()))
    expect(gaveUp.snapshot.value).toBe("hydrating")
    expect(gaveUp.responds).toEqual([
      { replyTo: 1, reply: { _tag: "rejected", error: expect.objectContaining({ _tag: "Unavailable" }) } },
    ])
    expect(gaveUp.snapshot.context).toMatchObject({ retries: 0, decision: undefined })
    expect(gaveUp.snapshot.context.queue.map((w) => w.replyTo)).toEqual([2])
    // The next command starts with a fresh retry budget.
    const next = send(gaveUp.snapshot, hydrated(fresh, 0))
    expect(next.appendInput).toMatchObject({ event: { version: 1, content: utf8("next") } })
  })

  it("any other append error → Unavailable reply naming it, then rehydrate (the append may have landed)", () => {
    const a = send(ready(withV1, 10).snapshot, writeV("v2", 1))
    const q = send(a.snapshot, writeV("v3", 2))
    const failed = send(q.snapshot, appendFailed(new Error("TIMEOUT")))
    expect(failed.snapshot.value).toBe("hydrating")
    expect(failed.hydrates).toBe(true)
    expect(failed.responds).toEqual([
      { replyTo: 1, reply: { _tag: "rejected", error: { _tag: "Unavailable", reason: "TIMEOUT" } } },
    ])
    expect(failed.snapshot.context.queue.map((w) => w.replyTo)).toEqual([2])
    expect(failed.snapshot.context.state).toEqual(withV1) // not evolved: the outcome is unknown

    // The timed-out append did land: the next command builds on it.
    const landed = given([written("v1", { idempotencyKey: "k-1" }), written("v2")]).state
    const next = send(failed.snapshot, hydrated(landed, 11))
    expect(next.appendInput).toMatchObject({ expectedHeadSeq: 11, event: { version: 3, prevHash: landed.hash } })
  })

  it("a non-Error rejection is reported too", () => {
    const a = send(ready().snapshot, writeV("one", 1))
    const failed = send(a.snapshot, appendFailed("no responders"))
    expect(failed.responds).toEqual([
      { replyTo: 1, reply: { _tag: "rejected", error: { _tag: "Unavailable", reason: "no responders" } } },
    ])
  })

  it("rehydration that fails after a HeadMoved keeps the command queued", () => {
    const a = send(ready().snapshot, writeV("one", 1))
    const moved = send(a.snapshot, appendFailed(new HeadMoved()))
    const f = send(moved.snapshot, hydrateFailed())
    expect(f.snapshot.value).toBe("failed")
    expect(pendingWork(f.snapshot.context).map((w) => w.replyTo)).toEqual([1])
  })
})

describe("blob actor: passivation", () => {
  it("passivate when ready → final `passivated`", () => {
    const p = send(ready(withV1).snapshot, { type: "passivate" })
    expect(p.snapshot.value).toBe("passivated")
    expect(p.snapshot.status).toBe("done")
    expect(p.responds).toEqual([])
  })

  it("schedules nothing of its own: idleness is its shell's to judge (no timer per actor)", () => {
    const a = send(ready().snapshot, writeV("one", 1))
    const [back, actions] = transition(blobActorMachine, a.snapshot, appended(1))
    expect(back.value).toBe("ready")
    // A delayed transition (`after`) shows up as a raise with a delay among the actions.
    expect(actions.filter((x) => (x.params as { delay?: unknown } | undefined)?.delay !== undefined)).toEqual([])
  })

  it("passivate while appending does not drop the write in flight", () => {
    const a = send(ready().snapshot, writeV("one", 1))
    const p = send(a.snapshot, { type: "passivate" })
    expect(p.snapshot.value).toBe("appending")
    const done = send(p.snapshot, appended(1))
    expect(done.responds.map((r) => r.replyTo)).toEqual([1])
  })

  it("a passivated actor ignores further events", () => {
    const p = send(ready(withV1).snapshot, { type: "passivate" })
    const after = send(p.snapshot, writeV("late", 9))
    expect(after.snapshot.value).toBe("passivated")
    expect(after.responds).toEqual([])
  })
})

describe("blob actor: content it holds", () => {
  it("its state's bytes under their digest, nothing under another", () => {
    const c = ready(withV1).snapshot.context
    expect(heldContent(c, digestOf("v1"))?.content).toBe(withV1.content)
    expect(heldContent(c, digestOf("v2"))).toBeUndefined()
  })

  it("while appending, also the bytes of the write in flight", () => {
    const a = send(ready(withV1, 10).snapshot, writeV("v2", 5))
    expect(a.snapshot.value).toBe("appending")
    expect(heldContent(a.snapshot.context, digestOf("v2"))?.content).toEqual(utf8("v2"))
    expect(heldContent(a.snapshot.context, digestOf("v1"))?.content).toBe(withV1.content)
  })
})
