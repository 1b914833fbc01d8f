import { Kvm, type KV } from "@nats-io/kv"
import type { NatsConnection, QueuedIterator } from "@nats-io/nats-core"
import type { KvWatchEntry } from "@nats-io/kv"
import type { Lease } from "../domain/partition.ts"
import { untilDeadline } from "./retry.ts"

// Partition leases and instance membership in two KV buckets (file storage: an ownership
// record must survive a server restart). Every lease change is a compare-and-set on the
// key's revision; a watch keeps each instance's view of all leases current.

export interface LeaseEntry {
  readonly lease: Lease | undefined
  readonly revision: number
}

export interface Member {
  readonly instance: string
  readonly atMs: number
}

const enc = new TextEncoder()
const dec = new TextDecoder()

export const leaseKey = (partition: number): string => `p${partition}`

export class LeaseStore {
  private readonly view = new Map<number, LeaseEntry>()
  private watcher: QueuedIterator<KvWatchEntry> | undefined

  private constructor(
    private readonly leases: KV,
    private readonly members: KV,
  ) {}

  static async open(nc: NatsConnection, o: { leaseBucket: string; memberBucket: string; replicas: number; memberTtlMs: number }): Promise<LeaseStore> {
    const kvm = new Kvm(nc)
    // Creating replicated buckets right after a cluster starts can time out while streams
    // elect leaders: retried until a deadline rather than failing the service's start.
    const leases = await untilDeadline(() => kvm.create(o.leaseBucket, { history: 1, replicas: o.replicas, storage: "file" as never }))
    const members = await untilDeadline(() =>
      kvm.create(o.memberBucket, { history: 1, replicas: o.replicas, ttl: o.memberTtlMs, storage: "file" as never }),
    )
    const store = new LeaseStore(leases, members)
    await store.watch()
    return store
  }

  private async watch(): Promise<void> {
    this.watcher = await this.leases.watch({ key: ">" })
    void (async () => {
      for await (const e of this.watcher!) {
        const p = Number(e.key.slice(1))
        if (!Number.isInteger(p)) continue
        const lease = e.operation === "PUT" ? (JSON.parse(dec.decode(e.value)) as Lease) : undefined
        const known = this.view.get(p)
        if (known === undefined || known.revision < e.revision) this.view.set(p, { lease, revision: e.revision })
      }
    })().catch(() => undefined)
  }

  /** The newest lease of a partition this instance has seen (0 revision: none yet). */
  get(partition: number): LeaseEntry {
    return this.view.get(partition) ?? { lease: undefined, revision: 0 }
  }

  /** Compare-and-set; the new revision, or undefined when someone else changed it first. */
  async set(partition: number, lease: Lease, expectedRevision: number): Promise<number | undefined> {
    const data = enc.encode(JSON.stringify(lease))
    try {
      const rev =
        expectedRevision === 0
          ? await this.leases.create(leaseKey(partition), data)
          : await this.leases.update(leaseKey(partition), data, expectedRevision)
      const known = this.view.get(partition)
      if (known === undefined || known.revision < rev) this.view.set(partition, { lease, revision: rev })
      return rev
    } catch {
      return undefined
    }
  }

  async heartbeat(instance: string, nowMs: number): Promise<void> {
    await this.members.put(instance, enc.encode(JSON.stringify({ instance, atMs: nowMs } satisfies Member)))
  }

  /** Instances whose last heartbeat is newer than `sinceMs`. */
  async liveMembers(sinceMs: number): Promise<string[]> {
    const out: string[] = []
    const keys = await this.members.keys()
    for await (const k of keys) {
      const e = await this.members.get(k)
      if (e === null || e.operation !== "PUT") continue
      const m = JSON.parse(dec.decode(e.value)) as Member
      if (m.atMs > sinceMs) out.push(m.instance)
    }
    return out.sort()
  }

  async leave(instance: string): Promise<void> {
    await this.members.delete(instance).catch(() => undefined)
  }

  stop(): void {
    this.watcher?.stop()
  }
}
