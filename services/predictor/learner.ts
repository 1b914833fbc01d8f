import * as E from "fp-ts/lib/Either.js"
import type { JsMsg } from "@nats-io/jetstream"
import type { BlobEvent } from "../../domain/blob-event.ts"
import type { Prediction, Predictor } from "../../domain/predictor/predictor.ts"
import type { ContentStore } from "../../infra/content-store.ts"
import { decodeEvent } from "../../infra/event-codec.ts"

// Blob events into `observe`, each (id, version) at most once. The consumer delivers a
// blob's versions in order, so "already learned" is simply "not above the last version
// observed for this blob"; that memory is bounded (least recently written blobs forgotten
// first) and travels in the checkpoint with the model.

export interface LearnerCounters {
  observed: number
  duplicates: number
  /** A version arrived while an earlier one of the same blob was never seen (forgotten or trimmed). */
  gaps: number
  malformed: number
  /** Content by reference above the learning limit, or no longer in the content store. */
  unreadable: number
}

export interface LearnerOptions {
  readonly maxSeenBlobs: number
  readonly maxLearnBytes: number
  readonly onObserved?: (id: string, version: number) => void
  readonly onPrediction: (p: Prediction, e: BlobEvent) => void
}

const EMPTY = new Uint8Array(0)

export class Learner {
  readonly counters: LearnerCounters = { observed: 0, duplicates: 0, gaps: 0, malformed: 0, unreadable: 0 }
  private readonly seen: Map<string, number>

  constructor(
    private readonly predictor: Predictor,
    private readonly content: ContentStore | undefined,
    private readonly o: LearnerOptions,
    seen: ReadonlyArray<readonly [string, number]> = [],
  ) {
    this.seen = new Map(seen)
  }

  seenEntries(): Array<[string, number]> {
    return [...this.seen]
  }

  lastVersion(id: string): number {
    return this.seen.get(id) ?? 0
  }

  readonly onMessage = async (m: JsMsg): Promise<void> => {
    const decoded = decodeEvent(m.headers, m.data)
    if (E.isLeft(decoded)) {
      this.counters.malformed++
      return
    }
    const e = decoded.right
    if (this.isDuplicate(e)) return
    const content = e.contentRef === undefined ? (e.content ?? EMPTY) : await this.fetch(e)
    // Checked again: another path may have learned it while the content was fetched.
    if (this.isDuplicate(e)) return
    this.remember(e.id, e.version)
    if (content === undefined) {
      this.counters.unreadable++
      return
    }
    this.observe(e, content)
  }

  private observe(e: BlobEvent, content: Uint8Array): void {
    const p = this.predictor.observe({ id: e.id, version: e.version, timeMs: e.timeMs, content })
    this.counters.observed++
    this.o.onObserved?.(e.id, e.version)
    if (p !== undefined) this.o.onPrediction(p, e)
  }

  private isDuplicate(e: BlobEvent): boolean {
    const last = this.seen.get(e.id) ?? 0
    if (e.version > last) return false
    this.counters.duplicates++
    return true
  }

  private remember(id: string, version: number): void {
    const last = this.seen.get(id)
    if (last !== undefined && version > last + 1) this.counters.gaps++
    this.seen.delete(id)
    this.seen.set(id, version)
    if (this.seen.size <= this.o.maxSeenBlobs) return
    const oldest = this.seen.keys().next()
    if (oldest.done !== true) this.seen.delete(oldest.value)
  }

  private async fetch(e: BlobEvent): Promise<Uint8Array | undefined> {
    if (this.content === undefined || e.contentRef === undefined || e.size > this.o.maxLearnBytes) return undefined
    return this.content.get(e.contentRef).catch(() => undefined)
  }
}
