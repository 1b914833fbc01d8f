import type { NatsConnection } from "@nats-io/nats-core"
import type { BlobId } from "../../domain/blob-id.ts"
import { caughtUp, desiredOwner, handOver, holds, leaseStep, partitionOf, type Floor, type Lease, type StreamMark } from "../../domain/partition.ts"
import { LeaseStore } from "../../infra/lease-store.ts"

// This instance's share of the partitions. Every tick it heartbeats, reads who is alive,
// and for each partition acquires, renews or releases its lease as the pure `leaseStep`
// says. A partition is given up (its actors passivated) before its lease is released, and
// an instance acts as owner only while its own lease has a margin left, and only once the
// event stream, as its connection sees it, has reached the lease's floor (`caughtUp`).

export interface PartitionOptions {
  readonly instance: string
  readonly partitions: number
  readonly leaseMs: number
  readonly marginMs: number
  readonly replicas: number
  readonly leaseBucket: string
  readonly memberBucket: string
  /** Passivates every live actor of a partition this instance is giving up. */
  readonly giveUp: (partition: number) => Promise<void>
  /** The highest event-stream sequence this instance had an append acknowledged at. */
  readonly ackedSeq: () => number
  /** The event stream as every server answering for its leader reports it (throws when that cannot be told). */
  readonly streamMarks: () => Promise<ReadonlyArray<StreamMark>>
  readonly now?: () => number
}

export type Route =
  | { readonly _tag: "local" }
  | { readonly _tag: "forward"; readonly owner: string }
  | { readonly _tag: "unavailable"; readonly partition: number }

export interface PartitionStats {
  /** Partitions this instance acts as owner of right now (lease held with margin, stream caught up). */
  readonly owned: number
  /** Partitions whose lease this instance holds but whose floor the stream has not reached yet. */
  readonly catchingUp: number
  readonly acquired: number
  readonly released: number
  readonly lost: number
  readonly ticks: number
}

export class PartitionOwner {
  private readonly owned = new Map<number, Lease>()
  /** Owned partitions whose lease floor the event stream was seen to reach: only these are served. */
  private readonly current = new Set<number>()
  /** The event stream this instance last saw every answering leader agree on (its creation time). */
  private stream: string | undefined
  /** Since when each held-but-not-served partition has waited for the stream, and whether that was said. */
  private readonly waiting = new Map<number, { readonly sinceMs: number; said: boolean }>()
  private timer: NodeJS.Timeout | undefined
  private beating = false
  /** What runs for a partition right now (its lease step, or giving it up): one thing at a time. */
  private readonly busy = new Map<number, Promise<void>>()
  /** The last error of each bucket whose writes fail. */
  private readonly failing = new Map<"members" | "leases", string>()
  private stopped = false
  members: string[] = []
  private readonly counters = { acquired: 0, released: 0, lost: 0, ticks: 0 }

  private constructor(
    private readonly store: LeaseStore,
    private readonly o: PartitionOptions,
  ) {}

  static async start(nc: NatsConnection, o: PartitionOptions): Promise<PartitionOwner> {
    const store = await LeaseStore.open(nc, {
      leaseBucket: o.leaseBucket,
      memberBucket: o.memberBucket,
      replicas: o.replicas,
      memberTtlMs: o.leaseMs * 3,
      // A tick's writes give up in time for the next tick (every third of a lease).
      opTimeoutMs: Math.max(250, Math.floor(o.leaseMs / 3)),
    })
    const owner = new PartitionOwner(store, o)
    await owner.tick()
    owner.timer = setInterval(() => void owner.tick(), Math.max(50, Math.floor(o.leaseMs / 3)))
    owner.tickOnReconnect(nc)
    return owner
  }

  get stats(): PartitionStats {
    const now = this.now()
    let owned = 0
    let catchingUp = 0
    for (const [p, l] of this.owned) {
      if (!holds(l, this.o.instance, now, this.o.marginMs)) continue
      if (this.current.has(p)) owned++
      else catchingUp++
    }
    return { owned, catchingUp, ...this.counters }
  }

  private now(): number {
    return this.o.now?.() ?? Date.now()
  }

