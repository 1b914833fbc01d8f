/**
 * One line a second on stderr while a live run goes: operations so far, answers by kind,
 * operations outstanding, and the p99 of the last second's latency from the intended time.
 */
import type { DriverStats } from "../driver.ts"
import type { Outcome } from "../history.ts"

export interface Progress {
  readonly outcome: (o: Outcome) => void
  readonly latency: (fromIntendedMs: number) => void
  readonly start: (nowSec: () => number) => void
  readonly stop: () => void
}

const COUNTER = { Ok: "ok", Conflict: "conflict", NotFound: "notFound", Fail: "fail", Indeterminate: "indeterminate" } as const

export const makeProgress = (stats: DriverStats, print: (line: string) => void): Progress => {
  const counts = { ok: 0, conflict: 0, notFound: 0, fail: 0, indeterminate: 0 }
  let window: number[] = []
  let timer: NodeJS.Timeout | undefined
  const tick = (nowSec: () => number): void => {
    const sorted = window.sort((a, b) => a - b)
    const p99 = sorted.length === 0 ? "-" : `${(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0).toFixed(1)}ms`
    window = []
    print(
      `[${nowSec().toFixed(0)}s] ops ${stats.offered} ok ${counts.ok} conflict ${counts.conflict} not-found ${counts.notFound}` +
        ` fail ${counts.fail} indeterminate ${counts.indeterminate} in-flight ${stats.inFlight}` +
        `${stats.notSent > 0 ? ` NOT-SENT ${stats.notSent}` : ""} p99 ${p99}`,
    )
  }
  return {
    outcome: (o) => void counts[COUNTER[o._tag]]++,
    // A bounded sample: a second at 50k ops/s must not grow an unbounded array.
    latency: (ms) => void (window.length < 100_000 && window.push(ms)),
    start: (nowSec) => {
      timer = setInterval(() => tick(nowSec), 1_000)
      timer.unref()
    },
    stop: () => clearInterval(timer),
  }
}
