import { existsSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

// The shadow value format is owned by the shadow store (infra/shadow-codec.ts, or
// infra/shadow-store.ts). Its decoder is loaded at run time, if it exists, so the CLI neither
// duplicates the format nor breaks while that module is still being written. Without one,
// values are shown as JSON or as bytes.
// TODO: import `decodeShadow` statically once the shadow-tier modules are committed.

/** `revision` is the KV revision: the shadow's own version, which the frame does not carry. */
export type ShadowDecoder = (value: Uint8Array, revision: number) => unknown

const CANDIDATES = ["../../infra/shadow-codec.ts", "../../infra/shadow-store.ts"].map((p) => new URL(p, import.meta.url))
const DECODER_NAME = /^decode(Shadow|StoredShadow)(Value|Entry|Record|Frame)?$/

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

const decoderIn = async (file: URL): Promise<ShadowDecoder | undefined> => {
  if (!existsSync(fileURLToPath(file))) return undefined
  try {
    // A computed specifier keeps the type checker from requiring the module to exist.
    const mod = (await import(pathToFileURL(fileURLToPath(file)).href)) as Record<string, unknown>
    const name = Object.keys(mod).find((k) => DECODER_NAME.test(k) && typeof mod[k] === "function")
    if (name === undefined) return undefined
    const fn = mod[name] as (v: Uint8Array, revision: number) => unknown
    return (value, revision) => {
      const r = unwrap(fn(value, revision))
      if (!r.ok || r.value === undefined) throw new Error(`not a shadow value${r.ok ? "" : `: ${JSON.stringify(r.error)}`}`)
      return r.value
    }
  } catch {
    return undefined
  }
}

export const loadShadowDecoder = async (): Promise<ShadowDecoder | undefined> => {
  for (const file of CANDIDATES) {
    const d = await decoderIn(file)
    if (d !== undefined) return d
  }
  return undefined
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
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, printable(x, depth + 1)]))
}
