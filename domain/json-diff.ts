// A short, human-sized summary of what changed between two JSON documents: the paths (JSON
// Pointer) added, removed and changed. Bounded: an audit line must stay a line, so at most
// `maxPaths` paths are kept and deep or huge documents stop the walk early.

export interface JsonDiff {
  readonly added: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
  /** More paths differed than were kept. */
  readonly truncated: boolean
}

interface Acc {
  readonly added: string[]
  readonly removed: string[]
  readonly changed: string[]
  count: number
  readonly max: number
}

const MAX_DEPTH = 32

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

const escapeToken = (k: string): string => k.replace(/~/g, "~0").replace(/\//g, "~1")

const note = (acc: Acc, list: string[], path: string): void => {
  acc.count++
  if (acc.count <= acc.max) list.push(path === "" ? "/" : path)
}

const walk = (a: unknown, b: unknown, path: string, depth: number, acc: Acc): void => {
  // Past the cap only "there is more" matters: stop walking.
  if (a === b || acc.count > acc.max) return
  if (depth >= MAX_DEPTH) return note(acc, acc.changed, path)
  if (isObject(a) && isObject(b)) return walkObjects(a, b, path, depth, acc)
  if (Array.isArray(a) && Array.isArray(b)) return walkArrays(a, b, path, depth, acc)
  // Different kinds (object vs array vs scalar) or different scalars.
  note(acc, acc.changed, path)
}

const walkObjects = (a: Record<string, unknown>, b: Record<string, unknown>, path: string, depth: number, acc: Acc): void => {
  for (const k of Object.keys(a)) {
    const p = `${path}/${escapeToken(k)}`
    if (!Object.prototype.hasOwnProperty.call(b, k)) note(acc, acc.removed, p)
    else walk(a[k], b[k], p, depth + 1, acc)
  }
  for (const k of Object.keys(b)) if (!Object.prototype.hasOwnProperty.call(a, k)) note(acc, acc.added, `${path}/${escapeToken(k)}`)
}

const walkArrays = (a: ReadonlyArray<unknown>, b: ReadonlyArray<unknown>, path: string, depth: number, acc: Acc): void => {
  const common = Math.min(a.length, b.length)
  for (let i = 0; i < common; i++) walk(a[i], b[i], `${path}/${i}`, depth + 1, acc)
  for (let i = common; i < b.length; i++) note(acc, acc.added, `${path}/${i}`)
  for (let i = common; i < a.length; i++) note(acc, acc.removed, `${path}/${i}`)
}

export const jsonDiff = (before: unknown, after: unknown, maxPaths = 8): JsonDiff => {
  const acc: Acc = { added: [], removed: [], changed: [], count: 0, max: maxPaths }
  walk(before, after, "", 0, acc)
  return { added: acc.added, removed: acc.removed, changed: acc.changed, truncated: acc.count > maxPaths }
}

export const isEmptyDiff = (d: JsonDiff): boolean => d.added.length + d.removed.length + d.changed.length === 0 && !d.truncated

/** `+/a ~/b/c -/d …`: one line for a timeline. */
export const diffLine = (d: JsonDiff): string => {
  if (isEmptyDiff(d)) return "no change"
  const parts = [...d.added.map((p) => `+${p}`), ...d.changed.map((p) => `~${p}`), ...d.removed.map((p) => `-${p}`)]
  return parts.join(" ") + (d.truncated ? " …" : "")
}
