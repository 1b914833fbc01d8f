// Isotonic recalibration (pool-adjacent-violators, by hand) of raw confidences against the
// outcomes of every emitted prediction. Outcomes are kept as counts in fixed bins, so
// memory is bounded and the fit is deterministic; bins get finer near 1, where serving
// decisions are made (0.99 vs 0.999 matters, 0.3 vs 0.31 does not).

export interface Calibrator {
  readonly hits: number[]
  readonly totals: number[]
  /** Fitted probability per bin; NaN where no data. */
  fitted: number[]
  /** Data behind each bin's fitted value (its PAV block), for shrinkage toward the raw score. */
  support: number[]
  pendingSinceFit: number
  readonly refitEvery: number
  readonly priorWeight: number
}

const LINEAR_BINS = 45 // [0, 0.9) in steps of 0.02
const LOG_BINS = 41 // 0.9 .. 1 - 1e-5 on a -log10(1-p) scale, steps of 0.1
export const BIN_COUNT = LINEAR_BINS + LOG_BINS

export const binOf = (p: number): number => {
  if (!(p > 0)) return 0
  if (p < 0.9) return Math.min(LINEAR_BINS - 1, Math.floor(p / 0.02))
  const decades = -Math.log10(Math.max(1e-9, 1 - p)) // 1 at p=0.9
  return Math.min(BIN_COUNT - 1, LINEAR_BINS + Math.floor((decades - 1) * 10))
}

export const createCalibrator = (refitEvery = 256, priorWeight = 20): Calibrator => ({
  hits: new Array<number>(BIN_COUNT).fill(0),
  totals: new Array<number>(BIN_COUNT).fill(0),
  fitted: new Array<number>(BIN_COUNT).fill(Number.NaN),
  support: new Array<number>(BIN_COUNT).fill(0),
  pendingSinceFit: 0,
  refitEvery,
  priorWeight,
})

interface Block {
  hits: number
  total: number
  first: number
  last: number
}

/** Pool adjacent violators over the non-empty bins, weighted by count. */
export const pav = (hits: readonly number[], totals: readonly number[]): Block[] => {
  const blocks: Block[] = []
  for (let i = 0; i < totals.length; i++) {
    const total = totals[i] as number
    if (total === 0) continue
    blocks.push({ hits: hits[i] as number, total, first: i, last: i })
    while (blocks.length >= 2) {
      const b = blocks[blocks.length - 1] as Block
      const a = blocks[blocks.length - 2] as Block
      if (a.hits / a.total <= b.hits / b.total) break
      blocks.pop()
      a.hits += b.hits
      a.total += b.total
      a.last = b.last
    }
  }
  return blocks
}

export const refit = (c: Calibrator): void => {
  c.fitted.fill(Number.NaN)
  c.support.fill(0)
  for (const b of pav(c.hits, c.totals)) {
    for (let i = b.first; i <= b.last; i++) {
      c.fitted[i] = b.hits / b.total
      c.support[i] = b.total
    }
  }
  c.pendingSinceFit = 0
}

export const recordOutcome = (c: Calibrator, raw: number, correct: boolean): void => {
  const i = binOf(raw)
  c.totals[i] = (c.totals[i] as number) + 1
  if (correct) c.hits[i] = (c.hits[i] as number) + 1
  c.pendingSinceFit++
  if (c.pendingSinceFit >= c.refitEvery) refit(c)
}

/** Calibrated probability; with little evidence the raw score (itself a shrunk frequency) dominates. */
export const calibrate = (c: Calibrator, raw: number): number => {
  const i = binOf(raw)
  const fit = c.fitted[i] as number
  if (Number.isNaN(fit)) return raw
  const n = c.support[i] as number
  return (fit * n + raw * c.priorWeight) / (n + c.priorWeight)
}

export interface CalibratorJson {
  readonly fitted: Array<number | null>
  readonly support: number[]
  readonly hits: number[]
  readonly totals: number[]
  readonly pendingSinceFit: number
  readonly refitEvery: number
  readonly priorWeight: number
}

export const calibratorToJson = (c: Calibrator): CalibratorJson => ({
  // The fit is kept as is (not refitted on restore) so a restored model answers identically.
  fitted: c.fitted.map((f) => (Number.isNaN(f) ? null : f)),
  support: [...c.support],
  hits: [...c.hits],
  totals: [...c.totals],
  pendingSinceFit: c.pendingSinceFit,
  refitEvery: c.refitEvery,
  priorWeight: c.priorWeight,
})

export const calibratorFromJson = (j: CalibratorJson): Calibrator => {
  const c = createCalibrator(j.refitEvery, j.priorWeight)
  j.hits.forEach((h, i) => (c.hits[i] = h))
  j.totals.forEach((t, i) => (c.totals[i] = t))
  c.fitted = j.fitted.map((f) => (f === null ? Number.NaN : f))
  c.support = [...j.support]
  c.pendingSinceFit = j.pendingSinceFit
  return c
}
