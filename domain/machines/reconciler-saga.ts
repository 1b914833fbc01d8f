import { assign, setup } from "xstate"
import type { BlobEvent } from "../blob-event.ts"
import type { BlobId } from "../blob-id.ts"
import { isOutcome, lifecycleKindOf, reconcile, type HeadView, type Verdict } from "../reconcile.ts"
import type { Shadow } from "../shadow.ts"
import { shadowFacts, type ShadowLifecycleEvent } from "../shadow-lifecycle.ts"

// One settlement of one shadow revision: load it with the head it is judged by, decide the
// verdict (pure), apply it to the shadow tier, record it in the lifecycle stream, done.
// The effects are injected actions (`load`, `applyVerdict`, `record`): the machine names the
// effect and its input, the driver runs it and sends the result back (`loaded`, `applied`,
// `recorded`, or `failed`). So a driver decides where the head comes from (the event that
// triggered the settlement, or a leader get during a sweep) and tests drive the machine with
// `transition()` and no NATS. (They were invoked promise actors: an actor per effect, four
// per settlement, was most of the reconciler's interpreter CPU; see docs/decisions.md.)
//
// A confirm changes nothing in the shadow tier, so it goes straight to its record.
// The record comes last: a driver acknowledges its trigger only after the machine is done,
// so a crash anywhere before re-runs the whole settlement, and the record's deterministic
// message id makes the re-run's copy a duplicate.

export interface SettleInput {
  readonly id: BlobId
  /** The shadow revision to settle; undefined settles the blob's current shadow. */
  readonly revision: number | undefined
  readonly nowMs: number
  readonly graceMs: number
  readonly hot: boolean
  /**
   * Handed back, untouched, to `load`: what the driver knows of the trigger. Lets one
   * machine with its effects provided once serve every settlement.
   */
  readonly trigger?: unknown
}

export interface LoadInput {
  readonly id: BlobId
  readonly revision: number | undefined
  readonly trigger: unknown
}

/** The revision to settle and the head it is judged by. */
export interface Loaded {
  readonly shadow: Shadow
  /** Reads this revision served, as the blob services reported them so far. */
  readonly served: number | undefined
  readonly head: LoadedHead
}

export interface LoadedHead {
  readonly head: HeadView | undefined
  /** Digest committed at the shadow's predicted version, when the head is past it and known. */
  readonly atPredicted: string | undefined
  /** The head event itself, when the driver has it (an update refreshes the shadow to it). */
  readonly event: BlobEvent | undefined
}

export interface ApplyInput {
  readonly shadow: Shadow
  readonly verdict: Exclude<Verdict, { kind: "keep" }>
  readonly head: LoadedHead
  readonly nowMs: number
}

/** What applying did to the shadow tier. `superseded`: a newer revision had replaced it. */
export type Applied =
  | { readonly _tag: "unchanged" }
  | { readonly _tag: "stored"; readonly revision: number }
  | { readonly _tag: "superseded" }

export type SagaStage = "load" | "applyVerdict" | "record"

/** What the driver sends back when an effect ends. `loaded` with no output: no such shadow. */
export type SagaEvent =
  | { readonly type: "loaded"; readonly output: Loaded | undefined }
  | { readonly type: "applied"; readonly output: Applied }
  | { readonly type: "recorded"; readonly fresh: boolean }
  | { readonly type: "failed"; readonly error: unknown }

export type SettleOutput =
  | { readonly _tag: "NoShadow"; readonly id: BlobId }
  | { readonly _tag: "Kept"; readonly shadow: Shadow; readonly verdict: Verdict }
  | {
      readonly _tag: "Settled"
      readonly shadow: Shadow
      readonly verdict: Exclude<Verdict, { kind: "keep" }>
      readonly applied: Applied
      /** The lifecycle record, when the verdict is one to record. */
      readonly event: ShadowLifecycleEvent | undefined
      /** False when the record was a duplicate of an earlier settlement's. */
      readonly fresh: boolean
    }
  | { readonly _tag: "Failed"; readonly stage: SagaStage; readonly message: string }

interface SagaContext extends SettleInput {
  readonly loaded: Loaded | undefined
  readonly verdict: Verdict | undefined
  readonly applied: Applied | undefined
  readonly event: ShadowLifecycleEvent | undefined
  readonly output: SettleOutput | undefined
}

/** The lifecycle record of a verdict (pure: everything it says comes from the settlement). */
export const verdictRecord = (
  s: Shadow,
  v: Exclude<Verdict, { kind: "keep" }>,
  head: LoadedHead,
  applied: Applied,
  served: number | undefined,
  nowMs: number,
): ShadowLifecycleEvent => ({
  kind: lifecycleKindOf(v),
  ...shadowFacts(s),
  timeMs: nowMs,
  reason: v.reason,
  ...(head.head === undefined ? {} : { headVersion: head.head.version }),
  ...(applied._tag === "stored" && v.kind === "update" ? { newShadowVersion: applied.revision } : {}),
  ...(served === undefined ? {} : { served }),
  ...(v.correct === undefined ? {} : { correct: v.correct }),
})

const shouldRecord = (v: Verdict | undefined, a: Applied | undefined): boolean =>
  v !== undefined && v.kind !== "keep" && a !== undefined && (isOutcome(v) || a._tag === "stored")

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const settled = (c: SagaContext, fresh: boolean): SettleOutput => ({
  _tag: "Settled",
  shadow: c.loaded!.shadow,
  verdict: c.verdict as Exclude<Verdict, { kind: "keep" }>,
  applied: c.applied!,
  event: c.event,
  fresh,
})

