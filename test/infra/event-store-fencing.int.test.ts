import * as E from "fp-ts/lib/Either.js"
import { beforeAll, describe, expect, it } from "vitest"
import { writeBlob } from "../../domain/blob-command.ts"
import type { BlobEvent } from "../../domain/blob-event.ts"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { initialState } from "../../domain/blob-state.ts"
import { decide } from "../../domain/decide.ts"
import { connectNats } from "../../infra/connection.ts"
import { AppendFenced, EventStore } from "../../infra/event-store.ts"
import { testHasher, utf8 } from "../support/hasher.ts"
import { prepareTopology, serverPerFile, testConfig } from "../support/nats-server.ts"

// An append asks, before every retry, whether its writer may still write: an owner whose
// partition lease ran out while an attempt hung stops retrying (an unknown outcome) instead of
// taking a "duplicate" answer from whatever leader it reaches later.

const t = serverPerFile()
const config = () => testConfig(t.server().url)

beforeAll(async () => {
  await prepareTopology(t.nc(), config())
})

const id = (s: string): BlobId => {
  const r = parseBlobId(s)
  if (E.isLeft(r)) throw new Error(s)
  return r.right
}

const firstWrite = (blob: BlobId, text: string): BlobEvent => {
  const d = decide(writeBlob({ kind: "inline", bytes: utf8(text) }), initialState(blob), { nowMs: 1_700_000_000_000, hasher: testHasher, inlineLimitBytes: 1024 })
  if (E.isLeft(d) || d.right._tag !== "Append") throw new Error("decide did not append")
  return d.right.event
}

describe("append fencing", () => {
  it("a lease lost while an attempt timed out ends the retries; an acknowledged append raises the highest acked sequence", async () => {
    const nc = await connectNats({ servers: t.server().url, name: "fence-stalled", timeoutMs: 1_000 })
    try {
      const store = await EventStore.open(nc, config().names)
      const blob = id("fence/stalled")
      let asked = 0
      await t.server().pause()
      try {
        // The first attempt (its writer checked the lease before it) hangs in the stalled
        // server's socket; by the retry the lease is gone.
        const appending = store.append(firstWrite(blob, "y"), 0, {
          msgId: "fence-stalled",
          deadlineMs: 10_000,
          attemptTimeoutMs: 300,
          mayAppend: () => {
            asked++
            return false
          },
        })
        await expect(appending).rejects.toBeInstanceOf(AppendFenced)
        expect(asked).toBe(1)
      } finally {
        t.server().signal("SIGCONT")
      }
      expect(store.highestAckedSeq).toBe(0)
      // The hung attempt may still land once the server runs again: the outcome was unknown, not a failure.
      const other = id("fence/after")
      const { seq } = await store.append(firstWrite(other, "z"), 0, { msgId: "fence-after", deadlineMs: 5_000, attemptTimeoutMs: 1_000, mayAppend: () => true })
      expect(store.highestAckedSeq).toBe(seq)
      const marks = await store.streamMarks()
      expect(marks).toHaveLength(1)
      expect(marks[0]!.lastSeq).toBeGreaterThanOrEqual(seq)
    } finally {
      await nc.close()
    }
  })
})
