/**
 * The scenario model: what a simulation run does, read from a YAML or JSON file.
 * Every mistake in a file is reported at once, each naming the field path and the problem,
 * because a user iterating on a scenario should not fix errors one run at a time.
 */
import { readFile } from "node:fs/promises"
import { basename, extname } from "node:path"
import * as E from "fp-ts/lib/Either.js"
import { parseAllDocuments } from "yaml"
import { BLOB_ID_MAX_LENGTH, parseBlobId } from "../domain/blob-id.ts"
import {
  boolean,
  formatIssue,
  formatPath,
  inconsistent,
  type Issues,
  list,
  number,
  oneOf,
  optional,
  type Path,
  record,
  required,
  type ScenarioIssue,
  string,
} from "./scenario-decoders.ts"
import {
  decodeDistribution,
  decodeOperations,
  decodeValueShape,
  type KeyDistribution,
  type OperationMix,
  type ValueShape,
} from "./scenario-parts.ts"

export type { KeyDistribution, OperationMix, ValueShape, ValueShapeName } from "./scenario-parts.ts"
export { OPERATION_NAMES, VALUE_SHAPE_NAMES, DISTRIBUTION_NAMES } from "./scenario-parts.ts"
export type { OperationName } from "./scenario-parts.ts"

export type ArrivalProcess = "constant" | "poisson"

export type Arrival =
  | { readonly mode: "open"; readonly process: ArrivalProcess; readonly ratePerSec: number }
  | { readonly mode: "closed"; readonly clients: number; readonly thinkTimeMs: number }

export interface KeySpace {
  readonly count: number
  readonly prefix: string
  readonly distribution: KeyDistribution
  /** Write every key once before the measured run (YCSB's load phase). */
  readonly preload: boolean
}

export type ReadConsistency = "shadow" | "primary"

export interface ReadPolicy {
  readonly consistency: ReadConsistency
  /** Absent: the service's configured default. */
  readonly minConfidence: number | undefined
  /** Fraction of reads that ask for the primary anyway, so shadow scenarios still feed the linearizability checker. */
  readonly primaryFraction: number
}

/** At `atSec` the open-loop rate, or the closed-loop client count / think time, changes. */
export interface Phase {
  readonly atSec: number
  readonly ratePerSec: number | undefined
  readonly clients: number | undefined
  readonly thinkTimeMs: number | undefined
}

export const SERVICE_NAMES = ["blob-service", "predictor", "reconciler"] as const
export type ServiceName = (typeof SERVICE_NAMES)[number]

export type Fault =
  | { readonly kind: "kill-nats"; readonly atSec: number; readonly restartAfterSec: number }
  | { readonly kind: "pause-nats"; readonly atSec: number; readonly durationSec: number }
  | { readonly kind: "kill-service"; readonly atSec: number; readonly service: ServiceName; readonly restartAfterSec: number }

export const FAULT_KINDS = ["kill-nats", "pause-nats", "kill-service"] as const

/** States a run must reach, or the scenario fails: they prove the interesting paths were exercised. */
export const EXPECTATIONS = [
  "conflict",
  "dedup-retry",
  "indeterminate",
  "shadow-hit",
  "shadow-miss",
  "stale-read",
  "not-found",
  "fault-recovered",
] as const
export type Expectation = (typeof EXPECTATIONS)[number]

export interface ClientPolicy {
  readonly timeoutMs: number
  /** Retries of an indeterminate write, with the same idempotency key. */
  readonly retries: number
  /**
   * Set: an indeterminate write is retried with its key until this long after its first
   * attempt, however many times that takes (what the contract asks of clients riding out a
   * fault), instead of `retries` times.
   */
  readonly retryDeadlineMs: number | undefined
}

/** The longest one operation can take, its retries included: how long a run waits for stragglers. */
export const maxOperationMs = (c: ClientPolicy): number =>
  c.retryDeadlineMs === undefined ? c.timeoutMs * (c.retries + 2) : c.retryDeadlineMs + 2 * c.timeoutMs

export interface Scenario {
  readonly name: string
  readonly description: string
  readonly seed: number
  readonly durationSec: number
  readonly warmupSec: number
  readonly arrival: Arrival
  readonly maxInFlight: number
  readonly keys: KeySpace
  readonly valueShape: ValueShape
  readonly operations: OperationMix
  readonly reads: ReadPolicy
  readonly client: ClientPolicy
  readonly phases: ReadonlyArray<Phase>
  readonly faults: ReadonlyArray<Fault>
  readonly expect: ReadonlyArray<Expectation>
}

