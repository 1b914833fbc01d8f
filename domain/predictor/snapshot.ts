import { calibratorFromJson, calibratorToJson, type CalibratorJson } from "./calibration.ts"
import type { ClassModel, FieldModel, NextCounts } from "./class-model.ts"
import { hotnessFromJson, hotnessToJson, type HotnessJson } from "./hotness.ts"
import type { PredictorConfig, PredictorState } from "./predictor.ts"

// JSON-serialisable checkpoint of the whole model, so a restarted predictor is not cold.
// NaN (an unknown number) travels as null.

type Table = Array<[number, Array<[number, number]>]>

interface FieldJson {
  readonly path: readonly string[]
  readonly offset: number
  readonly numeric: boolean
  readonly array: boolean
  readonly dict: Array<[number, unknown]> | null
  readonly fsm1: Table
  readonly fsm2: Table
  readonly classStep: number | null
  readonly counts: readonly [number, number, number, number]
}

interface ClassJson {
  readonly key: string
  readonly binary: boolean
  readonly fingerprint: number
  readonly slabSize: number
  readonly fields: FieldJson[]
  readonly signatures: Table
  readonly patterns: Array<[number, number, number, number]>
  readonly compHits: number[]
  readonly compTries: number[]
  readonly observed: number
  readonly servedMissScore: number
  readonly throttledUntil: number
}

export interface PredictorSnapshot {
  readonly format: 1
  readonly config: PredictorConfig
  readonly classes: ClassJson[]
  readonly blobs: Array<[string, Array<number | null>]>
  readonly calibrator: CalibratorJson
  readonly hotness: HotnessJson
  readonly deltaCounts: number[]
  readonly globalHits: number[]
  readonly globalTries: number[]
  readonly counters: PredictorState["counters"]
}

const tableToJson = (t: Map<number, NextCounts>): Table => [...t].map(([k, m]) => [k, [...m]])
const tableFromJson = (t: Table): Map<number, NextCounts> => new Map(t.map(([k, m]) => [k, new Map(m)]))
const num = (n: number | null): number => (n === null ? Number.NaN : n)
const nul = (n: number): number | null => (Number.isNaN(n) ? null : n)

const fieldToJson = (f: FieldModel): FieldJson => ({
  path: f.path,
  offset: f.offset,
  numeric: f.numeric,
  array: f.array,
  dict: f.dict === undefined ? null : [...f.dict],
  fsm1: tableToJson(f.fsm1),
  fsm2: tableToJson(f.fsm2),
  classStep: nul(f.classStep),
  counts: [f.strideHits, f.strideTries, f.fsmHits, f.fsmTries],
})

const fieldFromJson = (f: FieldJson): FieldModel => ({
  path: f.path,
  offset: f.offset,
  numeric: f.numeric,
  array: f.array,
  dict: f.dict === null ? undefined : new Map(f.dict),
  fsm1: tableFromJson(f.fsm1),
  fsm2: tableFromJson(f.fsm2),
  classStep: num(f.classStep),
  strideHits: f.counts[0],
  strideTries: f.counts[1],
  fsmHits: f.counts[2],
  fsmTries: f.counts[3],
})

const classToJson = (c: ClassModel): ClassJson => ({
  key: c.key,
  binary: c.binary,
  fingerprint: c.fingerprint,
  slabSize: c.slabSize,
  fields: c.fields.map(fieldToJson),
  signatures: tableToJson(c.signatures),
  patterns: [...c.patterns].map(([k, p]) => [k, p.hits, p.n, p.fpc]),
  compHits: [...c.compHits],
  compTries: [...c.compTries],
  observed: c.observed,
  servedMissScore: c.servedMissScore,
  throttledUntil: c.throttledUntil,
})

const classFromJson = (c: ClassJson, index: number): ClassModel => ({
  index,
  key: c.key,
  binary: c.binary,
  fingerprint: c.fingerprint,
  slabSize: c.slabSize,
  fields: c.fields.map(fieldFromJson),
  signatures: tableFromJson(c.signatures),
  patterns: new Map(c.patterns.map(([k, hits, n, fpc]) => [k, { hits, n, fpc }])),
  compHits: [...c.compHits],
  compTries: [...c.compTries],
  observed: c.observed,
  servedMissScore: c.servedMissScore,
  throttledUntil: c.throttledUntil,
})

export const snapshotState = (st: PredictorState): PredictorSnapshot => ({
  format: 1,
  config: st.config,
  classes: st.classes.map(classToJson),
  blobs: [...st.blobs].map(([id, slab]) => [id, slab.map(nul)]),
  calibrator: calibratorToJson(st.calibrator),
  hotness: hotnessToJson(st.hotness),
  deltaCounts: [...st.deltaCounts],
  globalHits: [...st.globalHits],
  globalTries: [...st.globalTries],
  counters: { ...st.counters },
})

export const restoreState = (s: PredictorSnapshot): PredictorState => {
  const classes = s.classes.map(classFromJson)
  return {
    config: s.config,
    classes,
    classByKey: new Map(classes.map((c) => [c.key, c.index])),
    blobs: new Map(s.blobs.map(([id, slab]) => [id, slab.map(num)])),
    calibrator: calibratorFromJson(s.calibrator),
    hotness: hotnessFromJson(s.hotness),
    deltaCounts: [...s.deltaCounts],
    globalHits: [...s.globalHits],
    globalTries: [...s.globalTries],
    counters: { ...s.counters },
  }
}