const notProvided = (effect: string) => (): never => {
  throw new Error(`${effect} not provided`)
}

/** The verdict on what was loaded (pure; the guards and actions of `loaded` all use it). */
const verdictOf = (c: SagaContext, l: Loaded): Verdict =>
  reconcile({ shadow: l.shadow, head: l.head.head, atPredicted: l.head.atPredicted, nowMs: c.nowMs, graceMs: c.graceMs, hot: c.hot })

const loadedOf = (e: SagaEvent): Loaded => (e as Extract<SagaEvent, { type: "loaded" }>).output!
const appliedOf = (e: SagaEvent): Applied => (e as Extract<SagaEvent, { type: "applied" }>).output

/** The record of an applied verdict, or the end when there is nothing to record. */
const afterApplied = (c: SagaContext, applied: Applied): Partial<SagaContext> => {
  const v = c.verdict as Exclude<Verdict, { kind: "keep" }>
  const l = c.loaded!
  if (!shouldRecord(v, applied)) return { applied, output: settled({ ...c, applied }, false) }
  return { applied, event: verdictRecord(l.shadow, v, l.head, applied, l.served, c.nowMs) }
}

// The verdict is decided on the transition that receives `loaded` (its guards compute it),
// not in a state of its own: every state entered costs the interpreter a microstep, and a
// settlement is the reconciler's unit of work (thousands a second).
export const reconcilerSaga = setup({
  types: {
    context: {} as SagaContext,
    input: {} as SettleInput,
    output: {} as SettleOutput,
    events: {} as SagaEvent,
  },
  actions: {
    // The effects: named here, run by the driver (services/reconciler/settler.ts), which
    // answers each with one SagaEvent.
    load: notProvided("load") as (_: unknown, params: LoadInput) => void,
    applyVerdict: notProvided("applyVerdict") as (_: unknown, params: ApplyInput) => void,
    record: notProvided("record") as (_: unknown, params: { event: ShadowLifecycleEvent }) => void,
    // A failed effect ends the settlement; the driver leaves its trigger unacknowledged.
    fail: assign({
      output: ({ event }, params: { stage: SagaStage }) =>
        ({ _tag: "Failed", stage: params.stage, message: message((event as { error?: unknown }).error) }) as SettleOutput,
    }),
  },
  guards: {
    noShadow: ({ event }) => event.type === "loaded" && event.output === undefined,
    keeps: ({ context, event }) => verdictOf(context, loadedOf(event)).kind === "keep",
    // A confirm leaves the shadow as it is: nothing to apply, straight to its record.
    confirms: ({ context, event }) => verdictOf(context, loadedOf(event)).kind === "confirm",
    recordable: ({ context, event }) => shouldRecord(context.verdict, appliedOf(event)),
  },
}).createMachine({
  id: "reconcilerSaga",
  context: ({ input }) => ({ ...input, loaded: undefined, verdict: undefined, applied: undefined, event: undefined, output: undefined }),
  initial: "loading",
  output: ({ context }) => context.output ?? { _tag: "Failed", stage: "load", message: "no output" },
  states: {
    loading: {
      entry: { type: "load", params: ({ context }) => ({ id: context.id, revision: context.revision, trigger: context.trigger }) },
      on: {
        loaded: [
          { guard: "noShadow", target: "done", actions: assign({ output: ({ context }) => ({ _tag: "NoShadow", id: context.id }) as SettleOutput }) },
          {
            guard: "keeps",
            target: "done",
            actions: assign(({ context, event }) => {
              const loaded = loadedOf(event)
              const verdict = verdictOf(context, loaded)
              return { loaded, verdict, output: { _tag: "Kept", shadow: loaded.shadow, verdict } as SettleOutput }
            }),
          },
          {
            guard: "confirms",
            target: "recording",
            actions: assign(({ context, event }) => {
              const loaded = loadedOf(event)
              const verdict = verdictOf(context, loaded)
              return { loaded, verdict, ...afterApplied({ ...context, loaded, verdict }, { _tag: "unchanged" }) }
            }),
          },
          {
            target: "applying",
            actions: assign(({ context, event }) => {
              const loaded = loadedOf(event)
              return { loaded, verdict: verdictOf(context, loaded) }
            }),
          },
        ],
        failed: { target: "done", actions: { type: "fail", params: { stage: "load" } } },
      },
    },
    applying: {
      entry: {
        type: "applyVerdict",
        params: ({ context }) => ({
          shadow: context.loaded!.shadow,
          verdict: context.verdict as Exclude<Verdict, { kind: "keep" }>,
          head: context.loaded!.head,
          nowMs: context.nowMs,
        }),
      },
      on: {
        applied: [
          { guard: "recordable", target: "recording", actions: assign(({ context, event }) => afterApplied(context, appliedOf(event))) },
          // A freshness action on a shadow that was replaced meanwhile: nothing happened to record.
          { target: "done", actions: assign(({ context, event }) => afterApplied(context, appliedOf(event))) },
        ],
        failed: { target: "done", actions: { type: "fail", params: { stage: "applyVerdict" } } },
      },
    },
    recording: {
      entry: { type: "record", params: ({ context }) => ({ event: context.event! }) },
      on: {
        recorded: { target: "done", actions: assign({ output: ({ context, event }) => settled(context, event.fresh) }) },
        failed: { target: "done", actions: { type: "fail", params: { stage: "record" } } },
      },
    },
    done: { type: "final" },
  },
})
