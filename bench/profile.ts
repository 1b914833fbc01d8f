import { existsSync, readFileSync, rmSync } from "node:fs"
import { relative } from "node:path"
import { runOnce, type LoadCase, type RunResult } from "./harness.ts"

// Summary of a V8 CPU profile (`node --cpu-prof`): self time per function, the functions
// where the samples landed (not their callers), which is where a fix has to go.

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface HotFunction {
  readonly fn: string
  readonly where: string
  readonly selfPct: number
  readonly selfMs: number
}

export interface ProfileSummary {
  readonly file: string
  readonly totalMs: number
  /** Share of samples where the process was idle (waiting for I/O). */
  readonly idlePct: number
  readonly top: ReadonlyArray<HotFunction>
  /** Self time by source area: the service's own code, effect, xstate, nats.js, node internals. */
  readonly byArea: Record<string, number>
}

const area = (url: string): string => {
  if (url === "") return "(native/gc)"
  if (url.startsWith("node:")) return "node internals"
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m !== null) return m[1] as string
  if (url.includes("/services/")) return "umbra services/"
  if (url.includes("/infra/")) return "umbra infra/"
  if (url.includes("/domain/")) return "umbra domain/"
  return "other"
}

export const summariseProfile = (file: string, topN = 15): ProfileSummary => {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  let total = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    total += dt
    const id = p.samples[i] as number
    self.set(id, (self.get(id) ?? 0) + dt)
  }
  const perFn = new Map<string, { fn: string; where: string; ms: number }>()
  const byArea: Record<string, number> = {}
  let idle = 0
  for (const [id, ms] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    const { functionName, url, lineNumber } = n.callFrame
    if (functionName === "(idle)") {
      idle += ms
      continue
    }
    const where = url === "" ? "" : `${url.startsWith("file://") ? relative(process.cwd(), url.slice(7)) : url}:${lineNumber + 1}`
    const key = `${functionName}@${where}`
    const e = perFn.get(key) ?? { fn: functionName || "(anonymous)", where, ms: 0 }
    e.ms += ms
    perFn.set(key, e)
    const a = area(url)
    byArea[a] = (byArea[a] ?? 0) + ms
  }
  const busy = Math.max(1e-9, total - idle)
  const pct = (ms: number) => Math.round((ms / busy) * 1000) / 10
  return {
    file,
    totalMs: Math.round(total),
    idlePct: Math.round((idle / Math.max(1e-9, total)) * 1000) / 10,
    top: [...perFn.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, selfPct: pct(e.ms), selfMs: Math.round(e.ms) })),
    byArea: Object.fromEntries(Object.entries(byArea).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)])),
  }
}

/**
 * One run of `c` with the CPU profiler of a child started with bench/cpu-profiler.ts (SIGUSR2
 * starts it, the next one writes `file`); the run, and the profile's summary once written.
 */
export const profiledRun = async (
  child: { signal(sig: NodeJS.Signals): void },
  c: LoadCase,
  runMs: number,
  file: string,
  topN?: number,
): Promise<{ readonly run: RunResult; readonly summary: ProfileSummary | undefined }> => {
  rmSync(file, { force: true }) // a profile left by an earlier run must not be read as this one
  child.signal("SIGUSR2")
  const run = await runOnce(c, runMs)
  child.signal("SIGUSR2")
  for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100))
  return { run, summary: existsSync(file) ? summariseProfile(file, topN) : undefined }
}
