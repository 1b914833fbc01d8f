// Histogram buckets in seconds. A shadow hit is answered in tens of microseconds and an
// append under contention can take seconds: the buckets span both, finer where SLOs sit.
export const READ_BUCKETS_S = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
export const APPEND_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
export const VERDICT_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300]

/** Ten equal-width confidence bins, as DESIGN.md's calibration measure uses. */
export const CALIBRATION_BINS = ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"] as const

export const calibrationBin = (confidence: number): string => {
  const i = Number.isFinite(confidence) ? Math.min(9, Math.max(0, Math.floor(confidence * 10))) : 0
  return CALIBRATION_BINS[i] ?? "0.0"
}
