import * as E from "fp-ts/lib/Either.js"
import { invalidId, type InvalidId } from "./errors.ts"

// The one choke point where untrusted text becomes part of a subject or a KV key: nothing
// in NATS escapes subject tokens, so `.`, `*`, `>` and whitespace must never get through.
export type BlobId = string & { readonly __brand: "BlobId" }

export const BLOB_ID_MAX_LENGTH = 200
const BLOB_ID_PATTERN = /^[A-Za-z0-9_\-=/]+$/

export const parseBlobId = (raw: string): E.Either<InvalidId, BlobId> => {
  if (raw.length === 0) return E.left(invalidId("empty"))
  if (raw.length > BLOB_ID_MAX_LENGTH) return E.left(invalidId(`longer than ${BLOB_ID_MAX_LENGTH} characters`))
  if (!BLOB_ID_PATTERN.test(raw)) return E.left(invalidId("only A-Z a-z 0-9 _ - = / are allowed"))
  return E.right(raw as BlobId)
}

export const isBlobId = (raw: string): raw is BlobId => E.isRight(parseBlobId(raw))
