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
}

export const leaseLive = (l: Lease | undefined, nowMs: number): boolean => l !== undefined && l.owner !== "" && l.expiresAtMs > nowMs

/**
 * May `self` act as owner right now? Only while its lease has at least `marginMs` left, so a
 * process paused past its lease notices before it writes (the stream's compare-and-set on the
 * head is the final guard behind this).
 */
export const holds = (l: Lease | undefined, self: string, nowMs: number, marginMs: number): boolean =>
  l !== undefined && l.owner === self && l.expiresAtMs - marginMs > nowMs

export type LeaseStep =
  | { readonly _tag: "acquire"; readonly lease: Lease }
  | { readonly _tag: "renew"; readonly lease: Lease }
  | { readonly _tag: "release" }
  | { readonly _tag: "wait" }

/** What `self` does about one partition on each tick, given the desired owner. */
export const leaseStep = (
  current: Lease | undefined,
  self: string,
  desired: string | undefined,
  nowMs: number,
  leaseMs: number,
): LeaseStep => {
  const mine = current !== undefined && current.owner === self && current.expiresAtMs > nowMs
  if (desired !== self) return mine ? { _tag: "release" } : { _tag: "wait" }
  if (mine) return { _tag: "renew", lease: { ...current, expiresAtMs: nowMs + leaseMs } }
  if (leaseLive(current, nowMs)) return { _tag: "wait" }
  return { _tag: "acquire", lease: { owner: self, term: (current?.term ?? 0) + 1, expiresAtMs: nowMs + leaseMs } }
}
