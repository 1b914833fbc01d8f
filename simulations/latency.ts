/**
 * Latency recording with HdrHistogram, in microseconds, twice per operation: from the
 * intended send time (what a user waiting on the schedule experiences, including queueing
 * in the driver; wrk2's "corrected" latency) and from the actual send (service time).
 * Reporting only the second hides a saturated system behind good-looking numbers.
 */
import { build, type Histogram } from "hdr-histogram-js"

export interface Percentiles {
  readonly p50Us: number
  readonly p90Us: number
  readonly p99Us: number
  readonly p999Us: number
  readonly maxUs: number
  readonly count: number
}

export interface LatencyBucket {
  readonly tSec: number
  readonly intended: Percentiles
  readonly service: Percentiles
}

export interface SpectrumPoint {
  readonly percentile: number
  readonly intendedUs: number
  readonly serviceUs: number
}

export interface LatencySummary {
  readonly intended: Percentiles
  readonly service: Percentiles
  readonly overTime: ReadonlyArray<LatencyBucket>
  readonly spectrum: ReadonlyArray<SpectrumPoint>
}

export interface LatencySample {
  readonly intendedMs: number
  readonly startMs: number
  readonly endMs: number
}

export interface LatencyRecorder {
  /** Times on the run's clock in ms; the bucket is chosen by the intended time. */
  readonly record: (sample: LatencySample) => void
  readonly summary: () => LatencySummary
}

/** The spectrum's points: denser towards the tail, where the interesting behaviour is. */
export const SPECTRUM_PERCENTILES: ReadonlyArray<number> = [
  0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100,
]

// An hour in µs: anything slower is clamped rather than growing the histogram unboundedly.
const HIGHEST_TRACKABLE_US = 3_600_000_000

/**
 * Packed counts: a per-second histogram is ~15 KB instead of ~95 KB, which matters for
 * hour-long runs; but recording into one costs several times more, which at 20,000
 * operations a second showed in the driver's profile. So a bucket records into plain
 * 32-bit counts while it is recent and is packed once the run has moved on.
 */
const newHistogram = (packed = true): Histogram =>
  build({
    bitBucketSize: packed ? "packed" : 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  })

const toUs = (ms: number): number => Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round(ms * 1000)))

export const percentilesOf = (h: Histogram): Percentiles => ({
  p50Us: h.getValueAtPercentile(50),
  p90Us: h.getValueAtPercentile(90),
  p99Us: h.getValueAtPercentile(99),
  p999Us: h.getValueAtPercentile(99.9),
  maxUs: h.maxValue,
  count: h.totalCount,
})

interface Pair {
  readonly intended: Histogram
  readonly service: Histogram
}

const newPair = (packed = true): Pair => ({ intended: newHistogram(packed), service: newHistogram(packed) })

// Answers more than this many buckets behind the newest are rare (timeouts, retries): their
// bucket is packed by then and still records them, only more slowly.
const RECENT_BUCKETS = 8

const packedCopy = (h: Histogram): Histogram => {
  const packed = newHistogram()
  packed.add(h)
  h.destroy()
  return packed
}

export const makeLatencyRecorder = (bucketSec = 1): LatencyRecorder => {
  const total = newPair(false)
  const buckets = new Map<number, Pair>()
  const recent = new Set<number>()
  let newest = Number.NEGATIVE_INFINITY
  const packOld = (): void => {
    for (const index of recent) {
      if (index > newest - RECENT_BUCKETS) continue
      const pair = buckets.get(index) as Pair
      buckets.set(index, { intended: packedCopy(pair.intended), service: packedCopy(pair.service) })
      recent.delete(index)
    }
  }
  const bucketAt = (index: number): Pair => {
    const bucket = buckets.get(index)
    if (bucket !== undefined) return bucket
    const isRecent = index > newest - RECENT_BUCKETS
    const fresh = newPair(!isRecent)
    buckets.set(index, fresh)
    if (isRecent) recent.add(index)
    if (index > newest) {
      newest = index
      packOld()
    }
    return fresh
  }
  const record = (s: LatencySample): void => {
    const fromIntended = toUs(s.endMs - s.intendedMs)
    const service = toUs(s.endMs - s.startMs)
    total.intended.recordValue(fromIntended)
    total.service.recordValue(service)
    const bucket = bucketAt(Math.floor(s.intendedMs / 1000 / bucketSec))
    bucket.intended.recordValue(fromIntended)
    bucket.service.recordValue(service)
  }
  const summary = (): LatencySummary => ({
    intended: percentilesOf(total.intended),
    service: percentilesOf(total.service),
    overTime: [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, pair]) => ({ tSec: index * bucketSec, intended: percentilesOf(pair.intended), service: percentilesOf(pair.service) })),
    spectrum: SPECTRUM_PERCENTILES.map((percentile) => ({
      percentile,
      intendedUs: total.intended.getValueAtPercentile(percentile),
      serviceUs: total.service.getValueAtPercentile(percentile),
    })),
  })
  return { record, summary }
}
