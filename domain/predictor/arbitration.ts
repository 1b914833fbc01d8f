import type { Proposal } from "./proposal.ts"

// Only whole-blob proposals reach this point. Emission and serving are separate questions:
// everything plausible is emitted (so calibration learns from it), but only a proposal that
// is confident, has a saturated confidence counter, and no disagreeing confident rival is
// served.

export interface Candidate {
  readonly proposal: Proposal
  /** Shrunk success frequency of the proposal's pattern. */
  readonly raw: number
  /** Recalibrated probability that the whole proposal (content and timing) is right. */
  readonly confidence: number
  readonly fpc: number
}

export interface ArbitrationConfig {
  readonly serveThreshold: number
  readonly emitFloor: number
  /** Two different proposals both at least this confident means nobody knows: abstain. */
  readonly confidentLevel: number
  readonly fpcMax: number
}

export interface Gate {
  readonly quiet: boolean
  readonly throttled: boolean
}

export type Decision =
  | { readonly kind: "abstain"; readonly reason: "no-candidate" | "below-floor" | "disagree" }
  | {
      readonly kind: "emit"
      readonly winner: Candidate
      readonly served: boolean
      readonly holdReason?: "threshold" | "counter" | "quiet" | "throttled"
    }

const byConfidence = (a: Candidate, b: Candidate): number =>
  b.confidence - a.confidence || b.fpc - a.fpc || a.proposal.component - b.proposal.component

const holdReason = (w: Candidate, gate: Gate, cfg: ArbitrationConfig): "threshold" | "counter" | "quiet" | "throttled" | undefined => {
  if (w.confidence < cfg.serveThreshold) return "threshold"
  if (w.fpc < cfg.fpcMax) return "counter"
  if (gate.quiet) return "quiet"
  if (gate.throttled) return "throttled"
  return undefined
}

export const arbitrate = (candidates: readonly Candidate[], gate: Gate, cfg: ArbitrationConfig): Decision => {
  if (candidates.length === 0) return { kind: "abstain", reason: "no-candidate" }
  const sorted = [...candidates].sort(byConfidence)
  const winner = sorted[0] as Candidate
  if (winner.confidence < cfg.emitFloor) return { kind: "abstain", reason: "below-floor" }
  const rival = sorted.find((c) => c.proposal.hash !== winner.proposal.hash && c.confidence >= cfg.confidentLevel)
  if (rival !== undefined && winner.confidence >= cfg.confidentLevel) return { kind: "abstain", reason: "disagree" }
  const hold = holdReason(winner, gate, cfg)
  return hold === undefined ? { kind: "emit", winner, served: true } : { kind: "emit", winner, served: false, holdReason: hold }
}
