import * as E from "fp-ts/lib/Either.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeBlob } from "../../domain/blob-command.ts"
import type { BlobEvent } from "../../domain/blob-event.ts"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { evolve, initialState, type BlobState } from "../../domain/blob-state.ts"
import { decide } from "../../domain/decide.ts"
import { HeadMoved } from "../../domain/machines/blob-actor.ts"
import type { EventStorePort } from "../../simulations/sim/event-store-port.ts"
import { testHasher, utf8 } from "../support/hasher.ts"

// One contract, two stores: the NATS event store and the simulator's memory stand-in must
// answer every case alike (the same sequences, the same rejections), or the simulator would
// be testing a system that does not exist.

export interface ContractStore {
  readonly store: EventStorePort
  readonly close: () => Promise<void>
}

const OPTIONS = { deadlineMs: 3_000, attemptTimeoutMs: 1_000 }
let unique = 0

const freshId = (label: string): BlobId => {
  const id = parseBlobId(`contract/${label}-${Date.now().toString(36)}-${unique++}`)
  if (E.isLeft(id)) throw new Error("bad test id")
  return id.right
}

/** The event `decide` makes for writing `text` on top of `state`. */
const next = (state: BlobState, text: string, key?: string): BlobEvent => {
  const d = decide(writeBlob({ kind: "inline", bytes: utf8(text) }, key === undefined ? {} : { idempotencyKey: key }), state, {
    nowMs: 1_700_000_000_000 + state.version,
    hasher: testHasher,
    inlineLimitBytes: 1024,
  })
  if (E.isLeft(d) || d.right._tag !== "Append") throw new Error("decide did not append")
  return d.right.event
}

/** Appends `texts` in order; returns the events and their sequences. */
const appendAll = async (store: EventStorePort, id: BlobId, texts: ReadonlyArray<string>) => {
  let state = initialState(id)
  let seq = 0
  const stored: Array<{ event: BlobEvent; seq: number }> = []
  for (const [i, text] of texts.entries()) {
    const event = next(state, text)
    seq = (await store.append(event, seq, { ...OPTIONS, msgId: `${id}-${i}` })).seq
    stored.push({ event, seq })
    state = evolve(state, event)
  }
  return { stored, state, seq }
}

export const eventStoreContract = (name: string, open: () => Promise<ContractStore>): void => {
  describe(`event store contract: ${name}`, () => {
    let s: ContractStore
    beforeAll(async () => {
      s = await open()
    })
    afterAll(async () => {
      await s?.close()
    })

    it("an unknown blob has no head, no events and no versions", async () => {
      const id = freshId("empty")
      expect(await s.store.head(id)).toBeUndefined()
      expect(await s.store.nextFrom(id, 1)).toBeUndefined()
      expect(await s.store.seqOfVersion(id, 1)).toBeUndefined()
      expect(await s.store.range(id, 1, 10)).toEqual([])
    })

    it("appends in order; the head is the last event, with its content and msg id", async () => {
      const id = freshId("order")
      const { stored } = await appendAll(s.store, id, ["a", "b", "c"])
      const seqs = stored.map((x) => x.seq)
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
      const head = await s.store.head(id)
      expect(head?.seq).toBe(seqs[2])
      expect(head?.event.version).toBe(3)
      expect(head?.event.hash).toBe(stored[2]?.event.hash)
      expect(new TextDecoder().decode(head?.event.content)).toBe("c")
      expect(head?.msgId).toBe(`${id}-2`)
    })

    it("rejects an append whose expected last sequence is not the blob's head with HeadMoved", async () => {
      const id = freshId("cas")
      const { state, seq } = await appendAll(s.store, id, ["a", "b"])
      const stale = next(state, "lost")
      await expect(s.store.append(stale, seq - 1, { ...OPTIONS, msgId: `${id}-stale` })).rejects.toBeInstanceOf(HeadMoved)
      await expect(s.store.append(stale, 0, { ...OPTIONS, msgId: `${id}-stale0` })).rejects.toBeInstanceOf(HeadMoved)
      expect((await s.store.head(id))?.event.version).toBe(2)
    })

    it("expected sequences are per blob: another blob's appends do not move this one's head", async () => {
      const a = freshId("iso-a")
      const b = freshId("iso-b")
      const first = await appendAll(s.store, a, ["a1"])
      await appendAll(s.store, b, ["b1", "b2"])
      const e = next(first.state, "a2")
      const r = await s.store.append(e, first.seq, { ...OPTIONS, msgId: `${a}-2` })
      expect(r.seq).toBeGreaterThan(first.seq)
      expect((await s.store.head(a))?.event.version).toBe(2)
    })

    it("a retry under the same msg id answers the stored sequence and stores nothing new", async () => {
      const id = freshId("dedup")
      const e = next(initialState(id), "once", "key-1")
      const first = await s.store.append(e, 0, { ...OPTIONS, msgId: `${id}-k` })
      const again = await s.store.append(e, 0, { ...OPTIONS, msgId: `${id}-k` })
      expect(again.seq).toBe(first.seq)
      expect(await s.store.range(id, 1, 10)).toHaveLength(1)
    })

    it("a retry under the same msg id after the head moved still answers the original sequence", async () => {
      const id = freshId("dedup-moved")
      const e1 = next(initialState(id), "one")
      const r1 = await s.store.append(e1, 0, { ...OPTIONS, msgId: `${id}-1` })
      const s1 = evolve(initialState(id), e1)
      await s.store.append(next(s1, "two"), r1.seq, { ...OPTIONS, msgId: `${id}-2` })
      expect((await s.store.append(e1, 0, { ...OPTIONS, msgId: `${id}-1` })).seq).toBe(r1.seq)
    })

    it("the same msg id with other content is HeadMoved, not a silent success", async () => {
      const id = freshId("dedup-other")
      await s.store.append(next(initialState(id), "mine"), 0, { ...OPTIONS, msgId: `${id}-x` })
      const other = next(initialState(id), "theirs")
      await expect(s.store.append(other, 0, { ...OPTIONS, msgId: `${id}-x` })).rejects.toBeInstanceOf(HeadMoved)
    })

    it("finds versions by number and reads ranges from a sequence", async () => {
      const id = freshId("versions")
      const { stored } = await appendAll(s.store, id, ["v1", "v2", "v3", "v4", "v5"])
      for (const [i, x] of stored.entries()) expect((await s.store.seqOfVersion(id, i + 1))?.seq).toBe(x.seq)
      expect(await s.store.seqOfVersion(id, 6)).toBeUndefined()
      expect(await s.store.seqOfVersion(id, 0)).toBeUndefined()
      const middle = stored[2]?.seq ?? 0
      expect((await s.store.nextFrom(id, middle))?.event.version).toBe(3)
      expect((await s.store.nextFrom(id, (stored[4]?.seq ?? 0) + 1))).toBeUndefined()
      const page = await s.store.range(id, middle, 2)
      expect(page.map((p) => p.event.version)).toEqual([3, 4])
      expect((await s.store.range(id, 1, 100)).map((p) => p.event.version)).toEqual([1, 2, 3, 4, 5])
      expect((await s.store.range(id, 1, 100, true)).map((p) => p.event.digest)).toEqual(stored.map((x) => x.event.digest))
      expect(await s.store.range(id, 1, 0)).toEqual([])
    })
  })
}
