/**
 * Renders a report as one self-contained HTML file (inline SVG and CSS, no scripts, no
 * external resources: it must open from disk on a machine without network) and as a
 * terminal summary. Fault periods are shaded on every time chart; charts without a time
 * axis carry the fault list beneath them, so no figure is read without its faults.
 */
import { barChart, escapeXml, formatNumber, lineChart, type Series } from "./svg-charts.ts"
import type { FaultPeriod, Report } from "./report.ts"

const COLORS = {
  ok: "#2ca02c",
  conflict: "#ff7f0e",
  notFound: "#8c564b",
  fail: "#d62728",
  indeterminate: "#9467bd",
  p50: "#1f77b4",
  p90: "#17becf",
  p99: "#ff7f0e",
  p999: "#d62728",
  max: "#7f7f7f",
  service: "#9467bd",
} as const

const percent = (r: number | null): string => (r === null ? "n/a" : `${(r * 100).toFixed(1)}%`)
const us = (v: number): string => (v >= 1000 ? `${formatNumber(v / 1000)} ms` : `${v} µs`)

const faultNote = (faults: ReadonlyArray<FaultPeriod>): string =>
  faults.length === 0
    ? ""
    : `<p class="faults">Faults during this run: ${faults.map((f) => escapeXml(`${f.label} ${f.startSec}s–${f.endSec}s`)).join("; ")}</p>`

const section = (id: string, title: string, summary: string, body: string): string =>
  `<section id="${id}"><h2>${escapeXml(title)}</h2><p class="summary">${summary}</p>${body}</section>`

const throughputSection = (r: Report): string => {
  const t = r.throughput
  const perSec = (n: number): number => n / r.meta.bucketSec
  const series: Series[] = (["ok", "conflict", "notFound", "fail", "indeterminate"] as const).map((k) => ({
    name: k,
    color: COLORS[k],
    points: t.buckets.map((b) => [b.tSec, perSec(b[k])] as const),
  }))
  const chart = lineChart({ id: "chart-throughput", title: "Throughput by outcome", xLabel: "time (s)", yLabel: "ops/s", series, faults: r.faults })
  const totals = `ok ${t.totals.ok}, conflict ${t.totals.conflict}, not found ${t.totals.notFound}, failed ${t.totals.fail}, indeterminate ${t.totals.indeterminate}`
  return section("throughput", "Throughput", escapeXml(totals), chart)
}

const latencySection = (r: Report): string => {
  const l = r.latency
  const over = (name: string, color: string, pick: (b: (typeof l.overTime)[number]) => number, dashed = false): Series => ({
    name, color, dashed, points: l.overTime.filter((b) => b.intended.count > 0).map((b) => [b.tSec, pick(b)] as const),
  })
  const overTime = lineChart({
    id: "chart-latency-over-time",
    title: "Latency percentiles over time (from intended send time; dashed: service time p99)",
    xLabel: "time (s)",
    yLabel: "latency (µs, log)",
    yLog: true,
    faults: r.faults,
    series: [
      over("p50", COLORS.p50, (b) => b.intended.p50Us),
      over("p90", COLORS.p90, (b) => b.intended.p90Us),
      over("p99", COLORS.p99, (b) => b.intended.p99Us),
      over("p99.9", COLORS.p999, (b) => b.intended.p999Us),
      over("max", COLORS.max, (b) => b.intended.maxUs),
      over("service p99", COLORS.service, (b) => b.service.p99Us, true),
    ],
  })
  const spectrum = lineChart({
    id: "chart-latency-spectrum",
    title: "Percentile spectrum",
    xLabel: "percentile",
    yLabel: "latency (µs, log)",
    yLog: true,
    xPercentile: true,
    series: [
      { name: "from intended", color: COLORS.p99, points: l.spectrum.map((p) => [p.percentile, p.intendedUs] as const) },
      { name: "service time", color: COLORS.service, dashed: true, points: l.spectrum.map((p) => [p.percentile, p.serviceUs] as const) },
    ],
  })
  const text = `from intended send: p50 ${us(l.intended.p50Us)}, p99 ${us(l.intended.p99Us)}, p99.9 ${us(l.intended.p999Us)}, max ${us(l.intended.maxUs)}; service time p99 ${us(l.service.p99Us)}`
  return section("latency", "Latency", escapeXml(text), overTime + spectrum + faultNote(r.faults))
}

