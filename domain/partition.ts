// Single activation across instances (virtual actors, as in Orleans or Akka Cluster
// Sharding): blobs map to a fixed number of partitions by a stable hash; each partition is
// owned by one instance at a time through a lease with a term (fencing).

/** FNV-1a over UTF-16 code units: stable across processes and languages that copy it. */
export const fnv1a = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** murmur3's finaliser: FNV alone leaves strings that differ in one character correlated. */
export const mix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

export const partitionOf = (id: string, partitions: number): number => mix32(fnv1a(id)) % partitions

/** Rendezvous (highest random weight) hashing: moving one member moves only its partitions. */
export const desiredOwner = (partition: number, members: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestWeight = -1
  for (const m of members) {
    const w = mix32(fnv1a(`${m}#${partition}`))
    if (w > bestWeight || (w === bestWeight && best !== undefined && m < best)) {
      bestWeight = w
      best = m
    }
  }
  return best
}

export interface Lease {
  readonly owner: string
  /** Grows by one at every change of owner: a fencing token. */
  readonly term: number
  readonly expiresAtMs: number
  /**
   * The event stream's sequence every owner of the partition so far had acknowledged appends
   * up to (absent in leases written before it existed: 0). A new owner acts only once the
   * stream, as its own connection sees it, reaches it: on nats-server 2.9.10 a stream leader
   * cut off by a partition goes on calling itself leader for a while after the heal and
   * answers leader gets from its stale copy (docs/reliability.md), and an actor hydrated from
   * that copy would serve versions long overwritten.
   */
  readonly floorSeq?: number
  /** The stream the floor is a sequence of (its creation time): a floor of a stream since deleted and made again binds no one. */
  readonly floorStream?: string
}

/** A sequence of a given event stream (its creation time names it). */
export interface Floor {
  readonly seq: number
  readonly stream: string | undefined
}

/** The event stream as one server answering for its leader reports it. */
export interface StreamMark {
  readonly stream: string
  readonly lastSeq: number
}

const NO_FLOOR: Floor = { seq: 0, stream: undefined }

/**
 * The floor a lease written now carries: the current one raised to what the writer had
 * acknowledged, in the same stream. The writer's appends to another stream (this one was made
 * again) start the floor over; a writer that does not know the stream keeps the floor as it is.
 */
export const raiseFloor = (current: Lease | undefined, acked: Floor): Pick<Lease, "floorSeq" | "floorStream"> => {
  const floorSeq = current?.floorSeq ?? 0
  const floorStream = current?.floorStream
  if (acked.stream === undefined) return { floorSeq, floorStream }
  if (floorStream === undefined || floorStream === acked.stream) return { floorSeq: Math.max(floorSeq, acked.seq), floorStream: acked.stream }
  return { floorSeq: acked.seq, floorStream: acked.stream }
}

export const leaseLive = (l: Lease | undefined, nowMs: number): boolean => l !== undefined && l.owner !== "" && l.expiresAtMs > nowMs

/**
 * May `self` act as owner right now? Only while its lease has at least `marginMs` left, so a
 * process paused past its lease notices before it writes (the stream's compare-and-set on the
 * head is the final guard behind this).
 */
export const holds = (l: Lease | undefined, self: string, nowMs: number, marginMs: number): boolean =>
  l !== undefined && l.owner === self && l.expiresAtMs - marginMs > nowMs

/**
 * Has the stream caught up with what the lease's owners acknowledged, as every server that
 * answered for its leader reports it? None answering is not caught up; a server reporting
 * another stream (made again since) is not held to the floor.
 */
export const caughtUp = (l: Lease, marks: ReadonlyArray<StreamMark>): boolean =>
  marks.length > 0 &&
  marks.every((m) => (l.floorStream !== undefined && m.stream !== l.floorStream) || m.lastSeq >= (l.floorSeq ?? 0))

export type LeaseStep =
  | { readonly _tag: "acquire"; readonly lease: Lease }
  | { readonly _tag: "renew"; readonly lease: Lease }
  /** Give the partition's actors up, then write `handOver` (its floor then includes every append they made). */
  | { readonly _tag: "release" }
  | { readonly _tag: "wait" }

/**
 * What `self` does about one partition on each tick, given the desired owner. `acked` is the
 * highest event-stream sequence `self` has had an append acknowledged at: every lease it
 * writes (a renewal, or the release that hands the partition over) raises the floor to it.
 */
export const leaseStep = (
  current: Lease | undefined,
  self: string,
  desired: string | undefined,
  nowMs: number,
  leaseMs: number,
  acked: Floor = NO_FLOOR,
): LeaseStep => {
  const mine = current !== undefined && current.owner === self && current.expiresAtMs > nowMs
  const floor = raiseFloor(current, acked)
  if (desired !== self) return mine ? { _tag: "release" } : { _tag: "wait" }
  if (mine) return { _tag: "renew", lease: { ...current, expiresAtMs: nowMs + leaseMs, ...floor } }
  if (leaseLive(current, nowMs)) return { _tag: "wait" }
  return { _tag: "acquire", lease: { owner: self, term: (current?.term ?? 0) + 1, expiresAtMs: nowMs + leaseMs, ...floor } }
}

/**
 * A lease handed over (no owner), its floor raised to `acked`: what the releasing owner writes
 * once its actors are given up, so appends acknowledged up to then are in the floor.
 */
export const handOver = (term: number, current: Lease | undefined, acked: Floor): Lease => ({ owner: "", term, expiresAtMs: 0, ...raiseFloor(current, acked) })
