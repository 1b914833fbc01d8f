import { headers } from "@nats-io/nats-core"
import { describe, expect, it } from "vitest"
import { encodedOnce } from "../../services/blob-service/primary-read.ts"

// Shared reply headers keep only their encoded bytes: what nats.js publishes, read-only.

describe("encodedOnce", () => {
  const h = headers()
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
