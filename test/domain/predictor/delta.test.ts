import { describe, expect, it } from "vitest"
import { diffBinary, diffJson } from "../../../domain/predictor/delta.ts"

const kinds = (d: ReturnType<typeof diffJson>): Record<string, string> =>
  d.kind === "json" ? Object.fromEntries(d.fields.map((f) => [f.path.join("."), f.delta.kind])) : {}

describe("delta classification", () => {
  const ctx = { timeMs: 1_700_000_060_000, version: 7 }
  it("types each field change", () => {
    const prev = { n: 1, s: "queued", same: "x", at: 1_700_000_000_000, v: 6, log: [{ seq: 1 }], nested: { k: 2 }, blob: "a".repeat(40) }
    const next = { n: 3, s: "running", same: "x", at: 1_700_000_060_000, v: 7, log: [{ seq: 1 }, { seq: 2 }], nested: { k: 2 }, blob: "b".repeat(40), extra: 1 }
    expect(kinds(diffJson(prev, next, ctx))).toEqual({
      n: "step",
      s: "transition",
      same: "unchanged",
      at: "derived-time",
      v: "derived-version",
      log: "append",
      "nested.k": "unchanged",
      blob: "opaque",
      extra: "set",
    })
  })

  it("reports the step size and append template", () => {
    const d = diffJson({ n: 1, log: [1] }, { n: 4, log: [1, 2, 3] }, ctx)
    expect(d.kind === "json" && d.fields[0]?.delta).toEqual({ kind: "step", by: 3 })
    expect(d.kind === "json" && d.fields[1]?.delta).toEqual({ kind: "append", count: 2, template: "number" })
  })

  it("classifies binary content", () => {
    const a = new Uint8Array([1, 2, 3])
    expect(diffBinary(a, new Uint8Array([1, 2, 3]))).toEqual({ kind: "binary", delta: { kind: "unchanged" } })
    expect(diffBinary(a, new Uint8Array([1, 2, 3, 4]))).toEqual({ kind: "binary", delta: { kind: "append", count: 1 } })
    expect(diffBinary(a, new Uint8Array([9, 2, 3, 4]))).toEqual({ kind: "binary", delta: { kind: "opaque" } })
  })
})
