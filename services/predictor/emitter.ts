import type { BlobEvent } from "../../domain/blob-event.ts"
import type { Prediction } from "../../domain/predictor/predictor.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import type { ShadowReplica } from "../../infra/shadow-replica.ts"
import type { ShadowStore } from "../../infra/shadow-store.ts"
import type { PredictorSettings } from "../config.ts"
import { EmissionQueue } from "./emission-queue.ts"
import { JustInTime } from "./just-in-time.ts"
import { Ledger } from "./ledger.ts"

// Predictions become `prediction` shadows here, within the emission limits.
//
// Valid-from: a served prediction of a regular writer is valid from the predictor's
// time (a high quantile of the writer's gap); it is stored only `emitLeadMs` before then
// (just-in-time.ts) so the blob's current-state shadow keeps serving reads until just
// before the predicted write. Any other emitted prediction is valid from
// HELD_VALID_FROM_MS, the last instant a JS Date can show: no reader is ever served it; it
// stands until the write it predicts arrives and the reconciler confirms or discards it,
// which is how precision and coverage are measured for irregular writers. Such a shadow
// does displace the blob's current-state shadow until that write (reads go to the primary
// meanwhile), so it is off by default: UMBRA_PREDICTOR_EMIT_ON_WRITE=true trades hit rate
// for visible coverage.

export const HELD_VALID_FROM_MS = 8_640_000_000_000_000
export const MODEL_PREFIX = "predictor/"
const DRAIN_TICK_MS = 10

export interface EmitterCounters {
  considered: number
  notEmitted: number
  tooLarge: number
  stale: number
  stored: number
  skipped: number
  failed: number
  servedPredictions: number
  heldPredictions: number
  /** Time-triggered predictions waiting to be stored just before their valid-from. */
  heldUntilDue: number
  /** Why the gate held the predictions it did not serve (arbitration's hold reasons). */
  holdReasons: Record<string, number>
}

/** When readers may be served this prediction; undefined = do not emit it at all. */
export const emittedValidFrom = (p: Prediction, s: PredictorSettings): number | undefined => {
  if (p.confidence < s.minEmitConfidence) return undefined
  if (!p.served) return s.emitHeld ? HELD_VALID_FROM_MS : undefined
  if (p.validFrom.kind === "at") return p.validFrom.epochMs
  return s.emitOnWrite ? HELD_VALID_FROM_MS : undefined
}

export const shadowOfPrediction = (p: Prediction, e: BlobEvent, validFromMs: number, nowMs: number): Shadow => ({
  id: e.id,
  basedOn: p.basedOnVersion,
  predicted: p.predictedVersion,
  digest: nodeHasher.digest(p.content),
  size: p.content.length,
  contentType: e.contentType,
  contentRef: undefined,
  content: p.content,
  confidence: p.confidence,
  validFromMs,
  createdAtMs: nowMs,
  origin: "prediction",
  model: MODEL_PREFIX + p.model,
  status: "live",
  reason: undefined,
  shadowVersion: 0,
})

interface Pending {
  readonly id: string
  readonly shadow: Shadow
  readonly key: string
  readonly served: boolean
}

export class Emitter {
  readonly counters: EmitterCounters = {
    considered: 0,
    notEmitted: 0,
    tooLarge: 0,
    stale: 0,
    stored: 0,
    skipped: 0,
    failed: 0,
    servedPredictions: 0,
    heldPredictions: 0,
    heldUntilDue: 0,
    holdReasons: {},
  }
  readonly ledger = new Ledger(100_000)
  private readonly queue: EmissionQueue<Pending>
  private inFlight = 0
  private timer: NodeJS.Timeout | undefined
  private idle: (() => void) | undefined
  private stopped = false
  private readonly held: JustInTime<Pending>
  private heldTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly store: ShadowStore,
    private readonly replica: ShadowReplica,
    private readonly s: PredictorSettings,
    private readonly maxValueBytes: number,
    /** The newest version the learner has seen: a prediction based on an older one is stale. */
    private readonly lastVersion: (id: string) => number,
  ) {
    this.queue = new EmissionQueue(
      { perSec: s.emitPerSec, blobIntervalMs: s.blobEmitIntervalMs, maxPending: s.maxPendingEmissions, maxRemembered: 100_000 },
      Date.now(),
    )
    this.held = new JustInTime(s.maxPendingEmissions)
  }

  get queueCounters() {
    return this.queue.counters
  }

  offer(p: Prediction, e: BlobEvent): void {
    this.counters.considered++
    if (!p.served) this.counters.holdReasons[p.holdReason ?? "none"] = (this.counters.holdReasons[p.holdReason ?? "none"] ?? 0) + 1
    const validFromMs = emittedValidFrom(p, this.s)
    if (validFromMs === undefined || this.stopped) {
      this.counters.notEmitted++
      return
    }
    if (p.content.length > this.maxValueBytes) {
      this.counters.tooLarge++
      return
    }
    const item = { id: e.id, shadow: shadowOfPrediction(p, e, validFromMs, Date.now()), key: p.key, served: p.served }
    const dueMs = validFromMs - this.s.emitLeadMs
    if (validFromMs !== HELD_VALID_FROM_MS && dueMs > Date.now()) {
      this.held.hold(e.id, dueMs, item)
      this.counters.heldUntilDue++
      this.armHeld()
      return
    }
    this.queue.offer(item)
    this.drain()
  }

  private armHeld(): void {
    const due = this.held.nextDueMs()
    if (due === undefined || this.stopped) return
    if (this.heldTimer !== undefined) clearTimeout(this.heldTimer)
    this.heldTimer = setTimeout(() => {
      this.heldTimer = undefined
      for (const item of this.held.release(Date.now())) this.queue.offer(item)
      this.drain()
      this.armHeld()
    }, Math.max(0, due - Date.now()))
    this.heldTimer.unref()
  }

  /** Stops taking predictions and waits for the puts in flight. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.heldTimer !== undefined) clearTimeout(this.heldTimer)
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve))
  }

  private drain(): void {
    if (this.stopped) return
    const room = this.s.maxInFlightPuts - this.inFlight
    const batch = room > 0 ? this.queue.take(Date.now(), room) : []
    for (const item of batch) void this.put(item)
    if (this.queue.size > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.drain()
      }, DRAIN_TICK_MS)
      this.timer.unref()
    }
  }

  private isStale(item: Pending): boolean {
    const current = this.replica.get(item.id)
    return this.lastVersion(item.id) > item.shadow.basedOn || (current !== undefined && current.predicted > item.shadow.predicted)
  }

  private async put(item: Pending): Promise<void> {
    if (this.isStale(item)) {
      this.counters.stale++
      return
    }
    this.inFlight++
    try {
      const r = await this.store.put(item.shadow)
      if (r._tag === "stored") this.stored(item, r.revision)
      else if (r._tag === "skipped") this.counters.skipped++
      else this.counters.failed++
    } catch {
      this.counters.failed++
    } finally {
      this.inFlight--
      if (this.inFlight === 0) this.idle?.()
      this.drain()
    }
  }

  private stored(item: Pending, revision: number): void {
    this.counters.stored++
    if (item.served) this.counters.servedPredictions++
    else this.counters.heldPredictions++
    this.ledger.add({
      predictionKey: item.key,
      id: item.id,
      predicted: item.shadow.predicted,
      digest: item.shadow.digest,
      shadowVersion: revision,
      settled: false,
    })
  }
}
