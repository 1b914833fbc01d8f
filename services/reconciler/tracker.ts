import type { BlobEvent } from "../../domain/blob-event.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { ownedString } from "../../infra/owned-string.ts"

// What the reconciler remembers between settlements, all bounded:
// - revisions awaiting their outcome. The write path replaces a prediction with its `write`
//   shadow before the reconciler sees the event, so a replaced revision must still be judged
//   when the event of its predicted version arrives (that is how the predictor learns);
// - revisions whose outcome is recorded (so a sweep does not judge them again);
// - the newest head version seen per blob (a revision that shows up after its event is judged
//   at once). Only the version for every blob: whole events kept here (their header strings,
//   their content views pinning socket chunks) made the reconciler's memory grow with the
//   blobs' sizes. The last few thousand events are kept too, without their content, for a
//   revision made right after its event: a reconciler's own refresh of a hot shadow, a blob
//   service relabelling its write's shadow as a conflict. That revision is judged at its own
//   version (a confirm or a discard, never an update), so the content is never needed.

export interface Pending {
  readonly shadow: Shadow
  readonly seenMs: number
}

/** An insertion-ordered map that forgets its oldest entries past `max`. */
export class Lru<K, V> {
  private readonly m = new Map<K, V>()
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    return this.m.get(k)
  }
  has(k: K): boolean {
    return this.m.has(k)
  }
  set(k: K, v: V): void {
    this.m.delete(k)
    this.m.set(k, v)
    while (this.m.size > this.max) {
      const oldest = this.m.keys().next()
      if (oldest.done === true) break
      this.m.delete(oldest.value)
    }
  }
  delete(k: K): void {
    this.m.delete(k)
  }
  get size(): number {
    return this.m.size
  }
}

const revKey = (id: string, rev: number): string => `${id}@${rev}`

export interface TrackerLimits {
  readonly maxPending: number
  readonly maxPerBlob: number
  readonly maxJudged: number
  readonly maxHeads: number
  /** Events kept whole (without content), the most recently noted first to stay. */
  readonly maxRecentEvents: number
}

export class ShadowTracker {
  private readonly pending = new Map<string, Map<number, Pending>>()
  private pendingCount = 0
  private readonly judged: Lru<string, true>
  private readonly heads: Lru<string, number>
  private readonly recent: Lru<string, BlobEvent>

  constructor(private readonly limits: TrackerLimits) {
    this.judged = new Lru(limits.maxJudged)
    this.heads = new Lru(limits.maxHeads)
    this.recent = new Lru(limits.maxRecentEvents)
  }

  /** A live revision seen in the bucket; false if it was already known or judged. */
  observe(s: Shadow, nowMs: number): boolean {
    if (s.status !== "live" || this.judged.has(revKey(s.id, s.shadowVersion))) return false
    let revs = this.pending.get(s.id)
    if (revs?.has(s.shadowVersion) === true) return false
    if (revs === undefined) this.pending.set(s.id, (revs = new Map()))
    revs.set(s.shadowVersion, { shadow: s, seenMs: nowMs })
    this.pendingCount++
    this.bound(s.id, revs)
    return true
  }

  private bound(id: string, revs: Map<number, Pending>): void {
    while (revs.size > this.limits.maxPerBlob) this.dropOldest(id, revs)
    if (this.pendingCount <= this.limits.maxPending) return
    for (const [otherId, other] of this.pending) {
      this.dropOldest(otherId, other)
      if (this.pendingCount <= this.limits.maxPending) return
    }
  }

  private dropOldest(id: string, revs: Map<number, Pending>): void {
    const oldest = revs.keys().next()
    if (oldest.done === true) return
    this.forget(id, oldest.value)
  }

  /** The revision, if it still awaits its outcome. */
  pendingRevision(id: string, rev: number): Shadow | undefined {
    return this.pending.get(id)?.get(rev)?.shadow
  }

  /** Revisions of one blob awaiting their outcome, oldest first. */
  pendingOf(id: string): ReadonlyArray<Shadow> {
    const revs = this.pending.get(id)
    return revs === undefined ? [] : [...revs.values()].map((p) => p.shadow)
  }

  /** When the revision was first seen here (`otherwise` when it is not awaiting its outcome). */
  seenAt(id: string, rev: number, otherwise: number): number {
    return this.pending.get(id)?.get(rev)?.seenMs ?? otherwise
  }

  *allPending(): IterableIterator<Pending> {
    for (const revs of this.pending.values()) yield* revs.values()
  }

  get pendingSize(): number {
    return this.pendingCount
  }

  /** The revision's outcome is recorded: it is never judged for its outcome again. */
  judge(id: string, rev: number): void {
    this.judged.set(revKey(id, rev), true)
    this.forget(id, rev)
  }

  isJudged(id: string, rev: number): boolean {
    return this.judged.has(revKey(id, rev))
  }

  forget(id: string, rev: number): void {
    const revs = this.pending.get(id)
    if (revs === undefined || !revs.delete(rev)) return
    this.pendingCount--
    if (revs.size === 0) this.pending.delete(id)
  }

  noteHead(e: BlobEvent): void {
    const known = this.heads.get(e.id)
    if (known !== undefined && known >= e.version) return
    // The key is kept for long: not as a slice of the event's header block.
    this.heads.set(ownedString(e.id), e.version)
    this.recent.set(e.id, e.content === undefined ? e : { ...e, content: undefined })
  }

  /** The blob's head event, without its content, if it is among the most recently noted. */
  recentEvent(id: string): BlobEvent | undefined {
    return this.recent.get(id)
  }

  headVersion(id: string): number | undefined {
    return this.heads.get(id)
  }
}