const conflictsSection = (r: Report): string => {
  const c = r.conflicts
  const chart = barChart({
    id: "chart-conflicts",
    title: "Conflicts by key rank (rank 1 = most written)",
    xLabel: "key rank",
    yLabel: "operations",
    seriesNames: ["writes", "conflicts"],
    colors: [COLORS.ok, COLORS.conflict],
    bars: c.byKeyRank.map((k) => ({ label: `${k.rank}`, values: [k.writes, k.conflicts] })),
  })
  return section("conflicts", "Conflicts", `${c.total} conflicts in total`, chart + faultNote(r.faults))
}

const shadowSection = (r: Report): string => {
  const s = r.shadow
  const overTime = lineChart({
    id: "chart-shadow-hit-rate",
    title: "Shadow hit rate over time",
    xLabel: "time (s)",
    yLabel: "hit rate",
    yMax: 1,
    faults: r.faults,
    series: [{ name: "hit rate", color: COLORS.p50, points: s.overTime.map((b) => [b.tSec, b.hitRate] as const) }],
  })
  const byDecile = barChart({
    id: "chart-shadow-by-decile",
    title: "Shadow hit rate by key decile (1 = most read tenth of keys)",
    xLabel: "key decile",
    yLabel: "hit rate",
    yMax: 1,
    seriesNames: ["hit rate"],
    colors: [COLORS.p50],
    bars: s.byKeyDecile.map((d) => ({ label: `${d.decile}`, values: [d.hitRate] })),
  })
  return section("shadow", "Shadow reads", `hit rate ${percent(s.hitRate)}`, overTime + byDecile + faultNote(r.faults))
}

const exactnessSection = (r: Report): string => {
  const e = r.exactness
  const chart = lineChart({
    id: "chart-exactness",
    title: "Shadow-served reads: exact and stale, per second",
    xLabel: "time (s)",
    yLabel: "reads/s",
    faults: r.faults,
    series: [
      { name: "exact", color: COLORS.ok, points: e.overTime.map((b) => [b.tSec, b.exact / r.meta.bucketSec] as const) },
      { name: "stale", color: COLORS.fail, points: e.overTime.map((b) => [b.tSec, b.stale / r.meta.bucketSec] as const) },
    ],
  })
  const text = `served exactness ${percent(e.servedExactness)} of ${e.shadowServed} shadow-served reads; ${e.staleReads} stale`
  return section("exactness", "Served exactness", escapeXml(text), chart)
}

const predictionSection = (r: Report): string => {
  const p = r.prediction
  const chart = lineChart({
    id: "chart-prediction",
    title: "Prediction precision and coverage over time",
    xLabel: "time (s)",
    yLabel: "fraction",
    yMax: 1,
    faults: r.faults,
    series: [
      { name: "precision", color: COLORS.p50, points: p.overTime.map((b) => [b.tSec, b.precision] as const) },
      { name: "coverage", color: COLORS.conflict, points: p.overTime.map((b) => [b.tSec, b.coverage] as const) },
    ],
  })
  const ece = p.calibrationError === null ? "n/a" : p.calibrationError.toFixed(3)
  const note = p.note === undefined ? "" : ` (${p.note})`
  return section("prediction", "Predictions", escapeXml(`precision ${percent(p.precision)}, coverage ${percent(p.coverage)}, calibration error ${ece}${note}`), chart)
}

