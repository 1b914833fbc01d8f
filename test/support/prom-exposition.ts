// A strict parser of the Prometheus text exposition format (0.0.4), for tests: it rejects
// what Prometheus would reject, and checks what prom-client promises on top (HELP/TYPE once
// per family before its samples, no duplicate series, cumulative histogram buckets).

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: string
  readonly help: string
  readonly samples: Sample[]
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = ["counter", "gauge", "histogram", "summary", "untyped"]
const SUFFIXES: Record<string, ReadonlyArray<string>> = { histogram: ["_bucket", "_sum", "_count"], summary: ["", "_sum", "_count"] }

// As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case, so prom-client's "Nan" is valid.
const parseValue = (s: string, line: string): number => {
  if (/^nan$/i.test(s)) return NaN
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity
  if (/^-inf(inity)?$/i.test(s)) return -Infinity
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value "${s}" in: ${line}`)
  return Number(s)
}

/** Labels `{a="x",b="y\"z"}` starting at `i`; returns the labels and the index after `}`. */
const parseLabels = (line: string, start: number): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  let i = start + 1
  while (line[i] !== "}") {
    const eq = line.indexOf("=", i)
    const name = line.slice(i, eq)
    if (eq < 0 || !LABEL.test(name)) throw new Error(`bad label name "${name}" in: ${line}`)
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`)
    if (line[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`)
    let j = eq + 2
    let value = ""
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === "\\") {
        const c = line[++j]
        if (c === "n") value += "\n"
        else if (c === "\\" || c === '"') value += c
        else throw new Error(`bad escape in: ${line}`)
      } else value += line[j]
    }
    if (j >= line.length) throw new Error(`unterminated label value in: ${line}`)
    labels[name] = value
    i = j + 1
    if (line[i] === ",") i++
    else if (line[i] !== "}") throw new Error(`expected , or } in: ${line}`)
  }
  return [labels, i + 1]
}

const familyOf = (families: Map<string, Family>, sampleName: string): Family | undefined => {
  for (const [name, f] of families) {
    const suffixes = SUFFIXES[f.type] ?? [""]
    if (suffixes.some((s) => sampleName === name + s)) return f
  }
  return undefined
}

export const parseExposition = (text: string): Map<string, Family> => {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline")
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  let pendingHelp: { name: string; help: string } | undefined
  for (const line of text.split("\n")) {
    if (line === "") continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta !== null) {
      const [, kind, name = "", rest = ""] = meta
      if (!METRIC.test(name)) throw new Error(`bad metric name in: ${line}`)
      if (kind === "HELP") pendingHelp = { name, help: rest }
      else {
        if (families.has(name)) throw new Error(`second TYPE for ${name}`)
        if (!TYPES.includes(rest)) throw new Error(`bad type in: ${line}`)
        families.set(name, { name, type: rest, help: pendingHelp?.name === name ? pendingHelp.help : "", samples: [] })
      }
      continue
    }
    if (line.startsWith("#")) continue
    const nameEnd = line.search(/[{ ]/)
    const name = line.slice(0, nameEnd)
    if (nameEnd < 0 || !METRIC.test(name)) throw new Error(`bad sample: ${line}`)
    const [labels, after] = line[nameEnd] === "{" ? parseLabels(line, nameEnd) : [{}, nameEnd]
    const parts = line.slice(after).trim().split(/ +/)
    if (parts.length < 1 || parts.length > 2 || parts[0] === undefined) throw new Error(`bad sample: ${line}`)
    const value = parseValue(parts[0], line)
    const family = familyOf(families, name)
    if (family === undefined) throw new Error(`sample before its TYPE: ${line}`)
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`)
    seen.add(key)
    family.samples.push({ name, labels, value })
  }
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f)
  return families
}

const checkHistogram = (f: Family): void => {
  const groups = new Map<string, Sample[]>()
  for (const s of f.samples) {
    if (s.name !== `${f.name}_bucket`) continue
    const { le: _le, ...rest } = s.labels
    const k = JSON.stringify(Object.entries(rest).sort())
    groups.set(k, [...(groups.get(k) ?? []), s])
  }
  for (const [k, buckets] of groups) {
    const sorted = buckets.map((b) => [parseValue(b.labels["le"] ?? "", f.name), b.value] as const).sort((a, b) => a[0] - b[0])
    if (sorted.at(-1)?.[0] !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`)
    for (let i = 1; i < sorted.length; i++)
      if ((sorted[i]?.[1] ?? 0) < (sorted[i - 1]?.[1] ?? 0)) throw new Error(`${f.name}${k}: buckets not cumulative`)
    const count = f.samples.find((s) => s.name === `${f.name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === k)
    if (count?.value !== sorted.at(-1)?.[1]) throw new Error(`${f.name}${k}: _count differs from the +Inf bucket`)
  }
}

/** The sum of the series whose labels include `labels` (0 when none). */
export const valueOf = (families: Map<string, Family>, sampleName: string, labels: Record<string, string> = {}): number =>
  (familyOf(families, sampleName)?.samples ?? [])
    .filter((x) => x.name === sampleName && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .reduce((n, x) => n + x.value, 0)

export const scrape = async (url: string): Promise<Map<string, Family>> => {
  const res = await fetch(`${url}/metrics`)
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`)
  if (!(res.headers.get("content-type") ?? "").startsWith("text/plain; version=0.0.4")) throw new Error(`content-type ${res.headers.get("content-type")}`)
  return parseExposition(await res.text())
}
