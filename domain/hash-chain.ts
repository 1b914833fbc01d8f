import { chainPayload, GENESIS_HASH, type BlobEvent } from "./blob-event.ts"
import type { Hasher } from "./digest.ts"

// Tamper evidence: each event's hash covers the previous event's hash, so changing,
// inserting or removing any event breaks the chain at exactly that version.

export type ChainBreak =
  | { readonly _tag: "VersionGap"; readonly version: number; readonly expected: number }
  | { readonly _tag: "PrevHashMismatch"; readonly version: number }
  | { readonly _tag: "HashMismatch"; readonly version: number }
  | { readonly _tag: "DigestMismatch"; readonly version: number }

export interface ChainCursor {
  readonly expectedVersion: number
  readonly prevHash: string
}

export const chainStart: ChainCursor = { expectedVersion: 1, prevHash: GENESIS_HASH }

/**
 * Checks one event against the chain so far. `contentDigest` is the digest recomputed from
 * the bytes actually stored (inline or in the content store), or undefined for a tombstone.
 */
export const verifyLink = (
  cursor: ChainCursor,
  event: Omit<BlobEvent, "content">,
  contentDigest: string | undefined,
  hasher: Hasher,
): ChainBreak | ChainCursor => {
  if (event.version !== cursor.expectedVersion)
    return { _tag: "VersionGap", version: event.version, expected: cursor.expectedVersion }
  if (event.prevHash !== cursor.prevHash) return { _tag: "PrevHashMismatch", version: event.version }
  if (hasher.hashText(chainPayload(event)) !== event.hash) return { _tag: "HashMismatch", version: event.version }
  if (contentDigest !== undefined && contentDigest !== event.digest)
    return { _tag: "DigestMismatch", version: event.version }
  return { expectedVersion: event.version + 1, prevHash: event.hash }
}

export const isChainBreak = (r: ChainBreak | ChainCursor): r is ChainBreak => "_tag" in r