export type ScenarioError =
  | { readonly _tag: "ScenarioReadError"; readonly file: string; readonly problem: string }
  | { readonly _tag: "ScenarioSyntaxError"; readonly file: string; readonly line: number; readonly column: number; readonly problem: string }
  | { readonly _tag: "ScenarioInvalid"; readonly file: string; readonly issue: ScenarioIssue }

export const formatScenarioError = (error: ScenarioError): string => {
  switch (error._tag) {
    case "ScenarioReadError":
      return `${error.file}: cannot read: ${error.problem}`
    case "ScenarioSyntaxError":
      return `${error.file}:${error.line}:${error.column}: ${error.problem}`
    case "ScenarioInvalid":
      return `${error.file}: ${formatIssue(error.issue)}`
  }
}

/** The field path an error is about ("" for file-level errors), for tests and tools. */
export const scenarioErrorPath = (error: ScenarioError): string =>
  error._tag === "ScenarioInvalid" ? formatPath(error.issue.path) : ""

// Limits on everything (TigerBeetle style): a typo like 1e9 clients must fail validation,
// not exhaust the machine half-way through a run.
const MAX_DURATION_SEC = 7 * 24 * 3600
const MAX_RATE_PER_SEC = 1_000_000
const MAX_CLIENTS = 100_000
const MAX_IN_FLIGHT = 1_000_000
const MAX_KEYS = 100_000_000

const TOP_FIELDS = [
  "name", "description", "seed", "durationSec", "warmupSec", "arrival", "maxInFlight", "keys",
  "valueShape", "operations", "reads", "client", "phases", "faults", "expect",
] as const

const decodeArrival = (input: unknown, at: Path, issues: Issues): Arrival | undefined => {
  const o = record(input, at, issues, ["mode", "process", "ratePerSec", "clients", "thinkTimeMs"])
  if (o === undefined) return undefined
  const mode = optional(o, "mode", at, issues, oneOf(["open", "closed"] as const), "open")
  if (mode === "closed") {
    for (const key of ["process", "ratePerSec"]) {
      if (o[key] !== undefined) inconsistent(issues, [...at, key], `only applies to mode: open (this arrival is closed)`)
    }
    const clients = required(o, "clients", at, issues, number({ integer: true, min: 1, max: MAX_CLIENTS }))
    const thinkTimeMs = optional(o, "thinkTimeMs", at, issues, number({ min: 0, max: 3_600_000 }), 0)
    return clients === undefined || thinkTimeMs === undefined ? undefined : { mode, clients, thinkTimeMs }
  }
  for (const key of ["clients", "thinkTimeMs"]) {
    if (o[key] !== undefined) inconsistent(issues, [...at, key], `only applies to mode: closed (this arrival is open)`)
  }
  const process = optional(o, "process", at, issues, oneOf(["constant", "poisson"] as const), "poisson")
  const ratePerSec = required(o, "ratePerSec", at, issues, number({ above: 0, max: MAX_RATE_PER_SEC }))
  if (mode === undefined || process === undefined || ratePerSec === undefined) return undefined
  return { mode, process, ratePerSec }
}

const keyPrefix = (prefix: string): string | undefined => {
  // Probe with the longest index a key space can have, so every generated id is valid.
  const probe = `${prefix}${MAX_KEYS}`
  if (probe.length > BLOB_ID_MAX_LENGTH) return `must leave room for the key number within ${BLOB_ID_MAX_LENGTH} characters`
  return E.isLeft(parseBlobId(probe)) ? "must use only A-Z a-z 0-9 _ - = / (it becomes part of a blob id)" : undefined
}

const decodeKeys = (input: unknown, at: Path, issues: Issues): KeySpace | undefined => {
  const o = record(input, at, issues, ["count", "prefix", "distribution", "preload"])
  if (o === undefined) return undefined
  const count = required(o, "count", at, issues, number({ integer: true, min: 1, max: MAX_KEYS }))
  const prefix = optional(o, "prefix", at, issues, string(keyPrefix), "key-")
  const distribution = optional(o, "distribution", at, issues, decodeDistribution, { kind: "zipfian", constant: 0.99 })
  const preload = optional(o, "preload", at, issues, boolean, true)
  if (count === undefined || prefix === undefined || distribution === undefined || preload === undefined) return undefined
  return { count, prefix, distribution, preload }
}

