import { describe, expect, it } from "vitest"
import { deleteBlob, patchBlob, writeBlob } from "../../domain/blob-command.ts"
import { GENESIS_HASH } from "../../domain/blob-event.ts"
import { chainStart, isChainBreak, verifyLink } from "../../domain/hash-chain.ts"
import {
  BLOB,
  deleted,
  given,
  givenState,
  INLINE_LIMIT_BYTES,
  inline,
  patchedTo,
  ref,
  STEP_MS,
  T0_MS,
  written,
  writtenRef,
} from "../support/given-when-then.ts"
import { EMPTY_DIGEST, digestOf, testHasher, utf8 } from "../support/hasher.ts"

const json = (value: unknown): string => JSON.stringify(value)
const DOC = { title: "Umbra", tags: ["a", "b"], n: 1 }

describe("WriteBlob", () => {
  it("creates version 1 of a new blob, linked to the genesis hash", () => {
    given([])
      .when(writeBlob(inline("hello"), { writer: "bob", contentType: "text/plain" }), { nowMs: T0_MS })
      .then([
        {
          id: BLOB,
          version: 1,
          op: "write",
          digest: digestOf("hello"),
          size: 5,
          contentType: "text/plain",
          contentRef: undefined,
          content: utf8("hello"),
          writer: "bob",
          timeMs: T0_MS,
          idempotencyKey: undefined,
          restoredFrom: undefined,
          prevHash: GENESIS_HASH,
        },
      ])
  })

  it("writes a new version over an existing one without an expected version", () => {
    const { state } = given([written("v1", { contentType: "text/plain" })])
      .when(writeBlob(inline("v2")))
      .then([{ version: 2, op: "write", content: utf8("v2"), contentType: undefined }])
    expect(state).toMatchObject({ version: 2, exists: true, content: utf8("v2"), contentType: undefined })
  })

  it("accepts 0 bytes", () => {
    given([]).when(writeBlob(inline(""))).then([{ version: 1, size: 0, digest: EMPTY_DIGEST, content: utf8("") }])
  })

  it("keeps content of exactly the inline limit inline", () => {
    const text = "x".repeat(INLINE_LIMIT_BYTES)
    given([]).when(writeBlob(inline(text))).then([{ size: INLINE_LIMIT_BYTES, content: utf8(text) }])
  })

  it("rejects inline content above the limit as TooLarge", () => {
    given([written("v1")])
      .when(writeBlob(inline("x".repeat(INLINE_LIMIT_BYTES + 1))))
      .thenRejects("TooLarge", { size: INLINE_LIMIT_BYTES + 1, limit: INLINE_LIMIT_BYTES })
  })

  it("measures the limit in bytes, not characters", () => {
    const text = "é".repeat(INLINE_LIMIT_BYTES / 2 + 1) // 2 bytes each in UTF-8
    given([]).when(writeBlob(inline(text))).thenRejects("TooLarge", { size: INLINE_LIMIT_BYTES + 2 })
  })

  it("stores content by reference: the event names the digest and carries no bytes", () => {
    const digest = digestOf("a big blob")
    const size = 64 * 1024 * 1024 // far above the inline limit: references have no inline limit
    const { state } = given([written("v1")])
      .when(writeBlob(ref(digest, size), { contentType: "application/octet-stream" }))
      .then([{ version: 2, op: "write", digest, size, contentRef: digest, content: undefined }])
    expect(state).toMatchObject({ exists: true, contentRef: digest, content: undefined, size })
  })

  it("restores: a write with restoredFrom is a restore event naming the version", () => {
    given([written("v1"), written("v2")])
      .when(writeBlob(inline("v1"), { restoredFrom: 1 }))
      .then([{ version: 3, op: "restore", restoredFrom: 1, digest: digestOf("v1"), content: utf8("v1") }])
  })

  it("restores a deleted blob, continuing its version numbers", () => {
    given([written("v1"), deleted()])
      .when(writeBlob(inline("v1"), { restoredFrom: 1, expectedVersion: 2 }))
      .then([{ version: 3, op: "restore", restoredFrom: 1 }])
  })

  it("writes again after a delete: versions count tombstones", () => {
    const { state } = given([written("v1"), deleted()]).when(writeBlob(inline("v3"))).then([{ version: 3 }])
    expect(state.exists).toBe(true)
  })
})

