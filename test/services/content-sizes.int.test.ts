import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// Sizes around every limit through raw requests: empty, one byte, the inline limit and one
// byte past it (stored in the content store by the service). Blobs above one message
// (1 MiB + 1, 64 MiB) go through the client library's upload: see umbra-client.int.test.ts.

const INLINE = 64 * 1024
let s: TestStack
beforeAll(async () => {
  s = await startTestStack({ inlineLimitBytes: INLINE })
})
afterAll(async () => s?.stop())

const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex")
const bytes = (n: number) => {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff
  return b
}

describe("content sizes", () => {
  for (const size of [0, 1, INLINE, INLINE + 1, 900 * 1024]) {
    it(`${size} bytes round-trip with equal digests`, async () => {
      const id = `size/${size}`
      const body = bytes(size)
      const w = (await cmd(s.nc, "write", id, body)).json()
      expect(w.digest).toBe(sha(body))
      const r = await cmd(s.nc, "read", id, undefined, { "Umbra-Consistency": "primary" })
      expect(r.header("Umbra-Digest")).toBe(sha(body))
      const ref = r.header("Umbra-Content-Ref")
      const got = ref === undefined ? r.msg.data : await s.blob.content.get(ref)
      expect(got).toBeDefined()
      expect(sha(got!)).toBe(sha(body))
      expect(ref !== undefined).toBe(size > INLINE)
    })
  }
})
