import * as E from "fp-ts/lib/Either.js"
import { arbitrate, type ArbitrationConfig, type Candidate } from "./arbitration.ts"
import { calibrate, createCalibrator, recordOutcome, type Calibrator } from "./calibration.ts"
import { COMPONENTS, COMPONENT_COUNT, createClass, S, type ClassModel, type PatternStat, patternFor } from "./class-model.ts"
import { DELTA_KINDS, type DeltaKind } from "./delta.ts"
import { mix } from "./hash.ts"
import * as Hot from "./hotness.ts"
import { flatten, scan, withFields } from "./json-fields.ts"
import { initBinary, initJson, learnBinary, learnJson, newSlab, recordTiming } from "./learning.ts"
import type { ProposeContext, Proposal } from "./proposal.ts"
import { proposeNoChange } from "./no-change.ts"
import { proposeStride } from "./stride.ts"
import { proposeFieldStateMachine } from "./field-state-machine.ts"
import { proposeAppendTemplate } from "./append-template.ts"
import { proposeSignatureContext } from "./signature-context.ts"
import { defaultValidFromConfig, validFrom as computeValidFrom, type ValidFrom, type ValidFromConfig } from "./valid-from.ts"
import { restoreState, snapshotState, type PredictorSnapshot } from "./snapshot.ts"

export interface PredictorConfig extends ArbitrationConfig {
  /** Seeds the forward-probabilistic counters' coin flips (derived by hashing, so replayable). */
  readonly seed: number
  /** Increment probability of the confidence counter at each level; its length is fpcMax. */
  readonly fpcProbabilities: readonly number[]
  /** Pseudo-count pulling a pattern's success rate toward its class's rate. */
  readonly shrinkage: number
  readonly quietWrites: number
  readonly classMissLimit: number
  readonly classMissDecay: number
  readonly classThrottleWrites: number
  readonly maxTrackedBlobs: number
  readonly minHotness: number
  readonly maxClasses: number
  readonly maxFields: number
  readonly validFrom: ValidFromConfig
  readonly hotness: Hot.HotnessConfig
}

const FPC = [1, 1 / 2, 1 / 4, 1 / 8, 1 / 16] as const

export const defaultPredictorConfig: PredictorConfig = {
  seed: 1,
  serveThreshold: 0.99,
  emitFloor: 0.05,
  confidentLevel: 0.9,
  fpcMax: FPC.length,
  fpcProbabilities: FPC,
  shrinkage: 4,
  quietWrites: 8,
  classMissLimit: 3,
  classMissDecay: 0.995,
  classThrottleWrites: 2_000,
  maxTrackedBlobs: 100_000,
  minHotness: 1,
  maxClasses: 4_096,
  maxFields: 64,
  validFrom: defaultValidFromConfig,
  hotness: Hot.defaultHotnessConfig,
}

export interface ObservedVersion {
  readonly id: string
  readonly version: number
  readonly timeMs: number
  readonly content: Uint8Array
  readonly json?: unknown
}

export interface Prediction {
  /** Handle for outcome(): `${id}@${basedOnVersion}`. */
  readonly key: string
  readonly id: string
  readonly basedOnVersion: number
  readonly predictedVersion: number
  readonly content: Uint8Array
  readonly json?: unknown
  readonly confidence: number
  readonly validFrom: ValidFrom
  readonly model: string
  readonly served: boolean
  readonly holdReason?: string
}

export interface PredictorStats {
  readonly trackedBlobs: number
  readonly classes: number
  readonly approxBytes: number
  readonly approxBytesPerTrackedBlob: number
  readonly observed: number
  readonly emitted: number
  readonly served: number
  readonly servedScored: number
  readonly servedHits: number
  readonly deltas: Readonly<Record<DeltaKind, number>>
}

export interface Predictor {
  observe(event: ObservedVersion): Prediction | undefined
  recordAccess(id: string, kind: Hot.AccessKind, count: number): void
  outcome(predictionKey: string, correct: boolean): boolean
  hottest(k: number): ReadonlyArray<{ readonly key: string; readonly count: number }>
  snapshot(): PredictorSnapshot
  stats(): PredictorStats
}

/** Mutable model state; snapshot.ts turns it into JSON and back. */
export interface PredictorState {
  readonly config: PredictorConfig
  readonly classes: ClassModel[]
  readonly classByKey: Map<string, number>
  readonly blobs: Map<string, number[]>
  readonly calibrator: Calibrator
  readonly hotness: Hot.Hotness
  readonly deltaCounts: number[]
  /** Component success across all classes: the prior of a class that has no record yet. */
  readonly globalHits: number[]
  readonly globalTries: number[]
  readonly counters: { observed: number; emitted: number; served: number; servedScored: number; servedHits: number }
}

