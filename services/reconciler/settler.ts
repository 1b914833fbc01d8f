import type { BlobEvent } from "../../domain/blob-event.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import {
  reconcilerSaga,
  type Applied,
  type ApplyInput,
  type LoadInput,
  type Loaded,
  type LoadedHead,
  type SagaEvent,
  type SagaStage,
  type SettleOutput,
} from "../../domain/machines/reconciler-saga.ts"
import { isOutcome } from "../../domain/reconcile.ts"
import { discarded, type Shadow } from "../../domain/shadow.ts"
import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"
import type { EventStore } from "../../infra/event-store.ts"
import type { ShadowEvents } from "../../infra/shadow-events.ts"
import type { ShadowReplica } from "../../infra/shadow-replica.ts"
import type { ShadowStore } from "../../infra/shadow-store.ts"
import type { ShadowMetrics } from "../metrics/shadow-metrics.ts"
import type { AccessFeed } from "./access-feed.ts"
import type { ReconcilerMetrics } from "./metrics.ts"
import { SagaRunner, type NamedAction } from "./saga-runner.ts"
import type { ShadowTracker } from "./tracker.ts"

// The saga's effects against NATS, and what a finished settlement changes in memory.
//
// Two kinds of settlement (see domain/reconcile.ts):
//  - `outcome`: a revision is judged at its own predicted version: against the triggering
//    event when that is the version, else against the committed event at that version
//    (looked up) once the head is past it, else against the head (awaiting / expired).
//    Replays and restarts judge a revision against the same event, so they reach the same
//    verdict and record the same message id.
//  - `freshness`: the current revision, whose outcome is already recorded, is behind the head:
//    refreshed (hot) or dropped (cold).

export const RECONCILER_MODEL = "reconciler"

export type Mode = "outcome" | "freshness"

export interface SettleRequest {
  readonly id: BlobId
  readonly revision: number | undefined
  readonly mode: Mode
  /** The event that triggered the settlement; a leader get of the head when absent. */
  readonly trigger: BlobEvent | undefined
}

export class SettlementFailed extends Error {
  readonly _tag = "SettlementFailed"
  constructor(
    readonly stage: SagaStage,
    message: string,
  ) {
    super(`${stage}: ${message}`)
  }
}

export interface SettlerDeps {
  readonly replica: ShadowReplica
  readonly tracker: ShadowTracker
  readonly store: ShadowStore
  readonly events: EventStore
  readonly lifecycle: Pick<ShadowEvents, "record">
  readonly access: AccessFeed
  readonly metrics: ReconcilerMetrics
  readonly shadowMetrics: ShadowMetrics | undefined
  readonly graceMs: number
  readonly hotReads: number
  /**
   * Settles when the revision's `created` record is stored (at once when it is not being
   * recorded). Its verdict does not wait for it: both records leave in order on one
   * connection, the `created` first (it is published as the revision is seen), so the stream
   * stores them in that order, and the verdict saves a JetStream round trip. Awaited before
   * the settlement ends, so a trigger is acknowledged only once both are stored.
   */
  readonly createdRecorded: (id: string, rev: number) => Promise<void>
  readonly maxValueBytes: number
}

const EFFECTS: ReadonlySet<string> = new Set(["load", "applyVerdict", "record"])

/** The effect a step named (the saga names at most one per state it enters). */
const effectOf = (actions: ReadonlyArray<NamedAction>): NamedAction | undefined => actions.find((a) => EFFECTS.has(a.type))

const view = (e: BlobEvent | undefined): LoadedHead["head"] => (e === undefined ? undefined : { version: e.version, digest: e.digest })

export class Settler {
  private readonly saga = new SagaRunner(reconcilerSaga)

  constructor(private readonly d: SettlerDeps) {}

  async settle(r: SettleRequest): Promise<SettleOutput> {
    const nowMs = Date.now()
    const input = { id: r.id, revision: r.revision, nowMs, graceMs: this.d.graceMs, hot: this.d.access.readsOf(r.id, nowMs) >= this.d.hotReads, trigger: r }
    let step = this.saga.start(input)
    for (let effect = effectOf(step.actions); effect !== undefined; effect = effectOf(step.actions)) {
      let answer: SagaEvent
      try {
        answer = await this.run(effect)
      } catch (error) {
        answer = { type: "failed", error }
      }
      step = this.saga.next(step.snapshot, answer)
    }
    if (step.snapshot.status !== "done") throw new Error(`reconciler saga stopped ${step.snapshot.status} in ${String(step.snapshot.value)}`)
    const out = step.snapshot.output as SettleOutput
    // The verdict went out behind its `created` record without waiting for that record's ack
    // (see SettlerDeps.createdRecorded); the settlement is done, and its trigger acknowledged,
    // only once both are stored.
    if (out._tag === "Kept" || out._tag === "Settled") await this.d.createdRecorded(out.shadow.id, out.shadow.shadowVersion)
    this.after(out, r)
    return out
  }

