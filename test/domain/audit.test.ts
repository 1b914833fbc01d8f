import { describe, expect, it } from "vitest"
import { auditAll, predictionAudit, type AuditInput, type RefObject } from "../../domain/audit.ts"
import { chainPayload, type BlobEvent } from "../../domain/blob-event.ts"
import { jsonDiff, diffLine } from "../../domain/json-diff.ts"
import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"
import { BLOB, T0_MS, STEP_MS, deleted, history, patchedTo, written, writtenRef } from "../support/given-when-then.ts"
import { digestOf, testHasher, utf8 } from "../support/hasher.ts"

const asInputs = (events: ReadonlyArray<BlobEvent>, ref?: (e: BlobEvent) => RefObject): AuditInput[] =>
  events.map((event, i) => ({ _tag: "Event", seq: i + 1, event, ...(ref === undefined ? {} : { ref: ref(event) }) }))

const resign = (e: BlobEvent): BlobEvent => {
  const { content: _c, hash: _h, ...unsigned } = e
  return { ...e, hash: testHasher.hashText(chainPayload(unsigned)) }
}

const json = (v: unknown) => written(JSON.stringify(v), { contentType: "application/json" })

describe("audit fold", () => {
  it("an untouched history is intact, with writer, op and a JSON diff per version", () => {
    const events = history(BLOB, [json({ a: 1, b: { c: 2 } }), patchedTo({ a: 1, b: { c: 3 }, d: [1] }), deleted(), written("plain text")])
    const { timeline, verdict } = auditAll(BLOB, asInputs(events), [], testHasher)
    expect(verdict).toMatchObject({ verdict: "intact", intact: true, firstBrokenVersion: null, versions: 4, headVersion: 4, breaks: 0 })
    expect(timeline.map((t) => [t.kind, t.summary])).toEqual([
      ["version", "new JSON document"],
      ["version", "+/d ~/b/c"],
      ["version", "deleted (tombstone)"],
      ["version", "10 bytes"],
    ])
    expect(timeline.every((t) => t.kind === "version" && t.chain === "ok")).toBe(true)
    expect(timeline[2]).toMatchObject({ digestCheck: "tombstone", op: "delete", writer: "alice" })
  })

  it("altered content is a digest break at exactly that version", () => {
    const events = [...history(BLOB, [written("a"), written("b"), written("c")])]
    events[1] = { ...events[1]!, content: utf8("B") }
    const { verdict, timeline } = auditAll(BLOB, asInputs(events), [], testHasher)
    expect(verdict).toMatchObject({ intact: false, firstBrokenVersion: 2, cause: "DigestMismatch", breaks: 1 })
    expect(timeline[1]).toMatchObject({ digestCheck: "mismatch", chain: "DigestMismatch" })
  })

  it("an altered field breaks the event's own hash; a re-signed one breaks the next link", () => {
    const events = [...history(BLOB, [written("a"), written("b"), written("c")])]
    const altered = [...events]
    altered[1] = { ...events[1]!, writer: "mallory" }
    expect(auditAll(BLOB, asInputs(altered), [], testHasher).verdict).toMatchObject({ firstBrokenVersion: 2, cause: "HashMismatch", breaks: 1 })
    const resigned = [...events]
    resigned[1] = resign({ ...events[1]!, writer: "mallory" })
    expect(auditAll(BLOB, asInputs(resigned), [], testHasher).verdict).toMatchObject({ firstBrokenVersion: 3, cause: "PrevHashMismatch", breaks: 1 })
  })

  it("a forged event appended with a plausible version but a wrong chain is reported at its version, once", () => {
    const events = [...history(BLOB, [written("a"), written("b")])]
    const forged = resign({ ...events[1]!, version: 3, prevHash: "sha256:" + "1".repeat(64), content: utf8("evil"), digest: digestOf("evil"), size: 4 })
    const after = resign({ ...events[1]!, version: 4, prevHash: forged.hash, content: utf8("x"), digest: digestOf("x"), size: 1 })
    const { verdict } = auditAll(BLOB, asInputs([...events, forged, after]), [], testHasher)
    expect(verdict).toMatchObject({ firstBrokenVersion: 3, cause: "PrevHashMismatch", breaks: 1, versions: 4 })
  })

  it("a malformed message is a break at the position after the last version, and the chain goes on", () => {
    const events = history(BLOB, [written("a"), written("b"), written("c")])
    const inputs: AuditInput[] = [
      ...asInputs(events.slice(0, 2)),
      { _tag: "Malformed", seq: 3, timeMs: T0_MS + 1_500, reason: "missing Umbra-Version" },
      { _tag: "Event", seq: 4, event: events[2]! },
    ]
    const { verdict, timeline } = auditAll(BLOB, inputs, [], testHasher)
    expect(verdict).toMatchObject({ firstBrokenVersion: 3, cause: "Malformed", breaks: 1, versions: 3 })
    expect(timeline.map((t) => t.kind)).toEqual(["version", "version", "malformed", "version"])
    expect(timeline[3]).toMatchObject({ version: 3, chain: "ok" })
  })

  it("content references: checked against what the content store holds", () => {
    const d = digestOf("big content")
    const events = history(BLOB, [writtenRef(d, 11), written("x")])
    const ok = auditAll(BLOB, asInputs(events, () => ({ _tag: "RefFound", digest: d, size: 11 })), [], testHasher)
    expect(ok.verdict.intact).toBe(true)
    const swapped = auditAll(BLOB, asInputs(events, () => ({ _tag: "RefFound", digest: digestOf("other"), size: 5 })), [], testHasher)
    expect(swapped.verdict).toMatchObject({ firstBrokenVersion: 1, cause: "DigestMismatch" })
    const missing = auditAll(BLOB, asInputs(events, () => ({ _tag: "RefMissing" })), [], testHasher)
    expect(missing.verdict).toMatchObject({ firstBrokenVersion: 1, cause: "ContentMissing" })
    const otherRef = [...events]
    otherRef[0] = resign({ ...events[0]!, contentRef: digestOf("other") })
    const pointed = auditAll(BLOB, asInputs(otherRef, () => ({ _tag: "RefFound", digest: digestOf("other"), size: 5 })), [], testHasher)
    expect(pointed.verdict).toMatchObject({ firstBrokenVersion: 1, cause: "ContentRefMismatch" })
  })

  it("an event naming another blob is a break", () => {
    const events = history(BLOB, [written("a")])
    const { verdict } = auditAll("other/blob", asInputs(events), [], testHasher)
    expect(verdict).toMatchObject({ firstBrokenVersion: 1, cause: "IdMismatch" })
  })
})