export type ParsedContent = { readonly kind: "json"; readonly value: unknown } | { readonly kind: "binary" }

const decoder = new TextDecoder("utf-8", { fatal: true })
const encoder = new TextEncoder()

export const parseContent = (content: Uint8Array): ParsedContent =>
  content.length === 0
    ? { kind: "binary" }
    : E.match(
        (): ParsedContent => ({ kind: "binary" }),
        (value: unknown): ParsedContent => ({ kind: "json", value }),
      )(E.tryCatch(() => JSON.parse(decoder.decode(content)) as unknown, () => "not-json" as const))

/** Class = key prefix (before the last `/` or `:`) + schema fingerprint. */
export const prefixOf = (id: string): string => id.slice(0, Math.max(id.lastIndexOf("/"), id.lastIndexOf(":"), 0))

const initialState = (config: PredictorConfig): PredictorState => ({
  config,
  classes: [],
  classByKey: new Map(),
  blobs: new Map(),
  calibrator: createCalibrator(),
  hotness: Hot.createHotness(config.hotness),
  deltaCounts: new Array<number>(DELTA_KINDS.length).fill(0),
  globalHits: new Array<number>(COMPONENT_COUNT).fill(0),
  globalTries: new Array<number>(COMPONENT_COUNT).fill(0),
  counters: { observed: 0, emitted: 0, served: 0, servedScored: 0, servedHits: 0 },
})

interface Shape {
  readonly binary: boolean
  readonly fingerprint: number
  readonly values: readonly unknown[]
  readonly json: unknown
}

const shapeOf = (event: ObservedVersion, maxFields: number): Shape | undefined => {
  const parsed: ParsedContent = event.json !== undefined ? { kind: "json", value: event.json } : parseContent(event.content)
  if (parsed.kind === "binary") return { binary: true, fingerprint: 0xb1, values: [], json: undefined }
  const s = scan(parsed.value, maxFields)
  return s === undefined ? undefined : { binary: false, fingerprint: s.fingerprint, values: s.values, json: parsed.value }
}

const resolveClass = (st: PredictorState, id: string, shape: Shape): ClassModel | undefined => {
  const key = `${prefixOf(id)}|${shape.fingerprint.toString(16)}`
  const known = st.classByKey.get(key)
  if (known !== undefined) return st.classes[known]
  if (st.classes.length >= st.config.maxClasses) return undefined
  const paths = shape.binary ? [[]] : (flatten(shape.json, st.config.maxFields)?.paths ?? [])
  const cls = createClass(st.classes.length, key, shape.binary, shape.fingerprint, paths, shape.values)
  st.classes.push(cls)
  st.classByKey.set(key, cls.index)
  return cls
}

/** TinyLFU-style admission: a newcomer displaces the least recently seen blob only if hotter. */
const admit = (st: PredictorState, id: string, heat: number): boolean => {
  if (heat < st.config.minHotness) return false
  if (st.blobs.size < st.config.maxTrackedBlobs) return true
  const victim = st.blobs.keys().next()
  if (victim.done === true || Hot.heat(st.hotness, victim.value) >= heat) return false
  st.blobs.delete(victim.value)
  return true
}

const coin = (st: PredictorState, key: number, n: number): number => mix(mix(st.config.seed >>> 0, key), n) / 4294967296

const updatePattern = (st: PredictorState, cls: ClassModel, component: number, key: number, ok: boolean): void => {
  cls.compTries[component] = (cls.compTries[component] ?? 0) + 1
  st.globalTries[component] = (st.globalTries[component] ?? 0) + 1
  if (ok) {
    cls.compHits[component] = (cls.compHits[component] ?? 0) + 1
    st.globalHits[component] = (st.globalHits[component] ?? 0) + 1
  }
  const p = patternFor(cls, key)
  if (p === undefined) return
  p.n++
  if (!ok) {
    p.fpc = 0
    return
  }
  p.hits++
  const prob = st.config.fpcProbabilities[p.fpc]
  if (prob !== undefined && coin(st, key, p.n) < prob) p.fpc++
}

/** Verdict on the emitted prediction: calibration data, and the quiet/throttle reflexes. */
const scoreEmitted = (st: PredictorState, cls: ClassModel, slab: number[], ok: boolean, version: number): void => {
  recordOutcome(st.calibrator, slab[S.P_RAW] as number, ok)
  slab[S.P_STATE] = 2
  if (slab[S.P_SERVED] !== 1) return
  st.counters.servedScored++
  cls.servedMissScore *= st.config.classMissDecay
  if (ok) {
    st.counters.servedHits++
    return
  }
  slab[S.QUIET_UNTIL] = version + st.config.quietWrites
  cls.servedMissScore += 1
  if (cls.servedMissScore >= st.config.classMissLimit) {
    cls.throttledUntil = cls.observed + st.config.classThrottleWrites
    cls.servedMissScore = 0
  }
}

