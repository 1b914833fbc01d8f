import { describe, expect, it } from "vitest"
import { arbitrate, type Candidate } from "../../../domain/predictor/arbitration.ts"

const cfg = { serveThreshold: 0.99, emitFloor: 0.05, confidentLevel: 0.9, fpcMax: 5 }
const open = { quiet: false, throttled: false }
const cand = (component: number, hash: number, confidence: number, fpc = 5): Candidate => ({
  proposal: { component, hash, key: component, overrides: [] },
  raw: confidence,
  confidence,
  fpc,
})

describe("arbitration", () => {
  it("serves a confident proposal with a saturated counter", () => {
    const d = arbitrate([cand(0, 1, 0.2), cand(1, 2, 0.995)], open, cfg)
    expect(d.kind === "emit" && d.served && d.winner.proposal.hash).toBe(2)
  })

  it("abstains when confident components disagree", () => {
    expect(arbitrate([cand(1, 1, 0.995), cand(2, 2, 0.95)], open, cfg)).toEqual({ kind: "abstain", reason: "disagree" })
  })

  it("agreeing components are not a disagreement", () => {
    const d = arbitrate([cand(1, 7, 0.995), cand(4, 7, 0.999)], open, cfg)
    expect(d.kind === "emit" && d.served).toBe(true)
  })

  it("emits but holds below the threshold, before the counter saturates, when quiet or throttled", () => {
    const hold = (c: Candidate, gate = open): string | undefined => {
      const d = arbitrate([c], gate, cfg)
      return d.kind === "emit" && !d.served ? d.holdReason : undefined
    }
    expect(hold(cand(1, 1, 0.98))).toBe("threshold")
    expect(hold(cand(1, 1, 0.999, 2))).toBe("counter")
    expect(hold(cand(1, 1, 0.999), { quiet: true, throttled: false })).toBe("quiet")
    expect(hold(cand(1, 1, 0.999), { quiet: false, throttled: true })).toBe("throttled")
  })

  it("emits nothing below the floor", () => {
    expect(arbitrate([cand(0, 1, 0.01)], open, cfg)).toEqual({ kind: "abstain", reason: "below-floor" })
  })
})
