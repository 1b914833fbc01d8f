import * as E from "fp-ts/lib/Either.js"
import fjp from "fast-json-patch"
import { invalidRequest, type InvalidRequest } from "./errors.ts"

// RFC 6902 through fast-json-patch, with its exceptions turned into typed values. Prototype
// modifications (`__proto__`, `constructor/prototype`) are refused by the library.

const decoder = new TextDecoder("utf-8", { fatal: true })
const encoder = new TextEncoder()

export const MAX_JSON_DEPTH = 64

const depthOf = (value: unknown, limit: number): number => {
  if (value === null || typeof value !== "object") return 0
  if (limit <= 0) return 1
  let max = 0
  for (const child of Object.values(value as Record<string, unknown>)) {
    max = Math.max(max, depthOf(child, limit - 1))
    if (max >= limit) break
  }
  return max + 1
}

export const parseJson = (bytes: Uint8Array, field: string): E.Either<InvalidRequest, unknown> => {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    return E.left(invalidRequest("not valid UTF-8 JSON", field))
  }
  if (depthOf(value, MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH)
    return E.left(invalidRequest(`nested deeper than ${MAX_JSON_DEPTH} levels`, field))
  return E.right(value)
}

export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))

const isOperationList = (patch: unknown): patch is fjp.Operation[] =>
  Array.isArray(patch) && patch.every((op) => op !== null && typeof op === "object" && !Array.isArray(op))

export const applyJsonPatch = (document: unknown, patch: unknown): E.Either<InvalidRequest, unknown> => {
  if (!isOperationList(patch)) return E.left(invalidRequest("a JSON Patch is an array of operation objects", "patch"))
  try {
    // validate throws (rather than returns) on some hostile paths such as `/__proto__/x`.
    const invalid = fjp.validate(patch, document)
    if (invalid) return E.left(invalidRequest(`${invalid.name}: ${firstLine(invalid.message)}`, "patch"))
    // validateOperation=true, mutateDocument=false, banPrototypeModifications=true
    const result = fjp.applyPatch(document, patch, true, false, true)
    return E.right(result.newDocument)
  } catch (err) {
    const e = err as { name?: string; message?: string }
    return E.left(invalidRequest(`${e.name ?? "PatchError"}: ${firstLine(e.message ?? "")}`, "patch"))
  }
}

const firstLine = (s: string): string => s.split("\n")[0] ?? s
