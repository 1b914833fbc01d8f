import { headers as natsHeaders } from "@nats-io/nats-core"
import { describe, expect, it } from "vitest"
import { encodedHeaders, encodedOnce } from "../../infra/encoded-headers.ts"

// Encoded headers must put on the wire exactly what nats.js's MsgHdrs would.

const natsEncoded = (pairs: ReadonlyArray<readonly [string, string]>): Uint8Array => {
  const h = natsHeaders()
  for (const [k, v] of pairs) h.set(k, v)
  return (h as unknown as { encode(): Uint8Array }).encode()
}

const encode = (pairs: ReadonlyArray<readonly [string, string]>): Uint8Array => (encodedHeaders(pairs) as unknown as { encode(): Uint8Array }).encode()

describe("encodedHeaders", () => {
  it("encodes like nats.js MsgHdrs", () => {
    for (const pairs of [
      [["Nats-Msg-Id", "confirmed:a/b:12:0123456789abcdef"]],
      [["Nats-Msg-Id", "x"], ["Nats-Expected-Stream", "S"]],
      [["X-Pad", "  spaced value  "]],
    ] as const)
      expect(Buffer.from(encode(pairs)).toString()).toBe(Buffer.from(natsEncoded(pairs)).toString())
  })

  it("answers get and has like MsgHdrs, and refuses changes", () => {
    const h = encodedHeaders([["Nats-Msg-Id", "id-1"]])
    expect(h.get("Nats-Msg-Id")).toBe("id-1")
    expect(h.get("nats-msg-id")).toBe("")
    expect(h.has("Nats-Msg-Id")).toBe(true)
    expect(h.has("Other")).toBe(false)
    expect(() => h.set("Nats-Msg-Id", "id-2")).toThrow(/read-only/)
  })

  it("refuses what nats.js refuses: line breaks in values, invalid names", () => {
    expect(() => encodedHeaders([["Nats-Msg-Id", "a\r\nb"]])).toThrow()
    expect(() => natsHeaders().set("Nats-Msg-Id", "a\r\nb")).toThrow()
    expect(() => encodedHeaders([["Bad Name", "v"]])).toThrow()
    expect(() => natsHeaders().set("Bad Name", "v")).toThrow()
    expect(() => encodedHeaders([["Bad:Name", "v"]])).toThrow()
  })
})

// Shared reply headers keep only their encoded bytes: what nats.js publishes, read-only.

describe("encodedOnce", () => {
  const h = natsHeaders()
  h.set("Umbra-Version", "3")
  h.set("Umbra-Source", "primary")
  const bytes = (h as unknown as { encode(): Uint8Array }).encode()
  const shared = encodedOnce(h)

  it("publishes the bytes the headers encoded to, and still answers get/has", () => {
    expect((shared as unknown as { encode(): Uint8Array }).encode()).toEqual(bytes)
    expect(shared.get("Umbra-Version")).toBe("3")
    expect(shared.has("Umbra-Source")).toBe(true)
    expect(shared.get("Umbra-Digest")).toBe("")
  })

  it("refuses changes", () => {
    expect(() => shared.set("Umbra-Version", "4")).toThrow(/read-only/)
    expect(() => shared.append("X", "y")).toThrow(/read-only/)
    expect(() => shared.delete("X")).toThrow(/read-only/)
  })
})
