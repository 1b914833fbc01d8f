import { topologyOf } from "../config.ts"
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core"
import type { BlobCommand } from "../../domain/blob-command.ts"
import type { BlobEvent } from "../../domain/blob-event.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import type { BlobState } from "../../domain/blob-state.ts"
import type { UmbraError } from "../../domain/errors.ts"
import { decideRead } from "../../domain/read-policy.ts"
import { discarded, relabelConflict, type Shadow } from "../../domain/shadow.ts"
import { encodedOnce } from "../../infra/encoded-headers.ts"
import { HeadCache } from "../../infra/head-cache.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import { H } from "../../infra/headers.ts"
import { ShadowReplica } from "../../infra/shadow-replica.ts"
import { ShadowStore } from "../../infra/shadow-store.ts"
import { ensureShadowBucket } from "../../infra/topology.ts"
import type { UmbraConfig } from "../config.ts"
import { ServedCounter, type AccessLog } from "./access-log.ts"
import type { ActorRegistry } from "./actor-registry.ts"
import type { ContentReply } from "./primary-read.ts"
import type { ReadRequest } from "./request-decoding.ts"
import { makeShadowCounters, type ShadowCounters } from "./shadow-counters.ts"

// The shadow-first read path and the write path's shadows (DESIGN.md). Reads are decided
// by the pure read policy against the local replica and the head versions this process has
// seen; a hit touches neither the actor nor the stream. Writes put a shadow of the
// resulting state as the append starts, and relabel it `conflict` if the append fails.

export const WRITE_MODEL = "write-path"

interface ShadowHit {
  readonly reply: ContentReply
  readonly served: ServedCounter
}

export class ShadowPaths {
  readonly counters: ShadowCounters = makeShadowCounters()
  private readonly hits = new WeakMap<Shadow, ShadowHit>()
  private registry: ActorRegistry | undefined

  private constructor(
    readonly replica: ShadowReplica,
    readonly store: ShadowStore,
    readonly heads: HeadCache,
    private readonly config: UmbraConfig,
    private readonly access: AccessLog,
  ) {}

  static async start(nc: NatsConnection, config: UmbraConfig, access: AccessLog): Promise<ShadowPaths> {
    const heads = new HeadCache(config.maxLiveActors * 2)
    heads.start(nc, config.names)
    let paths: ShadowPaths | undefined
    const replica = await ShadowReplica.start(nc, {
      bucket: config.names.shadowBucket,
      // After a server restart the memory bucket is gone: make it again before watching.
      beforeRewatch: () =>
        ensureShadowBucket(nc, topologyOf(config)),
      onReset: () => paths?.rebuild(),
      // A shadow of a blob with a live actor shares the actor's bytes (written here, or hydrated).
      held: (id, digest) => paths?.registry?.heldContent(id, digest),
    })
    const store = await ShadowStore.open(
      nc,
      {
        bucket: config.names.shadowBucket,
        maxShadows: config.shadowMaxCount,
        maxValueBytes: config.shadowMaxValueBytes,
        heat: (id) => access.heat(id),
      },
      replica,
    )
    paths = new ShadowPaths(replica, store, heads, config, access)
    return paths
  }

  attach(registry: ActorRegistry): void {
    this.registry = registry
  }

  /** The newest head version known here without any I/O: a live actor, or the head feed. */
  knownHead(id: BlobId): number | undefined {
    const live = this.registry?.liveVersion(id)
    const fed = this.heads.get(id)
    if (live === undefined) return fed
    return fed === undefined ? live : Math.max(live, fed)
  }

  read(id: BlobId, req: ReadRequest): ContentReply | undefined {
    if (req.consistency === "primary") {
      // What decideRead answers first for such a request, without gathering its other inputs.
      this.access.read(id)
      this.counters.misses.consistency++
      this.counters.primaryReads++
      return undefined
    }
    const d = decideRead({
      consistency: req.consistency,
      shadow: this.replica.get(id),
      nowMs: Date.now(),
      minConfidence: req.minConfidence ?? this.config.defaultMinConfidence,
      knownHeadVersion: this.knownHead(id),
    })
    if (d._tag === "Primary") {
      this.access.read(id)
      this.counters.misses[d.reason]++
      this.counters.primaryReads++
      return undefined
    }
    this.counters.hits++
    const hit = this.hitOf(d.shadow)
    this.access.servedBy(hit.served)
    return hit.reply
  }

  /** What every hit on one shadow object shares: its reply, and its count of reads served. */
  private hitOf(s: Shadow): ShadowHit {
    let hit = this.hits.get(s)
    if (hit === undefined) {
      hit = { reply: shadowReply(s), served: new ServedCounter(s.id, s.shadowVersion) }
      this.hits.set(s, hit)
    }
    return hit
  }

  appendStarted(event: BlobEvent): void {
    this.access.write(event.id)
    const now = Date.now()
    const shadow = shadowOfEvent(event, now)
    if (shadow !== undefined) return this.put(shadow)
    // A delete: every replica stops serving the old content at once (a discarded shadow at
    // the tombstone's version), rather than each waiting to hear of the new head.
    this.put(discarded(tombstoneShadow(event, now), "deleted"))
  }

