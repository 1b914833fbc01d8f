import { describe, expect, it } from "vitest"
import { initialTransition, transition, type SnapshotFrom } from "xstate"
import type { BlobId } from "../../domain/blob-id.ts"
import {
  reconcilerSaga,
  type Applied,
  type ApplyInput,
  type Loaded,
  type LoadedHead,
  type SagaEvent,
  type SettleInput,
  type SettleOutput,
} from "../../domain/machines/reconciler-saga.ts"
import type { Shadow, ShadowOrigin } from "../../domain/shadow.ts"
import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"

// The saga driven like a reducer: each effect the machine names (an action with its input) is
// answered by feeding it the event the driver would send (`loaded`, `applied`, `recorded`,
// `failed`). No NATS, no promises run, no timers.

type Snap = SnapshotFrom<typeof reconcilerSaga>
type Action = { type: string; params?: unknown }

const T0 = 1_700_000_000_000
const GRACE = 5_000
const RIGHT = "sha256:" + "a".repeat(64)
const OTHER = "sha256:" + "b".repeat(64)
const ID = "saga/blob" as BlobId

const shadowOf = (origin: ShadowOrigin, basedOn: number, predicted: number, o: Partial<Shadow> = {}): Shadow => ({
  id: ID,
  basedOn,
  predicted,
  digest: RIGHT,
  size: 1,
  contentType: undefined,
  contentRef: undefined,
  content: new Uint8Array([1]),
  confidence: 0.7,
  validFromMs: T0,
  createdAtMs: T0,
  origin,
  model: "m",
  status: "live",
  reason: undefined,
  shadowVersion: 11,
  ...o,
})

const EFFECTS = new Set(["load", "applyVerdict", "record"])
const effectsOf = (actions: ReadonlyArray<Action>) => actions.filter((a) => EFFECTS.has(a.type)).map((a) => ({ src: a.type, input: a.params }))
const loaded = (output: Loaded | undefined): SagaEvent => ({ type: "loaded", output })
const applied = (output: Applied): SagaEvent => ({ type: "applied", output })
const recordedEv = (fresh: boolean): SagaEvent => ({ type: "recorded", fresh })
const failed = (error: unknown): SagaEvent => ({ type: "failed", error })

interface Run {
  readonly snap: Snap
  /** Every effect the machine started, in order, with its input. */
  readonly effects: Array<{ src: string; input: unknown }>
}

const start = (input: Partial<SettleInput> = {}): Run => {
  const [snap, actions] = initialTransition(reconcilerSaga, { id: ID, revision: undefined, nowMs: T0, graceMs: GRACE, hot: false, ...input })
  return { snap, effects: effectsOf(actions as Action[]) }
}
const step = (r: Run, e: SagaEvent): Run => {
  const [snap, actions] = transition(reconcilerSaga, r.snap, e)
  return { snap, effects: [...r.effects, ...effectsOf(actions as Action[])] }
}
const headAt = (version: number, digest = RIGHT, atPredicted?: string): LoadedHead => ({
  head: { version, digest },
  atPredicted,
  event: undefined,
})

/** Runs a settlement to its end, answering apply with `applied` and record with `fresh`. */
const settle = (shadow: Shadow | undefined, head: LoadedHead, o: { input?: Partial<SettleInput>; applied?: Applied; fresh?: boolean } = {}): Run => {
  let r = step(start(o.input), loaded(shadow === undefined ? undefined : { shadow, served: 3, head }))
  if (r.snap.value === "applying") r = step(r, applied(o.applied ?? { _tag: "unchanged" }))
  if (r.snap.value === "recording") r = step(r, recordedEv(o.fresh ?? true))
  return r
}

const output = (r: Run): SettleOutput => {
  expect(r.snap.status).toBe("done")
  return r.snap.output as SettleOutput
}
const srcs = (r: Run) => r.effects.map((e) => e.src)
const recorded = (r: Run) => r.effects.find((e) => e.src === "record")?.input as { event: ShadowLifecycleEvent } | undefined

