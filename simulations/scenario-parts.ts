/**
 * Decoders for the parts of a scenario that have several shapes (key distribution, value
 * shape) or many weights (the operation mix). A short string form (`distribution: latest`)
 * is accepted wherever a part has no required parameters.
 */
import {
  boolean,
  type Decoder,
  describeValue,
  type Fields,
  inconsistent,
  type Issues,
  number,
  oneOf,
  optional,
  type Path,
  record,
  required,
} from "./scenario-decoders.ts"

export const DISTRIBUTION_NAMES = ["uniform", "zipfian", "latest", "hotspot"] as const

export type KeyDistribution =
  | { readonly kind: "uniform" }
  /** YCSB's scrambled Zipfian by default (hot keys spread over the key space); `scrambled: false` ranks key 0 hottest. */
  | { readonly kind: "zipfian"; readonly constant: number; readonly scrambled?: boolean }
  | { readonly kind: "latest" }
  | { readonly kind: "hotspot"; readonly hotFraction: number; readonly hotOpFraction: number }

export const VALUE_SHAPE_NAMES = [
  "ycsb", "structured", "counter", "append-log", "status-machine", "periodic", "derived-timestamp", "random-fields", "opaque",
] as const
export type ValueShapeName = (typeof VALUE_SHAPE_NAMES)[number]

export const STRUCTURED_PARTS = [
  "counter", "append-log", "status-machine", "periodic", "derived-timestamp", "random-fields",
] as const
export type StructuredPart = (typeof STRUCTURED_PARTS)[number]

export type ValueShape =
  | { readonly kind: "ycsb"; readonly fields: number; readonly fieldBytes: number }
  /** Each key gets one of the structured shapes, chosen by weight from the seed. */
  | { readonly kind: "structured"; readonly mix: Readonly<Record<StructuredPart, number>> }
  | { readonly kind: "counter" }
  | { readonly kind: "append-log"; readonly maxEntries: number }
  | { readonly kind: "status-machine" }
  | { readonly kind: "periodic"; readonly periodSec: number }
  | { readonly kind: "derived-timestamp" }
  | { readonly kind: "random-fields"; readonly fields: number }
  | { readonly kind: "opaque"; readonly sizeBytes: number }

export const OPERATION_NAMES = [
  "read", "write", "patch", "conditionalWrite", "delete", "history", "insert", "readModifyWrite",
] as const
export type OperationName = (typeof OPERATION_NAMES)[number]

/** Relative weights; absent operations weigh 0. `insert` creates a new key; `readModifyWrite` is YCSB F's read then conditional write. */
export type OperationMix = Readonly<Record<OperationName, number>>

const weight = number({ min: 0, max: 1_000_000 })
const fraction = number({ above: 0, max: 1 })

/** Accept `kind` given as a bare string, or as an object's `kind` field. */
const kindOf = <K extends string>(
  input: unknown,
  at: Path,
  issues: Issues,
  kinds: ReadonlyArray<K>,
  fields: (kind: K) => ReadonlyArray<string>,
): { readonly kind: K; readonly fields: Fields } | undefined => {
  if (typeof input === "string") {
    const kind = oneOf(kinds)(input, at, issues)
    return kind === undefined ? undefined : { kind, fields: {} }
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    issues.list.push({ _tag: "NotOneOf", path: at, allowed: kinds, got: describeValue(input) })
    return undefined
  }
  const kind = required(input as Fields, "kind", at, issues, oneOf(kinds))
  if (kind === undefined) return undefined
  const o = record(input, at, issues, ["kind", ...fields(kind)])
  return o === undefined ? undefined : { kind, fields: o }
}

const distributionFields = (kind: (typeof DISTRIBUTION_NAMES)[number]): ReadonlyArray<string> =>
  kind === "zipfian" ? ["constant", "scrambled"] : kind === "hotspot" ? ["hotFraction", "hotOpFraction"] : []

