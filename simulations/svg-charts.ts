/**
 * Minimal inline-SVG charts for the HTML report. Hand-rolled because the report must open
 * from a file with no network: no chart library, no fonts, no scripts.
 */
import type { FaultPeriod } from "./report.ts"

export interface Series {
  readonly name: string
  readonly color: string
  readonly points: ReadonlyArray<readonly [number, number | null]>
  readonly dashed?: boolean
}

export interface LineChartSpec {
  readonly id: string
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
  /** Time charts shade fault periods; x must then be seconds since the start. */
  readonly faults?: ReadonlyArray<FaultPeriod>
  readonly yLog?: boolean
  /** x as "percentile" positions on a log(1/(1-p)) axis. */
  readonly xPercentile?: boolean
  readonly yMax?: number
}

export interface BarChartSpec {
  readonly id: string
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly bars: ReadonlyArray<{ readonly label: string; readonly values: ReadonlyArray<number | null> }>
  readonly seriesNames: ReadonlyArray<string>
  readonly colors: ReadonlyArray<string>
  readonly yMax?: number
}

const W = 720
const H = 280
const M = { left: 64, right: 16, top: 28, bottom: 44 }
const PLOT_W = W - M.left - M.right
const PLOT_H = H - M.top - M.bottom

export const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

export const formatNumber = (n: number): string => {
  const abs = Math.abs(n)
  if (abs >= 1e9) return `${(n / 1e9).toPrecision(3)}G`
  if (abs >= 1e6) return `${(n / 1e6).toPrecision(3)}M`
  if (abs >= 1e3) return `${(n / 1e3).toPrecision(3)}k`
  return abs >= 10 || n === 0 ? `${Math.round(n * 10) / 10}` : n.toPrecision(2)
}

// Percentiles spread as in HdrHistogram plots: 90, 99, 99.9 ... equally spaced.
const percentileX = (p: number): number => Math.log10(1 / Math.max(1e-6, 1 - Math.min(p, 99.9999) / 100))

interface Scale {
  readonly toX: (x: number) => number
  readonly toY: (y: number) => number
  readonly xTicks: ReadonlyArray<readonly [number, string]>
  readonly yTicks: ReadonlyArray<readonly [number, string]>
}

const linearTicks = (min: number, max: number, count: number): number[] =>
  Array.from({ length: count + 1 }, (_, i) => min + ((max - min) * i) / count)

const makeScale = (spec: LineChartSpec): Scale => {
  const xs = spec.series.flatMap((s) => s.points.map(([x]) => (spec.xPercentile === true ? percentileX(x) : x)))
  const ys = spec.series.flatMap((s) => s.points.flatMap(([, y]) => (y === null ? [] : [y])))
  const faultEnds = (spec.faults ?? []).map((f) => f.endSec)
  const xMin = Math.min(0, ...xs)
  const xMax = Math.max(xMin + 1, ...xs, ...faultEnds)
  const yMaxRaw = spec.yMax ?? Math.max(1e-9, ...ys)
  if (spec.yLog === true) {
    const lo = Math.floor(Math.log10(Math.max(1, Math.min(...ys.filter((y) => y > 0), yMaxRaw))))
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(1, yMaxRaw))))
    const toY = (y: number): number => M.top + PLOT_H - ((Math.log10(Math.max(10 ** lo, y)) - lo) / (hi - lo)) * PLOT_H
    const yTicks = Array.from({ length: hi - lo + 1 }, (_, i) => [toY(10 ** (lo + i)), formatNumber(10 ** (lo + i))] as const)
    return { ...xScale(spec, xMin, xMax), toY, yTicks }
  }
  const yMax = yMaxRaw * (spec.yMax === undefined ? 1.05 : 1)
  const toY = (y: number): number => M.top + PLOT_H - (y / yMax) * PLOT_H
  return { ...xScale(spec, xMin, xMax), toY, yTicks: linearTicks(0, yMax, 4).map((v) => [toY(v), formatNumber(v)] as const) }
}

const xScale = (spec: LineChartSpec, xMin: number, xMax: number): Pick<Scale, "toX" | "xTicks"> => {
  const toX = (x: number): number => M.left + ((x - xMin) / (xMax - xMin)) * PLOT_W
  if (spec.xPercentile === true) {
    const ticks = [0, 90, 99, 99.9, 99.99, 99.999].filter((p) => percentileX(p) <= xMax)
    return { toX: (p) => toX(percentileX(p)), xTicks: ticks.map((p) => [toX(percentileX(p)), `${p}%`] as const) }
  }
  return { toX, xTicks: linearTicks(xMin, xMax, 6).map((v) => [toX(v), formatNumber(v)] as const) }
}

