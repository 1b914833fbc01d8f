import { existsSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

// The shadow value format is owned by infra/shadow-store.ts. It is loaded at run time, if it
// exists and exports a decoder, so the CLI neither duplicates the format nor breaks while
// that module is still being written. Without one, values are shown as JSON or as bytes.
// TODO: import the decoder statically once infra/shadow-store.ts settles its API.

export type ShadowDecoder = (value: Uint8Array) => unknown

const SHADOW_STORE = new URL("../../infra/shadow-store.ts", import.meta.url)
const DECODER_NAME = /^decode(Shadow|StoredShadow)(Value|Entry|Record)?$/

/** Unwraps the success types the codebase uses (fp-ts Either, Effect Result), else undefined on failure. */
const unwrap = (r: unknown): { ok: true; value: unknown } | { ok: false; error: unknown } => {
  if (typeof r !== "object" || r === null || !("_tag" in r)) return { ok: true, value: r }
  const x = r as Record<string, unknown>
  switch (x["_tag"]) {
    case "Right":
      return { ok: true, value: x["right"] }
    case "Left":
      return { ok: false, error: x["left"] }
    case "Success":
      return { ok: true, value: x["success"] }
    case "Failure":
      return { ok: false, error: x["failure"] }
    case "Some":
      return { ok: true, value: x["value"] }
    case "None":
      return { ok: false, error: "undecodable" }
    default:
      return { ok: true, value: r }
  }
}

export const loadShadowDecoder = async (): Promise<ShadowDecoder | undefined> => {
  if (!existsSync(fileURLToPath(SHADOW_STORE))) return undefined
  try {
    // A computed specifier keeps the type checker from requiring the module to exist.
    const mod = (await import(pathToFileURL(fileURLToPath(SHADOW_STORE)).href)) as Record<string, unknown>
    const name = Object.keys(mod).find((k) => DECODER_NAME.test(k) && typeof mod[k] === "function")
    if (name === undefined) return undefined
    const fn = mod[name] as (v: Uint8Array) => unknown
    return (value) => {
      const r = unwrap(fn(value))
      if (!r.ok) throw new Error(`not a shadow value: ${JSON.stringify(r.error)}`)
      return r.value
    }
  } catch {
    return undefined
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The fallback: most stores write JSON; anything else is shown by size and a short preview. */
export const decodeLoosely = (value: Uint8Array): unknown => {
  try {
    return JSON.parse(utf8.decode(value)) as unknown
  } catch {
    return { bytes: value.length, preview: Buffer.from(value.subarray(0, 32)).toString("hex") }
  }
}

/** A decoded value made printable: byte arrays become their size, bigints text. */
export const printable = (v: unknown, depth = 0): unknown => {
  if (v instanceof Uint8Array) return { bytes: v.length }
  if (typeof v === "bigint") return v.toString()
  if (v instanceof Date) return v.toISOString()
  if (depth > 4 || typeof v !== "object" || v === null) return v
  if (Array.isArray(v)) return v.slice(0, 20).map((x) => printable(x, depth + 1))
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, printable(x, depth + 1)]))
}
