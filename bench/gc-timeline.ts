// Where the reconciler case's tail comes from: the services' GC pauses next to the writes whose
// ack or verdict took over 100 ms. Run the case with GC traces, then this on its logs:
//
//   mkdir -p /tmp/gc && BENCH_CHILD_LOG_DIR=/tmp/gc BENCH_CHILD_NODE_FLAGS=--trace-gc \
//     npm run bench -- --only reconciler && npx tsx bench/gc-timeline.ts /tmp/gc
//
// Per service process: its scavenges and mark-compacts within the measured load (count, total
// and longest pause, share of the wall time), and how many slow writes overlap a pause of
// 15 ms or more in any process, against how many intervals of the same lengths at random
// times in the load would (the chance of an overlap). A GC line is stamped when the bench read
// it, just after the pause, so a pause is taken as [stamp - pause, stamp].
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

interface Pause {
  readonly endMs: number
  readonly ms: number
  readonly kind: "scavenge" | "mark"
}

interface SlowWrite {
  readonly atMs: number
  readonly ms: number
  readonly what: string
}

const GC_LINE = /^(\d+) .*ms: (Scavenge|Mark-Compact|Mark-Sweep)\S*.* MB, ([\d.]+) \/ [\d.]+ ms/

export const pausesOf = (log: string): Pause[] =>
  log.split("\n").flatMap((line) => {
    const m = GC_LINE.exec(line)
    return m === null ? [] : [{ endMs: Number(m[1]), ms: Number(m[3]), kind: m[2] === "Scavenge" ? ("scavenge" as const) : ("mark" as const) }]
  })

export const slowWritesOf = (log: string): SlowWrite[] =>
  log.split("\n").flatMap((line) => {
    const [at, what, ms] = line.split(" ")
    return at === undefined || ms === undefined || what === undefined ? [] : [{ atMs: Number(at), ms: Number(ms), what }]
  })

const overlaps = (from: number, to: number, pauses: ReadonlyArray<Pause>): boolean => pauses.some((p) => p.endMs - p.ms <= to && p.endMs >= from)

const main = (dir: string): void => {
  const slow = slowWritesOf(readFileSync(join(dir, "reconciler-slow-writes.log"), "utf8"))
  const logs = readdirSync(dir).filter((f) => f.endsWith(".log") && f !== "reconciler-slow-writes.log")
  const all = new Map(logs.map((f) => [f.replace(/\.log$/, ""), pausesOf(readFileSync(join(dir, f), "utf8"))]))
  // The measured load: from the first to the last slow write, or the last 16 s of GC lines.
  const ends = [...all.values()].flat().map((p) => p.endMs)
  const to = slow.length > 0 ? Math.max(...slow.map((w) => w.atMs + w.ms)) : Math.max(...ends)
  const from = slow.length > 0 ? Math.min(...slow.map((w) => w.atMs)) : to - 16_000
  const span = Math.max(1, to - from)
  console.log(`load window ${(span / 1000).toFixed(1)} s, ${slow.length} writes over 100 ms (${slow.filter((w) => w.what === "ack").length} slow acks, ${slow.filter((w) => w.what === "verdict").length} slow verdicts)`)
  const long: Pause[] = []
  for (const [name, pauses] of all) {
    const inLoad = pauses.filter((p) => p.endMs >= from && p.endMs <= to)
    if (inLoad.length === 0) continue
    for (const kind of ["scavenge", "mark"] as const) {
      const ps = inLoad.filter((p) => p.kind === kind)
      if (ps.length === 0) continue
      const total = ps.reduce((a, p) => a + p.ms, 0)
      const sorted = ps.map((p) => p.ms).sort((a, b) => a - b)
      console.log(
        `${name.padEnd(24)} ${kind.padEnd(8)} ${String(ps.length).padStart(4)} pauses, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms, total ${total.toFixed(0)} ms = ${((100 * total) / span).toFixed(1)}% of the load`,
      )
    }
    long.push(...inLoad.filter((p) => p.ms >= 15))
  }
  if (slow.length === 0) return
  const hit = slow.filter((w) => overlaps(w.atMs, w.atMs + w.ms, long)).length
  let chance = 0
  const trials = 20
  for (let t = 0; t < trials; t++)
    for (const w of slow) {
      const at = from + Math.random() * Math.max(0, span - w.ms)
      if (overlaps(at, at + w.ms, long)) chance++
    }
  console.log(`slow writes overlapping a pause of 15 ms or more: ${((100 * hit) / slow.length).toFixed(0)}% (random intervals of the same lengths: ${((100 * chance) / (trials * slow.length)).toFixed(0)}%)`)
}

if (process.argv[1]?.endsWith("gc-timeline.ts")) main(process.argv[2] ?? ".")
