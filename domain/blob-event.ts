import type { BlobId } from "./blob-id.ts"

// One message per version on `blob.evt.<id>`. Content travels as the message body (never
// base64 in JSON); everything else is metadata. Large content lives in the content store
// and the event carries only its digest as `contentRef`.

export type BlobOp = "write" | "patch" | "delete" | "restore"

export interface BlobEvent {
  readonly id: BlobId
  readonly version: number
  readonly op: BlobOp
  /** `sha256:<hex>` of the resulting content (of the empty content for a tombstone). */
  readonly digest: string
  readonly size: number
  readonly contentType: string | undefined
  /** Set when the content is stored by reference in the content store (then `content` is absent). */
  readonly contentRef: string | undefined
  readonly content: Uint8Array | undefined
  readonly writer: string
  readonly timeMs: number
  readonly idempotencyKey: string | undefined
  /** For `restore`: the version whose content was restored. */
  readonly restoredFrom: number | undefined
  readonly prevHash: string
  readonly hash: string
}

/**
 * The fields the hash chain covers, in a fixed order, so any client can recompute it: a JSON
 * array, absent fields as `null`. JSON keeps the encoding injective: a `\n`-joined list read
 * an absent optional field and an empty string the same way (an empty `Umbra-Content-Ref`
 * header turned inline content into a reference without breaking the chain), and let text
 * containing the separator shift into the next field.
 */
export const chainPayload = (e: Omit<BlobEvent, "hash" | "content">): string =>
  JSON.stringify([
    e.prevHash,
    e.id,
    e.version,
    e.op,
    e.digest,
    e.size,
    e.contentType ?? null,
    e.contentRef ?? null,
    e.writer,
    e.timeMs,
    e.idempotencyKey ?? null,
    e.restoredFrom ?? null,
  ])

/** The hash of the (absent) event before version 1. */
export const GENESIS_HASH = "sha256:" + "0".repeat(64)