describe("expected version", () => {
  it("matching the head version: accepted", () => {
    given([written("v1")]).when(writeBlob(inline("v2"), { expectedVersion: 1 })).then([{ version: 2 }])
  })

  it("0 on a blob that never existed: accepted", () => {
    given([]).when(writeBlob(inline("v1"), { expectedVersion: 0 })).then([{ version: 1 }])
  })

  it("0 on a deleted blob: accepted (it does not exist), version continues", () => {
    given([written("v1"), deleted()]).when(writeBlob(inline("v3"), { expectedVersion: 0 })).then([{ version: 3 }])
  })

  it("the tombstone's version on a deleted blob: accepted", () => {
    given([written("v1"), deleted()]).when(writeBlob(inline("v3"), { expectedVersion: 2 })).then([{ version: 3 }])
  })

  it("0 on an existing blob: VersionConflict naming the current version", () => {
    given([written("v1"), written("v2")])
      .when(writeBlob(inline("v3"), { expectedVersion: 0 }))
      .thenRejects("VersionConflict", { id: BLOB, expectedVersion: 0, currentVersion: 2 })
  })

  it.each([
    ["stale", 1],
    ["ahead", 3],
    ["far ahead", 1_000_000],
  ])("a %s number: VersionConflict naming the current version", (_, expectedVersion) => {
    given([written("v1"), written("v2")])
      .when(writeBlob(inline("v3"), { expectedVersion }))
      .thenRejects("VersionConflict", { id: BLOB, expectedVersion, currentVersion: 2 })
  })

  it("a positive number on a blob that never existed: VersionConflict at 0", () => {
    given([]).when(writeBlob(inline("v1"), { expectedVersion: 1 })).thenRejects("VersionConflict", { currentVersion: 0 })
  })

  it.each([1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])("%s is InvalidRequest on expectedVersion", (expectedVersion) => {
    for (const command of [
      writeBlob(inline("x"), { expectedVersion }),
      patchBlob([], { expectedVersion }),
      deleteBlob({ expectedVersion }),
    ])
      given([patchedTo(DOC)]).when(command).thenRejects("InvalidRequest", { field: "expectedVersion" })
  })

  it("is checked for patches and deletes too", () => {
    given([patchedTo(DOC)])
      .when(patchBlob([], { expectedVersion: 2 }))
      .thenRejects("VersionConflict", { currentVersion: 1 })
    given([patchedTo(DOC)]).when(deleteBlob({ expectedVersion: 0 })).thenRejects("VersionConflict", { currentVersion: 1 })
    given([patchedTo(DOC)]).when(deleteBlob({ expectedVersion: 1 })).then([{ version: 2, op: "delete" }])
  })
})

