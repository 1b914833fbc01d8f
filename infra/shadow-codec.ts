import type { BlobId } from "../domain/blob-id.ts"
import type { Shadow, ShadowOrigin, ShadowStatus } from "../domain/shadow.ts"
import { ownedBytes } from "./owned-bytes.ts"

// A shadow in the KV bucket is one binary frame, so content is never base64-inflated:
//   "US1" | uint32 big-endian metadata length | metadata (UTF-8 JSON) | content bytes
// Any NATS client can decode it (documented in docs/shadows.md).

const MAGIC = [0x55, 0x53, 0x31] // "US1"
const enc = new TextEncoder()
const dec = new TextDecoder()

interface ShadowMeta {
  id: string
  basedOn: number
  predicted: number
  digest: string
  size: number
  contentType?: string
  contentRef?: string
  confidence: number
  validFrom: number
  createdAt: number
  origin: ShadowOrigin
  model: string
  status: ShadowStatus
  reason?: string
}

export const encodeShadow = (s: Shadow): Uint8Array => {
  const meta: ShadowMeta = {
    id: s.id,
    basedOn: s.basedOn,
    predicted: s.predicted,
    digest: s.digest,
    size: s.size,
    confidence: s.confidence,
    validFrom: s.validFromMs,
    createdAt: s.createdAtMs,
    origin: s.origin,
    model: s.model,
    status: s.status,
    ...(s.contentType === undefined ? {} : { contentType: s.contentType }),
    ...(s.contentRef === undefined ? {} : { contentRef: s.contentRef }),
    ...(s.reason === undefined ? {} : { reason: s.reason }),
  }
  const m = enc.encode(JSON.stringify(meta))
  const body = s.content ?? new Uint8Array(0)
  const out = new Uint8Array(7 + m.length + body.length)
  out.set(MAGIC, 0)
  new DataView(out.buffer).setUint32(3, m.length)
  out.set(m, 7)
  out.set(body, 7 + m.length)
  return out
}

/** Content this process already holds under a digest (e.g. a live blob actor's state). */
export interface HeldContent {
  readonly digest: string | undefined
  readonly content: Uint8Array | undefined
}

/** `held`, when it holds bytes for `digest` of this length: the same content, shareable. */
export const sameContent = (
  held: HeldContent | undefined,
  digest: string,
  length: number,
): (HeldContent & { readonly digest: string; readonly content: Uint8Array }) | undefined =>
  held?.content !== undefined && held.digest === digest && held.content.length === length
    ? (held as HeldContent & { readonly digest: string; readonly content: Uint8Array })
    : undefined

export interface DecodeOptions {
  /**
   * Bytes already in memory for the shadow's digest: a replica then keeps those (and their
   * digest string) instead of a copy of its own, so a blob written here is held once, not twice.
   */
  readonly held?: (id: BlobId, digest: string) => HeldContent | undefined
  /**
   * Leave the content out (`content` undefined, everything else as stored): for a process that
   * judges shadows by their digest and never serves them (the reconciler).
   */
  readonly withoutContent?: boolean
}

/** Decodes a frame; undefined for anything that is not one (never throws). */
export const decodeShadow = (frame: Uint8Array, shadowVersion: number, o: DecodeOptions = {}): Shadow | undefined => {
  if (frame.length < 7 || frame[0] !== MAGIC[0] || frame[1] !== MAGIC[1] || frame[2] !== MAGIC[2]) return undefined
  const len = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(3)
  if (7 + len > frame.length) return undefined
  let meta: ShadowMeta
  try {
    meta = JSON.parse(dec.decode(frame.subarray(7, 7 + len))) as ShadowMeta
  } catch {
    return undefined
  }
  if (typeof meta.id !== "string" || typeof meta.predicted !== "number") return undefined
  const body = frame.subarray(7 + len)
  const kept = meta.status === "live" && meta.contentRef === undefined && o.withoutContent !== true
  const shared = kept && o.held !== undefined ? sameContent(o.held(meta.id as BlobId, meta.digest), meta.digest, body.length) : undefined
  return {
    id: meta.id as BlobId,
    basedOn: meta.basedOn,
    predicted: meta.predicted,
    digest: shared?.digest ?? meta.digest,
    size: meta.size,
    contentType: meta.contentType,
    contentRef: meta.contentRef,
    // Replicas keep shadows for long: not as a view into the watch message's socket chunk.
    content: kept ? (shared?.content ?? ownedBytes(body)) : undefined,
    confidence: meta.confidence,
    validFromMs: meta.validFrom,
    createdAtMs: meta.createdAt,
    origin: meta.origin,
    model: meta.model,
    status: meta.status,
    reason: meta.reason,
    shadowVersion,
  }
}
