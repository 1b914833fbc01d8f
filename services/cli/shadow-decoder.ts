import type { Shadow } from "../../domain/shadow.ts"
import { decodeShadow } from "../../infra/shadow-codec.ts"

// How `umbra shadow` shows a KV value: decoded with the shadow store's own codec (the format
// has one owner), and, for a value that is not a shadow frame (written by hand or by an older
// build), as JSON or as a size and a short preview rather than as an error.

export type ShadowView = Readonly<Record<string, unknown>>

const view = (s: Shadow): ShadowView => ({
  shadowVersion: s.shadowVersion,
  id: s.id,
  basedOn: s.basedOn,
  predicted: s.predicted,
  confidence: s.confidence,
  validFrom: new Date(s.validFromMs).toISOString(),
  createdAt: new Date(s.createdAtMs).toISOString(),
  origin: s.origin,
  model: s.model,
  status: s.status,
  digest: s.digest,
  size: s.size,
  ...(s.contentType === undefined ? {} : { contentType: s.contentType }),
  ...(s.contentRef === undefined ? {} : { contentRef: s.contentRef }),
  ...(s.reason === undefined ? {} : { reason: s.reason }),
})

const utf8 = new TextDecoder("utf-8", { fatal: true })

const loose = (value: Uint8Array): ShadowView => {
  try {
    return { notAShadowFrame: true, json: JSON.parse(utf8.decode(value)) as unknown }
  } catch {
    return { notAShadowFrame: true, bytes: value.length, preview: Buffer.from(value.subarray(0, 32)).toString("hex") }
  }
}

/** `revision` is the KV revision: the shadow's own version, which the frame does not carry. */
export const shadowView = (value: Uint8Array, revision: number): ShadowView => {
  const s = decodeShadow(value, revision)
  return s === undefined ? loose(value) : view(s)
}

const SUMMARY_KEYS = ["predicted", "basedOn", "confidence", "origin", "status", "validFrom", "model", "reason"] as const

/** One line per revision in the history table. */
export const shadowSummary = (v: ShadowView): string => {
  if (v["notAShadowFrame"] === true) return `(not a shadow frame) ${JSON.stringify(v["json"] ?? { bytes: v["bytes"] }).slice(0, 80)}`
  return SUMMARY_KEYS.filter((k) => v[k] !== undefined).map((k) => `${k}=${String(v[k])}`).join(" ")
}
