import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks"

// GC pauses as a process itself saw them, on its own clock (bench/gc-timeline.ts): one line
// `umbra-gc <start, epoch ms> <duration ms> <kind>` per collection. Preloaded into the bench's
// service processes when BENCH_CHILD_LOG_DIR is set (bench/processes.ts), and observed in the
// bench process itself by the reconciler case, whose own pauses delay what it measures.

export type GcKind = "scavenge" | "mark" | "other"

const kindOf = (e: PerformanceEntry): GcKind => {
  const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind
  if (kind === constants.NODE_PERFORMANCE_GC_MINOR) return "scavenge"
  if (kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) return "mark"
  return "other"
}

/** Calls `line` for every collection from now on; the returned function stops observing. */
export const observeGc = (line: (text: string) => void): (() => void) => {
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) line(`umbra-gc ${(performance.timeOrigin + e.startTime).toFixed(1)} ${e.duration.toFixed(2)} ${kindOf(e)}\n`)
  })
  obs.observe({ entryTypes: ["gc"] })
  return () => obs.disconnect()
}

if (process.env["BENCH_GC_OBSERVE"] === "1") observeGc((l) => process.stderr.write(l))
