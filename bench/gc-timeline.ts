// Where the reconciler case's tail comes from: every process's GC pauses next to the writes whose
// ack or verdict took over 50 ms (the verdict's p99 target). Run the case with the logs on, then this on them:
//
//   mkdir -p /tmp/gc && BENCH_CHILD_LOG_DIR=/tmp/gc npm run bench -- --only reconciler && npx tsx bench/gc-timeline.ts /tmp/gc
//
// Each process (the services and the bench process itself, which drives the load and sees the
// acks and verdicts) reports its own pauses on its own clock (simulations/gc-observer.ts); the
// case writes each run's measured window and its slow writes (simulations/reconciler-latency.ts).
// Printed: per process, its scavenges and mark-compacts within the window (count, median, max,
// share of the wall time); then how many slow writes overlap a pause of 15 ms or more in any
// process, against how many intervals of the same lengths placed at random in the window would
// (the chance of an overlap when pauses are this frequent).
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { median } from "./harness.ts"

export interface Pause {
  readonly startMs: number
  readonly ms: number
  readonly kind: string
}

export interface SlowWrite {
  readonly atMs: number
  readonly ms: number
  readonly what: string
}

const GC_LINE = /umbra-gc ([\d.]+) ([\d.]+) (\w+)/

export const pausesOf = (log: string): Pause[] =>
  log.split("\n").flatMap((line) => {
    const m = GC_LINE.exec(line)
    return m === null ? [] : [{ startMs: Number(m[1]), ms: Number(m[2]), kind: m[3] as string }]
  })

export interface MeasuredRun {
  readonly window: { readonly fromMs: number; readonly toMs: number }
  readonly writes: ReadonlyArray<SlowWrite>
}

/**
 * The case's runs: each starts with its measured window (`window <from> <to>`, epoch ms) and
 * lists its slow writes. Lines before the first window belong to no run and are dropped.
 */
export const measuredRunsOf = (log: string): MeasuredRun[] => {
  const runs: Array<{ window: MeasuredRun["window"]; writes: SlowWrite[] }> = []
  for (const line of log.split("\n")) {
    const [a, b, c] = line.split(" ")
    if (a === "window") runs.push({ window: { fromMs: Number(b), toMs: Number(c) }, writes: [] })
    else if (a !== undefined && b !== undefined && c !== undefined) runs.at(-1)?.writes.push({ atMs: Number(a), ms: Number(c), what: b })
  }
  return runs
}

const touches = (p: Pause, fromMs: number, toMs: number): boolean => p.startMs <= toMs && p.startMs + p.ms >= fromMs

export const overlaps = (fromMs: number, toMs: number, pauses: ReadonlyArray<Pause>): boolean => pauses.some((p) => touches(p, fromMs, toMs))

const max = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => Math.max(a, b), 0)

/** One run: each process's pauses in its window, then the slow writes' overlap with them against chance. */
const analyse = (run: MeasuredRun, logs: ReadonlyArray<{ name: string; pauses: ReadonlyArray<Pause> }>): void => {
  const { window, writes: slow } = run
  const span = Math.max(1, window.toMs - window.fromMs)
  console.log(`measured load ${(span / 1000).toFixed(1)} s: ${slow.length} writes over 50 ms (${slow.filter((w) => w.what === "ack").length} slow acks, ${slow.filter((w) => w.what === "verdict").length} slow verdicts)`)
  // Pauses of 15 ms or more in the load, by process.
  const longBy = new Map<string, Pause[]>()
  for (const { name, pauses } of logs) {
    const inLoad = pauses.filter((p) => touches(p, window.fromMs, window.toMs))
    for (const kind of ["scavenge", "mark", "other"]) {
      const ms = inLoad.filter((p) => p.kind === kind).map((p) => p.ms)
      if (ms.length === 0) continue
      const total = ms.reduce((a, b) => a + b, 0)
      console.log(
        `${name.padEnd(24)} ${kind.padEnd(8)} ${String(ms.length).padStart(4)} pauses, median ${median(ms).toFixed(1)} ms, max ${max(ms).toFixed(1)} ms, total ${total.toFixed(0)} ms = ${((100 * total) / span).toFixed(1)}% of the load`,
      )
    }
    longBy.set(name, inLoad.filter((p) => p.ms >= 15))
  }
  const long = [...longBy.values()].flat()
  // Observed overlap against chance: intervals of the same lengths at random times in the load.
  const shares = (ws: ReadonlyArray<SlowWrite>, pauses: ReadonlyArray<Pause>): string => {
    const hit = ws.filter((w) => overlaps(w.atMs, w.atMs + w.ms, pauses)).length
    const trials = 20
    let chance = 0
    for (let t = 0; t < trials; t++)
      for (const w of ws) {
        const at = window.fromMs + Math.random() * span
        if (overlaps(at, at + w.ms, pauses)) chance++
      }
    return `${((100 * hit) / ws.length).toFixed(0)}% (by chance ${((100 * chance) / (trials * ws.length)).toFixed(0)}%)`
  }
  for (const what of ["ack", "verdict"]) {
    const ws = slow.filter((w) => w.what === what)
    if (ws.length === 0) continue
    const each = [...longBy].filter(([, ps]) => ps.length > 0).map(([name, ps]) => `${name} ${shares(ws, ps)}`)
    console.log(`slow ${what}s overlapping a pause of 15 ms or more: any process ${shares(ws, long)}; ${each.join("; ")}`)
  }
}

const main = (dir: string): void => {
  const runs = measuredRunsOf(readFileSync(join(dir, "reconciler-slow-writes.log"), "utf8"))
  if (runs.length === 0) throw new Error(`no measured window in ${dir}/reconciler-slow-writes.log`)
  const logs = readdirSync(dir)
    .filter((f) => f.endsWith(".log") && f !== "reconciler-slow-writes.log")
    .map((f) => ({ name: f.replace(/\.log$/, ""), pauses: pausesOf(readFileSync(join(dir, f), "utf8")) }))
  runs.forEach((run, i) => {
    console.log(`--- run ${i + 1} of ${runs.length}`)
    analyse(run, logs)
  })
}

if (process.argv[1]?.endsWith("gc-timeline.ts")) main(process.argv[2] ?? ".")
