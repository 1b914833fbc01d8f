import type { StatusSnapshot } from "./status-sampler.ts"

// The status page: one self-contained HTML document (inline CSS, JS and SVG; nothing is
// loaded from the network). It renders the figures it was served with at once, then polls
// /api/status. Written for someone who has never heard of Prometheus: every chart says in
// one sentence what it shows and what good looks like.

export interface ChartSpec {
  readonly id: string
  readonly title: string
  readonly explain: string
  readonly unit: "ratio" | "ms" | "per-s"
  readonly series: ReadonlyArray<{ readonly key: string; readonly label: string; readonly color: string }>
}

export const CHARTS: ReadonlyArray<ChartSpec> = [
  {
    id: "hitRate",
    title: "Shadow hit rate",
    explain: "Share of reads answered from a shadow (a prepared copy) instead of the primary store, among reads that allowed it. Higher is faster.",
    unit: "ratio",
    series: [{ key: "hitRate", label: "hit rate", color: "#2b7bb9" }],
  },
  {
    id: "exactness",
    title: "Served exactness",
    explain: "Share of shadow-served reads whose content turned out to be right. Should stay at 100%; empty until the reconciler has judged some shadows.",
    unit: "ratio",
    series: [{ key: "exactness", label: "exactness", color: "#2a9d5b" }],
  },
  {
    id: "precision",
    title: "Prediction precision",
    explain: "Share of predicted shadows that the reconciler later confirmed. Empty until predictions have been settled.",
    unit: "ratio",
    series: [{ key: "precision", label: "precision", color: "#8e44ad" }],
  },
  {
    id: "latency",
    title: "Latency",
    explain: "How long a read (median and slowest 1%) and a write (slowest 1%) took, in milliseconds. Lower is better.",
    unit: "ms",
    series: [
      { key: "readP50Ms", label: "read p50", color: "#2b7bb9" },
      { key: "readP99Ms", label: "read p99", color: "#e67e22" },
      { key: "appendP99Ms", label: "write p99", color: "#c0392b" },
    ],
  },
  {
    id: "throughput",
    title: "Requests per second",
    explain: "Reads and writes handled per second, and writes refused because another writer got there first (conflicts).",
    unit: "per-s",
    series: [
      { key: "readsPerS", label: "reads/s", color: "#2b7bb9" },
      { key: "writesPerS", label: "writes/s", color: "#2a9d5b" },
      { key: "conflictsPerS", label: "conflicts/s", color: "#c0392b" },
    ],
  },
]

