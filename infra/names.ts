import type { BlobId } from "../domain/blob-id.ts"

// Every stream, bucket and subject name comes from here. Ids reach these functions only
// after `parseBlobId`, so a subject can never gain a token or a wildcard from user input.

export interface Names {
  readonly eventStream: string
  readonly eventSubjectPrefix: string
  /** Headers-only copies of every event (stream republish): head versions for every process. */
  readonly headSubjectPrefix: string
  readonly commandSubjectPrefix: string
  readonly shadowBucket: string
  readonly shadowEventStream: string
  readonly shadowEventSubjectPrefix: string
  readonly contentBucket: string
  readonly accessSubject: string
  readonly accessStream: string
  readonly serviceName: string
  readonly leaseBucket: string
  readonly memberBucket: string
  /** Per-instance subjects: forwarded commands and activation events. */
  readonly instanceSubjectPrefix: string
}

export const defaultNames: Names = {
  eventStream: "UMBRA_EVENTS",
  eventSubjectPrefix: "blob.evt",
  headSubjectPrefix: "blob.head",
  commandSubjectPrefix: "blob.cmd",
  shadowBucket: "umbra_shadows",
  shadowEventStream: "UMBRA_SHADOW_EVENTS",
  shadowEventSubjectPrefix: "shadow.evt",
  contentBucket: "umbra_content",
  accessSubject: "umbra.access",
  accessStream: "UMBRA_ACCESS",
  serviceName: "umbra-blob",
  leaseBucket: "umbra_leases",
  memberBucket: "umbra_members",
  instanceSubjectPrefix: "umbra.inst",
}

export type CommandOp = "write" | "patch" | "delete" | "read" | "history"
export const COMMAND_OPS: ReadonlyArray<CommandOp> = ["write", "patch", "delete", "read", "history"]

export const eventSubject = (n: Names, id: BlobId): string => `${n.eventSubjectPrefix}.${id}`
export const eventSubjectsWildcard = (n: Names): string => `${n.eventSubjectPrefix}.>`
export const commandSubject = (n: Names, op: CommandOp, id: BlobId): string => `${n.commandSubjectPrefix}.${op}.${id}`
export const commandWildcard = (n: Names, op: CommandOp): string => `${n.commandSubjectPrefix}.${op}.>`
export const shadowEventSubject = (n: Names, id: BlobId): string => `${n.shadowEventSubjectPrefix}.${id}`

/** The raw id text after a command or event subject prefix (not yet validated). */
export const idFromSubject = (subject: string, prefix: string): string =>
  subject.length > prefix.length + 1 ? subject.slice(prefix.length + 1) : ""