const scorePending = (st: PredictorState, cls: ClassModel, slab: number[], actual: number, timeMs: number, version: number): void => {
  if (slab[S.P_STATE] === 0) return
  const valid = slab[S.P_VALID] as number
  const timingOk = valid < 0 || timeMs <= valid
  for (let c = 0; c < COMPONENT_COUNT; c++) {
    const h = slab[S.P_HASH + c] as number
    if (!Number.isNaN(h)) updatePattern(st, cls, c, slab[S.P_KEY + c] as number, timingOk && h === actual)
  }
  const comp = slab[S.P_COMP] as number
  if (comp >= 0 && slab[S.P_STATE] === 1) {
    scoreEmitted(st, cls, slab, timingOk && (slab[S.P_HASH + comp] as number) === actual, version)
  }
  slab[S.P_STATE] = 0
}

const PROPOSERS = [proposeNoChange, proposeStride, proposeFieldStateMachine, proposeAppendTemplate, proposeSignatureContext] as const

const candidateOf = (st: PredictorState, cls: ClassModel, p: Proposal): Candidate => {
  const stat: PatternStat | undefined = cls.patterns.get(p.key)
  const c = p.component
  const m = st.config.shrinkage
  // A component with no record anywhere is assumed almost never right (prior 1/50, not the
  // Laplace 1/2): on random data (vanilla YCSB) nothing is emitted during warm-up at a
  // confidence the outcomes would not bear out.
  const global = ((st.globalHits[c] ?? 0) + 1) / ((st.globalTries[c] ?? 0) + 50)
  const prior = ((cls.compHits[c] ?? 0) + m * global) / ((cls.compTries[c] ?? 0) + m)
  const raw = ((stat?.hits ?? 0) + m * prior) / ((stat?.n ?? 0) + m)
  return { proposal: p, raw, confidence: calibrate(st.calibrator, raw), fpc: stat?.fpc ?? 0 }
}

const materialize = (cls: ClassModel, shape: Shape, content: Uint8Array, p: Proposal): { content: Uint8Array; json?: unknown } => {
  if (cls.binary) {
    const extra = p.appendBytes ?? new Uint8Array(0)
    const out = new Uint8Array(content.length + extra.length)
    out.set(content)
    out.set(extra, content.length)
    return { content: out }
  }
  const json = withFields(shape.json, cls.fields.map((f) => f.path), p.overrides)
  return { content: encoder.encode(JSON.stringify(json)), json }
}

const predictNext = (st: PredictorState, cls: ClassModel, slab: number[], shape: Shape, event: ObservedVersion): Prediction | undefined => {
  const vf = computeValidFrom(
    { n: slab[S.GAP_N] as number, meanMs: slab[S.GAP_MEAN] as number, m2: slab[S.GAP_M2] as number },
    event.timeMs,
    st.config.validFrom,
  )
  const ctx: ProposeContext = { cls, slab, values: shape.values, content: event.content, timing: vf.kind === "at" ? 1 : 0 }
  const candidates: Candidate[] = []
  for (let c = 0; c < COMPONENT_COUNT; c++) {
    const p = PROPOSERS[c]?.(ctx)
    slab[S.P_HASH + c] = p?.hash ?? Number.NaN
    slab[S.P_KEY + c] = p?.key ?? Number.NaN
    // A component with no record in this class is still scored (to learn) but never emitted:
    // its confidence would be a guess, and guesses ruin calibration.
    if (p !== undefined && (cls.compTries[c] ?? 0) > 0) candidates.push(candidateOf(st, cls, p))
  }
  slab[S.P_STATE] = 1
  slab[S.P_COMP] = -1
  slab[S.P_VALID] = vf.kind === "at" ? vf.epochMs : -1
  const decision = arbitrate(
    candidates,
    { quiet: event.version < (slab[S.QUIET_UNTIL] as number), throttled: cls.observed < cls.throttledUntil },
    st.config,
  )
  if (decision.kind === "abstain") return undefined
  const w = decision.winner
  slab[S.P_COMP] = w.proposal.component
  slab[S.P_RAW] = w.raw
  slab[S.P_SERVED] = decision.served ? 1 : 0
  st.counters.emitted++
  if (decision.served) st.counters.served++
  const body = materialize(cls, shape, event.content, w.proposal)
  return {
    key: `${event.id}@${event.version}`,
    id: event.id,
    basedOnVersion: event.version,
    predictedVersion: event.version + 1,
    ...body,
    confidence: w.confidence,
    validFrom: vf,
    model: COMPONENTS[w.proposal.component] ?? "unknown",
    served: decision.served,
    ...(decision.kind === "emit" && decision.holdReason !== undefined ? { holdReason: decision.holdReason } : {}),
  }
}

