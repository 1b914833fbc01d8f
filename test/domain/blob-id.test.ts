import fc from "fast-check"
import * as E from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import { BLOB_ID_MAX_LENGTH, isBlobId, parseBlobId } from "../../domain/blob-id.ts"

// The contract (DESIGN.md): 1–200 characters of `A–Z a–z 0–9 _ - = /`, nothing else ever
// reaches a subject. The oracle below is written from the contract, not from the code.
const CONTRACT = /^[A-Za-z0-9_\-=/]{1,200}$/
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=/"

describe("parseBlobId", () => {
  it.each(["a", "Z", "0", "docs/readme", "user-42/profile=v2", "a_b-c=d/e", "///", "=", "-", "x".repeat(200), ALPHABET])(
    "accepts %j",
    (raw) => {
      expect(parseBlobId(raw)).toEqual(E.right(raw))
      expect(isBlobId(raw)).toBe(true)
    },
  )

  it.each([
    ["a dot", "a.b"],
    ["a lone dot", "."],
    ["a star", "*"],
    ["a star inside", "a*b"],
    ["a greater-than", ">"],
    ["a trailing >", "blob.>"],
    ["a space", "a b"],
    ["a leading space", " a"],
    ["a tab", "a\tb"],
    ["a newline", "a\nb"],
    ["a trailing newline", "abc\n"],
    ["a carriage return", "a\r"],
    ["a NUL", "a\u0000b"],
    ["a DEL", "a\u007f"],
    ["other control characters", "\u0001\u001f"],
    ["empty", ""],
    ["201 characters", "x".repeat(201)],
    ["unicode letters", "café"],
    ["an emoji", "blob-😀"],
    ["a non-breaking space", "a\u00a0b"],
    ["fullwidth letters", "ａｂｃ"],
    ["a backslash", "a\\b"],
    ["a dollar (system subjects)", "$SYS"],
    ["a colon", "a:b"],
    ["a percent", "a%2Eb"],
  ])("rejects %s as InvalidId", (_, raw) => {
    expect(parseBlobId(raw)).toMatchObject(E.left({ _tag: "InvalidId" }))
    expect(isBlobId(raw)).toBe(false)
  })

  it("names the length limit", () => {
    expect(BLOB_ID_MAX_LENGTH).toBe(200)
    expect(parseBlobId("x".repeat(201))).toMatchObject(E.left({ reason: expect.stringContaining("200") }))
  })

  it("accepted ⇔ matches the contract, over arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 260 }), (raw) => {
        expect(E.isRight(parseBlobId(raw))).toBe(CONTRACT.test(raw))
      }),
      { numRuns: 2_000 },
    )
  })

  it("accepted ⇔ matches the contract, over strings near the alphabet and the length limit", () => {
    const near = fc.oneof(
      fc.constantFrom(...ALPHABET.split("")),
      fc.constantFrom(".", "*", ">", " ", "\t", "\n", "\u0000", "é", "😀", "$", "\\"),
    )
    const lengths = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 198, max: 202 }))
    fc.assert(
      fc.property(lengths, fc.array(near, { minLength: 1, maxLength: 8 }), (length, chars) => {
        // `length` characters cycling through `chars`: lengths cluster at 0 and the limit.
        const raw = Array.from({ length }, (_, i) => chars[i % chars.length] ?? "a").join("")
        expect(E.isRight(parseBlobId(raw))).toBe(CONTRACT.test(raw))
      }),
      { numRuns: 2_000 },
    )
  })

  it("every accepted id is safe as one subject token", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...ALPHABET.split("")), minLength: 1, maxLength: 200 }), (raw) => {
        expect(parseBlobId(raw)).toEqual(E.right(raw))
        expect(`blob.evt.${raw}`.split(".")).toHaveLength(3)
      }),
    )
  })
})
