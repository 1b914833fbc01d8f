import { randomUUID } from "node:crypto"
import { setTimeout as sleep } from "node:timers/promises"
import * as E from "fp-ts/lib/Either.js"
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { errorMessage } from "../../domain/errors.ts"
import { connectNats } from "../connection.ts"
import { commandSubject, defaultNames, type CommandOp, type Names } from "../names.ts"
import { ContentTransfer } from "./content-transfer.ts"
import { clientError, fromThrown, serviceErrorOf, UmbraClientError } from "./errors.ts"
import type {
  ClientOptions,
  ConnectClientOptions,
  HistoryEntry,
  HistoryOptions,
  HistoryPage,
  JsonPatchOp,
  LocalReplica,
  MutationOptions,
  ReadOptions,
  ReadResult,
  WriteOptions,
  WriteResult,
} from "./types.ts"
import { decodeHistoryReply, decodeReadReply, decodeWriteReply, historyBody, mutationHeaders, readHeaders, type MutationHeaderInput } from "./wire.ts"

export type * from "./types.ts"
export { UmbraClientError, isUmbraClientError, type UmbraClientErrorCode } from "./errors.ts"

// The typed client of the blob service. Every call speaks the wire contract of DESIGN.md
// (so any NATS client could do the same by hand); what it adds is validation before
// sending, transparent large content, bounded retries that cannot duplicate a version, and
// one error type with a code for every failure.

const DEFAULT_TIMEOUT_MS = 5_000
/** Limit on retries a caller may ask for: a retry storm helps no one. */
const MAX_RETRIES = 10
const RETRY_BASE_MS = 50
const RETRY_CAP_MS = 1_000
/** Pages `historyAll` will walk before stopping: a bound on a runaway loop, not on real blobs. */
const MAX_HISTORY_PAGES = 100_000

type Either<A> = E.Either<UmbraClientError, A>

const orThrow = <A>(r: Either<A>): A => {
  if (E.isLeft(r)) throw r.left
  return r.right
}

const encoder = new TextEncoder()
const bytesOf = (content: Uint8Array | string): Uint8Array => (typeof content === "string" ? encoder.encode(content) : content)

export class UmbraClient {
  private readonly names: Names
  private readonly transfer: ContentTransfer
  private owned = false

  constructor(
    readonly nc: NatsConnection,
    private readonly options: ClientOptions = {},
  ) {
    this.names = { ...defaultNames, ...options.names }
    this.transfer = new ContentTransfer(nc, this.names, options.contentRefThresholdBytes)
  }

  /** Connects and returns a client that owns (and `close()`s) its connection. */
  static async connect(o: ConnectClientOptions): Promise<UmbraClient> {
    let nc: NatsConnection
    try {
      nc = await connectNats({
        servers: o.servers,
        name: o.name ?? "umbra-client",
        ...(o.user === undefined ? {} : { user: o.user }),
        ...(o.pass === undefined ? {} : { pass: o.pass }),
        ...(o.token === undefined ? {} : { token: o.token }),
        ...(o.tls === undefined ? {} : { tls: o.tls }),
        ...(o.inboxPrefix === undefined ? {} : { inboxPrefix: o.inboxPrefix }),
        ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
        ...(o.failFast === true ? { probe: true } : {}),
      })
    } catch (e) {
      throw fromThrown(e, `cannot connect to ${typeof o.servers === "string" ? o.servers : o.servers.join(",")}`)
    }
    const client = new UmbraClient(nc, o)
    client.owned = true
    return client
  }

  /** Closes the connection when this client opened it; a borrowed one is left alone. */
  async close(): Promise<void> {
    if (this.owned && !this.nc.isClosed()) await this.nc.close().catch(() => {})
  }

  async write(id: string, content: Uint8Array | string, opts: WriteOptions = {}): Promise<WriteResult> {
    const blobId = this.blobId(id)
    const bytes = bytesOf(content)
    // Uploaded once, before any attempt: the object is content-addressed, so it is shared
    // by every retry and by any other blob with the same bytes.
    const ref = this.transfer.needsRef(bytes.length) ? await this.transfer.upload(bytes) : undefined
    const body = ref === undefined ? bytes : new Uint8Array(0)
    return this.mutate("write", blobId, body, { ...opts, ...(ref === undefined ? {} : { contentRef: ref }) })
  }

