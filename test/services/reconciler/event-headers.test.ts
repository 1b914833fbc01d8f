import * as E from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import { headers, type MsgHdrs } from "@nats-io/nats-core"
import { decodeEvent, encodeEventHeaders } from "../../../infra/event-codec.ts"
import { parseHeaderBlock } from "../../../infra/header-view.ts"
import type { BlobEvent } from "../../../domain/blob-event.ts"

const view = (block: Uint8Array): MsgHdrs => {
  const m = parseHeaderBlock(block).map
  return { get: (k: string) => m.get(k) ?? "", has: (k: string) => m.has(k) } as unknown as MsgHdrs
}
const encoded = (h: MsgHdrs): Uint8Array => (h as unknown as { encode(): Uint8Array }).encode()

describe("an event's headers parsed from the raw block", () => {
  const event = {
    id: "h/1",
    version: 7,
    op: "write",
    digest: "sha256:" + "a".repeat(64),
    size: 3,
    contentType: "application/json; charset=utf-8",
    contentRef: undefined,
    content: new Uint8Array([1, 2, 3]),
    writer: "ünïcode writer",
    timeMs: 1_700_000_000_000,
    idempotencyKey: "k:1",
    restoredFrom: undefined,
    prevHash: "p",
    hash: "h",
  } as unknown as BlobEvent

  it("decodes to the same event as nats.js's MsgHdrs", () => {
    const bytes = encoded(encodeEventHeaders(event))
    const ours = decodeEvent(view(bytes), event.content!)
    const theirs = decodeEvent(encodeEventHeaders(event), event.content!)
    expect(E.isRight(ours)).toBe(true)
    expect(ours).toEqual(theirs)
  })

  it("keeps the first of repeated headers, trims values, and answers absent keys as nats.js does", () => {
    const h = headers()
    h.append("A", " one ")
    h.append("A", "two")
    h.set("Empty", "")
    const v = view(encoded(h))
    expect(v.get("A")).toBe(h.get("A"))
    expect(v.has("Empty")).toBe(true)
    expect(v.get("Empty")).toBe("")
    expect(v.has("a")).toBe(h.has("a"))
    expect(v.get("Missing")).toBe("")
  })
})
