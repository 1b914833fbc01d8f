import type { NatsConnection, Subscription } from "@nats-io/nats-core"
import { decideRead } from "../../domain/read-policy.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { EH } from "../headers.ts"
import { defaultNames, type Names } from "../names.ts"
import { ShadowReplica } from "../shadow-replica.ts"
import type { LocalReplica, ReadResult } from "./types.ts"

// The extremely fast read: an application keeps its own replica of the shadows of the blobs
// it cares about (a set of ids or an id prefix), so reading a valid shadow is a map lookup
// in its own memory — no request at all. The same read policy as the service decides what
// may be served; it also follows the head versions so an obsolete shadow is never served.

export interface LocalReplicaOptions {
  /** Exactly these blobs… */
  readonly ids?: ReadonlyArray<string>
  /** …or every blob whose id starts with this. */
  readonly prefix?: string
  readonly names?: Names
  /** Used when a read gives no minimum (the service's default is 0.9). */
  readonly defaultMinConfidence?: number
  readonly now?: () => number
}

export class LocalShadowReplica implements LocalReplica {
  private readonly heads = new Map<string, number>()
  private headSub: Subscription | undefined
  hits = 0
  misses = 0

  private constructor(
    private readonly replica: ShadowReplica,
    private readonly o: LocalReplicaOptions,
  ) {}

  static async start(nc: NatsConnection, o: LocalReplicaOptions): Promise<LocalShadowReplica> {
    if (o.ids === undefined && o.prefix === undefined) throw new Error("a local replica needs ids or a prefix")
    const names = o.names ?? defaultNames
    const ids = o.ids === undefined ? undefined : new Set(o.ids)
    const keep = (id: string) => (ids !== undefined ? ids.has(id) : id.startsWith(o.prefix!))
    const replica = await ShadowReplica.start(nc, { bucket: names.shadowBucket, keep })
    const local = new LocalShadowReplica(replica, o)
    local.followHeads(nc, names, keep)
    return local
  }

  lookup(id: string, query: { readonly minConfidence?: number }): ReadResult | undefined {
    const shadow = this.replica.get(id)
    const d = decideRead({
      consistency: "shadow",
      shadow,
      nowMs: this.o.now?.() ?? Date.now(),
      minConfidence: query.minConfidence ?? this.o.defaultMinConfidence ?? 0.9,
      knownHeadVersion: this.heads.get(id),
    })
    // Content kept by reference would need a fetch: that is the service's job, not a lookup's.
    if (d._tag === "Primary" || d.shadow.content === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    return toReadResult(d.shadow)
  }

  get size(): number {
    return this.replica.size
  }

  async stop(): Promise<void> {
    this.headSub?.unsubscribe()
    await this.replica.stop()
  }

  private followHeads(nc: NatsConnection, names: Names, keep: (id: string) => boolean): void {
    const prefixLength = names.headSubjectPrefix.length + 1
    this.headSub = nc.subscribe(`${names.headSubjectPrefix}.>`, {
      callback: (err, msg) => {
        if (err !== null) return
        const id = msg.subject.slice(prefixLength)
        if (!keep(id)) return
        const v = Number(msg.headers?.get(EH.version))
        if (Number.isSafeInteger(v) && v > (this.heads.get(id) ?? 0)) this.heads.set(id, v)
      },
    })
  }
}

const toReadResult = (s: Shadow): ReadResult => ({
  id: s.id,
  content: s.content!,
  version: s.predicted,
  digest: s.digest,
  source: "local",
  ...(s.contentType === undefined ? {} : { contentType: s.contentType }),
  shadow: {
    confidence: s.confidence,
    validFrom: s.validFromMs,
    shadowVersion: s.shadowVersion,
    origin: s.origin,
    basedOn: s.basedOn,
  },
})
