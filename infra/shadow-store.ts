import { Kvm, type KV } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import type { BlobId } from "../domain/blob-id.ts"
import { mayReplace, type Shadow } from "../domain/shadow.ts"
import { decodeShadow, encodeShadow } from "./shadow-codec.ts"
import { compareAndSet } from "./exclusive-cas.ts"
import { jsPublisherFor, type JsPublisher } from "./js-publisher.ts"
import type { ShadowReplica } from "./shadow-replica.ts"
import { isCasConflict, isFull } from "./kv-errors.ts"

// Writes to the shadow tier. Every change is a compare-and-set on the key's KV revision,
// retried against the fresh revision, and applied only if the monotonic rule allows it:
// whatever order writers, the predictor and the reconciler act in, a blob's shadow never
// moves backwards in predicted version. On a replicated bucket the compare-and-set also
// carries a message id (exclusive-cas.ts): nats-server 2.9.10 accepts concurrent
// compare-and-sets expecting one revision on an R3 stream, and a shadow could then go back.
// A single-replica stream checks the revision under its lock and needs no id (nor the
// deduplication work it costs the server on every write).

export type PutResult =
  | { readonly _tag: "stored"; readonly revision: number }
  | { readonly _tag: "skipped"; readonly current: Shadow }
  | { readonly _tag: "failed"; readonly reason: string }

export interface ShadowStoreOptions {
  readonly bucket: string
  /** Live shadows kept at most; past it the least valuable is discarded first. */
  readonly maxShadows: number
  readonly maxValueBytes: number
  /** How valuable keeping a blob's shadow is (e.g. recent reads); higher is kept longer. */
  readonly heat?: (id: string) => number
  readonly maxAttempts?: number
  /** Per attempt of a shadow write (default 5 s). */
  readonly writeTimeoutMs?: number
}

export interface ShadowStoreStats {
  stored: number
  skipped: number
  failed: number
  evicted: number
  casRetries: number
}


const EVICTION_SAMPLE = 64

export class ShadowStore {
  readonly stats: ShadowStoreStats = { stored: 0, skipped: 0, failed: 0, evicted: 0, casRetries: 0 }

  private readonly subjectPrefix: string

  private constructor(
    private readonly kv: KV,
    private readonly o: ShadowStoreOptions,
    private readonly replica: ShadowReplica | undefined,
    private readonly publisher: JsPublisher,
    /** The bucket is replicated: compare-and-sets carry the message id that makes them exclusive. */
    private readonly replicated: boolean,
  ) {
    this.subjectPrefix = `$KV.${o.bucket}.`
  }

  static async open(nc: NatsConnection, o: ShadowStoreOptions, replica?: ShadowReplica): Promise<ShadowStore> {
    const kv = await new Kvm(nc).open(o.bucket)
    const replicas = (await kv.status()).streamInfo.config.num_replicas
    return new ShadowStore(kv, o, replica, jsPublisherFor(nc), replicas > 1)
  }

  /**
   * A compare-and-set of the key's frame on its KV revision (0: the key holds nothing). The
   * same message `kv.update` sends, through the shared publisher, plus the exclusive id on a
   * replicated bucket.
   */
  private write(id: string, frame: Uint8Array, revision: number): Promise<number> {
    return compareAndSet(this.publisher, this.subjectPrefix + id, frame, revision, { timeoutMs: this.o.writeTimeoutMs ?? 5_000, exclusive: this.replicated })
  }

  /** Like `kv.create`: a key whose last entry is a delete or purge marker counts as empty. */
  private async create(id: string, frame: Uint8Array): Promise<number> {
    try {
      return await this.write(id, frame, 0)
    } catch (e) {
      if (!isCasConflict(e)) throw e
      const last = await this.kv.get(id)
      if (last === null || last.operation === "PUT") throw e
      return this.write(id, frame, last.revision)
    }
  }

