import * as E from "fp-ts/lib/Either.js"
import type { NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import { encodeEventHeaders } from "../../infra/event-codec.ts"
import { EventStore, emptyHeaders } from "../../infra/event-store.ts"
import { parseHeaderBlock } from "../../infra/header-view.ts"
import { defaultNames } from "../../infra/names.ts"
import { readHistory } from "../../services/blob-service/history.ts"
import { seedBlob } from "../../simulations/audit-bench.ts"
import { connectTo, prepareTopology, startTestServer, testConfig } from "../support/nats-server.ts"

// History pages through EventStore.historyPage: the known points an earlier page leaves
// (pages pulled in the head's round trip where the blob is dense, probes in it otherwise)
// must never change what a page holds, whatever was written or forged in between.

const blob = (raw: string): BlobId => {
  const r = parseBlobId(raw)
  if (E.isLeft(r)) throw new Error(raw)
  return r.right
}

let server: NatsServerProcess
let nc: NatsConnection
let store: EventStore

beforeAll(async () => {
  server = await startTestServer()
  const config = testConfig(server.url)
  nc = await connectTo(server.url, "history-page")
  await prepareTopology(nc, config)
  store = await EventStore.open(nc, config.names)
})

afterAll(async () => {
  await nc.close().catch(() => {})
  await server.stop(true)
})

const versions = async (id: BlobId, from: number | undefined, limit: number, reverse: boolean, s: EventStore = store): Promise<{ v: number[]; head: number; next: number | undefined }> => {
  const r = await readHistory(s, id, { from, limit, reverse }, 1_000)
  if (E.isLeft(r)) throw new Error(r.left._tag)
  return { v: r.right.entries.map((e) => e.version), head: r.right.headVersion, next: r.right.nextFrom }
}

const expected = (from: number, limit: number, reverse: boolean, head: number): number[] =>
  reverse
    ? Array.from({ length: Math.max(0, Math.min(limit, Math.min(from, head))) }, (_, k) => Math.min(from, head) - k)
    : Array.from({ length: Math.max(0, Math.min(limit, head - from + 1)) }, (_, k) => from + k)

describe("history pages", () => {
  it("random pages of a dense, an interleaved and a sparse blob hold exactly the versions asked for", async () => {
    await seedBlob(nc, defaultNames, blob("hp/dense"), 600)
    await seedBlob(nc, defaultNames, blob("hp/mixed"), 300, { noise: { id: blob("hp/noise1"), every: 2 } })
    await seedBlob(nc, defaultNames, blob("hp/sparse"), 100, { noise: { id: blob("hp/noise2"), every: 9 } })
    let seed = 7
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (const [raw, head] of [["hp/dense", 600], ["hp/mixed", 300], ["hp/sparse", 100]] as const) {
      for (let i = 0; i < 40; i++) {
        const from = 1 + rnd(head + 5)
        const limit = 1 + rnd(60)
        const reverse = i % 2 === 1
        const p = await versions(blob(raw), from, limit, reverse)
        expect(p.head).toBe(head)
        expect(p.v).toEqual(expected(from, limit, reverse, head))
      }
    }
  })

  it("known points stay right when the blob grows, others write in between, and a malformed message is forged", async () => {
    const id = blob("hp/grows")
    await seedBlob(nc, defaultNames, id, 50)
    expect((await versions(id, 1, 50, false)).v).toEqual(expected(1, 50, false, 50))
    expect((await versions(id, 20, 10, false)).v).toEqual(expected(20, 10, false, 50))
    const head = (await store.head(id))!
    expect(head.event.version).toBe(50)
    // Not an event (published around the service), then other blobs, then more versions.
    const h = emptyHeaders()
    h.set("Umbra-Version", "51")
    await store.publishRaw(id, h, new TextEncoder().encode("forged"))
    await seedBlob(nc, defaultNames, blob("hp/other"), 7)
    for (let v = 51; v <= 80; v++) {
      // The hash chain is not continued here: history pages do not verify it.
      await store.publishRaw(id, encodeEventHeaders({ ...head.event, version: v, timeMs: head.event.timeMs + v }), head.event.content ?? new Uint8Array(0))
    }
    for (const [from, limit, reverse] of [[40, 20, false], [45, 30, false], [60, 30, true], [80, 100, true], [1, 100, false], [51, 5, false], [50, 2, true]] as const) {
      const p = await versions(id, from, limit, reverse)
      expect(p.head).toBe(80)
      expect(p.v).toEqual(expected(from, limit, reverse, 80))
    }
    // Paging all the way both ways, page after page.
    const all = async (from: number, limit: number, reverse: boolean): Promise<number[]> => {
      const out: number[] = []
      for (let at: number | undefined = from; at !== undefined; ) {
        const p = await versions(id, at, limit, reverse)
        out.push(...p.v)
        at = p.next
      }
      return out
    }
    expect(await all(1, 7, false)).toEqual(expected(1, 80, false, 80))
    const backward = await all(80, 9, true)
    expect(backward).toEqual(expected(80, 80, true, 80))
  })

  it("creates every page consumer filtered by the blob's subject (2.9.10 never forgets a deleted consumer's filter)", async () => {
    // An unfiltered page consumer would leave, once deleted, a signal subscription matching
    // every later event of every blob (infra/event-store.ts, pullPage).
    const id = blob("hp/filtered")
    await seedBlob(nc, defaultNames, id, 120)
    const filters: Array<string | undefined> = []
    const spy = nc.subscribe("$JS.API.CONSUMER.CREATE.>", {
      callback: (_e, m) => {
        filters.push((JSON.parse(new TextDecoder().decode(m.data)) as { config: { filter_subject?: string } }).config.filter_subject)
      },
    })
    // Forwards and backwards, again and again: the known points make later pages dense ones.
    for (const [from, reverse] of [[1, false], [21, false], [41, false], [120, true], [100, true], [30, false], [31, false]] as const)
      expect((await versions(id, from, 20, reverse)).v).toEqual(expected(from, 20, reverse, 120))
    await nc.flush()
    spy.unsubscribe()
    expect(filters.length).toBeGreaterThan(0)
    expect(new Set(filters)).toEqual(new Set([`${defaultNames.eventSubjectPrefix}.hp/filtered`]))
  })

  it("an unknown blob is not found and a page past the head is empty", async () => {
    const r = await readHistory(store, blob("hp/never"), { from: undefined, limit: 10, reverse: false }, 1_000)
    expect(E.isLeft(r) && r.left._tag).toBe("NotFound")
    await seedBlob(nc, defaultNames, blob("hp/short"), 3)
    expect(await versions(blob("hp/short"), 4, 10, false)).toEqual({ v: [], head: 3, next: undefined })
    expect(await versions(blob("hp/short"), 2, 10, false)).toEqual({ v: [2, 3], head: 3, next: undefined })
  })
})

describe("header blocks", () => {
  const block = (s: string): Uint8Array => new TextEncoder().encode(s)
  it("parse names, first values and the status code", () => {
    const h = parseHeaderBlock(block("NATS/1.0\r\nUmbra-Version: 12\r\nUmbra-Digest: sha256:ab:cd\r\nUmbra-Version: 13\r\n\r\n"))
    expect(h.code).toBe(0)
    expect([...h.map]).toEqual([["Umbra-Version", "12"], ["Umbra-Digest", "sha256:ab:cd"]])
    expect(parseHeaderBlock(block("NATS/1.0 404 No Messages\r\n\r\n")).code).toBe(404)
    expect(parseHeaderBlock(block("NATS/1.0 503\r\n\r\n")).code).toBe(503)
  })
})