  /** RFC 6902 JSON Patch; ops as values, or as raw JSON text/bytes passed through unchanged. */
  async patch(id: string, ops: ReadonlyArray<JsonPatchOp> | string | Uint8Array, opts: MutationOptions = {}): Promise<WriteResult> {
    const blobId = this.blobId(id)
    const body = typeof ops === "string" || ops instanceof Uint8Array ? bytesOf(ops) : encoder.encode(JSON.stringify(ops))
    return this.mutate("patch", blobId, body, opts)
  }

  /** Appends a tombstone version; the blob's past stays readable. */
  async delete(id: string, opts: MutationOptions = {}): Promise<WriteResult> {
    return this.mutate("delete", this.blobId(id), new Uint8Array(0), opts)
  }

  /** Makes version `version`'s content the head again, as a new version (history is kept). */
  async restore(id: string, version: number, opts: MutationOptions = {}): Promise<WriteResult> {
    return this.mutate("write", this.blobId(id), new Uint8Array(0), { ...opts, restoreVersion: version })
  }

  async read(id: string, opts: ReadOptions = {}): Promise<ReadResult> {
    const blobId = this.blobId(id)
    const local = this.fromLocalReplica(blobId, opts)
    if (local !== undefined) return local
    const msg = await this.request("read", blobId, new Uint8Array(0), orThrow(readHeaders(opts)), opts.timeoutMs)
    const { body, ...meta } = orThrow(decodeReadReply(blobId, msg))
    const content = meta.contentRef !== undefined && body.length === 0 ? await this.transfer.download(meta.contentRef, meta.digest) : body
    return { ...meta, content }
  }

  /** One page of versions; the service decides the page size when `limit` is not given. */
  async history(id: string, opts: HistoryOptions = {}): Promise<HistoryPage> {
    const blobId = this.blobId(id)
    const body = orThrow(historyBody(opts))
    const msg = await this.request("history", blobId, body, undefined, opts.timeoutMs)
    return orThrow(decodeHistoryReply(msg))
  }

  /** Every version from `from` on (or back, with `reverse`), page by page. */
  async *historyAll(id: string, opts: HistoryOptions = {}): AsyncGenerator<HistoryEntry> {
    let from = opts.from
    for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
      const p = await this.history(id, { ...opts, ...(from === undefined ? {} : { from }) })
      yield* p.entries
      if (p.nextFrom === undefined || p.entries.length === 0) return
      from = p.nextFrom
    }
  }

  private blobId(id: string): BlobId {
    const r = parseBlobId(id)
    if (E.isLeft(r)) throw clientError("INVALID_ID", errorMessage(r.left), { reason: r.left.reason })
    return r.right
  }

  private fromLocalReplica(id: BlobId, opts: ReadOptions): ReadResult | undefined {
    const replica: LocalReplica | undefined = opts.localReplica === null ? undefined : (opts.localReplica ?? this.options.localReplica)
    if (replica === undefined || opts.consistency === "primary" || opts.version !== undefined || opts.asOf !== undefined) return undefined
    try {
      const hit = replica.lookup(id, opts.minConfidence === undefined ? {} : { minConfidence: opts.minConfidence })
      return hit === undefined ? undefined : { ...hit, source: "local" }
    } catch {
      // A replica is an optimisation: when it breaks, the service still answers.
      return undefined
    }
  }

  private async mutate(op: "write" | "patch" | "delete", id: BlobId, body: Uint8Array, o: MutationHeaderInput & MutationOptions): Promise<WriteResult> {
    const retries = Math.max(0, Math.min(MAX_RETRIES, Math.floor(o.retries ?? 0)))
    const idempotencyKey = o.idempotencyKey ?? (retries > 0 ? randomUUID() : undefined)
    const writer = o.writer ?? this.options.writer
    const input: MutationHeaderInput = {
      ...o,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      ...(writer === undefined ? {} : { writer }),
    }
    for (let attempt = 0; ; attempt++) {
      try {
        // Headers are rebuilt for every attempt: nats.js mutates the object it sends.
        const msg = await this.request(op, id, body, orThrow(mutationHeaders(input)), o.timeoutMs)
        return orThrow(decodeWriteReply(msg))
      } catch (e) {
        const err = fromThrown(e, `${op} ${id}`)
        if (!err.retryable || attempt >= retries) throw err
        await sleep(Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt))
      }
    }
  }

  private async request(op: CommandOp, id: BlobId, body: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number | undefined): Promise<Msg> {
    let msg: Msg
    try {
      msg = await this.nc.request(commandSubject(this.names, op, id), body, {
        timeout: timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(headers === undefined ? {} : { headers }),
      })
    } catch (e) {
      throw fromThrown(e, `${op} ${id}`)
    }
    const err = serviceErrorOf(msg)
    if (err !== undefined) throw err
    return msg
  }
}