describe("reconciler saga: the path of every verdict", () => {
  const outcomes: ReadonlyArray<[string, Shadow, LoadedHead, Partial<SettleInput>, Applied, Partial<ShadowLifecycleEvent>]> = [
    ["confirm: a write shadow matching the head", shadowOf("write", 1, 2), headAt(2), {}, { _tag: "unchanged" }, { kind: "confirmed", reason: "matches-head", correct: true, headVersion: 2 }],
    ["confirm: the predicted write arrived", shadowOf("prediction", 1, 2), headAt(2), {}, { _tag: "unchanged" }, { kind: "confirmed", reason: "predicted-write-arrived", correct: true, confidence: 0.7 }],
    ["discard: wrong content at the predicted version", shadowOf("prediction", 1, 2), headAt(2, OTHER), {}, { _tag: "stored", revision: 12 }, { kind: "discarded", reason: "wrong-content", correct: false }],
    ["discard: wrong content, recorded though a newer shadow replaced it", shadowOf("prediction", 1, 2), headAt(2, OTHER), {}, { _tag: "superseded" }, { kind: "discarded", reason: "wrong-content" }],
    ["discard: a conflict shadow that never landed", shadowOf("conflict", 1, 2), headAt(2, OTHER), {}, { _tag: "stored", revision: 12 }, { kind: "discarded", reason: "conflict-never-landed", correct: false }],
    ["discard: valid-from + grace passed", shadowOf("prediction", 1, 2), headAt(1), { nowMs: T0 + GRACE }, { _tag: "stored", revision: 12 }, { kind: "discarded", reason: "valid-from-expired", correct: false }],
    ["discard: obsolete and cold", shadowOf("write", 1, 2), headAt(3, OTHER), {}, { _tag: "stored", revision: 12 }, { kind: "discarded", reason: "obsolete-cold" }],
    ["update: obsolete and hot", shadowOf("prediction", 1, 2), headAt(3, OTHER, RIGHT), { hot: true }, { _tag: "stored", revision: 12 }, { kind: "updated", reason: "obsolete-hot", newShadowVersion: 12, correct: true }],
  ]
  it.each(outcomes)("%s", (_name, shadow, head, input, applied, expected) => {
    const r = settle(shadow, head, { input, applied })
    if (expected.kind === "confirmed") {
      // A confirm changes nothing in the shadow tier: no apply effect, straight to the record.
      expect(srcs(r)).toEqual(["load", "record"])
    } else {
      expect(srcs(r)).toEqual(["load", "applyVerdict", "record"])
      const apply = r.effects[1]?.input as ApplyInput
      expect(apply.shadow).toBe(shadow)
      expect(apply.head).toBe(head)
    }
    expect(recorded(r)?.event).toMatchObject({ id: ID, shadowVersion: 11, served: 3, timeMs: input.nowMs ?? T0, ...expected })
    expect(output(r)).toMatchObject({ _tag: "Settled", fresh: true, applied })
  })

  it("keep: a prediction still awaiting its write applies and records nothing", () => {
    const r = settle(shadowOf("prediction", 1, 2, { validFromMs: T0 + 60_000 }), headAt(1))
    expect(srcs(r)).toEqual(["load"])
    expect(output(r)).toMatchObject({ _tag: "Kept", verdict: { kind: "keep", reason: "awaiting-write" } })
  })

  it("keep: a discarded shadow is already settled", () => {
    const r = settle(shadowOf("prediction", 1, 2, { status: "discarded" }), headAt(5, OTHER))
    expect(output(r)).toMatchObject({ _tag: "Kept", verdict: { reason: "already-discarded" } })
  })

  it("no shadow: done after the first load", () => {
    const r = settle(undefined, headAt(1))
    expect(srcs(r)).toEqual(["load"])
    expect(output(r)).toEqual({ _tag: "NoShadow", id: ID })
  })

  it("a freshness verdict on a shadow replaced meanwhile records nothing", () => {
    const r = settle(shadowOf("write", 1, 2), headAt(3, OTHER), { input: { hot: true }, applied: { _tag: "superseded" } })
    expect(srcs(r)).toEqual(["load", "applyVerdict"])
    expect(output(r)).toMatchObject({ _tag: "Settled", verdict: { kind: "update" }, event: undefined, fresh: false })
  })

  it("a duplicate record (a replayed settlement) ends settled but not fresh", () => {
    const r = settle(shadowOf("write", 1, 2), headAt(2), { fresh: false })
    expect(output(r)).toMatchObject({ _tag: "Settled", fresh: false, event: { kind: "confirmed" } })
  })

  it("settles the revision it was asked for", () => {
    const r = start({ revision: 42 })
    expect(r.effects[0]).toMatchObject({ src: "load", input: { id: ID, revision: 42 } })
  })
})

describe("reconciler saga: a failed effect ends it as a tagged failure (the trigger stays unacknowledged)", () => {
  const wrongShadow = (head: LoadedHead): SagaEvent => loaded({ shadow: shadowOf("write", 1, 2), served: undefined, head })
  const stages: ReadonlyArray<[string, (r: Run) => Run, string]> = [
    ["load", (r) => r, "loading"],
    ["applyVerdict", (r) => step(r, wrongShadow(headAt(2, OTHER))), "applying"],
    ["record", (r) => step(step(r, wrongShadow(headAt(2, OTHER))), applied({ _tag: "stored", revision: 3 })), "recording"],
    ["record", (r) => step(r, wrongShadow(headAt(2))), "recording"],
  ]
  it.each(stages)("%s fails", (stage, reach, state) => {
    const before = reach(start())
    expect(before.snap.value).toBe(state)
    const r = step(before, failed(new Error("no responders")))
    expect(output(r)).toEqual({ _tag: "Failed", stage, message: "no responders" })
  })
})
