import { assign, fromPromise, setup } from "xstate"
import type { BlobEvent } from "../blob-event.ts"
import type { BlobId } from "../blob-id.ts"
import { isOutcome, lifecycleKindOf, reconcile, type HeadView, type Verdict } from "../reconcile.ts"
import type { Shadow } from "../shadow.ts"
import { shadowFacts, type ShadowLifecycleEvent } from "../shadow-lifecycle.ts"

// One settlement of one shadow revision: load it and the head it is judged by, decide the
// verdict (pure), apply it to the shadow tier, record it in the lifecycle stream, done.
// The four effects are injected actors, so a driver decides where the head comes from (the
// event that triggered the settlement, or a leader get during a sweep) and tests drive the
// machine with `transition()` and no NATS.
//
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
   * Handed back, untouched, to `loadHead`: what the driver knows of the trigger. Lets one
   * machine with its effects provided once serve every settlement.
   */
  readonly trigger?: unknown
}

export interface LoadedShadow {
  readonly shadow: Shadow
  /** Reads this revision served, as the blob services reported them so far. */
  readonly served: number | undefined
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

export type SagaStage = "loadShadow" | "loadHead" | "applyVerdict" | "record"

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
  readonly loaded: LoadedShadow | undefined
  readonly head: LoadedHead | undefined
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

export const reconcilerSaga = setup({
  types: {
    context: {} as SagaContext,
    input: {} as SettleInput,
    output: {} as SettleOutput,
  },
  actors: {
    loadShadow: fromPromise<LoadedShadow | undefined, { id: BlobId; revision: number | undefined }>(async () => {
      throw new Error("loadShadow not provided")
    }),
    loadHead: fromPromise<LoadedHead, { shadow: Shadow; trigger: unknown }>(async () => {
      throw new Error("loadHead not provided")
    }),
    applyVerdict: fromPromise<Applied, ApplyInput>(async () => {
      throw new Error("applyVerdict not provided")
    }),
    record: fromPromise<boolean, { event: ShadowLifecycleEvent }>(async () => {
      throw new Error("record not provided")
    }),
  },
  actions: {
    // A failed effect ends the settlement; the driver leaves its trigger unacknowledged.
    fail: assign({
      output: ({ event }, params: { stage: SagaStage }) =>
        ({ _tag: "Failed", stage: params.stage, message: message((event as { error?: unknown }).error) }) as SettleOutput,
    }),
  },
  guards: {
    noShadow: ({ event }) => (event as { output?: unknown }).output === undefined,
    keeps: ({ context }) => context.verdict?.kind === "keep",
    recordable: ({ context }) => shouldRecord(context.verdict, context.applied),
  },
}).createMachine({
  id: "reconcilerSaga",
  context: ({ input }) => ({ ...input, loaded: undefined, head: undefined, verdict: undefined, applied: undefined, event: undefined, output: undefined }),
  initial: "loadingShadow",
  output: ({ context }) => context.output ?? { _tag: "Failed", stage: "loadShadow", message: "no output" },
  states: {
    loadingShadow: {
      invoke: {
        src: "loadShadow",
        input: ({ context }) => ({ id: context.id, revision: context.revision }),
        onDone: [
          { guard: "noShadow", target: "done", actions: assign({ output: ({ context }) => ({ _tag: "NoShadow", id: context.id }) as SettleOutput }) },
          { target: "loadingHead", actions: assign({ loaded: ({ event }) => event.output }) },
        ],
        onError: { target: "done", actions: { type: "fail", params: { stage: "loadShadow" } } },
      },
    },
    loadingHead: {
      invoke: {
        src: "loadHead",
        input: ({ context }) => ({ shadow: context.loaded!.shadow, trigger: context.trigger }),
        onDone: { target: "comparing", actions: assign({ head: ({ event }) => event.output }) },
        onError: { target: "done", actions: { type: "fail", params: { stage: "loadHead" } } },
      },
    },
    comparing: {
      entry: assign({
        verdict: ({ context }) =>
          reconcile({
            shadow: context.loaded!.shadow,
            head: context.head!.head,
            atPredicted: context.head!.atPredicted,
            nowMs: context.nowMs,
            graceMs: context.graceMs,
            hot: context.hot,
          }),
      }),
      always: [
        {
          guard: "keeps",
          target: "done",
          actions: assign({ output: ({ context }) => ({ _tag: "Kept", shadow: context.loaded!.shadow, verdict: context.verdict! }) as SettleOutput }),
        },
        { target: "applying" },
      ],
    },
    applying: {
      invoke: {
        src: "applyVerdict",
        input: ({ context }) => ({
          shadow: context.loaded!.shadow,
          verdict: context.verdict as Exclude<Verdict, { kind: "keep" }>,
          head: context.head!,
          nowMs: context.nowMs,
        }),
        onDone: { target: "deciding", actions: assign({ applied: ({ event }) => event.output }) },
        onError: { target: "done", actions: { type: "fail", params: { stage: "applyVerdict" } } },
      },
    },
    deciding: {
      always: [
        {
          guard: "recordable",
          target: "recording",
          actions: assign({
            event: ({ context }) =>
              verdictRecord(
                context.loaded!.shadow,
                context.verdict as Exclude<Verdict, { kind: "keep" }>,
                context.head!,
                context.applied!,
                context.loaded!.served,
                context.nowMs,
              ),
          }),
        },
        // A freshness action on a shadow that was replaced meanwhile: nothing happened to record.
        { target: "done", actions: assign({ output: ({ context }) => settled(context, false) }) },
      ],
    },
    recording: {
      invoke: {
        src: "record",
        input: ({ context }) => ({ event: context.event! }),
        onDone: { target: "done", actions: assign({ output: ({ context, event }) => settled(context, event.output) }) },
        onError: { target: "done", actions: { type: "fail", params: { stage: "record" } } },
      },
    },
    done: { type: "final" },
  },
})
