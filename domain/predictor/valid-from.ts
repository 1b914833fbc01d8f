// When may a predicted state be shown to readers? Only writers with a regular rhythm get a
// time-triggered shadow; everyone else's shadow waits for the write to be seen.

export type ValidFrom = { readonly kind: "at"; readonly epochMs: number } | { readonly kind: "on-write" }

export interface GapStats {
  readonly n: number
  readonly meanMs: number
  /** Sum of squared deviations (Welford). */
  readonly m2: number
}

export interface ValidFromConfig {
  readonly minSamples: number
  readonly maxCv: number
  /** Offset above the mean in standard deviations: a high quantile for a tight distribution. */
  readonly sigmas: number
  /** Floor on the margin, as a fraction of the mean gap, for writers with near-zero jitter. */
  readonly minMarginFraction: number
}

export const defaultValidFromConfig: ValidFromConfig = { minSamples: 8, maxCv: 0.1, sigmas: 5, minMarginFraction: 0.02 }

export const emptyGaps: GapStats = { n: 0, meanMs: 0, m2: 0 }

export const addGap = (s: GapStats, gapMs: number): GapStats => {
  const n = s.n + 1
  const d = gapMs - s.meanMs
  const meanMs = s.meanMs + d / n
  return { n, meanMs, m2: s.m2 + d * (gapMs - meanMs) }
}

export const stdDev = (s: GapStats): number => (s.n > 1 ? Math.sqrt(s.m2 / (s.n - 1)) : Number.POSITIVE_INFINITY)

export const coefficientOfVariation = (s: GapStats): number =>
  s.meanMs > 0 ? stdDev(s) / s.meanMs : Number.POSITIVE_INFINITY

export const isRegular = (s: GapStats, cfg: ValidFromConfig): boolean =>
  s.n >= cfg.minSamples && coefficientOfVariation(s) <= cfg.maxCv

export const validFrom = (s: GapStats, lastWriteMs: number, cfg: ValidFromConfig = defaultValidFromConfig): ValidFrom => {
  if (!isRegular(s, cfg)) return { kind: "on-write" }
  const margin = Math.max(cfg.sigmas * stdDev(s), cfg.minMarginFraction * s.meanMs)
  return { kind: "at", epochMs: Math.ceil(lastWriteMs + s.meanMs + margin) }
}

/** A time-triggered shadow is right only if the write it anticipates has landed by then. */
export const timingHolds = (v: ValidFrom, actualWriteMs: number): boolean =>
  v.kind === "on-write" || actualWriteMs <= v.epochMs
