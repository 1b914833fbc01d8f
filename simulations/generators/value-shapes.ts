import { intBetween, makeRng, pick, randomString, weighted, type Rng } from "./prng.ts"
import { makeScrambledZipfian, YCSB_ZIPFIAN_CONSTANT } from "./key-chooser.ts"

// Seeded blob histories with ground truth. Every version says whether an oracle that knows
// the generating process (but not per-blob hidden draws it has not seen yet) could have
// predicted it exactly, and what that oracle would have predicted.

export interface Truth {
  readonly predictable: boolean
  /** The oracle's best guess (the actual value when predictable, the mode when stochastic). */
  readonly oracle?: unknown
}

export interface HistoryRecord {
  readonly id: string
  readonly time: number
  readonly json: unknown
  readonly truth?: Truth
  /** Reads of this blob since its previous write (YCSB mixes), for hotness. */
  readonly reads?: number
}

export const SHAPE_NAMES = [
  "counter",
  "byte-counter",
  "append-log",
  "noisy-log",
  "status-machine",
  "order2-machine",
  "stochastic-machine",
  "periodic",
  "derived-timestamp",
  "random-fields",
  "random-rows",
  "inventory",
  "unchanged",
] as const
export type ShapeName = (typeof SHAPE_NAMES)[number]

export type Timing = "exact" | "regular" | "irregular"

/** One blob's writer: called once per version, in order; k = 0 is the creation. */
export type BlobProcess = (k: number, timeMs: number) => { readonly json: unknown; readonly truth: Truth }

const sure = (json: unknown, predictable: boolean): { json: unknown; truth: Truth } =>
  predictable ? { json, truth: { predictable: true, oracle: json } } : { json, truth: { predictable: false } }

const counter = (rng: Rng): BlobProcess => {
  let views = rng.nextInt(1000)
  return (k) => sure({ views: k === 0 ? views : ++views }, k >= 1)
}

/** Per-blob stride, so the oracle needs one observed step; timestamps on an exact schedule. */
const byteCounter = (rng: Rng): BlobProcess => {
  const stride = pick(rng, [512, 1024, 4096])
  let total = 0
  return (k, t) => sure({ total: (total += k === 0 ? 0 : stride), updatedAt: t }, k >= 2)
}

const appendLog = (rng: Rng, noisy: boolean): BlobProcess => {
  const entries: Array<{ seq: number; level: string; msg: string }> = []
  return (k) => {
    const msg = noisy ? pick(rng, ["started", "retry", "slow", "ok", "timeout", "cache-miss"]) + "-" + randomString(rng, 4) : "heartbeat"
    entries.push({ seq: k + 1, level: "info", msg })
    return sure({ entries: [...entries], count: entries.length }, !noisy && k >= 2)
  }
}

const JOB = ["queued", "running", "succeeded", "archived"] as const
const statusMachine = (rng: Rng): BlobProcess => {
  let i = rng.nextInt(JOB.length)
  let runs = 0
  return (k) => {
    if (k > 0) {
      i = (i + 1) % JOB.length
      if (JOB[i] === "running") runs++
    }
    return sure({ state: JOB[i], runs }, k >= 1)
  }
}

/** idle → busy → idle → maintenance → idle: what follows "idle" depends on what preceded it. */
const MODES = ["idle", "busy", "idle", "maintenance"] as const
const order2Machine = (rng: Rng): BlobProcess => {
  let i = rng.nextInt(MODES.length)
  let prev: string | undefined
  return (k) => {
    const before = MODES[i]
    if (k > 0) i = (i + 1) % MODES.length
    const predictable = k >= 1 && (before !== "idle" || prev !== undefined)
    if (k > 0) prev = before
    return sure({ mode: MODES[i] }, predictable)
  }
}

const ORDER = ["new", "paid", "packed", "shipped", "delivered"] as const
/** Most likely transition has probability 0.8; the other two successors share the rest. */
export const stochasticNext = (rng: Rng, state: number): number => {
  const u = rng.nextFloat()
  const n = ORDER.length
  return u < 0.8 ? (state + 1) % n : u < 0.9 ? (state + 2) % n : (state + 3) % n
}
const stochasticMachine = (rng: Rng): BlobProcess => {
  let s = rng.nextInt(ORDER.length)
  return (k) => {
    const mode = (s + 1) % ORDER.length
    if (k > 0) s = stochasticNext(rng, s)
    return { json: { state: ORDER[s] }, truth: { predictable: false, ...(k > 0 ? { oracle: { state: ORDER[mode] } } : {}) } }
  }
}