  appendFailed(event: BlobEvent): void {
    const shadow = shadowOfEvent(event, Date.now())
    if (shadow !== undefined) this.put(relabelConflict(shadow, this.config.conflictConfidence))
  }

  /**
   * A write refused for a version conflict: its content stays available as a `conflict`
   * shadow proposing the next version (the loser usually retries on top of the head).
   */
  commandRejected(command: BlobCommand, error: UmbraError, state: BlobState, nowMs: number): void {
    if (error._tag !== "VersionConflict" || command._tag !== "WriteBlob" || command.content.kind !== "inline") return
    const bytes = command.content.bytes
    if (bytes.length > this.config.shadowMaxValueBytes) return
    this.put({
      id: state.id,
      basedOn: state.version,
      predicted: state.version + 1,
      digest: nodeHasher.digest(bytes),
      size: bytes.length,
      contentType: command.contentType,
      contentRef: undefined,
      content: bytes,
      confidence: this.config.conflictConfidence,
      validFromMs: nowMs,
      createdAtMs: nowMs,
      origin: "conflict",
      model: WRITE_MODEL,
      status: "live",
      reason: undefined,
      shadowVersion: 0,
    })
  }

  /** After the bucket was lost: shadows of the live (hot) blobs' heads, from their actors. */
  rebuild(): void {
    this.counters.replicaResets++
    const now = Date.now()
    for (const state of this.registry?.liveStates() ?? []) {
      if (!state.exists || state.digest === undefined) continue
      this.put({
        id: state.id,
        basedOn: state.version,
        predicted: state.version,
        digest: state.digest,
        size: state.size,
        contentType: state.contentType,
        contentRef: state.contentRef,
        content: state.contentRef === undefined ? state.content : undefined,
        confidence: 1,
        validFromMs: now,
        createdAtMs: now,
        origin: "write",
        model: WRITE_MODEL,
        status: "live",
        reason: undefined,
        shadowVersion: 0,
      })
    }
  }

  private put(shadow: Shadow): void {
    // Never awaited by the client's request: a failed shadow write never fails a write.
    this.store.put(shadow).then(
      (r) => {
        if (r._tag === "stored") this.counters.shadowWrites[shadow.origin]++
        else if (r._tag === "skipped") this.counters.shadowWritesSkipped++
        else this.counters.shadowWriteFailures++
      },
      () => this.counters.shadowWriteFailures++,
    )
  }

  stats(): Record<string, unknown> {
    return {
      shadow: { ...this.counters, evictions: this.store.stats.evicted, replicaSize: this.replica.size, replicaBytes: this.replica.bytes, rewatches: this.replica.rewatches },
    }
  }

  async stop(): Promise<void> {
    this.heads.stop()
    await this.replica.stop()
  }
}

/** A `write` shadow of the state an event produces, valid at once. */
const writeShadow = (event: BlobEvent, nowMs: number, content: Pick<Shadow, "size" | "contentType" | "contentRef" | "content">): Shadow => ({
  id: event.id,
  basedOn: event.version - 1,
  predicted: event.version,
  digest: event.digest,
  ...content,
  confidence: 1,
  validFromMs: nowMs,
  createdAtMs: nowMs,
  origin: "write",
  model: WRITE_MODEL,
  status: "live",
  reason: undefined,
  shadowVersion: 0,
})

const tombstoneShadow = (event: BlobEvent, nowMs: number): Shadow =>
  writeShadow(event, nowMs, { size: 0, contentType: undefined, contentRef: undefined, content: undefined })

/** The shadow of the state an event produces (none for a tombstone). */
export const shadowOfEvent = (event: BlobEvent, nowMs: number): Shadow | undefined =>
  event.op === "delete"
    ? undefined
    : writeShadow(event, nowMs, {
        size: event.size,
        contentType: event.contentType,
        contentRef: event.contentRef,
        content: event.contentRef === undefined ? event.content : undefined,
      })

// Shadows are immutable (a new KV revision is a new object): one reply per shadow object,
// with its headers encoded once (see `encodedOnce`), serves every hit on it.
const shadowReplies = new WeakMap<Shadow, ContentReply>()

export const shadowReply = (s: Shadow): ContentReply => {
  const cached = shadowReplies.get(s)
  if (cached !== undefined) return cached
  const reply = buildShadowReply(s)
  shadowReplies.set(s, reply)
  return reply
}

const buildShadowReply = (s: Shadow): ContentReply => {
  const h = natsHeaders()
  h.set(H.version, String(s.predicted))
  h.set(H.source, "shadow")
  h.set(H.digest, s.digest)
  h.set(H.confidence, String(s.confidence))
  h.set(H.validFrom, new Date(s.validFromMs).toISOString())
  h.set(H.shadowVersion, String(s.shadowVersion))
  h.set(H.shadowOrigin, s.origin)
  h.set(H.shadowBasedOn, String(s.basedOn))
  h.set(H.time, new Date(s.createdAtMs).toISOString())
  if (s.contentType !== undefined) h.set(H.contentType, s.contentType)
  if (s.contentRef !== undefined) h.set(H.contentRef, s.contentRef)
  return { body: s.content ?? new Uint8Array(0), headers: encodedOnce(h) }
}
