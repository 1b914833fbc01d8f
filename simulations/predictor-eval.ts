import { createPredictor, prefixOf, type PredictorConfig, type Prediction, type PredictorStats } from "../domain/predictor/predictor.ts"
import { expectedCalibrationError, reliabilityBins, wilsonLower, type Outcome, type ReliabilityBin } from "../domain/predictor/ece.ts"
import { timingHolds } from "../domain/predictor/valid-from.ts"
import type { Truth } from "./generators/value-shapes.ts"

// Shadow-mode replay: every version of a recorded (or generated) history goes through the
// predictor; each emitted prediction is judged against the version that actually followed
// (content exactly, and for time-triggered shadows, whether the write had landed by then).

export interface EvalRecord {
  readonly id: string
  readonly time: number
  readonly json?: unknown
  readonly base64?: string
  readonly truth?: Truth
  readonly reads?: number
}

export interface EvalReport {
  readonly versions: number
  readonly predictionsEmitted: number
  readonly served: number
  readonly servedCorrect: number
  readonly servedPrecision: number
  readonly servedPrecisionLow95: number
  readonly coverage: number
  readonly oracleCoverage: number | null
  readonly ece: number
  /** coverage / oracleCoverage. */
  readonly coverageOfOracle: number | null
  readonly servedTimeTriggered: number
  readonly emittedScored: number
  readonly reliability: readonly ReliabilityBin[]
  readonly byModel: Readonly<Record<string, { emitted: number; served: number; servedCorrect: number }>>
  /** Per key prefix (the predictor's class prefix): where coverage is won and lost. */
  readonly byClass: Readonly<Record<string, ClassTally>>
  readonly elapsedMs?: number
  readonly predictor: PredictorStats
}

const encoder = new TextEncoder()

const bytesOf = (r: EvalRecord): Uint8Array =>
  r.base64 !== undefined ? Uint8Array.from(atob(r.base64), (c) => c.charCodeAt(0)) : encoder.encode(JSON.stringify(r.json))

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** JSON compared by its serialisation (key order included: that is what a reader receives). */
const isCorrect = (p: Prediction, r: EvalRecord, bytes: Uint8Array): boolean => {
  if (!timingHolds(p.validFrom, r.time)) return false
  return p.json !== undefined && r.json !== undefined ? JSON.stringify(p.json) === JSON.stringify(r.json) : sameBytes(p.content, bytes)
}

interface Tally {
  versions: number
  emitted: number
  served: number
  servedCorrect: number
  servedTimeTriggered: number
  predictable: number
  withTruth: number
  readonly outcomes: Outcome[]
  readonly byModel: Record<string, { emitted: number; served: number; servedCorrect: number }>
  readonly byClass: Record<string, ClassTally>
}

export interface ClassTally {
  versions: number
  predictable: number
  served: number
  servedCorrect: number
}

const settle = (t: Tally, p: Prediction, correct: boolean): void => {
  t.outcomes.push({ confidence: p.confidence, correct })
  const c = classTally(t, p.id)
  if (p.served) c.served++
  if (p.served && correct) c.servedCorrect++
  const m = (t.byModel[p.model] ??= { emitted: 0, served: 0, servedCorrect: 0 })
  m.emitted++
  if (!p.served) return
  t.served++
  m.served++
  if (p.validFrom.kind === "at") t.servedTimeTriggered++
  if (correct) {
    t.servedCorrect++
    m.servedCorrect++
  }
}

const classTally = (t: Tally, id: string): ClassTally =>
  (t.byClass[prefixOf(id)] ??= { versions: 0, predictable: 0, served: 0, servedCorrect: 0 })

export const evaluate = (records: Iterable<EvalRecord>, config: Partial<PredictorConfig> = {}, now?: () => number): EvalReport => {
  const predictor = createPredictor(config)
  const started = now?.()
  const versions = new Map<string, number>()
  const pending = new Map<string, Prediction>()
  const t: Tally = { versions: 0, emitted: 0, served: 0, servedCorrect: 0, servedTimeTriggered: 0, predictable: 0, withTruth: 0, outcomes: [], byModel: {}, byClass: {} }
  for (const r of records) {
    const bytes = bytesOf(r)
    const version = (versions.get(r.id) ?? 0) + 1
    versions.set(r.id, version)
    t.versions++
    const c = classTally(t, r.id)
    c.versions++
    if (r.truth !== undefined) {
      t.withTruth++
      if (r.truth.predictable) {
        t.predictable++
        c.predictable++
      }
    }
    const p = pending.get(r.id)
    if (p !== undefined) {
      const correct = isCorrect(p, r, bytes)
      settle(t, p, correct)
      // The reconciler's verdict, as the service would deliver it.
      predictor.outcome(p.key, correct)
      pending.delete(r.id)
    }
    if (r.reads !== undefined && r.reads > 0) predictor.recordAccess(r.id, "read", r.reads)
    const next = predictor.observe({ id: r.id, version, timeMs: r.time, content: bytes, ...(r.json !== undefined ? { json: r.json } : {}) })
    if (next !== undefined) {
      t.emitted++
      pending.set(r.id, next)
    }
  }
  return report(t, predictor.stats(), started === undefined || now === undefined ? undefined : now() - started)
}