const SHIFTS = ["day", "swing", "night", "swing"] as const
const periodic = (rng: Rng): BlobProcess => {
  const phase = rng.nextInt(28)
  return (k) => {
    const prevShift = SHIFTS[(phase + k - 1) % 4]
    const predictable = k >= 1 && (prevShift !== "swing" || k >= 2)
    return sure({ dow: (phase + k) % 7, shift: SHIFTS[(phase + k) % 4] }, predictable)
  }
}

const derivedTimestamp = (rng: Rng): BlobProcess => {
  const owner = `team-${rng.nextInt(20)}`
  return (k, t) => sure({ version: k + 1, modifiedAt: t, owner }, k >= 2)
}

const randomFields = (rng: Rng): BlobProcess => (k) =>
  sure({ token: randomString(rng, 16), seq: k + 1 }, false)

const randomRows = (rng: Rng): BlobProcess => {
  let balance = rng.nextInt(10_000)
  return (k) => {
    if (k > 0) balance += (rng.nextInt(2) === 0 ? -1 : 1) * intBetween(rng, 1, 50)
    return sure({ balance, txCount: k }, false)
  }
}

const inventory = (rng: Rng): BlobProcess => {
  let qty = intBetween(rng, 20, 100)
  return (k) => {
    if (k > 0) qty = qty <= 3 ? 100 : qty - intBetween(rng, 1, 3)
    return sure({ qty, status: qty > 10 ? "in-stock" : "low" }, false)
  }
}

const unchanged = (rng: Rng): BlobProcess => {
  const json = { flags: { beta: rng.nextInt(2) === 0, dark: true }, ttlSec: pick(rng, [60, 300, 3600]) }
  return (k) => sure(json, k >= 1)
}

export const makeProcess = (shape: ShapeName, rng: Rng): BlobProcess => {
  switch (shape) {
    case "counter":
      return counter(rng)
    case "byte-counter":
      return byteCounter(rng)
    case "append-log":
      return appendLog(rng, false)
    case "noisy-log":
      return appendLog(rng, true)
    case "status-machine":
      return statusMachine(rng)
    case "order2-machine":
      return order2Machine(rng)
    case "stochastic-machine":
      return stochasticMachine(rng)
    case "periodic":
      return periodic(rng)
    case "derived-timestamp":
      return derivedTimestamp(rng)
    case "random-fields":
      return randomFields(rng)
    case "random-rows":
      return randomRows(rng)
    case "inventory":
      return inventory(rng)
    case "unchanged":
      return unchanged(rng)
  }
}

/** Shapes whose content embeds the write time can only be predicted on an exact schedule. */
const NEEDS_EXACT: ReadonlySet<ShapeName> = new Set(["byte-counter", "derived-timestamp"])

export const DEFAULT_MIX: Readonly<Record<ShapeName, number>> = {
  counter: 2,
  "byte-counter": 1,
  "append-log": 1,
  "noisy-log": 0.5,
  "status-machine": 1,
  "order2-machine": 1,
  "stochastic-machine": 1,
  periodic: 1,
  "derived-timestamp": 1,
  "random-fields": 0.5,
  "random-rows": 0.5,
  inventory: 0.5,
  unchanged: 1,
}

export const writeTimes = (rng: Rng, timing: Timing, count: number, startMs: number, periodMs: number): number[] => {
  const times: number[] = []
  let t = startMs
  for (let k = 0; k < count; k++) {
    times.push(Math.round(t))
    const jitter = timing === "regular" ? 1 + (rng.nextFloat() * 2 - 1) * 0.01 : 1
    t += timing === "irregular" ? Math.max(1, rng.exponential(1 / periodMs)) : periodMs * jitter
  }
  return times
}

export interface StructuredOptions {
  readonly seed: number
  readonly versions: number
  readonly versionsPerBlob?: number
  readonly mix?: Readonly<Partial<Record<ShapeName, number>>>
  readonly startMs?: number
}

