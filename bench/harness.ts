import * as hdr from "hdr-histogram-js"

// The measuring loop: a closed loop of `concurrency` workers (1 = sequential), each running
// one operation at a time for a fixed wall-clock time; every latency goes into an HDR
// histogram (nanoseconds). A case is warmed up once, then measured `repeats` times; cases
// of one group are measured round-robin (repeat 1 of every case, then repeat 2, …) so that
// noise from other processes on this shared machine hits the cases being compared alike.

export interface LoadCase {
  /** Unique name, e.g. `shadow-read@64`. */
  readonly name: string
  readonly concurrency: number
  /**
   * One operation. `worker` is 0..concurrency-1 and `n` that worker's own count, so a case
   * can give each worker a disjoint set of blobs. Rejects (or resolves false) on failure.
   */
  readonly op: (worker: number, n: number) => Promise<boolean | void>
  /** Stops a run early (large payloads: bounded disk use). */
  readonly maxOps?: number
}

export interface RunResult {
  /** CPU time per operation (µs) of each process taking part (driver, nats-server, services). */
  readonly cpuUsPerOp?: Record<string, number>
  readonly opsPerSec: number
  readonly p50Us: number
  readonly p99Us: number
  readonly p999Us: number
  readonly ops: number
  readonly errors: number
  readonly elapsedMs: number
}

export interface CaseResult {
  /** Median over the runs of each process's CPU time per operation (µs). */
  readonly cpuUsPerOp?: Record<string, number>
  readonly opsPerSec: number
  readonly p50Us: number
  readonly p99Us: number
  readonly p999Us: number
  readonly concurrency: number
  readonly errors: number
  readonly runs: ReadonlyArray<RunResult>
  readonly note?: string
}

export interface Timing {
  readonly warmupMs: number
  readonly runMs: number
  readonly repeats: number
}

export type Progress = (line: string) => void

/** Cumulative CPU time (ms) of the processes taking part, by name. */
export type CpuProbe = () => Record<string, number>

const cpuDelta = (before: Record<string, number>, after: Record<string, number>, ops: number): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0)
    if (Number.isFinite(d) && ops > 0) out[k] = Math.round((d * 1000 * 10) / ops) / 10
  }
  return out
}

const newHistogram = (): hdr.Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120e9, numberOfSignificantValueDigits: 3 })

const us = (ns: number): number => Math.round(ns / 10) / 100

/** One timed run of a case. */
export const runOnce = async (c: LoadCase, runMs: number, cpu?: CpuProbe): Promise<RunResult> => {
  const h = newHistogram()
  const cpuBefore = cpu?.()
  let ops = 0
  let errors = 0
  const started = process.hrtime.bigint()
  const deadline = performance.now() + runMs
  const max = c.maxOps ?? Number.POSITIVE_INFINITY
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; performance.now() < deadline && ops + errors < max; n++) {
      const t0 = process.hrtime.bigint()
      let ok: boolean
      try {
        ok = (await c.op(w, n)) !== false
      } catch {
        ok = false
      }
      if (ok) {
        h.recordValue(Number(process.hrtime.bigint() - t0))
        ops++
      } else errors++
    }
  }
  await Promise.all(Array.from({ length: c.concurrency }, (_, w) => worker(w)))
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
  const r: RunResult = {
    ...(cpu === undefined || cpuBefore === undefined ? {} : { cpuUsPerOp: cpuDelta(cpuBefore, cpu(), ops) }),
    opsPerSec: Math.round(ops / (elapsedMs / 1000)),
    p50Us: us(h.getValueAtPercentile(50)),
    p99Us: us(h.getValueAtPercentile(99)),
    p999Us: us(h.getValueAtPercentile(99.9)),
    ops,
    errors,
    elapsedMs: Math.round(elapsedMs),
  }
  h.destroy()
  return r
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

const medianCpu = (runs: ReadonlyArray<RunResult>): Record<string, number> | undefined => {
  const keys = new Set(runs.flatMap((r) => Object.keys(r.cpuUsPerOp ?? {})))
  if (keys.size === 0) return undefined
  const out: Record<string, number> = {}
  for (const k of keys) out[k] = median(runs.map((r) => r.cpuUsPerOp?.[k]).filter((x): x is number => x !== undefined))
  return out
}

