import * as E from "fp-ts/lib/Either.js"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import { parseBlobId } from "../../domain/blob-id.ts"
import { errorMessage } from "../../domain/errors.ts"
import { defaultNames } from "../names.ts"
import { clientError, fromThrown } from "./errors.ts"

// Read-only look at a blob's entry in the shadow tier (KV bucket, one key per blob) and its
// KV history, for audits and the CLI. Values are returned raw: their format belongs to the
// shadow store, and this module must not guess it.

export interface RawShadowEntry {
  readonly revision: number
  readonly created: string
  readonly operation: string
  readonly value: Uint8Array
}

export interface ShadowInspection {
  readonly id: string
  readonly bucket: string
  /** The live entry; undefined when there is none or it was deleted. */
  readonly current: RawShadowEntry | undefined
  /** Oldest first, at most `limit` entries (the bucket keeps a bounded history anyway). */
  readonly history: ReadonlyArray<RawShadowEntry>
}

const raw = (e: { revision: number; created: Date; operation: string; value: Uint8Array }): RawShadowEntry => ({
  revision: e.revision,
  created: e.created.toISOString(),
  operation: e.operation,
  value: e.value,
})

export const inspectShadow = async (
  nc: NatsConnection,
  id: string,
  opts: { readonly bucket?: string; readonly limit?: number } = {},
): Promise<ShadowInspection> => {
  const blobId = parseBlobId(id)
  if (E.isLeft(blobId)) throw clientError("INVALID_ID", errorMessage(blobId.left), { reason: blobId.left.reason })
  const bucket = opts.bucket ?? defaultNames.shadowBucket
  const limit = Math.max(1, Math.min(opts.limit ?? 100, 10_000))
  try {
    const kv = await new Kvm(nc).open(bucket)
    const head = await kv.get(blobId.right)
    const history: RawShadowEntry[] = []
    for await (const e of await kv.history({ key: blobId.right })) {
      history.push(raw(e))
      if (history.length > limit) history.shift()
    }
    const current = head === null || head.operation !== "PUT" ? undefined : raw(head)
    return { id, bucket, current, history }
  } catch (e) {
    const err = fromThrown(e, `shadow bucket ${bucket}`)
    if (err.code === "INTERNAL" && /stream not found|bucket not found/i.test(err.message))
      throw clientError("NOT_FOUND", `shadow bucket ${bucket} does not exist (is the shadow tier set up?)`, { bucket })
    throw err
  }
}
