import { describe, expect, it } from "vitest"
import { ownedBytes } from "../../infra/owned-bytes.ts"

// A small view into a large buffer (how nats.js hands out payloads) must not pin that buffer.

describe("ownedBytes", () => {
  it("copies a small view of a large buffer, also when the view is a Node Buffer", () => {
    const chunk = Buffer.alloc(65_536, 7)
    const view = chunk.subarray(1_000, 1_256)
    const kept = ownedBytes(view)
    expect(kept.buffer.byteLength).toBe(256)
    expect(kept).not.toBeInstanceOf(Buffer)
    expect([...kept]).toEqual([...view])
    chunk.fill(0)
    expect(kept[0]).toBe(7)
  })

  it("keeps bytes that (nearly) own their buffer", () => {
    const whole = new Uint8Array(256)
    expect(ownedBytes(whole)).toBe(whole)
    const nearly = new Uint8Array(1_024).subarray(16)
    expect(ownedBytes(nearly)).toBe(nearly)
  })
})
