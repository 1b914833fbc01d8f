import * as CMS from "./count-min-sketch.ts"
import * as SS from "./space-saving.ts"
import { hashString } from "./hash.ts"

// Bounded-memory hotness: a Count-Min sketch answers "how hot is this blob" for any key,
// Space-Saving keeps the names of the hottest ones, and admission to predictor state is
// TinyLFU-like: a newcomer replaces the least recently seen tracked blob only if hotter.

export type AccessKind = "read" | "write"

export interface HotnessConfig {
  readonly sketchDepth: number
  readonly sketchWidth: number
  readonly topK: number
  /** Writes weigh more than reads: only written blobs produce versions to predict. */
  readonly writeWeight: number
}

export const defaultHotnessConfig: HotnessConfig = { sketchDepth: 4, sketchWidth: 1 << 16, topK: 256, writeWeight: 2 }

export interface Hotness {
  readonly config: HotnessConfig
  readonly sketch: CMS.CountMinSketch
  readonly top: SS.SpaceSaving
}

export const createHotness = (config: HotnessConfig = defaultHotnessConfig): Hotness => ({
  config,
  sketch: CMS.createSketch(config.sketchDepth, config.sketchWidth),
  top: SS.createSpaceSaving(config.topK),
})

export const record = (h: Hotness, id: string, kind: AccessKind, count: number): number => {
  const weighted = kind === "write" ? count * h.config.writeWeight : count
  SS.offer(h.top, id, weighted)
  return CMS.addHash(h.sketch, hashString(id), weighted)
}

export const heat = (h: Hotness, id: string): number => CMS.estimateHash(h.sketch, hashString(id))

export const hottest = (h: Hotness, k: number): SS.SpaceSavingEntry[] => SS.top(h.top, k)

export interface HotnessJson {
  readonly config: HotnessConfig
  readonly sketch: CMS.CountMinSketchJson
  readonly top: ReturnType<typeof SS.spaceSavingToJson>
}

export const hotnessToJson = (h: Hotness): HotnessJson => ({
  config: h.config,
  sketch: CMS.sketchToJson(h.sketch),
  top: SS.spaceSavingToJson(h.top),
})

export const hotnessFromJson = (j: HotnessJson): Hotness => ({
  config: j.config,
  sketch: CMS.sketchFromJson(j.sketch),
  top: SS.spaceSavingFromJson(j.top),
})