const checksSection = (r: Report): string => {
  const rows = r.checks.results
    .map((c) => `<tr><td>${escapeXml(c.checker)}</td><td class="${c.ok ? "pass" : "fail"}">${c.ok ? "pass" : "FAIL"}</td><td>${c.checked}</td><td>${c.violations.slice(0, 5).map(escapeXml).join("<br>")}</td></tr>`)
    .join("")
  const first = r.checks.firstViolation === null ? "all checkers passed" : `first violation: ${escapeXml(r.checks.firstViolation)}`
  return section("checks", "Checkers", first, `<table><tr><th>checker</th><th>verdict</th><th>checked</th><th>violations</th></tr>${rows}</table>`)
}

const header = (r: Report): string => {
  const m = r.meta
  const saturated = m.saturated
    ? `<p class="fail">SATURATED: the driver fell up to ${formatNumber(m.maxSendLagMs)} ms behind its schedule; latencies include that queueing.</p>`
    : ""
  return `<h1>${escapeXml(m.scenario)} — ${m.mode} run</h1><p>${escapeXml(m.description)}</p>` +
    `<p>seed ${m.seed}, ${m.durationSec}s (warm-up ${m.warmupSec}s), started ${escapeXml(m.startedAt)}; ${m.completedOps} of ${m.offeredOps} offered operations completed. Replay: <code>${escapeXml(m.replayCommand)}</code></p>${saturated}`
}

const STYLE = `body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}section{margin:2em 0}svg{display:block;margin:1em 0;background:#fff}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.pass{color:#2ca02c}.fail{color:#d62728;font-weight:bold}.faults{color:#d62728;font-size:90%}code{background:#f4f4f4}`

export const renderHtmlReport = (r: Report): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeXml(`Umbra simulation: ${r.meta.scenario}`)}</title><style>${STYLE}</style></head><body>` +
  header(r) +
  throughputSection(r) +
  latencySection(r) +
  conflictsSection(r) +
  shadowSection(r) +
  exactnessSection(r) +
  predictionSection(r) +
  checksSection(r) +
  `</body></html>\n`

/** A few lines for the end of `umbra simulate`, with the verdict first. */
export const renderTerminalSummary = (r: Report): string => {
  const m = r.meta
  const t = r.throughput.totals
  const l = r.latency
  const lines = [
    `${r.checks.ok ? "PASS" : "FAIL"}  ${m.scenario} (${m.mode}, seed ${m.seed}, ${m.durationSec}s)${m.saturated ? "  SATURATED" : ""}`,
    `  ops        ${m.completedOps}/${m.offeredOps}: ok ${t.ok}, conflict ${t.conflict}, not found ${t.notFound}, failed ${t.fail}, indeterminate ${t.indeterminate}`,
    `  latency    from intended p50 ${us(l.intended.p50Us)}  p99 ${us(l.intended.p99Us)}  p99.9 ${us(l.intended.p999Us)}  max ${us(l.intended.maxUs)}`,
    `             service       p50 ${us(l.service.p50Us)}  p99 ${us(l.service.p99Us)}  p99.9 ${us(l.service.p999Us)}  max ${us(l.service.maxUs)}`,
    `  shadows    hit rate ${percent(r.shadow.hitRate)}, served exactness ${percent(r.exactness.servedExactness)}, stale reads ${r.exactness.staleReads}`,
    `  prediction precision ${percent(r.prediction.precision)}, coverage ${percent(r.prediction.coverage)}`,
    ...r.faults.map((f) => `  fault      ${f.label} ${f.startSec}s–${f.endSec}s`),
    ...r.checks.results.map((c) => `  check      ${c.ok ? "pass" : "FAIL"} ${c.checker} (${c.checked} checked)${c.ok ? "" : `: ${c.violations[0] ?? ""}`}`),
  ]
  if (m.saturated) lines.push(`  the driver fell ${formatNumber(m.maxSendLagMs)} ms behind schedule: offered load was not sustained`)
  if (!r.checks.ok) lines.push(`  replay: ${m.replayCommand}`)
  return lines.join("\n")
}
