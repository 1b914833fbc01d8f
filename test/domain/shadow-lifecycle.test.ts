import { describe, expect, it } from "vitest"
import { lifecycleMsgId, shadowVersionRecords, type ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"

const ev = (kind: ShadowLifecycleEvent["kind"], shadowVersion: number, extra: Partial<ShadowLifecycleEvent> = {}): ShadowLifecycleEvent => ({
  kind,
  id: "b",
  shadowVersion,
  basedOn: shadowVersion - 1,
  predicted: shadowVersion,
  digest: `sha256:${String(shadowVersion).padStart(64, "0")}`,
  confidence: 0.5,
  validFromMs: 1_000 + shadowVersion,
  origin: "write",
  model: "write-path",
  timeMs: 2_000 + shadowVersion,
  ...extra,
})

describe("shadowVersionRecords", () => {
  it("lists each created version once, oldest first, with the first verdict on it", () => {
    const rows = shadowVersionRecords([
      ev("created", 7, { origin: "prediction", confidence: 0.8 }),
      ev("created", 3),
      ev("confirmed", 3, { reason: "matches-head", timeMs: 9_000 }),
      ev("discarded", 3, { reason: "obsolete-cold", timeMs: 9_500 }),
      ev("created", 3), // a replayed record
    ])
    expect(rows.map((r) => r.shadowVersion)).toEqual([3, 7])
    expect(rows[0]?.verdict).toEqual({ kind: "confirmed", reason: "matches-head", atMs: 9_000 })
    expect(rows[1]).toMatchObject({ origin: "prediction", confidence: 0.8, createdMs: 2_007, verdict: undefined })
  })

  it("ignores a verdict whose creation is not recorded, and gives nothing for no events", () => {
    expect(shadowVersionRecords([ev("discarded", 4, { reason: "evicted" })])).toEqual([])
    expect(shadowVersionRecords([])).toEqual([])
  })

  it("message ids tell kinds and versions apart", () => {
    expect(lifecycleMsgId(ev("created", 3))).not.toBe(lifecycleMsgId(ev("confirmed", 3)))
    expect(lifecycleMsgId(ev("created", 3))).not.toBe(lifecycleMsgId(ev("created", 4)))
  })
})
