import { createPredictor, type Prediction, type Predictor, type PredictorConfig } from "../../../domain/predictor/predictor.ts"

export interface Step {
  readonly id: string
  readonly time: number
  readonly json: unknown
}

export interface Judged {
  readonly prediction: Prediction
  readonly correct: boolean
}

const encoder = new TextEncoder()

/** Replays a history, judging each emitted prediction against the next version of its blob. */
export const replay = (history: readonly Step[], config: Partial<PredictorConfig> = {}, predictor?: Predictor): { judged: Judged[]; predictor: Predictor } => {
  const p = predictor ?? createPredictor(config)
  const versions = new Map<string, number>()
  const pending = new Map<string, Prediction>()
  const judged: Judged[] = []
  for (const s of history) {
    const v = (versions.get(s.id) ?? 0) + 1
    versions.set(s.id, v)
    const prev = pending.get(s.id)
    if (prev !== undefined) judged.push({ prediction: prev, correct: JSON.stringify(prev.json) === JSON.stringify(s.json) })
    const next = p.observe({ id: s.id, version: v, timeMs: s.time, content: encoder.encode(JSON.stringify(s.json)), json: s.json })
    if (next === undefined) pending.delete(s.id)
    else pending.set(s.id, next)
  }
  return { judged, predictor: p }
}

/** Round-robin interleaving of per-blob sequences, one write per blob per tick (irregular-free). */
export const interleave = (blobs: number, versions: number, idOf: (b: number) => string, value: (b: number, k: number) => unknown, periodMs = 10_000): Step[] => {
  const steps: Step[] = []
  for (let k = 0; k < versions; k++) {
    for (let b = 0; b < blobs; b++) steps.push({ id: idOf(b), time: 1_000_000 + k * periodMs + b, json: value(b, k) })
  }
  return steps
}
