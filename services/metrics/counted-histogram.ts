import { Histogram, type Registry } from "prom-client"

// A histogram with one label whose values are all known up front (a read's source, a write's
// op), observed on every request. prom-client's `observe` builds a label object, hashes it
// into a string key and validates it on every call (about a third of a microsecond and three
// short-lived objects per request on the read path); here each label value gets its own
// counters and an observation is a bucket search and three additions. The series are exported
// exactly as prom-client exports a histogram: same names, labels, order and cumulative buckets.

interface Series {
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly counts: Float64Array
  sum: number
  count: number
}

export type Observe = (value: number) => void

interface Value {
  readonly labels: Record<string, string | number>
  readonly sharedLabels: Record<string, string>
  readonly value: number
  readonly metricName: string
  readonly exemplar?: null
}

class SeriesHistogram extends Histogram<string> {
  series: Map<string, Series> | undefined

  constructor(
    config: { name: string; help: string; labelNames: string[]; buckets: number[]; registers: Registry[] },
    private readonly labelName: string,
    private readonly bounds: ReadonlyArray<number>,
  ) {
    super(config)
  }

  // prom-client's own export path for the text format (Registry.metrics()).
  async getForPromString(): Promise<{ name: string; help: string; type: "histogram"; values: Value[]; aggregator: "sum" }> {
    const self = this as unknown as { name: string; help: string }
    const values: Value[] = []
    for (const [labelValue, s] of this.series ?? []) {
      const shared = { [this.labelName]: labelValue }
      let cumulative = 0
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] ?? 0
        values.push({ labels: { le }, sharedLabels: shared, value: cumulative, metricName: `${self.name}_bucket`, exemplar: null })
      })
      values.push(
        { labels: { le: "+Inf" }, sharedLabels: shared, value: s.count, metricName: `${self.name}_bucket`, exemplar: null },
        { labels: {}, sharedLabels: shared, value: s.sum, metricName: `${self.name}_sum` },
        { labels: {}, sharedLabels: shared, value: s.count, metricName: `${self.name}_count` },
      )
    }
    return { name: self.name, help: self.help, type: "histogram", values, aggregator: "sum" }
  }

  // The JSON form (Registry.getMetricsAsJSON()): shared labels folded into each value's labels.
  override async get(): Promise<never> {
    const data = await this.getForPromString()
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    } as never
  }

  override reset(): void {
    super.reset()
    for (const s of this.series?.values() ?? []) {
      s.counts.fill(0)
      s.sum = 0
      s.count = 0
    }
  }
}

export class CountedHistogram<L extends string> {
  private readonly metric: SeriesHistogram
  private readonly bounds: ReadonlyArray<number>

  constructor(o: {
    readonly name: string
    readonly help: string
    readonly labelName: string
    readonly labelValues: ReadonlyArray<L>
    readonly buckets: ReadonlyArray<number>
    readonly registers: Registry[]
  }) {
    this.bounds = [...o.buckets].sort((a, b) => a - b)
    this.metric = new SeriesHistogram(
      { name: o.name, help: o.help, labelNames: [o.labelName], buckets: [...this.bounds], registers: o.registers },
      o.labelName,
      this.bounds,
    )
    // Every series exists from the start (zeros, not gaps), as with prom-client's `zero`.
    this.metric.series = new Map(o.labelValues.map((v) => [v, { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }]))
  }

  /** The observer of one label value: no allocation per observation. */
  observer(labelValue: L): Observe {
    const s = this.metric.series?.get(labelValue)
    if (s === undefined) throw new Error(`${labelValue} is not a declared label value`)
    const bounds = this.bounds
    return (value) => {
      if (!Number.isFinite(value)) return
      let i = 0
      while (i < bounds.length && value > (bounds[i] as number)) i++
      s.counts[i] = (s.counts[i] ?? 0) + 1
      s.sum += value
      s.count++
    }
  }
}
