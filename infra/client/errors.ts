import { errors as natsErrors, type Msg } from "@nats-io/nats-core"
import type { ErrorCode } from "../../domain/errors.ts"
import { H } from "../headers.ts"

// One error type for everything a client call can fail with: the contract's codes, decoded
// from a service reply, plus what can go wrong before a service ever answers (NATS-level
// failures). Applications branch on `code`, never on message text.

export type ClientOnlyCode = "TIMEOUT" | "NO_RESPONDERS" | "PERMISSION_DENIED" | "CONNECTION"
export type UmbraClientErrorCode = ErrorCode | ClientOnlyCode

const CONTRACT_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "VERSION_CONFLICT",
  "NOT_FOUND",
  "INVALID_ID",
  "INVALID_REQUEST",
  "TOO_LARGE",
  "INTERNAL",
  "UNAVAILABLE",
])

/** Outcomes where the request may not have been applied, or the service may recover. */
const RETRYABLE: ReadonlySet<UmbraClientErrorCode> = new Set<UmbraClientErrorCode>(["TIMEOUT", "UNAVAILABLE", "NO_RESPONDERS"])

export class UmbraClientError extends Error {
  readonly _tag = "UmbraClientError"
  override readonly name = "UmbraClientError"

  constructor(
    readonly code: UmbraClientErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  /** The head version named by a VERSION_CONFLICT, so a caller can re-read and retry. */
  get currentVersion(): number | undefined {
    const v = this.details["currentVersion"]
    return typeof v === "number" ? v : undefined
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code)
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details }
  }
}

export const isUmbraClientError = (e: unknown): e is UmbraClientError => e instanceof UmbraClientError

const STATUS_CODES: Readonly<Record<string, ErrorCode>> = {
  "400": "INVALID_REQUEST",
  "404": "NOT_FOUND",
  "409": "VERSION_CONFLICT",
  "413": "TOO_LARGE",
  "503": "UNAVAILABLE",
}

const utf8 = new TextDecoder()

const errorBodyOf = (data: Uint8Array): Record<string, unknown> | undefined => {
  try {
    const parsed = JSON.parse(utf8.decode(data)) as unknown
    const inner = typeof parsed === "object" && parsed !== null ? (parsed as { error?: unknown }).error : undefined
    return typeof inner === "object" && inner !== null ? (inner as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * The service error carried by a reply, or undefined when the reply is a success. The body's
 * code wins over the status (400 covers both INVALID_ID and INVALID_REQUEST); a reply from
 * something other than an Umbra service still maps through its status.
 */
export const serviceErrorOf = (msg: Msg): UmbraClientError | undefined => {
  const status = msg.headers?.get(H.serviceErrorCode) ?? ""
  if (status === "") return undefined
  const body = errorBodyOf(msg.data) ?? {}
  const { code: rawCode, message: rawMessage, ...details } = body
  const code: ErrorCode =
    typeof rawCode === "string" && CONTRACT_CODES.has(rawCode) ? (rawCode as ErrorCode) : (STATUS_CODES[status] ?? "INTERNAL")
  const message =
    typeof rawMessage === "string" && rawMessage !== "" ? rawMessage : msg.headers?.get(H.serviceError) || `service error ${status}`
  return new UmbraClientError(code, message, { status: Number(status), ...details })
}

const causes = (e: unknown): ReadonlyArray<unknown> => {
  const out: unknown[] = []
  let cur: unknown = e
  // Bounded: a cause chain is short, but never trust it to end.
  for (let i = 0; i < 8 && cur !== undefined && cur !== null; i++) {
    out.push(cur)
    cur = cur instanceof Error ? cur.cause : undefined
  }
  return out
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Maps whatever a NATS call threw to a client error; already-typed errors pass through. */
export const fromThrown = (e: unknown, context: string): UmbraClientError => {
  if (isUmbraClientError(e)) return e
  const chain = causes(e)
  const has = (cls: abstract new (...args: never[]) => Error) => chain.find((c) => c instanceof cls) as Error | undefined
  const perm = has(natsErrors.PermissionViolationError) ?? has(natsErrors.AuthorizationError)
  if (perm !== undefined) return new UmbraClientError("PERMISSION_DENIED", `${context}: ${perm.message}`, {}, { cause: e })
  if (has(natsErrors.NoRespondersError) !== undefined)
    return new UmbraClientError("NO_RESPONDERS", `${context}: no Umbra service is listening (is the blob service running?)`, {}, { cause: e })
  if (has(natsErrors.TimeoutError) !== undefined)
    return new UmbraClientError("TIMEOUT", `${context}: timed out (the outcome of a write is unknown; retry with the same idempotency key)`, {}, { cause: e })
  const conn =
    has(natsErrors.ConnectionError) ?? has(natsErrors.ClosedConnectionError) ?? has(natsErrors.DrainingConnectionError)
  if (conn !== undefined) return new UmbraClientError("CONNECTION", `${context}: ${conn.message}`, {}, { cause: e })
  if (chain.some((c) => /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET/.test(messageOf(c))))
    return new UmbraClientError("CONNECTION", `${context}: ${messageOf(e)}`, {}, { cause: e })
  return new UmbraClientError("INTERNAL", `${context}: ${messageOf(e)}`, {}, { cause: e })
}

export const clientError = (code: UmbraClientErrorCode, message: string, details: Record<string, unknown> = {}): UmbraClientError =>
  new UmbraClientError(code, message, details)