const axes = (scale: Scale, xLabel: string, yLabel: string): string => {
  const xt = scale.xTicks
    .map(([x, label]) => `<line x1="${x}" y1="${M.top + PLOT_H}" x2="${x}" y2="${M.top + PLOT_H + 4}" stroke="#555"/><text x="${x}" y="${M.top + PLOT_H + 16}" text-anchor="middle">${escapeXml(label)}</text>`)
    .join("")
  const yt = scale.yTicks
    .map(([y, label]) => `<line x1="${M.left}" y1="${y}" x2="${M.left + PLOT_W}" y2="${y}" stroke="#eee"/><text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${escapeXml(label)}</text>`)
    .join("")
  return `${yt}${xt}<rect x="${M.left}" y="${M.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#555"/>` +
    `<text x="${M.left + PLOT_W / 2}" y="${H - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>` +
    `<text transform="translate(14 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`
}

const faultBands = (faults: ReadonlyArray<FaultPeriod>, toX: (x: number) => number): string =>
  faults
    .map((f) => {
      const x1 = toX(f.startSec)
      const width = Math.max(2, toX(f.endSec) - x1)
      return `<g class="fault"><rect x="${x1}" y="${M.top}" width="${width}" height="${PLOT_H}" fill="#d62728" fill-opacity="0.12"/>` +
        `<text x="${x1 + 2}" y="${M.top + 12}" fill="#d62728">${escapeXml(f.label)}</text><title>${escapeXml(`${f.label}: ${f.startSec}s–${f.endSec}s`)}</title></g>`
    })
    .join("")

/** Null points break the line: an undefined rate is a gap, not a zero. */
const pathOf = (s: Series, scale: Scale): string => {
  let d = ""
  let pen = false
  for (const [x, y] of s.points) {
    if (y === null) {
      pen = false
      continue
    }
    d += `${pen ? "L" : "M"}${scale.toX(x).toFixed(1)},${scale.toY(y).toFixed(1)}`
    pen = true
  }
  return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed === true ? ` stroke-dasharray="5 3"` : ""}><title>${escapeXml(s.name)}</title></path>`
}

const legend = (items: ReadonlyArray<{ readonly name: string; readonly color: string }>): string =>
  items
    .map((item, i) => `<rect x="${M.left + i * 130}" y="8" width="10" height="10" fill="${item.color}"/><text x="${M.left + i * 130 + 14}" y="17">${escapeXml(item.name)}</text>`)
    .join("")

const frame = (id: string, title: string, body: string): string =>
  `<svg id="${escapeXml(id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(title)}" font-family="sans-serif" font-size="11"><title>${escapeXml(title)}</title>${body}</svg>`

export const lineChart = (spec: LineChartSpec): string => {
  const scale = makeScale(spec)
  const empty = spec.series.every((s) => s.points.length === 0)
  const body = axes(scale, spec.xLabel, spec.yLabel) +
    faultBands(spec.faults ?? [], scale.toX) +
    spec.series.map((s) => pathOf(s, scale)).join("") +
    legend(spec.series) +
    (empty ? `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">no data</text>` : "")
  return frame(spec.id, spec.title, body)
}

export const barChart = (spec: BarChartSpec): string => {
  const values = spec.bars.flatMap((b) => b.values.flatMap((v) => (v === null ? [] : [v])))
  const yMax = spec.yMax ?? Math.max(1e-9, ...values) * 1.05
  const toY = (y: number): number => M.top + PLOT_H - (y / yMax) * PLOT_H
  const slot = PLOT_W / Math.max(1, spec.bars.length)
  const barW = Math.max(1, (slot * 0.8) / Math.max(1, spec.seriesNames.length))
  const scale: Scale = {
    toX: (x) => x,
    toY,
    xTicks: spec.bars.length <= 30 ? spec.bars.map((b, i) => [M.left + slot * (i + 0.5), b.label] as const) : [],
    yTicks: linearTicks(0, yMax, 4).map((v) => [toY(v), formatNumber(v)] as const),
  }
  const rects = spec.bars
    .map((b, i) =>
      b.values
        .map((v, j) => (v === null ? "" : `<rect x="${(M.left + slot * i + slot * 0.1 + barW * j).toFixed(1)}" y="${toY(v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(M.top + PLOT_H - toY(v)).toFixed(1)}" fill="${spec.colors[j] ?? "#888"}"><title>${escapeXml(`${b.label} ${spec.seriesNames[j] ?? ""}: ${formatNumber(v)}`)}</title></rect>`))
        .join(""),
    )
    .join("")
  const names = spec.seriesNames.map((name, i) => ({ name, color: spec.colors[i] ?? "#888" }))
  const empty = spec.bars.length === 0 ? `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">no data</text>` : ""
  return frame(spec.id, spec.title, axes(scale, spec.xLabel, spec.yLabel) + rects + legend(names) + empty)
}