const lifecycle = (kind: ShadowLifecycleEvent["kind"], o: Partial<ShadowLifecycleEvent>): ShadowLifecycleEvent => ({
  kind,
  id: BLOB,
  shadowVersion: 1,
  basedOn: 1,
  predicted: 2,
  digest: digestOf("b"),
  confidence: 0.8,
  validFromMs: T0_MS + 500,
  origin: "prediction",
  model: "stride",
  timeMs: T0_MS + 100,
  ...o,
})

describe("shadow lifecycle and predictions", () => {
  it("lifecycle events are interleaved by time with versions", () => {
    const events = history(BLOB, [written("a"), written("b")])
    const shadows = [
      lifecycle("confirmed", { timeMs: T0_MS + STEP_MS + 10, reason: "predicted-write-arrived", served: 3 }),
      lifecycle("created", {}),
    ]
    const { timeline, verdict } = auditAll(BLOB, asInputs(events), shadows, testHasher)
    expect(timeline.map((t) => (t.kind === "shadow" ? t.lifecycle : `v${t.version}`))).toEqual(["v1", "created", "v2", "confirmed"])
    expect(timeline[1]?.summary).toMatch(/created, confidence 80%, valid from .*model stride/)
    expect(timeline[3]?.summary).toMatch(/confirmed \(predicted-write-arrived\), served 3 reads/)
    expect(verdict.shadowEvents).toBe(2)
  })

  it("each prediction against the version that came", () => {
    const actual = new Map([
      [2, { version: 2, digest: digestOf("b"), timeMs: T0_MS + 1_000, writer: "alice", op: "write" as const }],
      [3, { version: 3, digest: digestOf("c"), timeMs: T0_MS + 2_000, writer: "alice", op: "write" as const }],
    ])
    const rows = predictionAudit(
      [
        lifecycle("created", { shadowVersion: 1, predicted: 2 }),
        lifecycle("confirmed", { shadowVersion: 1, reason: "predicted-write-arrived", served: 2 }),
        lifecycle("created", { shadowVersion: 2, predicted: 3, digest: digestOf("not c"), confidence: 0.4, timeMs: T0_MS + 1_100 }),
        lifecycle("created", { shadowVersion: 3, predicted: 4, timeMs: T0_MS + 2_100 }),
        lifecycle("created", { shadowVersion: 4, predicted: 4, origin: "write", timeMs: T0_MS + 2_200 }),
      ],
      (v) => actual.get(v),
    )
    expect(rows.map((r) => [r.predicted, r.confidence, r.outcome])).toEqual([
      [2, 0.8, "correct"],
      [3, 0.4, "wrong-content"],
      [4, 0.8, "pending"],
    ])
    expect(rows[0]).toMatchObject({ arrivalAfterValidFromMs: 500, verdict: { kind: "confirmed", served: 2 } })
  })
})

describe("json diff", () => {
  it("names added, removed and changed paths, nested and in arrays, bounded", () => {
    expect(diffLine(jsonDiff({ a: 1, b: { c: [1, 2] }, x: "y" }, { a: 2, b: { c: [1, 3, 4] }, "k/~": 0 }))).toBe("+/b/c/2 +/k~1~0 ~/a ~/b/c/1 -/x")
    expect(diffLine(jsonDiff({ a: 1 }, { a: 1 }))).toBe("no change")
    expect(diffLine(jsonDiff([1], { a: 1 }))).toBe("~/")
    const many = jsonDiff({}, Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])), 3)
    expect(many).toMatchObject({ added: ["/k0", "/k1", "/k2"], truncated: true })
  })
})
