import type { Registry } from "prom-client"
import { pointBetween, readTotals, type StatusPoint, type Totals } from "./status-figures.ts"

// Keeps the last minutes of totals in a fixed ring (a limit on memory whatever the uptime)
// and turns them into chart points over a short sliding window, so one quiet interval does
// not draw a gap and one busy one does not draw a spike.

export interface StatusSamplerOptions {
  readonly registries: ReadonlyArray<Registry>
  readonly intervalMs?: number
  /** Points kept: 300 × 2 s = the last 10 minutes. */
  readonly maxPoints?: number
  /** Samples each point looks back over. */
  readonly windowSamples?: number
  readonly clock?: () => number
}

export interface StatusSnapshot {
  readonly nowMs: number
  readonly intervalMs: number
  readonly windowS: number
  readonly totals: Omit<Totals, "readBuckets" | "appendBuckets"> | null
  readonly points: ReadonlyArray<StatusPoint>
}

export class StatusSampler {
  readonly intervalMs: number
  private readonly ring: Totals[] = []
  private readonly maxPoints: number
  private readonly windowSamples: number
  private readonly clock: () => number
  private timer: NodeJS.Timeout | undefined
  private sampling: Promise<void> | undefined

  constructor(private readonly o: StatusSamplerOptions) {
    this.intervalMs = o.intervalMs ?? 2_000
    this.maxPoints = o.maxPoints ?? 300
    this.windowSamples = o.windowSamples ?? 5
    this.clock = o.clock ?? Date.now
  }

  start(): void {
    void this.sample()
    this.timer = setInterval(() => void this.sample(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  /** One sample now (also used by tests to avoid waiting for the timer). */
  sample(): Promise<void> {
    // A slow scrape never overlaps the next one.
    this.sampling ??= readTotals(this.o.registries, this.clock())
      .then((t) => {
        this.ring.push(t)
        if (this.ring.length > this.maxPoints + this.windowSamples) this.ring.shift()
      })
      .catch(() => {})
      .finally(() => (this.sampling = undefined))
    return this.sampling
  }

  snapshot(): StatusSnapshot {
    const points: StatusPoint[] = []
    for (let i = Math.max(1, this.ring.length - this.maxPoints); i < this.ring.length; i++) {
      const a = this.ring[Math.max(0, i - this.windowSamples)]
      const b = this.ring[i]
      if (a !== undefined && b !== undefined) points.push(pointBetween(a, b))
    }
    const last = this.ring.at(-1)
    return {
      nowMs: this.clock(),
      intervalMs: this.intervalMs,
      windowS: (this.intervalMs * this.windowSamples) / 1000,
      totals: last === undefined ? null : withoutBuckets(last),
      points,
    }
  }
}

const withoutBuckets = ({ readBuckets: _r, appendBuckets: _a, ...rest }: Totals) => rest