describe("PatchBlob", () => {
  it("applies an RFC 6902 patch to a JSON blob", () => {
    const expected = json({ title: "Shadow", tags: ["a", "b", "c"], n: 1, added: true })
    const { state } = given([patchedTo(DOC)])
      .when(
        patchBlob(
          [
            { op: "replace", path: "/title", value: "Shadow" },
            { op: "add", path: "/tags/-", value: "c" },
            { op: "add", path: "/added", value: true },
          ],
          { expectedVersion: 1, writer: "carol" },
        ),
      )
      .then([
        {
          version: 2,
          op: "patch",
          content: utf8(expected),
          digest: digestOf(expected),
          size: utf8(expected).length,
          contentType: "application/json",
          writer: "carol",
        },
      ])
    expect(state.content).toEqual(utf8(expected))
  })

  it("patches JSON that was written as raw bytes", () => {
    given([written(json({ a: 1 }), { contentType: "text/plain" })])
      .when(patchBlob([{ op: "remove", path: "/a" }]))
      .then([{ op: "patch", content: utf8("{}"), contentType: "application/json" }])
  })

  it("an empty patch still makes a new version", () => {
    given([patchedTo(DOC)]).when(patchBlob([])).then([{ version: 2, content: utf8(json(DOC)) }])
  })

  it("passes a `test` op that holds", () => {
    given([patchedTo(DOC)])
      .when(patchBlob([{ op: "test", path: "/n", value: 1 }, { op: "replace", path: "/n", value: 2 }]))
      .then([{ content: utf8(json({ ...DOC, n: 2 })) }])
  })

  it("does not mutate the state it patched", () => {
    const g = given([patchedTo(DOC)])
    const before = new Uint8Array(g.state.content ?? [])
    g.when(patchBlob([{ op: "replace", path: "/n", value: 99 }])).then([{ version: 2 }])
    expect(g.state.content).toEqual(before)
  })

  it("on a blob that never existed: NotFound", () => {
    given([]).when(patchBlob([])).thenRejects("NotFound", { id: BLOB })
  })

  it("on a deleted blob: NotFound", () => {
    given([patchedTo(DOC), deleted()]).when(patchBlob([])).thenRejects("NotFound", { id: BLOB })
  })

  it("expected version 0 on a missing blob gets past the version check and is NotFound", () => {
    given([]).when(patchBlob([], { expectedVersion: 0 })).thenRejects("NotFound")
  })

  it.each([
    ["plain text", "hello"],
    ["truncated JSON", '{"a":'],
    ["empty content", ""],
  ])("on non-JSON content (%s): InvalidRequest", (_, content) => {
    given([written(content)]).when(patchBlob([])).thenRejects("InvalidRequest", { field: "patch" })
  })

  it("on invalid UTF-8: InvalidRequest", () => {
    const bytes = new Uint8Array([0x22, 0xff, 0xfe, 0x22]) // a JSON string around invalid UTF-8
    given([{ ...written(""), content: bytes, size: bytes.length, digest: testHasher.digest(bytes) }])
      .when(patchBlob([]))
      .thenRejects("InvalidRequest", { field: "patch" })
  })

  it("on content stored by reference: InvalidRequest", () => {
    given([writtenRef(digestOf(json(DOC)), 100)]).when(patchBlob([])).thenRejects("InvalidRequest", { field: "patch" })
  })

  it.each<[string, unknown]>([
    ["an object, not an array", { op: "add", path: "/a", value: 1 }],
    ["a string", '[{"op":"add","path":"/a","value":1}]'],
    ["null", null],
    ["an array with a non-object", [1]],
    ["an array with null", [null]],
    ["an array with a nested array", [[{ op: "add", path: "/a", value: 1 }]]],
    ["an unknown op", [{ op: "frobnicate", path: "/n" }]],
    ["an op without a path", [{ op: "add", value: 1 }]],
    ["an add without a value", [{ op: "add", path: "/x" }]],
    ["a path without a leading slash", [{ op: "add", path: "n", value: 1 }]],
    ["an unresolvable path", [{ op: "add", path: "/missing/deep", value: 1 }]],
    ["removing what is not there", [{ op: "remove", path: "/nope" }]],
    ["an array index out of bounds", [{ op: "add", path: "/tags/7", value: "z" }]],
    ["a move from a missing path", [{ op: "move", from: "/nope", path: "/x" }]],
    ["a failing test op", [{ op: "test", path: "/n", value: 2 }]],
    ["a failing test op after a good op", [{ op: "replace", path: "/n", value: 5 }, { op: "test", path: "/title", value: "x" }]],
    ["an add to __proto__", [{ op: "add", path: "/__proto__/polluted", value: true }]],
    ["a replace of __proto__", [{ op: "replace", path: "/__proto__", value: { polluted: true } }]],
    ["an add to constructor/prototype", [{ op: "add", path: "/constructor/prototype/polluted", value: true }]],
  ])("a malformed patch (%s): InvalidRequest, nothing polluted", (_, patch) => {
    const doc = { ...DOC, constructor: { prototype: {} } }
    given([patchedTo(doc)]).when(patchBlob(patch)).thenRejects("InvalidRequest", { field: "patch" })
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
  })

  it("a patch whose result is above the inline limit: TooLarge", () => {
    given([patchedTo({ a: 1 })])
      .when(patchBlob([{ op: "add", path: "/big", value: "x".repeat(INLINE_LIMIT_BYTES) }]))
      .thenRejects("TooLarge", { limit: INLINE_LIMIT_BYTES })
  })
})

describe("DeleteBlob", () => {
  it("writes a tombstone: the empty digest, no content", () => {
    const { state } = given([written("v1", { contentType: "text/plain" })])
      .when(deleteBlob({ writer: "dave" }))
      .then([
        {
          version: 2,
          op: "delete",
          digest: EMPTY_DIGEST,
          size: 0,
          content: undefined,
          contentRef: undefined,
          contentType: undefined,
          writer: "dave",
        },
      ])
    expect(state).toMatchObject({ version: 2, exists: false, content: undefined, digest: undefined, size: 0 })
  })

  it("deletes a blob stored by reference", () => {
    given([writtenRef(digestOf("big"), 1 << 24)]).when(deleteBlob()).then([{ op: "delete", contentRef: undefined }])
  })

  it("on a blob that never existed: NotFound", () => {
    given([]).when(deleteBlob()).thenRejects("NotFound", { id: BLOB })
  })

  it("on a deleted blob: NotFound", () => {
    given([written("v1"), deleted()]).when(deleteBlob()).thenRejects("NotFound", { id: BLOB })
  })
})

