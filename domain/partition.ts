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
}

export const leaseLive = (l: Lease | undefined, nowMs: number): boolean => l !== undefined && l.owner !== "" && l.expiresAtMs > nowMs

/**
 * May `self` act as owner right now? Only while its lease has at least `marginMs` left, so a
 * process paused past its lease notices before it writes (the stream's compare-and-set on the
 * head is the final guard behind this).
 */
export const holds = (l: Lease | undefined, self: string, nowMs: number, marginMs: number): boolean =>
  l !== undefined && l.owner === self && l.expiresAtMs - marginMs > nowMs

/** Has the stream, at `lastSeq` as this instance sees it, caught up with what the lease's owners acknowledged? */
export const caughtUp = (l: Lease, lastSeq: number): boolean => lastSeq >= (l.floorSeq ?? 0)

export type LeaseStep =
  | { readonly _tag: "acquire"; readonly lease: Lease }
  | { readonly _tag: "renew"; readonly lease: Lease }
  | { readonly _tag: "release"; readonly lease: Lease }
  | { readonly _tag: "wait" }

/**
 * What `self` does about one partition on each tick, given the desired owner. `ackedSeq` is
 * the highest event-stream sequence `self` has had an append acknowledged at: every lease it
 * writes (a renewal, or the release that hands the partition over) raises the floor to it.
 */
export const leaseStep = (
  current: Lease | undefined,
  self: string,
  desired: string | undefined,
  nowMs: number,
  leaseMs: number,
  ackedSeq = 0,
): LeaseStep => {
  const mine = current !== undefined && current.owner === self && current.expiresAtMs > nowMs
  const floorSeq = Math.max(current?.floorSeq ?? 0, ackedSeq)
  if (desired !== self) return mine ? { _tag: "release", lease: { owner: "", term: current.term, expiresAtMs: 0, floorSeq } } : { _tag: "wait" }
  if (mine) return { _tag: "renew", lease: { ...current, expiresAtMs: nowMs + leaseMs, floorSeq } }
  if (leaseLive(current, nowMs)) return { _tag: "wait" }
  return { _tag: "acquire", lease: { owner: self, term: (current?.term ?? 0) + 1, expiresAtMs: nowMs + leaseMs, floorSeq } }
}

/** The lease `self` writes when it stops (hands a partition over at once instead of letting it expire). */
export const handOver = (held: Lease, current: Lease | undefined, ackedSeq: number): Lease => ({
  owner: "",
  term: held.term,
  expiresAtMs: 0,
  floorSeq: Math.max(held.floorSeq ?? 0, current?.floorSeq ?? 0, ackedSeq),
})
