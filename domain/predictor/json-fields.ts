import { hashString, mix } from "./hash.ts"

// A blob's JSON is seen as a flat list of leaf fields (nested plain objects are walked,
// arrays and scalars are leaves). The list of paths is the blob's schema.

export type Path = readonly string[]

export interface Flattened {
  readonly paths: Path[]
  readonly values: unknown[]
}

export const MAX_DEPTH = 4

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

export const flatten = (root: unknown, maxFields: number): Flattened | undefined => {
  const paths: Path[] = []
  const values: unknown[] = []
  if (!isPlainObject(root)) return { paths: [[]], values: [root] }
  const walk = (obj: Record<string, unknown>, prefix: string[], depth: number): boolean => {
    for (const [k, v] of Object.entries(obj)) {
      const path = [...prefix, k]
      if (isPlainObject(v) && depth < MAX_DEPTH && Object.keys(v).length > 0) {
        if (!walk(v, path, depth + 1)) return false
      } else {
        if (paths.length >= maxFields) return false
        paths.push(path)
        values.push(v)
      }
    }
    return true
  }
  return walk(root, [], 1) ? { paths, values } : undefined
}

/** Values only, in the order of a known schema; cheaper than flatten on the hot path. */
export const readValues = (root: unknown, paths: readonly Path[]): unknown[] =>
  paths.map((p) => {
    let cur: unknown = root
    for (const k of p) cur = isPlainObject(cur) ? cur[k] : undefined
    return cur
  })

/** Copy-on-write update of the given leaves; untouched subtrees are shared. */
export const withFields = (
  root: unknown,
  paths: readonly Path[],
  overrides: ReadonlyArray<readonly [number, unknown]>,
): unknown => {
  if (overrides.length === 0) return root
  const first = overrides[0]
  if (first !== undefined && (paths[first[0]]?.length ?? 0) === 0) return first[1]
  const copy = { ...(root as Record<string, unknown>) }
  const cloned = new Set<object>([copy])
  for (const [index, value] of overrides) {
    const path = paths[index]
    if (path === undefined) continue
    let cur: Record<string, unknown> = copy
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i] as string
      let next = cur[k] as Record<string, unknown>
      if (!cloned.has(next)) {
        next = { ...next }
        cloned.add(next)
        cur[k] = next
      }
      cur = next
    }
    cur[path[path.length - 1] as string] = value
  }
  return copy
}

export interface Scan {
  readonly fingerprint: number
  readonly values: unknown[]
}

/**
 * Leaf values plus a schema fingerprint in one pass, without building path arrays: the hot
 * path only needs to know whether the schema is the class's one.
 */
export const scan = (root: unknown, maxFields: number): Scan | undefined => {
  const values: unknown[] = []
  if (!isPlainObject(root)) return { fingerprint: 0x5ca1a4, values: [root] }
  let fp = 0x0b1ec7
  const walk = (obj: Record<string, unknown>, depth: number): boolean => {
    for (const k in obj) {
      const v = obj[k]
      fp = mix(fp, hashString(k))
      if (isPlainObject(v) && depth < MAX_DEPTH && !isEmpty(v)) {
        fp = mix(fp, 0x7b)
        if (!walk(v, depth + 1)) return false
        fp = mix(fp, 0x7d)
      } else {
        if (values.length >= maxFields) return false
        values.push(v)
      }
    }
    return true
  }
  return walk(root, 1) ? { fingerprint: fp, values } : undefined
}

const isEmpty = (o: Record<string, unknown>): boolean => {
  for (const _ in o) return false
  return true
}