const decodeReads = (input: unknown, at: Path, issues: Issues): ReadPolicy | undefined => {
  const o = record(input, at, issues, ["consistency", "minConfidence", "primaryFraction"])
  if (o === undefined) return undefined
  const consistency = optional(o, "consistency", at, issues, oneOf(["shadow", "primary"] as const), "shadow")
  const minConfidence = optional<number | undefined>(o, "minConfidence", at, issues, number({ min: 0, max: 1 }), undefined)
  const primaryFraction = optional(o, "primaryFraction", at, issues, number({ min: 0, max: 1 }), 0)
  if (consistency === undefined || primaryFraction === undefined) return undefined
  if (o["minConfidence"] !== undefined && minConfidence === undefined) return undefined
  if (consistency === "primary" && o["minConfidence"] !== undefined) {
    inconsistent(issues, [...at, "minConfidence"], "only applies to consistency: shadow (primary reads ignore shadows)")
  }
  return { consistency, minConfidence, primaryFraction }
}

const decodeClient = (input: unknown, at: Path, issues: Issues): ClientPolicy | undefined => {
  const o = record(input, at, issues, ["timeoutMs", "retries", "retryDeadlineMs"])
  if (o === undefined) return undefined
  const timeoutMs = optional(o, "timeoutMs", at, issues, number({ above: 0, max: 600_000 }), 5_000)
  const retries = optional(o, "retries", at, issues, number({ integer: true, min: 0, max: 10 }), 2)
  const retryDeadlineMs = optional<number | undefined>(o, "retryDeadlineMs", at, issues, number({ above: 0, max: 3_600_000 }), undefined)
  if (timeoutMs === undefined || retries === undefined) return undefined
  if (o["retryDeadlineMs"] !== undefined && retryDeadlineMs === undefined) return undefined
  if (o["retries"] !== undefined && o["retryDeadlineMs"] !== undefined) {
    inconsistent(issues, [...at, "retryDeadlineMs"], "retries a write until a deadline instead of a number of times: give retries or retryDeadlineMs, not both")
  }
  return { timeoutMs, retries, retryDeadlineMs }
}

const decodePhase = (input: unknown, at: Path, issues: Issues): Phase | undefined => {
  const o = record(input, at, issues, ["atSec", "ratePerSec", "clients", "thinkTimeMs"])
  if (o === undefined) return undefined
  const atSec = required(o, "atSec", at, issues, number({ min: 0, max: MAX_DURATION_SEC }))
  const none = undefined as number | undefined
  const ratePerSec = optional(o, "ratePerSec", at, issues, number({ min: 0, max: MAX_RATE_PER_SEC }), none)
  const clients = optional(o, "clients", at, issues, number({ integer: true, min: 0, max: MAX_CLIENTS }), none)
  const thinkTimeMs = optional(o, "thinkTimeMs", at, issues, number({ min: 0, max: 3_600_000 }), none)
  if (ratePerSec === undefined && clients === undefined && thinkTimeMs === undefined) {
    inconsistent(issues, at, "a phase must change ratePerSec (open loop) or clients/thinkTimeMs (closed loop)")
  }
  return atSec === undefined ? undefined : { atSec, ratePerSec, clients, thinkTimeMs }
}

const decodeFault = (input: unknown, at: Path, issues: Issues): Fault | undefined => {
  const o = record(input, at, issues, ["kind", "atSec", "durationSec", "service", "restartAfterSec"])
  if (o === undefined) return undefined
  const kind = required(o, "kind", at, issues, oneOf(FAULT_KINDS))
  const atSec = required(o, "atSec", at, issues, number({ min: 0, max: MAX_DURATION_SEC }))
  if (kind === undefined || atSec === undefined) return undefined
  const restart = (): number | undefined =>
    optional(o, "restartAfterSec", at, issues, number({ min: 0, max: MAX_DURATION_SEC }), 1)
  const forbid = (key: string): void => {
    if (o[key] !== undefined) inconsistent(issues, [...at, key], `does not apply to kind: ${kind}`)
  }
  if (kind === "pause-nats") {
    forbid("service")
    forbid("restartAfterSec")
    const durationSec = required(o, "durationSec", at, issues, number({ above: 0, max: MAX_DURATION_SEC }))
    return durationSec === undefined ? undefined : { kind, atSec, durationSec }
  }
  forbid("durationSec")
  const restartAfterSec = restart()
  if (restartAfterSec === undefined) return undefined
  if (kind === "kill-nats") {
    forbid("service")
    return { kind, atSec, restartAfterSec }
  }
  const service = required(o, "service", at, issues, oneOf(SERVICE_NAMES))
  return service === undefined ? undefined : { kind, atSec, service, restartAfterSec }
}

