/**
 * A tiny hand-written decoder kit for scenario files. Hand-written rather than a schema
 * library because every message must read like a person wrote it: the field path, what was
 * expected, and what was found (`keys.distribution: expected one of uniform|zipfian|latest|
 * hotspot, got "zipf"`), and every mistake in a file is reported at once, not the first.
 */

export type PathSegment = string | number
export type Path = ReadonlyArray<PathSegment>

export type ScenarioIssue =
  | { readonly _tag: "MissingField"; readonly path: Path }
  | { readonly _tag: "UnknownField"; readonly path: Path; readonly suggestion?: string }
  | { readonly _tag: "WrongType"; readonly path: Path; readonly expected: string; readonly got: string }
  | { readonly _tag: "NotOneOf"; readonly path: Path; readonly allowed: ReadonlyArray<string>; readonly got: string }
  | { readonly _tag: "OutOfRange"; readonly path: Path; readonly constraint: string; readonly got: string }
  | { readonly _tag: "Inconsistent"; readonly path: Path; readonly problem: string }

/** Collects issues while decoding; decoders return undefined when their value is unusable. */
export interface Issues {
  readonly list: ScenarioIssue[]
}

export type Decoder<A> = (input: unknown, at: Path, issues: Issues) => A | undefined

export const formatPath = (path: Path): string =>
  path.length === 0
    ? "(root)"
    : path.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("")

/** Quote what was found, short enough to fit on one line of an error message. */
export const describeValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (value === null) return "null"
  if (Array.isArray(value)) return `a list`
  if (typeof value === "object") return "an object"
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

export const issueProblem = (issue: ScenarioIssue): string => {
  switch (issue._tag) {
    case "MissingField":
      return "is required but missing"
    case "UnknownField":
      return issue.suggestion === undefined
        ? "unknown field"
        : `unknown field (did you mean "${issue.suggestion}"?)`
    case "WrongType":
      return `expected ${issue.expected}, got ${issue.got}`
    case "NotOneOf":
      return `expected one of ${issue.allowed.join("|")}, got ${issue.got}`
    case "OutOfRange":
      return `expected ${issue.constraint}, got ${issue.got}`
    case "Inconsistent":
      return issue.problem
  }
}

export const formatIssue = (issue: ScenarioIssue): string => `${formatPath(issue.path)}: ${issueProblem(issue)}`

const wrongType = (issues: Issues, at: Path, expected: string, input: unknown): undefined => {
  issues.list.push({ _tag: "WrongType", path: at, expected, got: describeValue(input) })
  return undefined
}

export interface NumberBounds {
  readonly min?: number
  readonly max?: number
  /** Strictly greater than this. */
  readonly above?: number
  readonly integer?: boolean
}

const boundsText = (b: NumberBounds): string => {
  const parts: string[] = []
  if (b.above !== undefined) parts.push(`> ${b.above}`)
  if (b.min !== undefined) parts.push(`>= ${b.min}`)
  if (b.max !== undefined) parts.push(`<= ${b.max}`)
  return `a ${b.integer === true ? "whole number" : "number"} ${parts.join(" and ")}`.trim()
}

const withinBounds = (n: number, b: NumberBounds): boolean =>
  (b.integer !== true || Number.isInteger(n)) &&
  (b.min === undefined || n >= b.min) &&
  (b.max === undefined || n <= b.max) &&
  (b.above === undefined || n > b.above)

export const number =
  (bounds: NumberBounds = {}): Decoder<number> =>
  (input, at, issues) => {
    if (typeof input !== "number" || !Number.isFinite(input)) return wrongType(issues, at, boundsText(bounds), input)
    if (withinBounds(input, bounds)) return input
    issues.list.push({ _tag: "OutOfRange", path: at, constraint: boundsText(bounds), got: describeValue(input) })
    return undefined
  }

export const boolean: Decoder<boolean> = (input, at, issues) =>
  typeof input === "boolean" ? input : wrongType(issues, at, "true or false", input)

export const string =
  (check?: (s: string) => string | undefined): Decoder<string> =>
  (input, at, issues) => {
    if (typeof input !== "string") return wrongType(issues, at, "a string", input)
    const problem = check?.(input)
    if (problem === undefined) return input
    issues.list.push({ _tag: "Inconsistent", path: at, problem: `${problem}, got ${describeValue(input)}` })
    return undefined
  }

export const oneOf =
  <const L extends string>(allowed: ReadonlyArray<L>): Decoder<L> =>
  (input, at, issues) => {
    if (typeof input === "string" && (allowed as ReadonlyArray<string>).includes(input)) return input as L
    issues.list.push({ _tag: "NotOneOf", path: at, allowed, got: describeValue(input) })
    return undefined
  }

export const list =
  <A>(item: Decoder<A>, maxItems = 10_000): Decoder<ReadonlyArray<A>> =>
  (input, at, issues) => {
    if (!Array.isArray(input)) return wrongType(issues, at, "a list", input)
    if (input.length > maxItems) {
      issues.list.push({ _tag: "OutOfRange", path: at, constraint: `at most ${maxItems} items`, got: `${input.length}` })
      return undefined
    }
    const out: A[] = []
    let complete = true
    input.forEach((element: unknown, i) => {
      const decoded = item(element, [...at, i], issues)
      if (decoded === undefined) complete = false
      else out.push(decoded)
    })
    return complete ? out : undefined
  }

/** Edit distance, so a misspelt key can be answered with the field that was meant. */
const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost)
      diagonal = above
    }
  }
  return row[b.length] ?? 0
}

const suggest = (key: string, known: ReadonlyArray<string>): string | undefined => {
  const ranked = known.map((k) => ({ k, d: distance(key, k) })).sort((x, y) => x.d - y.d)
  const best = ranked[0]
  return best !== undefined && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.k : undefined
}

export type Fields = Readonly<Record<string, unknown>>

/** An object whose keys must all be known: a typo must never be silently ignored. */
export const record = (
  input: unknown,
  at: Path,
  issues: Issues,
  known: ReadonlyArray<string>,
): Fields | undefined => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return wrongType(issues, at, `an object with fields ${known.join(", ")}`, input)
  }
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue
    const suggestion = suggest(key, known)
    issues.list.push(
      suggestion === undefined
        ? { _tag: "UnknownField", path: [...at, key] }
        : { _tag: "UnknownField", path: [...at, key], suggestion },
    )
  }
  return input as Fields
}

export const required = <A>(fields: Fields, key: string, at: Path, issues: Issues, decode: Decoder<A>): A | undefined => {
  if (!(key in fields) || fields[key] === undefined || fields[key] === null) {
    issues.list.push({ _tag: "MissingField", path: [...at, key] })
    return undefined
  }
  return decode(fields[key], [...at, key], issues)
}

/** Absent (or null) takes the default; present but wrong is an error, never the default. */
export const optional = <A>(
  fields: Fields,
  key: string,
  at: Path,
  issues: Issues,
  decode: Decoder<A>,
  fallback: A,
): A | undefined => {
  const value = fields[key]
  return value === undefined || value === null ? fallback : decode(value, [...at, key], issues)
}

export const inconsistent = (issues: Issues, path: Path, problem: string): void => {
  issues.list.push({ _tag: "Inconsistent", path, problem })
}
