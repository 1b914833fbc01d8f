import type { Names } from "../names.ts"

// The client's public shapes. Field names follow the wire contract (DESIGN.md) so that what
// a raw NATS client sees in headers and what this library returns line up one to one.

export type Consistency = "shadow" | "primary"
export type ReadSource = "shadow" | "primary" | "local"

export interface WriteResult {
  readonly id: string
  readonly version: number
  readonly digest: string
}

export interface ShadowInfo {
  readonly confidence: number
  /** Epoch milliseconds. */
  readonly validFrom: number
  readonly shadowVersion: number
  readonly origin: string
  readonly basedOn?: number
}

export interface ReadResult {
  readonly id: string
  readonly content: Uint8Array
  readonly version: number
  readonly digest: string
  readonly source: ReadSource
  /** ISO-8601 time of the version served, when the service says. */
  readonly time?: string
  readonly contentType?: string
  /** Set when the bytes came through the content store. */
  readonly contentRef?: string
  readonly shadow?: ShadowInfo
}

/**
 * Extension point for a client-side shadow replica (issue 3, item 6): a synchronous lookup in
 * process memory, consulted before any request. It applies the read-path rules itself and
 * answers undefined when it may not serve (no shadow, not yet valid, too unconfident, stale).
 */
export interface LocalReplica {
  lookup(id: string, query: { readonly minConfidence?: number }): ReadResult | undefined
}

export interface MutationOptions {
  /** `0` = the blob must not exist yet. */
  readonly expectedVersion?: number
  readonly idempotencyKey?: string
  readonly writer?: string
  readonly timeoutMs?: number
  /**
   * Extra attempts after a retryable failure (timeout, unavailable, no responders). A key is
   * generated when none is given, so a retry of an append that was stored is answered with
   * the version it already made instead of making a second one.
   */
  readonly retries?: number
}

export interface WriteOptions extends MutationOptions {
  readonly contentType?: string
}

export interface ReadOptions {
  readonly consistency?: Consistency
  readonly minConfidence?: number
  readonly version?: number
  readonly asOf?: Date | number | string
  readonly timeoutMs?: number
  /** Overrides the client's replica for this read; `null` skips it. */
  readonly localReplica?: LocalReplica | null
}

export interface HistoryOptions {
  readonly from?: number
  readonly limit?: number
  readonly reverse?: boolean
  readonly timeoutMs?: number
}

export interface HistoryEntry {
  readonly version: number
  readonly time: string
  readonly timeMs?: number
  readonly op: string
  readonly size: number
  readonly digest: string
  readonly writer: string
  readonly idempotencyKey?: string
  readonly restoredFrom?: number
  readonly contentRef?: string
}

export interface HistoryPage {
  readonly entries: ReadonlyArray<HistoryEntry>
  readonly headVersion: number | undefined
  /** Pass as `from` (same direction) for the next page; undefined on the last page. */
  readonly nextFrom: number | undefined
}

export type JsonPatchOp = { readonly op: string; readonly path: string } & Readonly<Record<string, unknown>>

export interface TlsFiles {
  readonly caFile?: string
  readonly certFile?: string
  readonly keyFile?: string
}

export interface ClientOptions {
  /** Default per-request timeout. */
  readonly timeoutMs?: number
  readonly names?: Partial<Names>
  readonly localReplica?: LocalReplica
  /** Content above this many bytes goes through the content store (default: max_payload − headroom). */
  readonly contentRefThresholdBytes?: number
  /** Sent as `Umbra-Writer` when a call does not name one. */
  readonly writer?: string
}

export interface ConnectClientOptions extends ClientOptions {
  readonly servers: string | ReadonlyArray<string>
  readonly user?: string
  readonly pass?: string
  readonly token?: string
  readonly tls?: TlsFiles
  readonly inboxPrefix?: string
  readonly name?: string
  /** One attempt, no reconnects: for short-lived tools such as the CLI. */
  readonly failFast?: boolean
}
