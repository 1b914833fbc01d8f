import { Gauge, type Registry } from "prom-client"

// The predictor's size, read at scrape time from whatever the predictor service registers.
// Without a registered source the gauges have no series: a process without a predictor
// shows nothing rather than a misleading zero.

export interface PredictorGaugeSource {
  trackedBlobs(): number
  /** An estimate of the predictor's own state (not the process heap). */
  memoryBytes(): number
}

export class PredictorMetrics {
  private readonly sources: PredictorGaugeSource[] = []

  constructor(registry: Registry) {
    const gauge = (name: string, help: string, read: (s: PredictorGaugeSource) => number) => {
      const sources = this.sources
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset()
          if (sources.length > 0) this.set(sources.reduce((n, s) => n + read(s), 0))
        },
      })
    }
    gauge("umbra_predictor_tracked_blobs", "Blobs the predictor currently keeps state for.", (s) => s.trackedBlobs())
    gauge("umbra_predictor_memory_bytes", "Estimated bytes of predictor state (sketches, per-blob models).", (s) => s.memoryBytes())
  }

  track(source: PredictorGaugeSource): () => void {
    this.sources.push(source)
    return () => {
      const i = this.sources.indexOf(source)
      if (i >= 0) this.sources.splice(i, 1)
    }
  }
}
