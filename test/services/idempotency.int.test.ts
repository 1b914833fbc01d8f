import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import { decide } from "../../domain/decide.ts"
import { writeBlob } from "../../domain/blob-command.ts"
import { evolve, initialState } from "../../domain/blob-state.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import { setTimeout as sleep } from "node:timers/promises"
import * as E from "fp-ts/lib/Either.js"
import { cmd, rawRequest } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

let s: TestStack
beforeAll(async () => {
  // A short duplicate window so the "stored but unacknowledged, retried after the window"
  // path (the head's Nats-Msg-Id decides) is reachable in a test.
  s = await startTestStack({ duplicateWindowMs: 1_000 })
})
afterAll(async () => s?.stop())

const versions = async (id: string): Promise<number[]> =>
  (await cmd(s.nc, "history", id, JSON.stringify({ limit: 1000 }))).json().map((e: { version: number }) => e.version)

describe("idempotent writes", () => {
  it("the same write retried with the same key creates one version", async () => {
    const h = { "Umbra-Idempotency-Key": "k-1" }
    const first = (await cmd(s.nc, "write", "idem/a", "hello", h)).json()
    const again = (await cmd(s.nc, "write", "idem/a", "hello", h)).json()
    expect(again).toEqual(first)
    expect(await versions("idem/a")).toEqual([1])
    // A new key is a new write.
    expect((await cmd(s.nc, "write", "idem/a", "hello", { "Umbra-Idempotency-Key": "k-2" })).json().version).toBe(2)
  })

  it("a retry after another writer moved the head still answers the original version (stream de-duplication)", async () => {
    const first = (await cmd(s.nc, "write", "idem/d", "mine", { "Umbra-Idempotency-Key": "d-1" })).json()
    await cmd(s.nc, "write", "idem/d", "someone else's")
    const retry = await cmd(s.nc, "write", "idem/d", "mine", { "Umbra-Idempotency-Key": "d-1" })
    expect(retry.status).toBeUndefined()
    expect(retry.json()).toEqual(first)
    expect(await versions("idem/d")).toEqual([1, 2])
  })

  it("a retry after the client timed out (the write landed) answers the version it made", async () => {
    const h = { "Umbra-Idempotency-Key": "slow-1" }
    // The client gives up almost at once; the service still appends.
    await expect(rawRequest(s.nc, "blob.cmd.write.idem/b", "x", h, 1)).rejects.toThrow()
    await sleep(200)
    expect(await versions("idem/b")).toEqual([1])
    const retry = await cmd(s.nc, "write", "idem/b", "x", h)
    expect(retry.json().version).toBe(1)
    expect(await versions("idem/b")).toEqual([1])
  })

  it("a retried append of a stored event is recognised by the stream (duplicate) and by the head's msg id", async () => {
    const id = "idem/c" as BlobId
    const d = decide(writeBlob({ kind: "inline", bytes: new TextEncoder().encode("c") }, { idempotencyKey: "c" }), initialState(id), {
      nowMs: Date.now(),
      hasher: nodeHasher,
      inlineLimitBytes: 1024,
    })
    if (E.isLeft(d) || d.right._tag !== "Append") throw new Error("expected an append")
    const event = d.right.event
    const o = { msgId: "umbra:test-c", deadlineMs: 5_000, attemptTimeoutMs: 2_000 }
    const first = await s.blob.events.append(event, 0, o)
    // Inside the duplicate window: JetStream answers duplicate, we confirm it is ours.
    expect(await s.blob.events.append(event, 0, o)).toEqual(first)
    // After the window: the expected sequence is stale (10071); the head's msg id shows
    // the append was ours, so it is not written again.
    await sleep(1_300)
    expect(await s.blob.events.append(event, 0, o)).toEqual(first)
    expect(await versions(id)).toEqual([1])
    // The actor hydrates and sees the key as already applied.
    expect(evolve(initialState(id), event).lastIdempotencyKey).toBe("c")
    expect((await cmd(s.nc, "write", id, "c", { "Umbra-Idempotency-Key": "c" })).json().version).toBe(1)
  })
})