  /** Runs one effect the saga named; its result is the event the saga is sent next. */
  private async run(e: NamedAction): Promise<SagaEvent> {
    switch (e.type) {
      case "load":
        return { type: "loaded", output: await this.load(e.params as LoadInput) }
      case "applyVerdict":
        return { type: "applied", output: await this.apply(e.params as ApplyInput) }
      default:
        return { type: "recorded", fresh: await this.d.lifecycle.record((e.params as { event: ShadowLifecycleEvent }).event) }
    }
  }

  private async load(p: LoadInput): Promise<Loaded | undefined> {
    const current = this.d.replica.get(p.id)
    const shadow = p.revision === undefined || current?.shadowVersion === p.revision ? current : this.d.tracker.pendingRevision(p.id, p.revision)
    if (shadow === undefined) return undefined
    const head = await this.loadHead(shadow, p.trigger as SettleRequest)
    return { shadow, served: this.d.access.servedBy(p.id, shadow.shadowVersion), head }
  }

  private async loadHead(s: Shadow, r: SettleRequest): Promise<LoadedHead> {
    const head = r.trigger ?? (await this.leaderHead(s.id))
    if (r.mode === "freshness") return { head: view(head), atPredicted: s.digest, event: head }
    if (head === undefined || head.version <= s.predicted) return { head: view(head), atPredicted: undefined, event: head }
    const at = (await this.d.events.seqOfVersion(s.id, s.predicted))?.event
    // No event at that version (history not kept): judged against the head, outcome unknown.
    return at === undefined ? { head: view(head), atPredicted: undefined, event: head } : { head: view(at), atPredicted: undefined, event: at }
  }

  private async leaderHead(id: BlobId): Promise<BlobEvent | undefined> {
    const head = (await this.d.events.head(id))?.event
    // Remembered, so the next sweep can tell without I/O whether this blob needs it.
    if (head !== undefined) this.d.tracker.noteHead(head)
    return head
  }

  private async apply(a: ApplyInput): Promise<Applied> {
    if (a.verdict.kind === "confirm") return { _tag: "unchanged" }
    // Known replaced: no round trip. Otherwise the store's compare-and-set decides (the
    // replica may lag behind the revision being settled).
    if ((this.d.replica.get(a.shadow.id)?.shadowVersion ?? 0) > a.shadow.shadowVersion) return { _tag: "superseded" }
    const next = a.verdict.kind === "update" ? this.refreshed(a.head.event, a.nowMs) : undefined
    const r = await this.d.store.put(next ?? discarded(a.shadow, a.verdict.reason))
    if (r._tag === "stored") return { _tag: "stored", revision: r.revision }
    if (r._tag === "skipped") return { _tag: "superseded" }
    throw new Error(r.reason)
  }

  /** The head's committed state as a shadow; none for a tombstone or content too large to hold. */
  private refreshed(e: BlobEvent | undefined, nowMs: number): Shadow | undefined {
    if (e === undefined || e.op === "delete" || (e.content?.length ?? 0) > this.d.maxValueBytes) return undefined
    return {
      id: e.id,
      basedOn: e.version,
      predicted: e.version,
      digest: e.digest,
      size: e.size,
      contentType: e.contentType,
      contentRef: e.contentRef,
      content: e.contentRef === undefined ? e.content : undefined,
      confidence: 1,
      validFromMs: nowMs,
      createdAtMs: nowMs,
      origin: "write",
      model: RECONCILER_MODEL,
      status: "live",
      reason: undefined,
      shadowVersion: 0,
    }
  }

  private after(out: SettleOutput, r: SettleRequest): void {
    if (out._tag === "Failed") {
      this.d.metrics.c.failures[out.stage]++
      throw new SettlementFailed(out.stage, out.message)
    }
    if (out._tag === "NoShadow") return
    const s = out.shadow
    if (out._tag === "Kept") {
      if (out.verdict.reason === "already-discarded") this.d.tracker.judge(s.id, s.shadowVersion)
      return
    }
    if (isOutcome(out.verdict) || out.applied._tag !== "superseded" || r.mode === "freshness") this.d.tracker.judge(s.id, s.shadowVersion)
    if (out.event === undefined) return
    if (!out.fresh) {
      this.d.metrics.c.duplicates++
      return
    }
    this.counted(out.event, s, r)
  }

  private counted(e: ShadowLifecycleEvent, s: Shadow, r: SettleRequest): void {
    this.d.metrics.verdict(e)
    this.d.shadowMetrics?.lifecycle(e)
    const trigger = r.trigger
    if (e.reason === "predicted-write-arrived" && trigger !== undefined && trigger.version === s.predicted && s.validFromMs <= trigger.timeMs)
      this.d.metrics.c.coveredWrites++
  }
}