/** JSON inside a <script> element: `<` escaped so no value can close the element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, "\\u003c")

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const chartHtml = (c: ChartSpec): string => `
<section class="card">
  <h2>${escapeHtml(c.title)} <span class="now" id="now-${c.id}">–</span></h2>
  <p>${escapeHtml(c.explain)}</p>
  <svg class="chart" data-chart="${c.id}" data-points="0" viewBox="0 0 600 170" preserveAspectRatio="none" role="img" aria-label="${escapeHtml(c.title)}"></svg>
  <div class="legend">${c.series.map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.label)}</span>`).join("")}</div>
</section>`

export const statusPageHtml = (title: string, snapshot: StatusSnapshot): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#222}
header{padding:14px 24px;background:#1f2d3d;color:#fff}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.8;font-size:13px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;padding:16px 24px}
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.1)}
.card h2{font-size:16px;margin:0 0 4px;display:flex;justify-content:space-between}.card p{font-size:12px;color:#555;margin:0 0 8px}
.now{font-variant-numeric:tabular-nums;color:#1f2d3d}.chart{width:100%;height:170px;background:#fbfcfd}
.legend{font-size:12px;color:#444}.legend span{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.empty{fill:#999;font-size:13px}.grid{stroke:#e3e6ea}.axis{fill:#888;font-size:10px}
</style></head>
<body>
<header><h1>${escapeHtml(title)}</h1><p id="updated">Figures over a sliding ${snapshot.windowS}s window, refreshed every ${Math.round(snapshot.intervalMs / 1000)}s.</p></header>
<main>${CHARTS.map(chartHtml).join("")}</main>
<script id="initial" type="application/json">${scriptJson(snapshot)}</script>
<script id="charts" type="application/json">${scriptJson(CHARTS)}</script>
<script>${CLIENT_JS}</script>
</body></html>`

// Plain ES2017 in the browser: draws one SVG per chart from the points it is given.
const CLIENT_JS = `
(function () {
  var NS = "http://www.w3.org/2000/svg", W = 600, H = 170, L = 44, R = 8, T = 8, B = 20;
  var charts = JSON.parse(document.getElementById("charts").textContent);
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(v, unit) {
    if (v === null || v === undefined) return "–";
    if (unit === "ratio") return (v * 100).toFixed(1) + "%";
    if (unit === "ms") return v < 1 ? v.toFixed(3) + " ms" : v.toFixed(1) + " ms";
    return v.toFixed(v < 10 ? 1 : 0) + "/s";
  }
  function draw(chart, points) {
    var svg = document.querySelector('svg[data-chart="' + chart.id + '"]');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var vals = [];
    chart.series.forEach(function (s) { points.forEach(function (p) { if (p[s.key] !== null) vals.push(p[s.key]); }); });
    var drawn = 0;
    if (vals.length === 0 || points.length < 2) {
      svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "empty" }, "no data yet"));
      svg.setAttribute("data-points", "0");
      return;
    }
    var max = chart.unit === "ratio" ? 1 : Math.max.apply(null, vals) * 1.1 || 1, min = 0;
    var t0 = points[0].t, t1 = points[points.length - 1].t, span = Math.max(1, t1 - t0);
    function x(t) { return L + (W - L - R) * (t - t0) / span; }
    function y(v) { return T + (H - T - B) * (1 - (v - min) / (max - min)); }
    for (var g = 0; g <= 4; g++) {
      var gv = min + (max - min) * g / 4;
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: y(gv), y2: y(gv), "class": "grid" }));
      svg.appendChild(el("text", { x: L - 4, y: y(gv) + 3, "text-anchor": "end", "class": "axis" }, fmt(gv, chart.unit)));
    }
    svg.appendChild(el("text", { x: L, y: H - 4, "class": "axis" }, Math.round((t1 - t0) / 1000) + "s ago"));
    svg.appendChild(el("text", { x: W - R, y: H - 4, "text-anchor": "end", "class": "axis" }, "now"));
    chart.series.forEach(function (s) {
      var seg = [];
      function flush() {
        if (seg.length > 1) svg.appendChild(el("polyline", { points: seg.join(" "), fill: "none", stroke: s.color, "stroke-width": 2, "data-series": s.key }));
        if (seg.length === 1) svg.appendChild(el("circle", { cx: seg[0].split(",")[0], cy: seg[0].split(",")[1], r: 2, fill: s.color, "data-series": s.key }));
        drawn += seg.length; seg = [];
      }
      points.forEach(function (p) {
        var v = p[s.key];
        if (v === null || v === undefined) flush(); else seg.push(x(p.t).toFixed(1) + "," + y(v).toFixed(1));
      });
      flush();
    });
    svg.setAttribute("data-points", String(drawn));
    if (drawn === 0) svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "empty" }, "no data yet"));
  }
  function render(status) {
    var last = status.points[status.points.length - 1] || {};
    charts.forEach(function (c) {
      draw(c, status.points);
      document.getElementById("now-" + c.id).textContent = c.series.map(function (s) { return fmt(last[s.key], c.unit); }).join(" · ");
    });
    document.getElementById("updated").textContent = "Updated " + new Date(status.nowMs).toLocaleTimeString() +
      " · figures over a sliding " + status.windowS + "s window, refreshed every " + Math.round(status.intervalMs / 1000) + "s.";
  }
  var initial = JSON.parse(document.getElementById("initial").textContent);
  render(initial);
  function poll() {
    fetch("api/status", { cache: "no-store" }).then(function (r) { return r.json(); }).then(render).catch(function () {})
      .then(function () { setTimeout(poll, initial.intervalMs); });
  }
  setTimeout(poll, initial.intervalMs);
})();
`
