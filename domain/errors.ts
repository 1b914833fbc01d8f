// Errors are values: every rejection a client can see is one of these tags, and each maps
// to exactly one wire code and status (DESIGN.md "Errors").

export type ErrorCode =
  | "VERSION_CONFLICT"
  | "NOT_FOUND"
  | "INVALID_ID"
  | "INVALID_REQUEST"
  | "TOO_LARGE"
  | "INTERNAL"
  | "UNAVAILABLE"

export interface VersionConflict {
  readonly _tag: "VersionConflict"
  readonly id: string
  readonly expectedVersion: number
  readonly currentVersion: number
}
export interface NotFound {
  readonly _tag: "NotFound"
  readonly id: string
  readonly version?: number
}
export interface InvalidId {
  readonly _tag: "InvalidId"
  readonly reason: string
}
export interface InvalidRequest {
  readonly _tag: "InvalidRequest"
  readonly reason: string
  readonly field?: string
}
export interface TooLarge {
  readonly _tag: "TooLarge"
  readonly size: number
  readonly limit: number
}
export interface Internal {
  readonly _tag: "Internal"
  readonly reason: string
}
/** Retryable: the store could not be reached in time, or the outcome of an append is unknown. */
export interface Unavailable {
  readonly _tag: "Unavailable"
  readonly reason: string
}

export type UmbraError =
  | VersionConflict
  | NotFound
  | InvalidId
  | InvalidRequest
  | TooLarge
  | Internal
  | Unavailable

export const versionConflict = (id: string, expectedVersion: number, currentVersion: number): VersionConflict => ({
  _tag: "VersionConflict",
  id,
  expectedVersion,
  currentVersion,
})
export const notFound = (id: string, version?: number): NotFound =>
  version === undefined ? { _tag: "NotFound", id } : { _tag: "NotFound", id, version }
export const invalidId = (reason: string): InvalidId => ({ _tag: "InvalidId", reason })
export const invalidRequest = (reason: string, field?: string): InvalidRequest =>
  field === undefined ? { _tag: "InvalidRequest", reason } : { _tag: "InvalidRequest", reason, field }
export const tooLarge = (size: number, limit: number): TooLarge => ({ _tag: "TooLarge", size, limit })
export const internal = (reason: string): Internal => ({ _tag: "Internal", reason })
export const unavailable = (reason: string): Unavailable => ({ _tag: "Unavailable", reason })

const CODES: Record<UmbraError["_tag"], readonly [ErrorCode, number]> = {
  VersionConflict: ["VERSION_CONFLICT", 409],
  NotFound: ["NOT_FOUND", 404],
  InvalidId: ["INVALID_ID", 400],
  InvalidRequest: ["INVALID_REQUEST", 400],
  TooLarge: ["TOO_LARGE", 413],
  Internal: ["INTERNAL", 500],
  Unavailable: ["UNAVAILABLE", 503],
}

export const errorCode = (e: UmbraError): ErrorCode => CODES[e._tag][0]
export const errorStatus = (e: UmbraError): number => CODES[e._tag][1]

export const errorMessage = (e: UmbraError): string => {
  switch (e._tag) {
    case "VersionConflict":
      return `version conflict on ${e.id}: expected ${e.expectedVersion}, current ${e.currentVersion}`
    case "NotFound":
      return e.version === undefined ? `blob ${e.id} not found` : `blob ${e.id} has no version ${e.version}`
    case "InvalidId":
      return `invalid blob id: ${e.reason}`
    case "InvalidRequest":
      return e.field === undefined ? `invalid request: ${e.reason}` : `invalid request: ${e.field}: ${e.reason}`
    case "TooLarge":
      return `content too large: ${e.size} bytes, limit ${e.limit}`
    case "Internal":
      return `internal error: ${e.reason}`
    case "Unavailable":
      return `unavailable, retry: ${e.reason}`
  }
}

/** The JSON error body of the contract: `{ error: { code, message, ...details } }`. */
export const errorBody = (e: UmbraError): { error: Record<string, unknown> } => {
  const { _tag, ...details } = e
  return { error: { code: errorCode(e), message: errorMessage(e), ...details } }
}
