import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream"
import { Kvm, type KV } from "@nats-io/kv"
import type { NatsConnection, QueuedIterator } from "@nats-io/nats-core"
import type { KvWatchEntry } from "@nats-io/kv"
import type { Lease } from "../domain/partition.ts"
import { compareAndSet, ensureCasWindow } from "./exclusive-cas.ts"
import { jsPublisherFor, type JsPublisher } from "./js-publisher.ts"
import { isCasConflict } from "./kv-errors.ts"
import { untilDeadline } from "./retry.ts"

// Partition leases and instance membership in two KV buckets (file storage: an ownership
// record must survive a server restart). Every lease change is a compare-and-set on the
// key's revision, made exclusive on replicated buckets too (exclusive-cas.ts: nats-server
// 2.9.10 lets concurrent compare-and-sets on an R3 stream all succeed, and two instances
// then both took one expired lease); watches keep each instance's view of all leases and all
// members current.
//
// Membership is read from the watch too, not by listing the keys and getting each one every
// tick: on an R3 bucket each listing created a consumer and each get was a direct get that
// any replica may answer, possibly stale. In the 3-node partition case (test/faults) the
// instances disagreed on who was alive, one of them held every partition, and ticks stalled.

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
  /** Last heartbeat (time and revision) of every member seen. */
  private readonly memberView = new Map<string, { atMs: number; revision: number }>()
  private readonly watchers = new Set<QueuedIterator<KvWatchEntry>>()
  private stopped = false

  /** The newest revision each watch has delivered, by stream: how far the views have caught up. */
  private readonly seen = new Map<string, number>()

  private constructor(
    private readonly nc: NatsConnection,
    private readonly members: KV,
    private readonly jsm: JetStreamManager,
    private readonly publisher: JsPublisher,
    private readonly o: { readonly leaseBucket: string; readonly memberBucket: string; readonly memberTtlMs: number; readonly opTimeoutMs: number },
  ) {}

  /**
   * `opTimeoutMs` bounds each write (default 5 s): a lease renewal that outlasts the lease
   * is of no use, so owners pass a fraction of the lease.
   */
  static async open(
    nc: NatsConnection,
    o: { leaseBucket: string; memberBucket: string; replicas: number; memberTtlMs: number; opTimeoutMs?: number },
  ): Promise<LeaseStore> {
    const kvm = new Kvm(jetstream(nc, { timeout: o.opTimeoutMs ?? 5_000 }))
    // Creating replicated buckets right after a cluster starts can time out while streams
    // elect leaders: retried until a deadline rather than failing the service's start.
    const leases = await untilDeadline(() => kvm.create(o.leaseBucket, { history: 1, replicas: o.replicas, storage: "file" as never }))
    const members = await untilDeadline(() =>
      kvm.create(o.memberBucket, { history: 1, replicas: o.replicas, ttl: o.memberTtlMs, storage: "file" as never }),
    )
    const jsm = await jetstreamManager(nc, { timeout: o.opTimeoutMs ?? 5_000 })
    await untilDeadline(() => ensureCasWindow(jsm, `KV_${o.leaseBucket}`))
    const store = new LeaseStore(nc, members, jsm, jsPublisherFor(nc), { ...o, opTimeoutMs: o.opTimeoutMs ?? 5_000 })
    try {
      await store.follow(leases, `KV_${o.leaseBucket}`, (e) => store.onLease(e))
      await store.follow(members, `KV_${o.memberBucket}`, (e) => store.onMember(e))
      // The first tick must not decide on empty views (it would see itself alone and reach
      // for every partition): wait, briefly, until both watches delivered what is stored.
      await Promise.all([store.caughtUp(`KV_${o.leaseBucket}`, 2_000), store.caughtUp(`KV_${o.memberBucket}`, 2_000)])
    } catch (e) {
      store.stop()
      throw e
    }
    return store
  }

  /**
   * Applies every entry of a bucket, then its changes. nats.js re-creates the watch's ordered
   * consumer when heartbeats stop; should the watch end anyway it is started again (every
   * entry is re-applied; the views ignore what they already have).
   */
  private async follow(kv: KV, stream: string, apply: (e: KvWatchEntry) => void): Promise<void> {
    const w = await kv.watch({ key: ">" })
    if (this.stopped) {
      w.stop()
      return
    }
    this.watchers.add(w)
    void (async () => {
      try {
        for await (const e of w) {
          this.seen.set(stream, Math.max(this.seen.get(stream) ?? 0, e.revision))
          try {
            apply(e)
          } catch {
            // a malformed record is skipped, not the end of the watch
          }
        }
      } catch {
        // ended with an error: followed again below
      }
      this.watchers.delete(w)
      for (let attempt = 0; !this.stopped && !this.nc.isClosed(); attempt++) {
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)))
        if (this.stopped || this.nc.isClosed()) return
        try {
          return await this.follow(kv, stream, apply)
        } catch {
          // NATS unavailable: try again
        }
      }
    })()
  }

  /** Waits until the watch of `stream` has delivered its last message as the leader has it, or `timeoutMs`. */
  private async caughtUp(stream: string, timeoutMs: number): Promise<void> {
    const last = (await this.jsm.streams.info(stream)).state.last_seq
    const until = Date.now() + timeoutMs
    // A message removed since (a member's heartbeat past its TTL) is never delivered: the wait ends at the deadline.
    while ((this.seen.get(stream) ?? 0) < last && Date.now() < until && !this.stopped) await new Promise((r) => setTimeout(r, 10))
  }

  private onLease(e: KvWatchEntry): void {
    const p = Number(e.key.slice(1))
    if (!Number.isInteger(p)) return
    this.learn(p, e.operation === "PUT" ? (JSON.parse(dec.decode(e.value)) as Lease) : undefined, e.revision)
  }

  /** Keeps what is known of a partition's lease, unless the view already has a newer revision. */
  private learn(partition: number, lease: Lease | undefined, revision: number): void {
    const known = this.view.get(partition)
    if (known === undefined || known.revision < revision) this.view.set(partition, { lease, revision })
  }

  private onMember(e: KvWatchEntry): void {
    const known = this.memberView.get(e.key)
    if (known !== undefined && known.revision >= e.revision) return
    if (e.operation !== "PUT") {
      this.memberView.delete(e.key)
      return
    }
    const m = JSON.parse(dec.decode(e.value)) as Member
    if (typeof m.atMs === "number") this.learnMember(e.key, m.atMs, e.revision)
  }

  /** Keeps a member's heartbeat, unless the view already has a newer revision (as `learn` for leases). */
  private learnMember(instance: string, atMs: number, revision: number): void {
    const known = this.memberView.get(instance)
    if (known === undefined || known.revision < revision) this.memberView.set(instance, { atMs, revision })
  }

  /** The newest lease of a partition this instance has seen (0 revision: none yet). */
  get(partition: number): LeaseEntry {
    return this.view.get(partition) ?? { lease: undefined, revision: 0 }
  }

  /**
   * Compare-and-set; the new revision, or undefined when someone else changed it first.
   * Throws when the outcome is unknown (NATS or the bucket unavailable): a lease is not given
   * up for that, it lapses at its expiry unless a later renewal gets through.
   */
  async set(partition: number, lease: Lease, expectedRevision: number): Promise<number | undefined> {
    const data = enc.encode(JSON.stringify(lease))
    try {
      const subject = `$KV.${this.o.leaseBucket}.${leaseKey(partition)}`
      const rev = await compareAndSet(this.publisher, subject, data, expectedRevision, { timeoutMs: this.o.opTimeoutMs, exclusive: true })
      this.learn(partition, lease, rev)
      return rev
    } catch (e) {
      if (!isCasConflict(e)) throw e
      // Our view was behind. The watch catches up on its own, but its consumer may sit on a
      // node cut off from the rest (nats.js re-creates it only after missed heartbeats, tens
      // of seconds): the key is read from the stream leader so the next tick starts from there.
      await this.refresh(partition).catch(() => undefined)
      return undefined
    }
  }

  /** A partition's lease as the lease stream's leader has it (not a direct get: any replica answers those). */
  private async refresh(partition: number): Promise<void> {
    try {
      const m = await this.jsm.streams.getMessage(`KV_${this.o.leaseBucket}`, { last_by_subj: `$KV.${this.o.leaseBucket}.${leaseKey(partition)}` })
      if (m === null) return
      const op = m.header?.get("KV-Operation")
      this.learn(partition, op === "DEL" || op === "PURGE" ? undefined : (JSON.parse(dec.decode(m.data)) as Lease), m.seq)
    } catch (e) {
      if (!/no message found|10037/i.test(e instanceof Error ? e.message : String(e))) throw e
    }
  }

  async heartbeat(instance: string, nowMs: number): Promise<void> {
    const revision = await this.members.put(instance, enc.encode(JSON.stringify({ instance, atMs: nowMs } satisfies Member)))
    this.learnMember(instance, nowMs, revision)
  }

  /** Instances whose last heartbeat seen here is newer than `sinceMs`. */
  liveMembers(sinceMs: number): string[] {
    const out: string[] = []
    for (const [instance, m] of this.memberView) {
      if (m.atMs > sinceMs) out.push(instance)
      // The bucket's TTL removed it without a delete the watch would see: forget it here too.
      else if (m.atMs < sinceMs - this.o.memberTtlMs) this.memberView.delete(instance)
    }
    return out.sort()
  }

  async leave(instance: string): Promise<void> {
    await this.members.delete(instance).catch(() => undefined)
  }

  stop(): void {
    this.stopped = true
    for (const w of this.watchers) w.stop()
    this.watchers.clear()
  }
}
