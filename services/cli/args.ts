import { parseArgs, type ParseArgsConfig } from "node:util"

// Flags: parsed with node:util parseArgs (no dependency). Global flags may stand before or
// after the command; each command parses strictly with its own flags plus the globals.

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>
export type Values = Readonly<Record<string, string | boolean | ReadonlyArray<string | boolean> | undefined>>

export interface UsageError {
  readonly _tag: "UsageError"
  readonly message: string
}
export const usageError = (message: string): UsageError => ({ _tag: "UsageError", message })
export const isUsageError = (e: unknown): e is UsageError =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "UsageError"

export const GLOBAL_OPTIONS = {
  server: { type: "string", short: "s" },
  user: { type: "string" },
  password: { type: "string" },
  token: { type: "string" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpec

export interface Located {
  readonly command: string | undefined
  /** The arguments without the command name. */
  readonly rest: ReadonlyArray<string>
}

/** Finds the command word: the first positional that is not the value of a known flag. */
export const locateCommand = (argv: ReadonlyArray<string>, knownOptions: OptionSpec): Located => {
  const { tokens } = parseArgs({ args: [...argv], options: knownOptions, allowPositionals: true, strict: false, tokens: true })
  const first = tokens.find((t) => t.kind === "positional")
  if (first === undefined || first.kind !== "positional") return { command: undefined, rest: argv }
  return { command: first.value, rest: argv.filter((_, i) => i !== first.index) }
}

export interface Parsed {
  readonly values: Values
  readonly positionals: ReadonlyArray<string>
}

export const parseStrict = (args: ReadonlyArray<string>, options: OptionSpec): Parsed => {
  try {
    const r = parseArgs({ args: [...args], options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true })
    return { values: r.values as Values, positionals: r.positionals }
  } catch (e) {
    throw usageError(e instanceof Error ? e.message : String(e))
  }
}

export const str = (v: Values, name: string): string | undefined => {
  const x = v[name]
  return typeof x === "string" ? x : undefined
}

export const strs = (v: Values, name: string): ReadonlyArray<string> => {
  const x = v[name]
  return Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : typeof x === "string" ? [x] : []
}

export const flag = (v: Values, name: string): boolean => v[name] === true

/** A non-negative integer flag; `min` 1 for versions and page sizes. */
export const int = (v: Values, name: string, min = 0): number | undefined => {
  const raw = str(v, name)
  if (raw === undefined) return undefined
  if (!/^[0-9]{1,15}$/.test(raw) || Number(raw) < min) throw usageError(`--${name} must be an integer ≥ ${min}, got "${raw}"`)
  return Number(raw)
}

export const num = (v: Values, name: string): number | undefined => {
  const raw = str(v, name)
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (raw.trim() === "" || !Number.isFinite(n)) throw usageError(`--${name} must be a number, got "${raw}"`)
  return n
}

/** `5000`, `500ms`, `5s` or `1m`, in milliseconds. */
export const durationMs = (v: Values, name: string): number | undefined => {
  const raw = str(v, name)
  if (raw === undefined) return undefined
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(raw.trim())
  if (m === null || m[1] === undefined) throw usageError(`--${name} must be a duration like 5000, 500ms, 5s or 1m, got "${raw}"`)
  const scale = m[2] === "s" ? 1_000 : m[2] === "m" ? 60_000 : 1
  const ms = Math.round(Number(m[1]) * scale)
  if (ms <= 0) throw usageError(`--${name} must be positive`)
  return ms
}

export const oneOf = <T extends string>(v: Values, name: string, allowed: ReadonlyArray<T>): T | undefined => {
  const raw = str(v, name)
  if (raw === undefined) return undefined
  if (!(allowed as ReadonlyArray<string>).includes(raw)) throw usageError(`--${name} must be one of ${allowed.join(", ")}, got "${raw}"`)
  return raw as T
}

/** Exactly `min`..`max` positionals, named for the message. */
export const positionals = (p: ReadonlyArray<string>, names: ReadonlyArray<string>, required: number): ReadonlyArray<string | undefined> => {
  if (p.length < required) throw usageError(`missing ${names.slice(p.length, required).map((n) => `<${n}>`).join(" ")}`)
  if (p.length > names.length) throw usageError(`unexpected argument "${p[names.length]}"`)
  return names.map((_, i) => p[i])
}