  partitionOf(id: string): number {
    return partitionOf(id, this.o.partitions)
  }

  /**
   * True only while this instance holds the blob's partition with margin to spare and has seen
   * the stream catch up. `marginMs` asks for more of the lease left than the configured margin.
   */
  owns(id: BlobId, marginMs = this.o.marginMs): boolean {
    const p = this.partitionOf(id)
    return this.current.has(p) && holds(this.owned.get(p), this.o.instance, this.now(), Math.max(marginMs, this.o.marginMs))
  }

  route(id: BlobId): Route {
    if (this.owns(id)) return { _tag: "local" }
    const p = this.partitionOf(id)
    const { lease } = this.store.get(p)
    if (lease !== undefined && lease.owner !== "" && lease.owner !== this.o.instance && lease.expiresAtMs > this.now())
      return { _tag: "forward", owner: lease.owner }
    return { _tag: "unavailable", partition: p }
  }

  /** Back from a NATS outage: take (or confirm) partitions at once instead of at the next tick. */
  private tickOnReconnect(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (this.stopped) return
        if (s.type === "reconnect") void this.tick()
      }
    })().catch(() => undefined)
  }

  /**
   * One round: a heartbeat, then each partition's lease step. The heartbeat and the
   * partitions run independently, each at most once at a time: a slow write (the members
   * bucket unavailable, a compare-and-set that times out) holds up only itself, never the
   * renewal of the other leases. Resolves when this round's work is done (the first round
   * is awaited at start; the timer's are not).
   */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve()
    const now = this.now()
    this.counters.ticks++
    const work: Promise<void>[] = []
    if (!this.beating) {
      this.beating = true
      work.push(
        this.store.heartbeat(this.o.instance, now).then(
          () => this.note("members", undefined),
          (e: unknown) => this.note("members", e),
        ).finally(() => {
          this.beating = false
        }),
      )
    }
    const live = this.store.liveMembers(now - this.o.leaseMs)
    this.members = live.includes(this.o.instance) ? live : [...live, this.o.instance].sort()
    // One look at the stream per round, shared by the partitions that need it.
    let marks: Promise<ReadonlyArray<StreamMark>> | undefined
    const streamMarks = () => (marks ??= this.o.streamMarks().then((m) => this.learnStream(m)))
    for (let p = 0; p < this.o.partitions; p++) {
      const w = this.exclusively(p, async () => {
        try {
          await this.tickPartition(p, this.now(), streamMarks)
        } catch (e) {
          this.note("leases", e)
        }
      })
      if (w !== undefined) work.push(w)
    }
    return Promise.all(work).then(() => undefined)
  }

  /** Runs `f` for partition `p` unless something already runs for it (then undefined). */
  private exclusively(p: number, f: () => Promise<void>): Promise<void> | undefined {
    if (this.busy.has(p)) return undefined
    const run = f().finally(() => this.busy.delete(p))
    this.busy.set(p, run)
    return run
  }

  /** Says once when writes to a bucket start failing and once when they work again, not at every tick. */
  private note(bucket: "members" | "leases", error: unknown): void {
    const was = this.failing.get(bucket)
    if (error === undefined) {
      if (was !== undefined) console.error(`umbra partitions: ${this.o.instance} writes to the ${bucket} bucket again`)
      this.failing.delete(bucket)
      return
    }
    const message = error instanceof Error ? error.message : String(error)
    if (was === undefined) console.error(`umbra partitions: ${this.o.instance} cannot write to the ${bucket} bucket (${message}); leases lapse until it can`)
    this.failing.set(bucket, message)
  }

  /** Keeps the stream's identity when every answer names the same stream. */
  private learnStream(marks: ReadonlyArray<StreamMark>): ReadonlyArray<StreamMark> {
    const first = marks[0]?.stream
    if (first !== undefined && marks.every((m) => m.stream === first)) this.stream = first
    return marks
  }

  /** What this instance's acknowledged appends add to a lease's floor. */
  private acked(): Floor {
    return { seq: this.o.ackedSeq(), stream: this.stream }
  }

  private async tickPartition(p: number, now: number, streamMarks: () => Promise<ReadonlyArray<StreamMark>>): Promise<void> {
    const { lease, revision } = this.store.get(p)
    const mine = this.owned.get(p)
    if (mine !== undefined && (mine.expiresAtMs <= now || lease?.owner !== this.o.instance || lease.term !== mine.term)) {
      // Our lease ran out (renewals failed), or someone else holds it now (we were paused
      // past it): its actors go at once, so a later term of ours starts from the stream.
      await this.lose(p)
    }
    const step = leaseStep(lease, this.o.instance, desiredOwner(p, this.members), now, this.o.leaseMs, this.acked())
    if (step._tag === "wait") return
    if (step._tag === "release") {
      this.drop(p)
      await this.o.giveUp(p)
      await this.store.set(p, handOver(lease?.term ?? 0, lease, this.acked()), revision)
      this.note("leases", undefined)
      this.counters.released++
      return
    }
    const rev = await this.store.set(p, step.lease, revision)
    this.note("leases", undefined)
    if (rev === undefined) {
      // Lost the compare-and-set; the store re-read the key. A renewal of ours that timed out
      // but landed looks the same: the lease is given up only if it now names someone else.
      const current = this.store.get(p).lease
      const held = this.owned.get(p)
      if (held === undefined) return
      if (current !== undefined && current.owner === this.o.instance && current.term === held.term) this.owned.set(p, current)
      else await this.lose(p)
      return
    }
    if (step._tag === "acquire") {
      this.counters.acquired++
      this.current.delete(p)
    }
    this.owned.set(p, step.lease)
    if (!this.current.has(p)) await this.catchUp(p, step.lease, streamMarks)
  }

  /** Serves the partition once the stream reached its lease's floor; until then (or when that cannot be told) it stays unavailable. */
  private async catchUp(p: number, lease: Lease, streamMarks: () => Promise<ReadonlyArray<StreamMark>>): Promise<void> {
    const marks = await streamMarks().catch(() => undefined)
    if (marks === undefined || !caughtUp(lease, marks)) return this.stillWaiting(p, lease, marks)
    if (this.owned.get(p)?.term !== lease.term) return
    this.current.add(p)
    if (this.waiting.get(p)?.said === true) console.error(`umbra partitions: ${this.o.instance} serves partition ${p} again (the event stream reached its floor)`)
    this.waiting.delete(p)
  }

  /** Says once when a partition has waited for the stream for longer than three leases (it stays unavailable meanwhile). */
  private stillWaiting(p: number, lease: Lease, marks: ReadonlyArray<StreamMark> | undefined): void {
    const now = this.now()
    const w = this.waiting.get(p) ?? { sinceMs: now, said: false }
    this.waiting.set(p, w)
    if (w.said || now - w.sinceMs < 3 * this.o.leaseMs) return
    w.said = true
    const seen = marks === undefined ? "no answer about the stream" : marks.map((m) => `last sequence ${m.lastSeq} of the stream made ${m.stream}`).join("; ")
    console.error(
      `umbra partitions: ${this.o.instance} holds partition ${p} but has not served it for ${Math.round((now - w.sinceMs) / 1000)} s: ` +
        `its lease's floor is sequence ${lease.floorSeq ?? 0} of the stream made ${lease.floorStream ?? "?"}, and the leaders answer ${seen}`,
    )
  }

  private drop(p: number): void {
    this.owned.delete(p)
    this.current.delete(p)
    this.waiting.delete(p)
  }

  private async lose(p: number): Promise<void> {
    this.drop(p)
    this.counters.lost++
    await this.o.giveUp(p)
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    // Nothing may renew a lease after it is handed over below.
    await Promise.all([...this.busy.values()])
    // Hand partitions over at once rather than making others wait for the leases to expire.
    for (const [p, l] of [...this.owned]) {
      this.drop(p)
      await this.o.giveUp(p)
      const { lease, revision } = this.store.get(p)
      await this.store.set(p, handOver(l.term, lease, this.acked()), revision).catch(() => undefined)
    }
    await this.store.leave(this.o.instance)
    this.store.stop()
  }
}