describe("idempotency", () => {
  it("the same key as the head event: AlreadyApplied with that version, no new event", () => {
    given([written("v1"), written("v2", { idempotencyKey: "k-2" })])
      .when(writeBlob(inline("v2"), { idempotencyKey: "k-2" }))
      .thenAlreadyApplied(2, digestOf("v2"))
  })

  it("a retry is recognised even though its expected version is now stale", () => {
    given([written("v1"), written("v2", { idempotencyKey: "k-2" })])
      .when(writeBlob(inline("v2"), { idempotencyKey: "k-2", expectedVersion: 1 }))
      .thenAlreadyApplied(2)
  })

  it("a retried patch and a retried delete are recognised", () => {
    given([patchedTo(DOC, { idempotencyKey: "p" })]).when(patchBlob([], { idempotencyKey: "p" })).thenAlreadyApplied(1)
    given([written("v1"), deleted({ idempotencyKey: "d" })])
      .when(deleteBlob({ idempotencyKey: "d" }))
      .thenAlreadyApplied(2, EMPTY_DIGEST)
  })

  it("the `then([])` form means the same: nothing new", () => {
    given([written("v1", { idempotencyKey: "k" })]).when(writeBlob(inline("v1"), { idempotencyKey: "k" })).then([])
  })

  it("a different key: a new version carrying the new key", () => {
    const { state } = given([written("v1", { idempotencyKey: "k-1" })])
      .when(writeBlob(inline("v1"), { idempotencyKey: "k-2" }))
      .then([{ version: 2, idempotencyKey: "k-2" }])
    expect(state.lastIdempotencyKey).toBe("k-2")
  })

  it("no key: always a new version, even when the head has none either", () => {
    given([written("v1")]).when(writeBlob(inline("v1"))).then([{ version: 2, idempotencyKey: undefined }])
  })

  it("a key used before, but not by the head event: a new version (only the head is remembered)", () => {
    given([written("v1", { idempotencyKey: "k-1" }), written("v2", { idempotencyKey: "k-2" })])
      .when(writeBlob(inline("v1"), { idempotencyKey: "k-1" }))
      .then([{ version: 3 }])
  })
})

describe("time", () => {
  it("stamps the event with the command's time", () => {
    given([written("v1")])
      .when(writeBlob(inline("v2")), { nowMs: T0_MS + 10 * STEP_MS })
      .then([{ timeMs: T0_MS + 10 * STEP_MS }])
  })

  it("never goes backwards, even when the node's clock does", () => {
    const g = given([written("v1", { timeMs: T0_MS + 5 * STEP_MS })])
    g.when(writeBlob(inline("v2")), { nowMs: T0_MS }).then([{ timeMs: T0_MS + 5 * STEP_MS }])
    g.when(deleteBlob(), { nowMs: 0 }).then([{ timeMs: T0_MS + 5 * STEP_MS }])
  })
})

describe("hash chain", () => {
  it("version 1 links to the genesis hash", () => {
    given([]).when(writeBlob(inline("v1"))).then([{ prevHash: GENESIS_HASH }])
  })

  it("each event links to the previous event's hash", () => {
    const g = given([written("v1"), patchedTo(DOC), deleted()])
    const last = g.events.at(-1)
    const { event } = g.when(writeBlob(inline("v4"))).then([{ version: 4 }])
    expect(event.prevHash).toBe(last?.hash)
    expect(new Set([...g.events.map((e) => e.hash), event.hash]).size).toBe(4)
  })

  it("the same command at another place in the history hashes differently", () => {
    const a = given([written("v1")]).when(writeBlob(inline("x"))).then([{}]).event
    const b = given([written("v0")]).when(writeBlob(inline("x"))).then([{}]).event
    expect(a.digest).toBe(b.digest)
    expect(a.hash).not.toBe(b.hash)
  })

  it.each([
    ["an empty content ref where there was none", { contentRef: "" }],
    ["an empty idempotency key where there was none", { idempotencyKey: "" }],
    ["an empty content type where there was none", { contentType: "" }],
  ])("a forged event with %s breaks the chain at its version", (_, forgery) => {
    const [v1, v2] = given([written("v1"), written("v2")]).events
    const first = verifyLink(chainStart, v1!, digestOf("v1"), testHasher)
    if (isChainBreak(first)) throw new Error("v1 must verify")
    expect(verifyLink(first, { ...v2!, ...forgery }, digestOf("v2"), testHasher)).toEqual({
      _tag: "HashMismatch",
      version: 2,
    })
  })

  it("a history built by decide verifies link by link", () => {
    let g = given([])
    const commands = [
      writeBlob(inline(json(DOC))),
      patchBlob([{ op: "replace", path: "/n", value: 2 }]),
      writeBlob(ref(digestOf("big"), 1 << 20)),
      deleteBlob(),
      writeBlob(inline(json(DOC)), { restoredFrom: 1 }),
    ]
    const events = commands.map((command) => {
      const { event, state } = g.when(command).then([{}])
      g = givenState(state)
      return event
    })
    expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5])
    let cursor = chainStart
    for (const e of events) {
      const stored = e.content === undefined ? undefined : testHasher.digest(e.content)
      const next = verifyLink(cursor, e, stored, testHasher)
      if (isChainBreak(next)) throw new Error(`chain broke: ${JSON.stringify(next)}`)
      cursor = next
    }
    expect(cursor.expectedVersion).toBe(6)
  })
})
