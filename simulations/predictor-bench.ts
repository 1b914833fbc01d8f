import { createPredictor } from "../domain/predictor/predictor.ts"
import { makeRng } from "./generators/prng.ts"
import { makeProcess, SHAPE_NAMES, scenarioHistory, type ShapeName } from "./generators/value-shapes.ts"

// Memory and speed of the predictor core, outside any test (timings on a shared machine are
// not assertions). Run with the GC exposed so heap numbers are after collection:
//   node --expose-gc --import tsx simulations/predictor-bench.ts [--blobs 100000] [--versions 200000]

const encoder = new TextEncoder()
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const gc = (): void => (globalThis as { gc?: () => void }).gc?.()
const heapUsed = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Heap per tracked blob: distinct blobs of every shape, three versions each (state is fully populated). */
const memory = (blobs: number, shapes: readonly ShapeName[]): { bytesPerBlob: number; tracked: number; estimate: number } => {
  const p = createPredictor({ maxTrackedBlobs: blobs })
  const before = heapUsed()
  const rng = makeRng(42)
  for (let b = 0; b < blobs; b++) {
    const shape = shapes[b % shapes.length] as ShapeName
    const proc = makeProcess(shape, rng)
    for (let k = 0; k < 3; k++) {
      const t = 1_700_000_000_000 + k * 60_000
      const { json } = proc(k, t)
      p.observe({ id: `${shape}/b${b}`, version: k + 1, timeMs: t, content: encoder.encode(JSON.stringify(json)), json })
    }
  }
  const after = heapUsed()
  const s = p.stats()
  return { bytesPerBlob: (after - before) / s.trackedBlobs, tracked: s.trackedBlobs, estimate: s.approxBytesPerTrackedBlob }
}

/** Learning throughput: observe() on pre-encoded versions, i.e. what the service's consumer calls. */
const throughput = (versions: number): { eventsPerSec: number; versions: number } => {
  const history = scenarioHistory("structured", 9, versions).map((r) => ({ ...r, content: encoder.encode(JSON.stringify(r.json)) }))
  const p = createPredictor()
  const ver = new Map<string, number>()
  const started = performance.now()
  for (const r of history) {
    const v = (ver.get(r.id) ?? 0) + 1
    ver.set(r.id, v)
    p.observe({ id: r.id, version: v, timeMs: r.time, content: r.content, json: r.json })
  }
  const elapsedMs = performance.now() - started
  return { eventsPerSec: Math.round(history.length / (elapsedMs / 1000)), versions: history.length }
}

const blobs = arg("--blobs", 100_000)
const structured = SHAPE_NAMES.filter((s) => s !== "append-log" && s !== "noisy-log")
const result = {
  memoryStructured: memory(blobs, structured),
  memoryAppendLogs: memory(Math.min(blobs, 20_000), ["append-log"]),
  throughput: throughput(arg("--versions", 200_000)),
}
process.stdout.write(JSON.stringify(result, null, 2) + "\n")
