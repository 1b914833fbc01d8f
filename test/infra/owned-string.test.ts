import { describe, expect, it } from "vitest"
import { ownedOptionalString, ownedString } from "../../infra/owned-string.ts"

describe("owned strings", () => {
  it("keep the value, short or long", () => {
    const block = "NATS/1.0\r\nUmbra-Digest: sha256:2791288a33173e4e2065239f82aef45dca989aaf7d03fa8770f77b6f0533ab74\r\n"
    const digest = block.slice(24, 95)
    expect(ownedString(digest)).toBe(digest)
    expect(ownedString("short")).toBe("short")
    expect(ownedString("ünïcödé \u{1F600} and a quote \" and a backslash \\")).toBe("ünïcödé \u{1F600} and a quote \" and a backslash \\")
    expect(ownedOptionalString(undefined)).toBeUndefined()
  })
})