/** Mixed workload of blobs of all shapes, merged in time order. */
export const structuredHistory = (o: StructuredOptions): HistoryRecord[] => {
  const rng = makeRng(o.seed)
  const perBlob = o.versionsPerBlob ?? 40
  const blobs = Math.max(1, Math.ceil(o.versions / perBlob))
  const mix = { ...DEFAULT_MIX, ...o.mix }
  const names = SHAPE_NAMES.filter((n) => (mix[n] ?? 0) > 0)
  const weights = names.map((n) => mix[n] ?? 0)
  const records: HistoryRecord[] = []
  for (let b = 0; b < blobs; b++) {
    const shape = names[weighted(rng, weights)] as ShapeName
    const blobRng = rng.fork()
    const timing: Timing = NEEDS_EXACT.has(shape) ? "exact" : pick(blobRng, ["exact", "regular", "regular", "irregular", "irregular"] as const)
    const periodMs = intBetween(blobRng, 5, 60) * 1000
    const start = (o.startMs ?? 1_700_000_000_000) + blobRng.nextInt(periodMs * 4)
    const process = makeProcess(shape, blobRng)
    const times = writeTimes(blobRng, timing, perBlob, start, periodMs)
    times.forEach((time, k) => {
      const v = process(k, time)
      records.push({ id: `${shape}/${timing}-${b}`, time, json: v.json, truth: v.truth })
    })
  }
  return records.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

export type YcsbWorkload = "a" | "b" | "f"
const READ_FRACTION: Readonly<Record<YcsbWorkload, number>> = { a: 0.5, b: 0.95, f: 0.5 }

export interface YcsbOptions {
  readonly seed: number
  readonly workload: YcsbWorkload
  /** Number of versions (inserts + updates) to produce. */
  readonly versions: number
  readonly recordCount?: number
  readonly fieldCount?: number
  readonly fieldLength?: number
  readonly opsPerSec?: number
  readonly startMs?: number
}

const ycsbRecord = (rng: Rng, fields: number, length: number): Record<string, string> => {
  const r: Record<string, string> = {}
  for (let f = 0; f < fields; f++) r[`field${f}`] = randomString(rng, length)
  return r
}

/**
 * Vanilla YCSB core workloads: load phase inserts every record, then Zipfian-chosen
 * operations; an update (or F's read-modify-write) rewrites one random field.
 */
export const ycsbHistory = (o: YcsbOptions): HistoryRecord[] => {
  const rng = makeRng(o.seed)
  const n = Math.min(o.recordCount ?? 1000, o.versions)
  const fields = o.fieldCount ?? 10
  const length = o.fieldLength ?? 100
  const gapMs = 1000 / (o.opsPerSec ?? 1000)
  const chooser = makeScrambledZipfian(rng, 0, n - 1, YCSB_ZIPFIAN_CONSTANT)
  const state: Array<Record<string, string>> = []
  const reads = new Array<number>(n).fill(0)
  const records: HistoryRecord[] = []
  let t = o.startMs ?? 1_700_000_000_000
  const emit = (i: number): void => {
    records.push({ id: `user${i}`, time: Math.round(t), json: { ...state[i] }, truth: { predictable: false }, reads: reads[i] ?? 0 })
    reads[i] = 0
  }
  for (let i = 0; i < n; i++, t += gapMs) {
    state.push(ycsbRecord(rng, fields, length))
    emit(i)
  }
  while (records.length < o.versions) {
    t += gapMs
    const i = chooser()
    const isRead = rng.nextFloat() < READ_FRACTION[o.workload]
    // F's non-read half is read-modify-write: a read, then an update.
    if (isRead || o.workload === "f") reads[i] = (reads[i] ?? 0) + 1
    if (isRead) continue
    const rec = state[i]
    if (rec === undefined) continue
    rec[`field${rng.nextInt(fields)}`] = randomString(rng, length)
    emit(i)
  }
  return records
}

export type ScenarioName = "structured" | "ycsb-a" | "ycsb-b" | "ycsb-f"
export const SCENARIO_NAMES: readonly ScenarioName[] = ["structured", "ycsb-a", "ycsb-b", "ycsb-f"]

export const scenarioHistory = (scenario: ScenarioName, seed: number, versions: number): HistoryRecord[] =>
  scenario === "structured"
    ? structuredHistory({ seed, versions })
    : ycsbHistory({ seed, versions, workload: scenario.slice(5) as YcsbWorkload })
