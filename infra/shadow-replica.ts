import { Kvm, type KV, type KvWatchEntry } from "@nats-io/kv"
import type { NatsConnection, QueuedIterator } from "@nats-io/nats-core"
import type { BlobId } from "../domain/blob-id.ts"
import type { Shadow } from "../domain/shadow.ts"
import { decodeShadow, type HeldContent } from "./shadow-codec.ts"

// An in-memory replica of the shadow tier, fed by a KV watch, so finding a shadow costs no
// network hop. Watches do not always resume after a reconnect or a server restart, so the
// replica re-creates its watch from the last revision it saw, and starts over when the
// (memory) bucket came back empty.

export interface ReplicaOptions {
  readonly bucket: string
  /** Only keys passing this filter are kept (client-side replicas of a prefix or set). */
  readonly keep?: (id: string) => boolean
  /** Called before the watch is re-created, e.g. to re-create a vanished bucket. */
  readonly beforeRewatch?: () => Promise<void>
  readonly onChange?: (id: BlobId, shadow: Shadow | undefined) => void
  /** Called after the replica started over because the bucket was re-created. */
  readonly onReset?: () => void
  /** Bytes this process already holds for a digest, kept instead of a copy (see decodeShadow). */
  readonly held?: (id: BlobId, digest: string) => HeldContent | undefined
  /** Keep shadows without their content (see decodeShadow): `get` never returns content. */
  readonly withoutContent?: boolean
}

/**
 * Where a watch starts: after the last revision seen; else, when the bucket keeps one revision
 * per key (the default) or holds nothing, from its first sequence, which delivers just what a
 * last-per-subject watch would (each key's current entry) and everything put meanwhile; else
 * (history kept) with each key's current entry. A last-per-subject consumer is avoided where it
 * can be: on nats-server 2.9.10 it recounts every subject of the stream on each delivery
 * (`consumer.numPending` → `memStore.SubjectsState`) whenever its num-pending mark is 0, which
 * it is when it was created on an empty stream, and again after any consumer info request once
 * it has caught up (`nats consumer ls`, monitoring), until a delivery finds a backlog; writes
 * made one at a time never make one, and each then cost nats-server a pass over every key. A
 * start-sequence consumer's recount stops at once when it has caught up.
 */
export const startOf = (lastRevision: number, history: number, values: number): { resumeFromRevision?: number } =>
  lastRevision > 0 ? { resumeFromRevision: lastRevision + 1 } : history <= 1 || values === 0 ? { resumeFromRevision: 1 } : {}

export class ShadowReplica {
  private readonly shadows = new Map<string, Shadow>()
  private kv: KV | undefined
  private watcher: QueuedIterator<KvWatchEntry> | undefined
  private lastRevision = 0
  private bucketCreated: string | undefined
  private stopped = false
  private rewatching: Promise<void> | undefined
  bytes = 0
  /** Shadows that may serve reads (not discarded), kept as they change: no scan needed. */
  live = 0
  rewatches = 0

  private constructor(
    private readonly nc: NatsConnection,
    private readonly o: ReplicaOptions,
  ) {}

  static async start(nc: NatsConnection, o: ReplicaOptions): Promise<ShadowReplica> {
    const r = new ShadowReplica(nc, o)
    await r.watch()
    r.followStatus()
    return r
  }

  get(id: string): Shadow | undefined {
    return this.shadows.get(id)
  }

  get size(): number {
    return this.shadows.size
  }

  entries(): IterableIterator<Shadow> {
    return this.shadows.values()
  }

  /** The revision of the newest change applied (0 before any). */
  get revision(): number {
    return this.lastRevision
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.watcher?.stop()
  }

  private async watch(): Promise<void> {
    this.kv = await new Kvm(this.nc).open(this.o.bucket)
    const status = await this.kv.status()
    const created = String(status.streamInfo.created)
    let reset = false
    if (this.bucketCreated !== undefined && created !== this.bucketCreated) {
      // The bucket was re-created (memory storage after a server restart): start over.
      for (const id of [...this.shadows.keys()]) this.apply(id, undefined)
      this.lastRevision = 0
      reset = true
    }
    this.bucketCreated = created
    const w = await this.kv.watch({ key: ">", ...startOf(this.lastRevision, status.history, status.values) })
    this.watcher = w
    void this.consume(w)
    if (reset) this.o.onReset?.()
  }

  private async consume(w: QueuedIterator<KvWatchEntry>): Promise<void> {
    try {
      for await (const e of w) this.onEntry(e)
    } catch {
      // the watch ended with an error: re-created below
    }
    if (!this.stopped && this.watcher === w) this.scheduleRewatch()
  }

  private onEntry(e: KvWatchEntry): void {
    if (e.revision <= this.lastRevision) return
    this.lastRevision = e.revision
    if (this.o.keep !== undefined && !this.o.keep(e.key)) return
    const shadow = e.operation === "PUT" ? decodeShadow(e.value, e.revision, this.o) : undefined
    this.apply(e.key, shadow)
  }

  private apply(id: string, shadow: Shadow | undefined): void {
    const old = this.shadows.get(id)
    if (old !== undefined) {
      this.bytes -= old.content?.length ?? 0
      if (old.status === "live") this.live--
    }
    if (shadow === undefined) this.shadows.delete(id)
    else {
      // A new key is the shadow's own id string when they match: the watch's key is a slice
      // of the message subject (`$KV.<bucket>.<id>`) and would keep the whole subject alive.
      this.shadows.set(old === undefined && shadow.id === id ? shadow.id : id, shadow)
      this.bytes += shadow.content?.length ?? 0
      if (shadow.status === "live") this.live++
    }
    this.o.onChange?.(id as BlobId, shadow)
  }

  private followStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (this.stopped) return
        if (s.type === "reconnect") this.scheduleRewatch()
      }
    })()
  }

  private scheduleRewatch(): void {
    if (this.rewatching !== undefined || this.stopped) return
    this.rewatching = (async () => {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          this.watcher?.stop()
          await this.o.beforeRewatch?.()
          await this.watch()
          this.rewatches++
          return
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)))
        }
      }
    })().finally(() => {
      this.rewatching = undefined
    })
  }
}