const NO_PHASES: ReadonlyArray<Phase> = []
const NO_FAULTS: ReadonlyArray<Fault> = []
const NO_EXPECTATIONS: ReadonlyArray<Expectation> = []

/** Checks that need several fields at once; each still names the field it is about. */
const checkCoherence = (s: Scenario, issues: Issues): void => {
  if (s.warmupSec >= s.durationSec) {
    inconsistent(issues, ["warmupSec"], `must be less than durationSec (${s.durationSec}), got ${s.warmupSec}`)
  }
  s.phases.forEach((phase, i) => {
    const at: Path = ["phases", i]
    if (phase.atSec >= s.durationSec) inconsistent(issues, [...at, "atSec"], `must be before durationSec (${s.durationSec}), got ${phase.atSec}`)
    const previous = s.phases[i - 1]
    if (previous !== undefined && phase.atSec <= previous.atSec) {
      inconsistent(issues, [...at, "atSec"], `phases must be in increasing time order, got ${phase.atSec} after ${previous.atSec}`)
    }
    checkPhaseMode(s.arrival, phase, at, issues)
  })
  s.faults.forEach((fault, i) => {
    if (fault.atSec >= s.durationSec) {
      inconsistent(issues, ["faults", i, "atSec"], `must be before durationSec (${s.durationSec}), got ${fault.atSec}`)
    }
  })
  checkExpectationsReachable(s, issues)
  if (s.operations.patch > 0 && s.valueShape.kind === "opaque") {
    inconsistent(issues, ["operations", "patch"], "JSON Patch needs a JSON value shape, but valueShape is opaque")
  }
}

const checkPhaseMode = (arrival: Arrival, phase: Phase, at: Path, issues: Issues): void => {
  if (arrival.mode === "open") {
    if (phase.clients !== undefined) inconsistent(issues, [...at, "clients"], "only applies to a closed-loop arrival (arrival.mode: closed)")
    if (phase.thinkTimeMs !== undefined) inconsistent(issues, [...at, "thinkTimeMs"], "only applies to a closed-loop arrival (arrival.mode: closed)")
    if (phase.ratePerSec === undefined && phase.clients === undefined && phase.thinkTimeMs === undefined) return
    if (phase.ratePerSec === undefined) inconsistent(issues, [...at, "ratePerSec"], "is required for an open-loop arrival")
    return
  }
  if (phase.ratePerSec !== undefined) inconsistent(issues, [...at, "ratePerSec"], "only applies to an open-loop arrival (arrival.mode: open)")
}

const checkExpectationsReachable = (s: Scenario, issues: Issues): void => {
  const ops = s.operations
  const writes = ops.write + ops.patch + ops.conditionalWrite + ops.delete + ops.insert + ops.readModifyWrite
  const reads = ops.read + ops.readModifyWrite
  s.expect.forEach((expectation, i) => {
    const at: Path = ["expect", i]
    if (expectation === "conflict" && ops.conditionalWrite + ops.readModifyWrite + ops.insert === 0) {
      inconsistent(issues, at, `"conflict" cannot happen without operations.conditionalWrite, readModifyWrite or insert`)
    }
    if (expectation === "dedup-retry" && (writes === 0 || (s.client.retries === 0 && s.client.retryDeadlineMs === undefined))) {
      inconsistent(issues, at, `"dedup-retry" needs write operations and client.retries > 0 (or client.retryDeadlineMs)`)
    }
    if (["shadow-hit", "shadow-miss", "stale-read"].includes(expectation) && (reads === 0 || s.reads.consistency !== "shadow")) {
      inconsistent(issues, at, `"${expectation}" needs reads with reads.consistency: shadow`)
    }
    if (expectation === "fault-recovered" && s.faults.length === 0) {
      inconsistent(issues, at, `"fault-recovered" needs at least one fault`)
    }
  })
}