export const decodeDistribution: Decoder<KeyDistribution> = (input, at, issues) => {
  const parsed = kindOf(input, at, issues, DISTRIBUTION_NAMES, distributionFields)
  if (parsed === undefined) return undefined
  const { kind, fields } = parsed
  if (kind === "uniform" || kind === "latest") return { kind }
  if (kind === "zipfian") {
    // theta = 1 makes alpha = 1/(1-theta) infinite in Gray et al.'s method.
    const constant = optional(fields, "constant", at, issues, number({ above: 0, max: 0.9999 }), 0.99)
    const scrambled = optional(fields, "scrambled", at, issues, boolean, true)
    return constant === undefined || scrambled === undefined ? undefined : { kind, constant, scrambled }
  }
  const hotFraction = optional(fields, "hotFraction", at, issues, fraction, 0.2)
  const hotOpFraction = optional(fields, "hotOpFraction", at, issues, number({ min: 0, max: 1 }), 0.8)
  return hotFraction === undefined || hotOpFraction === undefined ? undefined : { kind, hotFraction, hotOpFraction }
}

const shapeFields = (kind: ValueShapeName): ReadonlyArray<string> => {
  switch (kind) {
    case "ycsb":
      return ["fields", "fieldBytes"]
    case "structured":
      return ["mix"]
    case "append-log":
      return ["maxEntries"]
    case "periodic":
      return ["periodSec"]
    case "random-fields":
      return ["fields"]
    case "opaque":
      return ["sizeBytes"]
    default:
      return []
  }
}

const EQUAL_MIX: Readonly<Record<StructuredPart, number>> = {
  counter: 1, "append-log": 1, "status-machine": 1, periodic: 1, "derived-timestamp": 1, "random-fields": 1,
}

const decodeStructuredMix: Decoder<Readonly<Record<StructuredPart, number>>> = (input, at, issues) => {
  const o = record(input, at, issues, STRUCTURED_PARTS)
  if (o === undefined) return undefined
  const entries = STRUCTURED_PARTS.map((part) => [part, optional(o, part, at, issues, weight, 0)] as const)
  if (entries.some(([, w]) => w === undefined)) return undefined
  const mix = Object.fromEntries(entries) as Record<StructuredPart, number>
  if (Object.values(mix).every((w) => w === 0)) inconsistent(issues, at, "at least one structured shape needs a weight above 0")
  return mix
}

// Opaque values above 64 MiB would only measure the object store's upload path.
const MAX_VALUE_BYTES = 64 * 1024 * 1024

export const decodeValueShape: Decoder<ValueShape> = (input, at, issues) => {
  const parsed = kindOf(input, at, issues, VALUE_SHAPE_NAMES, shapeFields)
  if (parsed === undefined) return undefined
  const { kind, fields: o } = parsed
  const count = (key: string, fallback: number): number | undefined =>
    optional(o, key, at, issues, number({ integer: true, min: 1, max: 10_000 }), fallback)
  switch (kind) {
    case "ycsb": {
      const fields = count("fields", 10)
      const fieldBytes = count("fieldBytes", 100)
      return fields === undefined || fieldBytes === undefined ? undefined : { kind, fields, fieldBytes }
    }
    case "structured": {
      const mix = optional(o, "mix", at, issues, decodeStructuredMix, EQUAL_MIX)
      return mix === undefined ? undefined : { kind, mix }
    }
    case "append-log": {
      const maxEntries = count("maxEntries", 100)
      return maxEntries === undefined ? undefined : { kind, maxEntries }
    }
    case "periodic": {
      const periodSec = optional(o, "periodSec", at, issues, number({ above: 0, max: 86_400 }), 1)
      return periodSec === undefined ? undefined : { kind, periodSec }
    }
    case "random-fields": {
      const fields = count("fields", 5)
      return fields === undefined ? undefined : { kind, fields }
    }
    case "opaque": {
      const sizeBytes = required(o, "sizeBytes", at, issues, number({ integer: true, min: 0, max: MAX_VALUE_BYTES }))
      return sizeBytes === undefined ? undefined : { kind, sizeBytes }
    }
    default:
      return { kind }
  }
}

export const decodeOperations: Decoder<OperationMix> = (input, at, issues) => {
  const o = record(input, at, issues, OPERATION_NAMES)
  if (o === undefined) return undefined
  const entries = OPERATION_NAMES.map((name) => [name, optional(o, name, at, issues, weight, 0)] as const)
  if (entries.some(([, w]) => w === undefined)) return undefined
  const mix = Object.fromEntries(entries) as Record<OperationName, number>
  if (Object.values(mix).every((w) => w === 0)) {
    inconsistent(issues, at, `at least one of ${OPERATION_NAMES.join(", ")} needs a weight above 0`)
    return undefined
  }
  return mix
}
