import { describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { decodeShadow, encodeShadow } from "../../infra/shadow-codec.ts"

const bytes = new TextEncoder().encode("hello shadow")
const shadow: Shadow = {
  id: "b1" as BlobId,
  basedOn: 1,
  predicted: 2,
  digest: "sha256:aa",
  size: bytes.length,
  contentType: undefined,
  contentRef: undefined,
  content: bytes,
  confidence: 1,
  validFromMs: 5,
  createdAtMs: 5,
  origin: "write",
  model: "write-path",
  status: "live",
  reason: undefined,
  shadowVersion: 0,
}

describe("shadow frames", () => {
  it("round-trip", () => {
    expect(decodeShadow(encodeShadow(shadow), 7)).toEqual({ ...shadow, shadowVersion: 7 })
  })

  it("keep bytes already held under the same digest instead of their own", () => {
    const held = new Uint8Array(bytes)
    const s = decodeShadow(encodeShadow(shadow), 7, { held: (id, digest) => (id === "b1" && digest === "sha256:aa" ? { digest, content: held } : undefined) })
    expect(s?.content).toBe(held)
  })

  it("ignore held bytes of another digest or length", () => {
    const frame = encodeShadow(shadow)
    expect(decodeShadow(frame, 7, { held: () => ({ digest: "sha256:bb", content: bytes }) })?.content).not.toBe(bytes)
    const short = bytes.subarray(1)
    expect(decodeShadow(frame, 7, { held: (_, digest) => ({ digest, content: short }) })?.content).toEqual(bytes)
  })

  it("leave the content out when asked, and nothing else", () => {
    const { content, ...rest } = shadow
    expect(content).toBeDefined()
    expect(decodeShadow(encodeShadow(shadow), 7, { withoutContent: true })).toEqual({ ...rest, content: undefined, shadowVersion: 7 })
  })
})
