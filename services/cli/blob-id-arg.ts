import * as E from "fp-ts/lib/Either.js"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { errorMessage } from "../../domain/errors.ts"
import { clientError } from "../../infra/client/errors.ts"

/** Checked before connecting, so a bad id is reported as INVALID_ID even with no server around. */
export const blobIdArg = (raw: string): BlobId => {
  const r = parseBlobId(raw)
  if (E.isLeft(r)) throw clientError("INVALID_ID", errorMessage(r.left), { reason: r.left.reason })
  return r.right
}
