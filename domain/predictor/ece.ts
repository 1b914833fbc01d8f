// Calibration measures shared by the evaluation and the reconciler metrics.

export interface Outcome {
  readonly confidence: number
  readonly correct: boolean
}

export interface ReliabilityBin {
  readonly count: number
  readonly meanConfidence: number
  readonly accuracy: number
  readonly minConfidence: number
  readonly maxConfidence: number
}

/** Equal-mass bins: each holds ~n/bins outcomes sorted by confidence (ties kept together by order). */
export const reliabilityBins = (outcomes: readonly Outcome[], bins = 10): ReliabilityBin[] => {
  const sorted = [...outcomes].sort((a, b) => a.confidence - b.confidence)
  const result: ReliabilityBin[] = []
  for (let b = 0; b < bins; b++) {
    const lo = Math.floor((b * sorted.length) / bins)
    const hi = Math.floor(((b + 1) * sorted.length) / bins)
    if (hi <= lo) continue
    let conf = 0
    let hits = 0
    for (let i = lo; i < hi; i++) {
      const o = sorted[i] as Outcome
      conf += o.confidence
      if (o.correct) hits++
    }
    const n = hi - lo
    result.push({
      count: n,
      meanConfidence: conf / n,
      accuracy: hits / n,
      minConfidence: (sorted[lo] as Outcome).confidence,
      maxConfidence: (sorted[hi - 1] as Outcome).confidence,
    })
  }
  return result
}

export const expectedCalibrationError = (outcomes: readonly Outcome[], bins = 10): number => {
  if (outcomes.length === 0) return 0
  let sum = 0
  for (const b of reliabilityBins(outcomes, bins)) sum += b.count * Math.abs(b.meanConfidence - b.accuracy)
  return sum / outcomes.length
}

/** Wilson score interval lower bound (z = 1.96 for 95%). */
export const wilsonLower = (successes: number, n: number, z = 1.96): number => {
  if (n === 0) return 0
  const p = successes / n
  const z2 = z * z
  const centre = p + z2 / (2 * n)
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  return Math.max(0, (centre - margin) / (1 + z2 / n))
}