  /** The current shadow, read from the bucket (not the replica). */
  async get(id: BlobId): Promise<Shadow | undefined> {
    const e = await this.kv.get(id)
    return e === null || e.operation !== "PUT" ? undefined : decodeShadow(e.value, e.revision)
  }

  /** Every kept revision of a blob's shadow, oldest first (KV history). */
  async history(id: BlobId): Promise<Shadow[]> {
    const out: Shadow[] = []
    const it = await this.kv.history({ key: id })
    for await (const e of it) {
      const s = e.operation === "PUT" ? decodeShadow(e.value, e.revision) : undefined
      if (s !== undefined) out.push(s)
    }
    return out
  }

  async put(next: Shadow): Promise<PutResult> {
    const r = await this.casLoop(next)
    if (r._tag === "stored") this.stats.stored++
    else if (r._tag === "skipped") this.stats.skipped++
    else this.stats.failed++
    return r
  }

  private async casLoop(next: Shadow): Promise<PutResult> {
    if ((next.content?.length ?? 0) > this.o.maxValueBytes) return { _tag: "failed", reason: "content larger than a shadow may hold" }
    const frame = encodeShadow(next)
    // Start from the replica's view (no round trip); a stale view only costs one retry.
    let current: Shadow | undefined = this.replica?.get(next.id)
    let fresh = this.replica === undefined
    if (fresh) current = await this.get(next.id)
    for (let attempt = 0; attempt < (this.o.maxAttempts ?? 10); attempt++) {
      if (!mayReplace(current, next)) {
        if (fresh) return { _tag: "skipped", current: current! }
      } else {
        try {
          if (next.status === "live" && (current === undefined || current.status !== "live")) await this.makeRoom(next.id)
          const revision =
            current === undefined ? await this.create(next.id, frame) : await this.write(next.id, frame, current.shadowVersion)
          return { _tag: "stored", revision }
        } catch (e) {
          if (isFull(e) && (await this.evictOne(next.id))) continue
          if (!isCasConflict(e)) return { _tag: "failed", reason: e instanceof Error ? e.message : String(e) }
          this.stats.casRetries++
        }
      }
      current = await this.get(next.id)
      fresh = true
    }
    return { _tag: "failed", reason: "too many concurrent updates of this shadow" }
  }

  private async makeRoom(forId: string): Promise<void> {
    if (this.replica === undefined || this.replica.live < this.o.maxShadows) return
    await this.evictOne(forId)
  }

  private scan: IterableIterator<Shadow> | undefined

  /**
   * The next `n` shadows of a walk over the replica that resumes where the previous call
   * stopped (and starts over at the end), so eviction looks at a fresh sample each time.
   */
  private sample(n: number): Shadow[] {
    const out: Shadow[] = []
    if (this.replica === undefined) return out
    for (let restarts = 0; out.length < n && restarts < 2; ) {
      this.scan ??= this.replica.entries()
      const next = this.scan.next()
      if (next.done === true) {
        this.scan = undefined
        restarts++
        continue
      }
      out.push(next.value)
    }
    return out
  }

  /**
   * Discards the least valuable live shadow (low heat × confidence) among a sample of the
   * replica (as Redis samples for LRU): O(sample) per eviction instead of a full scan, which
   * made every put O(shadows) once the tier was full. False if none could be discarded.
   */
  async evictOne(exceptId: string): Promise<boolean> {
    if (this.replica === undefined) return false
    let victim: Shadow | undefined
    let worst = Infinity
    for (const s of this.sample(EVICTION_SAMPLE)) {
      if (s.status !== "live" || s.id === exceptId) continue
      const value = s.confidence * (1 + (this.o.heat?.(s.id) ?? 0))
      if (value < worst) {
        worst = value
        victim = s
      }
    }
    if (victim === undefined) return false
    const frame = encodeShadow({ ...victim, status: "discarded", content: undefined, contentRef: undefined, reason: "evicted" })
    try {
      await this.write(victim.id, frame, victim.shadowVersion)
      this.stats.evicted++
      return true
    } catch {
      return false
    }
  }
}