const report = (t: Tally, stats: PredictorStats, elapsedMs: number | undefined): EvalReport => {
  const coverage = t.versions === 0 ? 0 : t.servedCorrect / t.versions
  const oracleCoverage = t.withTruth === 0 ? null : t.predictable / t.versions
  return {
    versions: t.versions,
    predictionsEmitted: t.emitted,
    served: t.served,
    servedCorrect: t.servedCorrect,
    servedPrecision: t.served === 0 ? 1 : t.servedCorrect / t.served,
    servedPrecisionLow95: wilsonLower(t.servedCorrect, t.served),
    coverage,
    oracleCoverage,
    ece: expectedCalibrationError(t.outcomes, 10),
    coverageOfOracle: oracleCoverage === null || oracleCoverage === 0 ? null : coverage / oracleCoverage,
    servedTimeTriggered: t.servedTimeTriggered,
    emittedScored: t.outcomes.length,
    reliability: reliabilityBins(t.outcomes, 10),
    byModel: t.byModel,
    byClass: t.byClass,
    ...(elapsedMs === undefined ? {} : { elapsedMs }),
    predictor: stats,
  }
}

/** The fields promised by `umbra predictor eval --json`, in that order. */
export const summaryJson = (r: EvalReport): Record<string, number | null> => ({
  versions: r.versions,
  predictionsEmitted: r.predictionsEmitted,
  served: r.served,
  servedCorrect: r.servedCorrect,
  servedPrecision: r.servedPrecision,
  servedPrecisionLow95: r.servedPrecisionLow95,
  coverage: r.coverage,
  oracleCoverage: r.oracleCoverage,
  ece: r.ece,
})

const pct = (x: number | null, digits = 2): string => (x === null ? "n/a" : `${(x * 100).toFixed(digits)}%`)

export const renderTerminal = (r: EvalReport, title = "predictor eval"): string => {
  const lines = [
    title,
    `versions              ${r.versions}`,
    `predictions emitted   ${r.predictionsEmitted} (scored ${r.emittedScored})`,
    `served                ${r.served} (time-triggered ${r.servedTimeTriggered})`,
    `served correct        ${r.servedCorrect}`,
    `served precision      ${pct(r.servedPrecision, 3)} (Wilson 95% lower ${pct(r.servedPrecisionLow95, 3)})`,
    `coverage              ${pct(r.coverage)} (oracle ${pct(r.oracleCoverage)}, ratio ${pct(r.coverageOfOracle, 1)})`,
    `ECE (10 equal-mass)   ${r.ece.toFixed(4)}`,
    "",
    "reliability  bin  count   confidence [min..max]        accuracy",
    ...r.reliability.map(
      (b, i) =>
        `             ${String(i + 1).padStart(3)}  ${String(b.count).padStart(6)}  ${b.meanConfidence.toFixed(4)} [${b.minConfidence.toFixed(3)}..${b.maxConfidence.toFixed(3)}]  ${b.accuracy.toFixed(4)}`,
    ),
    "",
    "model                 emitted   served  served correct",
    ...Object.entries(r.byModel).map(
      ([m, s]) => `${m.padEnd(20)}  ${String(s.emitted).padStart(7)}  ${String(s.served).padStart(7)}  ${String(s.servedCorrect).padStart(7)}`,
    ),
    "",
    "class                          versions  predictable   served  served correct",
    ...Object.entries(r.byClass)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, 40)
      .map(
        ([k, c]) =>
          `${k.slice(0, 30).padEnd(30)} ${String(c.versions).padStart(8)}  ${String(c.predictable).padStart(11)}  ${String(c.served).padStart(7)}  ${String(c.servedCorrect).padStart(7)}`,
      ),
  ]
  return lines.join("\n") + "\n"
}

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)

/** Self-contained HTML (inline SVG, no scripts, no network) with the reliability diagram. */
export const renderHtml = (r: EvalReport, title = "Umbra predictor reliability"): string => {
  const size = 420
  const pad = 50
  const x = (p: number): number => pad + p * (size - 2 * pad)
  const y = (p: number): number => size - pad - p * (size - 2 * pad)
  const maxCount = Math.max(1, ...r.reliability.map((b) => b.count))
  const points = r.reliability
    .map(
      (b) =>
        `<circle cx="${x(b.meanConfidence).toFixed(1)}" cy="${y(b.accuracy).toFixed(1)}" r="${(3 + 6 * Math.sqrt(b.count / maxCount)).toFixed(1)}" fill="#2a6fdb" fill-opacity="0.7"><title>conf ${b.meanConfidence.toFixed(4)} acc ${b.accuracy.toFixed(4)} n=${b.count}</title></circle>`,
    )
    .join("")
  const path = r.reliability.map((b, i) => `${i === 0 ? "M" : "L"}${x(b.meanConfidence).toFixed(1)},${y(b.accuracy).toFixed(1)}`).join(" ")
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((v) => `<text x="${x(v)}" y="${size - pad + 18}" text-anchor="middle" font-size="11">${v}</text><text x="${pad - 8}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v}</text>`)
    .join("")
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" role="img" aria-label="reliability diagram">
<rect x="${pad}" y="${pad}" width="${size - 2 * pad}" height="${size - 2 * pad}" fill="none" stroke="#999"/>
<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 4"/>
<path d="${path}" fill="none" stroke="#2a6fdb"/>${points}${ticks}
<text x="${size / 2}" y="${size - 10}" text-anchor="middle" font-size="12">mean confidence (equal-mass bins)</text>
<text x="14" y="${size / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${size / 2})">observed accuracy</text>
</svg>`
  const rows = r.reliability
    .map((b, i) => `<tr><td>${i + 1}</td><td>${b.count}</td><td>${b.meanConfidence.toFixed(4)}</td><td>${b.accuracy.toFixed(4)}</td></tr>`)
    .join("")
  const summary = Object.entries(summaryJson(r))
    .map(([k, v]) => `<tr><th>${k}</th><td>${v === null ? "null" : v}</td></tr>`)
    .join("")
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}</style></head>
<body><h1>${escapeHtml(title)}</h1>${svg}<table>${summary}</table>
<table><tr><th>bin</th><th>count</th><th>mean confidence</th><th>accuracy</th></tr>${rows}</table></body></html>
`
}
