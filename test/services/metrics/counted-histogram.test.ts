import { Histogram, Registry } from "prom-client"
import { describe, expect, it } from "vitest"
import { READ_BUCKETS_S } from "../../../services/metrics/buckets.ts"
import { CountedHistogram } from "../../../services/metrics/counted-histogram.ts"

// The counted histogram must be indistinguishable from prom-client's own on the wire: same
// exposition text and same JSON series for the same observations.

const SOURCES = ["shadow", "primary", "history"] as const

const both = () => {
  const ours = new Registry()
  const theirs = new Registry()
  const counted = new CountedHistogram({ name: "t_seconds", help: "h", labelName: "source", labelValues: SOURCES, buckets: READ_BUCKETS_S, registers: [ours] })
  const reference = new Histogram({ name: "t_seconds", help: "h", labelNames: ["source"], buckets: READ_BUCKETS_S, registers: [theirs] })
  for (const source of SOURCES) reference.zero({ source })
  const observe = (source: (typeof SOURCES)[number], v: number) => {
    counted.observer(source)(v)
    reference.labels(source).observe(v)
  }
  return { ours, theirs, observe }
}

describe("CountedHistogram", () => {
  it("exports the same text and JSON as prom-client's Histogram", async () => {
    const { ours, theirs, observe } = both()
    const values = [0, 0.00005, 0.00004, 0.00007, 0.0001, 0.0003, 0.002, 0.02, 0.7, 2.5, 3, 10, 1e-9]
    values.forEach((v, i) => observe(SOURCES[i % 2] as (typeof SOURCES)[number], v))
    observe("history", 0.01)
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON())
  })

  it("exports zeros for every declared label before any observation, and after a reset", async () => {
    const { ours, theirs, observe } = both()
    expect(await ours.metrics()).toBe(await theirs.metrics())
    observe("shadow", 0.001)
    ours.resetMetrics()
    expect(await ours.metrics()).toContain('t_seconds_count{source="shadow"} 0')
  })

  it("refuses an undeclared label value", () => {
    const h = new CountedHistogram({ name: "u_seconds", help: "h", labelName: "source", labelValues: ["a"], buckets: [1], registers: [new Registry()] })
    expect(() => h.observer("b" as "a")).toThrow(/not a declared/)
  })
})