const learn = (st: PredictorState, cls: ClassModel, slab: number[], shape: Shape, event: ObservedVersion): void => {
  const fresh = (slab[S.VER] as number) === 0
  const ctx = { timeMs: event.timeMs, version: event.version }
  const actual = cls.binary
    ? fresh
      ? initBinary(cls, slab, event.content)
      : learnBinary(cls, slab, event.content, st.deltaCounts)
    : fresh
      ? initJson(cls, slab, shape.values)
      : learnJson(cls, slab, shape.values, ctx, st.deltaCounts)
  if (!fresh) scorePending(st, cls, slab, actual, event.timeMs, event.version)
  recordTiming(slab, event.timeMs)
  slab[S.VER] = event.version
}

/** A blob whose schema changed starts over in its new class, keeping its timing history. */
const slabFor = (st: PredictorState, id: string, cls: ClassModel): number[] => {
  const old = st.blobs.get(id)
  if (old !== undefined) st.blobs.delete(id)
  if (old !== undefined && old[S.CLS] === cls.index) return old
  const slab = newSlab(cls)
  if (old !== undefined) {
    for (const s of [S.TIME, S.GAP_N, S.GAP_MEAN, S.GAP_M2, S.QUIET_UNTIL]) slab[s] = old[s] as number
  }
  return slab
}

export const observeWith = (st: PredictorState, event: ObservedVersion): Prediction | undefined => {
  st.counters.observed++
  const heat = Hot.record(st.hotness, event.id, "write", 1)
  if (!st.blobs.has(event.id) && !admit(st, event.id, heat)) return undefined
  const shape = shapeOf(event, st.config.maxFields)
  const cls = shape === undefined ? undefined : resolveClass(st, event.id, shape)
  if (shape === undefined || cls === undefined) {
    st.blobs.delete(event.id)
    return undefined
  }
  cls.observed++
  const slab = slabFor(st, event.id, cls)
  st.blobs.set(event.id, slab)
  learn(st, cls, slab, shape, event)
  return predictNext(st, cls, slab, shape, event)
}

const outcomeWith = (st: PredictorState, predictionKey: string, correct: boolean): boolean => {
  const at = predictionKey.lastIndexOf("@")
  const id = predictionKey.slice(0, at)
  const version = Number(predictionKey.slice(at + 1))
  const slab = st.blobs.get(id)
  if (slab === undefined || slab[S.VER] !== version || slab[S.P_STATE] !== 1 || (slab[S.P_COMP] as number) < 0) return false
  const cls = st.classes[slab[S.CLS] as number]
  if (cls === undefined) return false
  scoreEmitted(st, cls, slab, correct, version)
  return true
}

/** Rough heap estimate: V8 array headers plus 8 bytes a slot, and the class tables. */
export const approxBytes = (st: PredictorState): number => {
  let bytes = 0
  for (const [id, slab] of st.blobs) bytes += 100 + id.length + slab.length * 8
  for (const cls of st.classes) {
    bytes += 500 + cls.patterns.size * 80 + cls.signatures.size * 120
    for (const f of cls.fields) bytes += 200 + (f.dict?.size ?? 0) * 60 + (f.fsm1.size + f.fsm2.size) * 120
  }
  return bytes + st.hotness.sketch.counters.length * 4
}

const statsOf = (st: PredictorState): PredictorStats => {
  const bytes = approxBytes(st)
  return {
    trackedBlobs: st.blobs.size,
    classes: st.classes.length,
    approxBytes: bytes,
    approxBytesPerTrackedBlob: st.blobs.size === 0 ? 0 : bytes / st.blobs.size,
    ...st.counters,
    deltas: Object.fromEntries(DELTA_KINDS.map((k, i) => [k, st.deltaCounts[i] ?? 0])) as Record<DeltaKind, number>,
  }
}

const wrap = (st: PredictorState): Predictor => ({
  observe: (event) => observeWith(st, event),
  recordAccess: (id, kind, count) => void Hot.record(st.hotness, id, kind, count),
  outcome: (key, correct) => outcomeWith(st, key, correct),
  hottest: (k) => Hot.hottest(st.hotness, k),
  snapshot: () => snapshotState(st),
  stats: () => statsOf(st),
})

export const createPredictor = (config: Partial<PredictorConfig> = {}): Predictor =>
  wrap(initialState({ ...defaultPredictorConfig, ...config }))

export const restorePredictor = (snapshot: PredictorSnapshot): Predictor => wrap(restoreState(snapshot))
