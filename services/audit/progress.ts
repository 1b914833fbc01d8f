// Progress of a long replay, reported at most every `everyMs` (and once at the end), so a
// replay of a million events does not spend its time drawing bars.

export interface Progress {
  readonly done: number
  readonly total: number
  readonly elapsedMs: number
}

export type ProgressSink = (p: Progress) => void

export interface Ticker {
  tick(done: number): void
  finish(done: number): void
}

export const ticker = (total: number, sink: ProgressSink | undefined, everyMs = 250, now: () => number = Date.now): Ticker => {
  const startMs = now()
  let lastMs = startMs
  return {
    tick: (done) => {
      // Checking the clock every event would cost more than the check it guards.
      if (sink === undefined || (done & 255) !== 0) return
      const t = now()
      if (t - lastMs < everyMs) return
      lastMs = t
      sink({ done, total, elapsedMs: t - startMs })
    },
    finish: (done) => sink?.({ done, total: Math.max(total, done), elapsedMs: now() - startMs }),
  }
}

/** `[#########-----------]  45%  4,500/10,000  12,345/s`: one line for a terminal. */
export const progressBar = (p: Progress, width = 30): string => {
  const total = Math.max(p.total, 1)
  const filled = Math.min(width, Math.round((p.done / total) * width))
  const rate = p.elapsedMs > 0 ? Math.round((p.done * 1000) / p.elapsedMs) : 0
  const pct = `${Math.min(100, Math.floor((p.done / total) * 100))}%`.padStart(4)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct}  ${p.done.toLocaleString("en")}/${p.total.toLocaleString("en")}  ${rate.toLocaleString("en")}/s`
}