export const summarise = (c: Pick<LoadCase, "concurrency">, runs: ReadonlyArray<RunResult>, note?: string): CaseResult => ({
  ...(medianCpu(runs) === undefined ? {} : { cpuUsPerOp: medianCpu(runs) }),
  opsPerSec: Math.round(median(runs.map((r) => r.opsPerSec))),
  p50Us: median(runs.map((r) => r.p50Us)),
  p99Us: median(runs.map((r) => r.p99Us)),
  p999Us: median(runs.map((r) => r.p999Us)),
  concurrency: c.concurrency,
  errors: runs.reduce((a, r) => a + r.errors, 0),
  runs,
  ...(note === undefined ? {} : { note }),
})

const fmt = (r: RunResult): string =>
  `${r.opsPerSec.toLocaleString("en-US")} ops/s p50 ${r.p50Us} µs p99 ${r.p99Us} µs${r.errors > 0 ? ` ERRORS ${r.errors}` : ""}` +
  (r.cpuUsPerOp === undefined ? "" : ` cpu µs/op ${Object.entries(r.cpuUsPerOp).map(([k, v]) => `${k}=${v}`).join(" ")}`)

/** Warms every case of a group up, then measures the group round-robin `repeats` times. */
export const measureGroup = async (
  group: string,
  cases: ReadonlyArray<LoadCase>,
  t: Timing,
  progress: Progress,
  cpu?: CpuProbe,
): Promise<Record<string, CaseResult>> => {
  for (const c of cases) {
    progress(`[${group}] warm-up ${c.name}`)
    await runOnce(c, t.warmupMs)
  }
  const runs = new Map<string, RunResult[]>(cases.map((c) => [c.name, []]))
  for (let r = 1; r <= t.repeats; r++) {
    for (const c of cases) {
      // A short re-warm: the previous case left other code hot in the processes.
      await runOnce(c, Math.min(200, t.warmupMs))
      const res = await runOnce(c, t.runMs, cpu)
      runs.get(c.name)?.push(res)
      progress(`[${group}] ${c.name} run ${r}/${t.repeats}: ${fmt(res)}`)
    }
  }
  const out: Record<string, CaseResult> = {}
  for (const c of cases) out[c.name] = summarise(c, runs.get(c.name) ?? [])
  return out
}

/**
 * In-process, synchronous operations (microseconds or less): timed one by one with the
 * monotonic clock; the clock read itself (~50 ns) is inside every sample.
 */
export const measureSync = (name: string, op: (n: number) => boolean, t: Timing, progress: Progress): CaseResult => {
  const runFor = (ms: number): RunResult => {
    const h = newHistogram()
    let ops = 0
    let errors = 0
    const started = process.hrtime.bigint()
    const deadline = performance.now() + ms
    for (let n = 0; ; n++) {
      if ((n & 1023) === 0 && performance.now() >= deadline) break
      const t0 = process.hrtime.bigint()
      const ok = op(n)
      const dt = Number(process.hrtime.bigint() - t0)
      if (ok) {
        h.recordValue(Math.max(1, dt))
        ops++
      } else errors++
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
    const r: RunResult = {
      opsPerSec: Math.round(ops / (elapsedMs / 1000)),
      p50Us: Math.round(h.getValueAtPercentile(50)) / 1000,
      p99Us: Math.round(h.getValueAtPercentile(99)) / 1000,
      p999Us: Math.round(h.getValueAtPercentile(99.9)) / 1000,
      ops,
      errors,
      elapsedMs: Math.round(elapsedMs),
    }
    h.destroy()
    return r
  }
  runFor(t.warmupMs)
  const runs: RunResult[] = []
  for (let r = 1; r <= t.repeats; r++) {
    const res = runFor(t.runMs)
    runs.push(res)
    progress(`[local] ${name} run ${r}/${t.repeats}: ${res.opsPerSec.toLocaleString("en-US")} ops/s p50 ${res.p50Us} µs`)
  }
  return summarise({ concurrency: 1 }, runs)
}
