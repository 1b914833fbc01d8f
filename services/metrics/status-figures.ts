import type { Registry } from "prom-client"

// The figures on the status page, computed from the same series Prometheus scrapes, so the
// page and the Grafana dashboard cannot disagree about what "hit rate" means.

export interface Totals {
  readonly tMs: number
  readonly hits: number
  /** Reads that allowed a shadow (DESIGN.md: the hit rate's denominator). */
  readonly allowed: number
  readonly reads: number
  readonly servedWrong: number
  readonly verdicts: number
  readonly confirmed: number
  readonly settled: number
  readonly writes: number
  readonly conflicts: number
  readonly readBuckets: ReadonlyArray<readonly [number, number]>
  readonly appendBuckets: ReadonlyArray<readonly [number, number]>
}

export interface StatusPoint {
  readonly t: number
  readonly hitRate: number | null
  readonly exactness: number | null
  readonly precision: number | null
  readonly readP50Ms: number | null
  readonly readP99Ms: number | null
  readonly appendP99Ms: number | null
  readonly readsPerS: number
  readonly writesPerS: number
  readonly conflictsPerS: number
}

interface Value {
  readonly value: number
  readonly labels: Readonly<Record<string, string | number | undefined>>
  readonly metricName?: string
}
type Series = ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<Value> }>

const values = (series: Series, name: string): ReadonlyArray<Value> => series.filter((m) => m.name === name).flatMap((m) => m.values)

const total = (series: Series, name: string, keep: (l: Value["labels"]) => boolean = () => true): number =>
  values(series, name).reduce((n, v) => (keep(v.labels) ? n + v.value : n), 0)

/** Cumulative bucket counts by upper bound (+Inf last), summed over every label set. */
const buckets = (series: Series, name: string, keep: (l: Value["labels"]) => boolean): Array<readonly [number, number]> => {
  const byLe = new Map<number, number>()
  for (const v of values(series, name)) {
    if (v.metricName !== `${name}_bucket` || !keep(v.labels)) continue
    const le = v.labels["le"] === "+Inf" ? Infinity : Number(v.labels["le"])
    byLe.set(le, (byLe.get(le) ?? 0) + v.value)
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0])
}

export const readTotals = async (registries: ReadonlyArray<Registry>, tMs: number): Promise<Totals> => {
  const series = (await Promise.all(registries.map((r) => r.getMetricsAsJSON()))).flat() as unknown as Series
  const hits = total(series, "umbra_reads_total", (l) => l["source"] === "shadow")
  const settledBy = (verdict?: string) => total(series, "umbra_predictions_settled_total", (l) => verdict === undefined || l["verdict"] === verdict)
  return {
    tMs,
    hits,
    allowed: total(series, "umbra_reads_total", (l) => l["reason"] !== "consistency"),
    reads: total(series, "umbra_reads_total"),
    servedWrong: total(series, "umbra_shadow_served_wrong_total"),
    verdicts: total(series, "umbra_shadow_verdicts_total"),
    confirmed: settledBy("confirmed"),
    settled: settledBy(),
    writes: total(series, "umbra_writes_total"),
    conflicts: total(series, "umbra_writes_total", (l) => l["outcome"] === "conflict"),
    readBuckets: buckets(series, "umbra_read_duration_seconds", (l) => l["source"] !== "history"),
    appendBuckets: buckets(series, "umbra_append_duration_seconds", () => true),
  }
}

const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null)

/** histogram_quantile over the bucket increase between two scrapes, in milliseconds. */
export const quantileMs = (q: number, from: Totals["readBuckets"], to: Totals["readBuckets"]): number | null => {
  const before = new Map(from)
  const inc = to.map(([le, c]) => [le, c - (before.get(le) ?? 0)] as const)
  const count = inc.at(-1)?.[1] ?? 0
  if (count <= 0) return null
  const rank = q * count
  let prevLe = 0
  let prevCum = 0
  for (const [le, cum] of inc) {
    if (cum >= rank) {
      if (le === Infinity) return prevLe * 1000
      const within = cum === prevCum ? 0 : (rank - prevCum) / (cum - prevCum)
      return (prevLe + (le - prevLe) * within) * 1000
    }
    prevLe = le
    prevCum = cum
  }
  return prevLe * 1000
}

export const pointBetween = (a: Totals, b: Totals): StatusPoint => {
  const seconds = Math.max(0.001, (b.tMs - a.tMs) / 1000)
  const hits = b.hits - a.hits
  return {
    t: b.tMs,
    hitRate: ratio(hits, b.allowed - a.allowed),
    // Without any verdict yet nothing is known about exactness: say so rather than claim 100%.
    exactness: b.verdicts === 0 ? null : hits > 0 ? Math.max(0, 1 - (b.servedWrong - a.servedWrong) / hits) : null,
    precision: ratio(b.confirmed - a.confirmed, b.settled - a.settled),
    readP50Ms: quantileMs(0.5, a.readBuckets, b.readBuckets),
    readP99Ms: quantileMs(0.99, a.readBuckets, b.readBuckets),
    appendP99Ms: quantileMs(0.99, a.appendBuckets, b.appendBuckets),
    readsPerS: (b.reads - a.reads) / seconds,
    writesPerS: (b.writes - a.writes) / seconds,
    conflictsPerS: (b.conflicts - a.conflicts) / seconds,
  }
}