const decodeScenario = (input: unknown, fileName: string, issues: Issues): Scenario | undefined => {
  const o = record(input, [], issues, TOP_FIELDS)
  if (o === undefined) return undefined
  const defaultName = basename(fileName, extname(fileName))
  const s = {
    name: optional(o, "name", [], issues, string((n) => (n.length === 0 ? "must not be empty" : undefined)), defaultName),
    description: optional(o, "description", [], issues, string(), ""),
    seed: required(o, "seed", [], issues, number({ integer: true, min: 0, max: Number.MAX_SAFE_INTEGER })),
    durationSec: required(o, "durationSec", [], issues, number({ above: 0, max: MAX_DURATION_SEC })),
    warmupSec: optional(o, "warmupSec", [], issues, number({ min: 0, max: MAX_DURATION_SEC }), 0),
    arrival: required(o, "arrival", [], issues, decodeArrival),
    maxInFlight: required(o, "maxInFlight", [], issues, number({ integer: true, min: 1, max: MAX_IN_FLIGHT })),
    keys: required(o, "keys", [], issues, decodeKeys),
    valueShape: optional(o, "valueShape", [], issues, decodeValueShape, { kind: "ycsb", fields: 10, fieldBytes: 100 }),
    operations: required(o, "operations", [], issues, decodeOperations),
    reads: optional(o, "reads", [], issues, decodeReads, { consistency: "shadow", minConfidence: undefined, primaryFraction: 0 }),
    client: optional(o, "client", [], issues, decodeClient, { timeoutMs: 5_000, retries: 2, retryDeadlineMs: undefined }),
    phases: optional(o, "phases", [], issues, list(decodePhase, 1_000), NO_PHASES),
    faults: optional(o, "faults", [], issues, list(decodeFault, 1_000), NO_FAULTS),
    expect: optional(o, "expect", [], issues, list(oneOf(EXPECTATIONS), 100), NO_EXPECTATIONS),
  }
  return isComplete(s) ? s : undefined
}

type Undecided<T> = { readonly [K in keyof T]: T[K] | undefined }
const isComplete = (s: Undecided<Scenario>): s is Scenario => Object.values(s).every((v) => v !== undefined)

const lineAndColumn = (text: string, offset: number): { readonly line: number; readonly column: number } => {
  const before = text.slice(0, offset).split("\n")
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 }
}

const syntaxErrors = (text: string, file: string): { readonly docs: unknown[]; readonly errors: ScenarioError[] } => {
  const documents = parseAllDocuments(text, { prettyErrors: false })
  const list = Array.isArray(documents) ? documents : [documents]
  const errors: ScenarioError[] = list.flatMap((doc) =>
    doc.errors.map((err): ScenarioError => ({
      _tag: "ScenarioSyntaxError",
      file,
      ...lineAndColumn(text, err.pos[0]),
      problem: err.message.split("\n")[0] ?? err.message,
    })),
  )
  return { docs: list.map((doc) => doc.toJS()), errors }
}

/** Decode scenario text (YAML, which includes JSON). `fileName` names the file in messages and gives the default name. */
export const parseScenario = (text: string, fileName: string): E.Either<ScenarioError[], Scenario> => {
  const { docs, errors } = syntaxErrors(text, fileName)
  if (errors.length > 0) return E.left(errors)
  if (docs.length !== 1) {
    return E.left([{ _tag: "ScenarioSyntaxError", file: fileName, line: 1, column: 1, problem: `expected exactly one document, found ${docs.length}` }])
  }
  const issues: Issues = { list: [] }
  const scenario = decodeScenario(docs[0], fileName, issues)
  if (scenario !== undefined) checkCoherence(scenario, issues)
  const invalid = issues.list.map((issue): ScenarioError => ({ _tag: "ScenarioInvalid", file: fileName, issue }))
  return scenario === undefined || invalid.length > 0 ? E.left(invalid) : E.right(scenario)
}

export const loadScenario = async (path: string): Promise<E.Either<ScenarioError[], Scenario>> => {
  try {
    const text = await readFile(path, "utf8")
    return parseScenario(text, path)
  } catch (cause) {
    const problem = cause instanceof Error ? cause.message : String(cause)
    return E.left([{ _tag: "ScenarioReadError", file: path, problem }])
  }
}

/** The scenario with a shorter run, as `umbra simulate --duration` asks; phases and faults past the end are dropped. */
export const withDuration = (scenario: Scenario, durationSec: number): Scenario => ({
  ...scenario,
  durationSec,
  warmupSec: Math.min(scenario.warmupSec, durationSec / 2),
  phases: scenario.phases.filter((p) => p.atSec < durationSec),
  faults: scenario.faults.filter((f) => f.atSec < durationSec),
})
