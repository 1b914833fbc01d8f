// Commands are imperative; they carry everything decide needs, already decoded.

export type ContentInput =
  | { readonly kind: "inline"; readonly bytes: Uint8Array }
  /** Content already in the content store, named by its digest. */
  | { readonly kind: "ref"; readonly digest: string; readonly size: number }

interface CommandBase {
  readonly expectedVersion: number | undefined
  readonly idempotencyKey: string | undefined
  readonly writer: string
}

export interface WriteBlob extends CommandBase {
  readonly _tag: "WriteBlob"
  readonly content: ContentInput
  readonly contentType: string | undefined
  /** Set when this write restores an earlier version's content. */
  readonly restoredFrom: number | undefined
}
export interface PatchBlob extends CommandBase {
  readonly _tag: "PatchBlob"
  /** An RFC 6902 document, not yet validated. */
  readonly patch: unknown
}
export interface DeleteBlob extends CommandBase {
  readonly _tag: "DeleteBlob"
}

export type BlobCommand = WriteBlob | PatchBlob | DeleteBlob

const base = (o: Partial<CommandBase>): CommandBase => ({
  expectedVersion: o.expectedVersion,
  idempotencyKey: o.idempotencyKey,
  writer: o.writer ?? "anonymous",
})

export const writeBlob = (
  content: ContentInput,
  o: Partial<CommandBase> & { contentType?: string; restoredFrom?: number } = {},
): WriteBlob => ({
  _tag: "WriteBlob",
  content,
  contentType: o.contentType,
  restoredFrom: o.restoredFrom,
  ...base(o),
})
export const patchBlob = (patch: unknown, o: Partial<CommandBase> = {}): PatchBlob => ({
  _tag: "PatchBlob",
  patch,
  ...base(o),
})
export const deleteBlob = (o: Partial<CommandBase> = {}): DeleteBlob => ({ _tag: "DeleteBlob", ...base(o) })
