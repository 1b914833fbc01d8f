/**
 * The content a scenario writes, from its value shape. Structured shapes come from the
 * predictor's generators (`generators/value-shapes.ts`), so the workload writes what the
 * predictor is evaluated on; YCSB and opaque values are made here. Each key has its own
 * random stream derived from the seed and the key, so a key's values do not depend on the
 * order in which keys happen to be written.
 */
import { makeProcess, type BlobProcess, type ShapeName } from "./generators/value-shapes.ts"
import { makeRng, type Rng } from "./generators/rng.ts"
import { STRUCTURED_PARTS, type ValueShape } from "./scenario-parts.ts"

export interface Value {
  readonly bytes: Uint8Array
  readonly contentType: string | undefined
}

export interface ValueSource {
  /** The next value written to a key (called once per write, in the order writes are sent). */
  readonly next: (blobId: string, nowMs: number) => Value
  /** A JSON Patch for a JSON-shaped blob; `add` works on any object, so it never needs a read first. */
  readonly patch: (blobId: string) => unknown
}

const encoder = new TextEncoder()
const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0))
const JSON_TYPE = "application/json"

/**
 * A YCSB record `{"field0":"…",…}` written straight into bytes: the same bytes as
 * `JSON.stringify` (names and alphabet need no escaping) without building strings, which
 * at 20,000 writes a second was a large share of the driver's allocations.
 */
const fieldNames = new Map<number, Uint8Array[]>()
const namesOf = (fields: number): Uint8Array[] => {
  let names = fieldNames.get(fields)
  if (names === undefined) {
    names = Array.from({ length: fields }, (_, i) => encoder.encode(`"field${i}":"`))
    fieldNames.set(fields, names)
  }
  return names
}

const ycsbRecord = (rng: Rng, fields: number, fieldBytes: number): Value => {
  const names = namesOf(fields)
  const size = 2 + names.reduce((n, name) => n + name.length + fieldBytes + 1, 0) + Math.max(0, fields - 1)
  const bytes = new Uint8Array(size)
  let at = 0
  bytes[at++] = 0x7b
  names.forEach((name, i) => {
    if (i > 0) bytes[at++] = 0x2c
    bytes.set(name, at)
    at += name.length
    for (let j = 0; j < fieldBytes; j++) bytes[at++] = ALPHABET_CODES[rng.nextInt(ALPHABET_CODES.length)] as number
    bytes[at++] = 0x22
  })
  bytes[at] = 0x7d
  return { bytes, contentType: JSON_TYPE }
}

const json = (value: unknown): Value => ({ bytes: encoder.encode(JSON.stringify(value)), contentType: JSON_TYPE })

const keySeed = (seed: number, blobId: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < blobId.length; i++) h = Math.imul(h ^ blobId.charCodeAt(i), 0x01000193) >>> 0
  return (h ^ (seed >>> 0)) >>> 0
}

const pickPart = (rng: Rng, mix: Readonly<Record<string, number>>): ShapeName => {
  const total = STRUCTURED_PARTS.reduce((sum, p) => sum + (mix[p] ?? 0), 0)
  let u = rng.nextFloat() * total
  for (const part of STRUCTURED_PARTS) {
    u -= mix[part] ?? 0
    if (u < 0) return part
  }
  return "counter"
}

interface KeyState {
  readonly rng: Rng
  readonly process: BlobProcess | undefined
  k: number
}

const processFor = (shape: ValueShape, rng: Rng): BlobProcess | undefined => {
  switch (shape.kind) {
    case "ycsb":
    case "opaque":
      return undefined
    case "structured":
      return makeProcess(pickPart(rng, shape.mix), rng)
    default:
      return makeProcess(shape.kind, rng)
  }
}

const trimmed = (shape: ValueShape, value: unknown): unknown => {
  if (shape.kind !== "append-log" || typeof value !== "object" || value === null) return value
  const v = value as { entries?: unknown[] }
  return Array.isArray(v.entries) ? { ...v, entries: v.entries.slice(-shape.maxEntries) } : value
}

export const makeValueSource = (shape: ValueShape, seed: number): ValueSource => {
  const keys = new Map<string, KeyState>()
  const stateOf = (blobId: string): KeyState => {
    let s = keys.get(blobId)
    if (s === undefined) {
      const rng = makeRng(keySeed(seed, blobId))
      s = { rng, process: processFor(shape, rng), k: 0 }
      keys.set(blobId, s)
    }
    return s
  }
  const next = (blobId: string, nowMs: number): Value => {
    const s = stateOf(blobId)
    const k = s.k++
    if (s.process !== undefined) return json(trimmed(shape, s.process(k, Math.round(nowMs)).json))
    if (shape.kind === "opaque") {
      const bytes = new Uint8Array(shape.sizeBytes)
      for (let i = 0; i < bytes.length; i++) bytes[i] = s.rng.nextInt(256)
      return { bytes, contentType: "application/octet-stream" }
    }
    return shape.kind === "ycsb" ? ycsbRecord(s.rng, shape.fields, shape.fieldBytes) : ycsbRecord(s.rng, 1, 16)
  }
  const patch = (blobId: string): unknown => {
    const s = stateOf(blobId)
    return [{ op: "add", path: "/patched", value: s.rng.nextInt(1_000_000) }]
  }
  return { next, patch }
}
