import * as E from "fp-ts/lib/Either.js"
import { assign, fromPromise, setup } from "xstate"
import type { BlobCommand } from "../blob-command.ts"
import type { BlobEvent } from "../blob-event.ts"
import type { BlobId } from "../blob-id.ts"
import { evolve, type BlobState } from "../blob-state.ts"
import { decide, type DecideContext, type Decision } from "../decide.ts"
import type { Hasher } from "../digest.ts"
import { internal, unavailable, type UmbraError } from "../errors.ts"

// One machine per blob. It hydrates from the stream head on first use, then takes that
// blob's commands strictly one at a time: decide (pure), append (injected I/O), evolve.
// It passivates when its shell says so (`passivate`): the shell knows when a blob was last
// used, reads it answers without the machine included. (An idle timer per actor, an XState
// delayed transition re-armed on every command, held ~1 KB per live actor and cost a timer
// per write.)
// I/O is declared by name (`hydrate`, `append`, `respond`) and supplied by the shell with
// `machine.provide`, so tests drive it with `transition()` and no NATS.

export interface Hydrated {
  readonly state: BlobState
  /** Stream sequence of the head event: what the next append must expect (0 = none yet). */
  readonly headSeq: number
}

export interface AppendInput {
  readonly event: BlobEvent
  readonly expectedHeadSeq: number
}
export interface Appended {
  readonly seq: number
}
/** Thrown (rejected) by `append` when another writer moved the head since hydration. */
export class HeadMoved extends Error {
  readonly _tag = "HeadMoved"
}

/**
 * Thrown by `append` when the stream already holds this logical write (same idempotency
 * key, stored by an earlier attempt whose answer was lost), possibly at another version.
 */
export class AlreadyStored extends Error {
  readonly _tag = "AlreadyStored"
  constructor(
    readonly version: number,
    readonly digest: string,
  ) {
    super(`already stored as version ${version}`)
  }
}

export type Work =
  | { readonly _tag: "command"; readonly command: BlobCommand; readonly nowMs: number; readonly replyTo: number }
  | { readonly _tag: "read"; readonly replyTo: number }

export type Reply =
  | { readonly _tag: "written"; readonly id: BlobId; readonly version: number; readonly digest: string }
  | { readonly _tag: "state"; readonly state: BlobState }
  | { readonly _tag: "rejected"; readonly error: UmbraError }

export type BlobActorEvent =
  | { readonly type: "command"; readonly command: BlobCommand; readonly nowMs: number; readonly replyTo: number }
  | { readonly type: "read"; readonly replyTo: number }
  | { readonly type: "passivate" }
  /** The answer to `startAppend`: the event is stored at stream sequence `seq`. */
  | { readonly type: "appended"; readonly seq: number }
  /** The answer to `startAppend`: not stored (HeadMoved, AlreadyStored, or an unknown outcome). */
  | { readonly type: "appendRejected"; readonly error: unknown }

export interface BlobActorInput {
  readonly id: BlobId
  readonly hasher: Hasher
  readonly inlineLimitBytes: number
  /** How many times a command is re-decided after the head moved under it. */
  readonly maxRetries: number
}

export interface BlobActorContext extends BlobActorInput {
  readonly state: BlobState | undefined
  readonly headSeq: number
  readonly queue: ReadonlyArray<Work>
  readonly decision: E.Either<UmbraError, Decision> | undefined
  readonly retries: number
}

const decideContext = (c: BlobActorContext, nowMs: number): DecideContext => ({
  nowMs,
  hasher: c.hasher,
  inlineLimitBytes: c.inlineLimitBytes,
})

const head = (c: BlobActorContext): Work | undefined => c.queue[0]

const replyFor = (c: BlobActorContext): Reply => {
  const work = head(c)
  if (work === undefined || c.state === undefined) return { _tag: "rejected", error: unavailable("not hydrated") }
  if (work._tag === "read") return { _tag: "state", state: c.state }
  const d = c.decision
  if (d === undefined) return { _tag: "rejected", error: unavailable("no decision") }
  if (E.isLeft(d)) return { _tag: "rejected", error: d.left }
  return d.right._tag === "AlreadyApplied"
    ? { _tag: "written", id: c.id, version: d.right.version, digest: d.right.digest }
    : { _tag: "written", id: c.id, version: d.right.event.version, digest: d.right.event.digest }
}

const rejection = (c: BlobActorContext) => {
  const w = head(c)
  const d = c.decision
  if (w === undefined || w._tag !== "command" || d === undefined || E.isRight(d) || c.state === undefined)
    throw new Error("no rejected command")
  return { command: w.command, error: d.left, state: c.state, nowMs: w.nowMs }
}

// A command that finds the actor idle is decided on the transition that receives it (its
// guard decides, its action takes the decision), straight to `appending`: the transient
// `deciding` state cost one microstep of the interpreter per write, about a fifth of its CPU
// per write (bench/xstate-probe.ts). decide is pure, so its last answer per command is kept
// and reused while everything it depends on is the same: the guard's answer serves the action,
// and `deciding` when the arrival was refused. A command sent again against another state, or
// to another actor (another hasher or limit), is decided afresh.
interface Decided {
  readonly state: BlobState
  readonly hasher: BlobActorContext["hasher"]
  readonly inlineLimitBytes: number
  readonly nowMs: number
  readonly decision: E.Either<UmbraError, Decision>
}
const lastDecided = new WeakMap<BlobCommand, Decided>()

/** The decision on `command` against `state` (pure: decide, with a throw turned into an error value). */
const decideWork = (command: BlobCommand, state: BlobState, c: BlobActorContext, nowMs: number): E.Either<UmbraError, Decision> => {
  const known = lastDecided.get(command)
  if (known !== undefined && known.state === state && known.hasher === c.hasher && known.inlineLimitBytes === c.inlineLimitBytes && known.nowMs === nowMs)
    return known.decision
  let decision: E.Either<UmbraError, Decision>
  try {
    decision = decide(command, state, decideContext(c, nowMs))
  } catch (e) {
    // decide is total by design; should a library it calls still throw, the command
    // fails alone instead of taking the blob's actor (and its queue) down with it.
    decision = E.left(internal(`decide failed: ${errorText(e)}`))
  }
  lastDecided.set(command, { state, hasher: c.hasher, inlineLimitBytes: c.inlineLimitBytes, nowMs, decision })
  return decision
}

/** The decision on a command that finds the actor idle (none for anything else). */
const arrivalDecision = (c: BlobActorContext, e: BlobActorEvent): E.Either<UmbraError, Decision> | undefined =>
  e.type !== "command" || c.queue.length > 0 || c.state === undefined ? undefined : decideWork(e.command, c.state, c, e.nowMs)

const commandWork = (e: BlobActorEvent): Work => {
  if (e.type !== "command") throw new Error(`not a command: ${e.type}`)
  return { _tag: "command", command: e.command, nowMs: e.nowMs, replyTo: e.replyTo }
}

const isAppend = (d: E.Either<UmbraError, Decision> | undefined): boolean => d !== undefined && E.isRight(d) && d.right._tag === "Append"

const pendingEvent = (c: BlobActorContext): BlobEvent => {
  const d = c.decision
  if (d === undefined || E.isLeft(d) || d.right._tag !== "Append") throw new Error("appending without an event")
  return d.right.event
}

export const blobActorMachine = setup({
  types: {
    context: {} as BlobActorContext,
    events: {} as BlobActorEvent,
    input: {} as BlobActorInput,
  },
  actors: {
    hydrate: fromPromise<Hydrated, { id: BlobId }>(async () => {
      throw new Error("hydrate not provided")
    }),
  },
  actions: {
    respond: (_, _params: { replyTo: number; reply: Reply }) => {},
    /**
     * The append itself: the shell stores the event and answers with `appended` or
     * `appendRejected`. An action answered by an event rather than an invoked promise actor:
     * one append per write, and a child actor for each was a tenth of a write's CPU.
     */
    startAppend: (_, _params: AppendInput) => {},
    /** The write path: a shadow of the resulting state is written as the append starts. */
    appendStarted: (_, _params: { event: BlobEvent }) => {},
    /** The append did not land (conflict or unknown outcome): its shadow is relabelled. */
    appendFailed: (_, _params: { event: BlobEvent; reason: "head-moved" | "unknown" }) => {},
    /** A command was refused by decide (e.g. it lost a version conflict) against `state`. */
    commandRejected: (_, _params: { command: BlobCommand; error: UmbraError; state: BlobState; nowMs: number }) => {},
    enqueue: assign({
      queue: ({ context, event }) => {
        if (event.type === "command") return [...context.queue, commandWork(event)]
        if (event.type === "read") return [...context.queue, { _tag: "read", replyTo: event.replyTo } as const]
        return context.queue
      },
    }),
    dequeue: assign({ queue: ({ context }) => context.queue.slice(1), decision: undefined }),
  },
  guards: {
    hasWork: ({ context }) => context.queue.length > 0,
    mustAppend: ({ context }) => isAppend(context.decision),
    appendsOnArrival: ({ context, event }) => isAppend(arrivalDecision(context, event)),
    canRetry: ({ context, event }) =>
      (event as { error?: unknown }).error instanceof HeadMoved && context.retries < context.maxRetries,
    wasRejected: ({ context }) => {
      const w = head(context)
      return w?._tag === "command" && context.decision !== undefined && E.isLeft(context.decision)
    },
    headMoved: ({ event }) => (event as { error?: unknown }).error instanceof HeadMoved,
  },
}).createMachine({
  id: "blob",
  context: ({ input }) => ({ ...input, state: undefined, headSeq: 0, queue: [], decision: undefined, retries: 0 }),
  initial: "hydrating",
  states: {
    hydrating: {
      invoke: {
        src: "hydrate",
        input: ({ context }) => ({ id: context.id }),
        onDone: {
          target: "ready",
          actions: assign({ state: ({ event }) => event.output.state, headSeq: ({ event }) => event.output.headSeq }),
        },
        onError: { target: "failed" },
      },
      on: { command: { actions: "enqueue" }, read: { actions: "enqueue" } },
    },
    ready: {
      always: { guard: "hasWork", target: "deciding" },
      on: {
        command: [
          {
            guard: "appendsOnArrival",
            target: "appending",
            actions: assign(({ context, event }) => ({ queue: [commandWork(event)], decision: arrivalDecision(context, event) })),
          },
          { actions: "enqueue", target: "deciding" },
        ],
        read: {
          actions: {
            type: "respond",
            params: ({ context, event }) => ({
              replyTo: event.replyTo,
              reply: context.state === undefined ? { _tag: "rejected", error: unavailable("not hydrated") } : { _tag: "state", state: context.state },
            }),
          },
        },
        passivate: "passivated",
      },
    },
    deciding: {
      entry: assign({
        decision: ({ context }) => {
          const work = head(context)
          if (work === undefined || work._tag === "read" || context.state === undefined) return undefined
          return decideWork(work.command, context.state, context, work.nowMs)
        },
      }),
      always: [
        { guard: "mustAppend", target: "appending" },
        {
          guard: "wasRejected",
          target: "ready",
          actions: [
            { type: "commandRejected", params: ({ context }) => rejection(context) },
            { type: "respond", params: ({ context }) => ({ replyTo: head(context)?.replyTo ?? -1, reply: replyFor(context) }) },
            "dequeue",
            assign({ retries: 0 }),
          ],
        },
        {
          target: "ready",
          actions: [
            { type: "respond", params: ({ context }) => ({ replyTo: head(context)?.replyTo ?? -1, reply: replyFor(context) }) },
            "dequeue",
            assign({ retries: 0 }),
          ],
        },
      ],
    },
    appending: {
      entry: [
        { type: "appendStarted", params: ({ context }) => ({ event: pendingEvent(context) }) },
        { type: "startAppend", params: ({ context }) => ({ event: pendingEvent(context), expectedHeadSeq: context.headSeq }) },
      ],
      on: {
        appended: {
          target: "ready",
          actions: [
            { type: "respond", params: ({ context }) => ({ replyTo: head(context)?.replyTo ?? -1, reply: replyFor(context) }) },
            // One assignment (each is a copy of the context): the state evolved and the work dequeued.
            assign(({ context, event }) => ({
              state: evolve(context.state!, pendingEvent(context)),
              headSeq: event.seq,
              retries: 0,
              queue: context.queue.slice(1),
              decision: undefined,
            })),
          ],
        },
        appendRejected: [
          // An earlier attempt of this very write landed (its answer was lost): answer with
          // what it made, and reload the state it changed.
          {
            guard: ({ event }) => (event as { error?: unknown }).error instanceof AlreadyStored,
            target: "hydrating",
            actions: [
              {
                type: "respond",
                params: ({ context, event }) => {
                  const e = (event as { error?: unknown }).error as AlreadyStored
                  return { replyTo: head(context)?.replyTo ?? -1, reply: { _tag: "written", id: context.id, version: e.version, digest: e.digest } as Reply }
                },
              },
              "dequeue",
              assign({ retries: 0 }),
            ],
          },
          // Another writer (another instance, or someone bypassing the service) moved the
          // head: reload it and decide the same command again against the new state.
          {
            guard: "canRetry",
            target: "hydrating",
            actions: [
              { type: "appendFailed", params: ({ context }) => ({ event: pendingEvent(context), reason: "head-moved" as const }) },
              assign({ retries: ({ context }) => context.retries + 1, decision: undefined }),
            ],
          },
          {
            guard: "headMoved",
            target: "hydrating",
            actions: [
              { type: "appendFailed", params: ({ context }) => ({ event: pendingEvent(context), reason: "head-moved" as const }) },
              {
                type: "respond",
                params: ({ context }) => ({
                  replyTo: head(context)?.replyTo ?? -1,
                  reply: { _tag: "rejected", error: unavailable("the head kept moving under this write; retry") },
                }),
              },
              "dequeue",
              assign({ retries: 0 }),
            ],
          },
          // Unknown outcome (timeout, no leader): the client retries with its idempotency key;
          // the state is reloaded because the append may have been stored.
          {
            target: "hydrating",
            actions: [
              { type: "appendFailed", params: ({ context }) => ({ event: pendingEvent(context), reason: "unknown" as const }) },
              {
                type: "respond",
                params: ({ context, event }) => ({
                  replyTo: head(context)?.replyTo ?? -1,
                  reply: { _tag: "rejected", error: unavailable(errorText(event.error)) },
                }),
              },
              "dequeue",
              assign({ retries: 0 }),
            ],
          },
        ],
        command: { actions: "enqueue" },
        // A read during an append sees the state before it: the write is not acknowledged yet.
        read: {
          actions: {
            type: "respond",
            params: ({ context, event }) => ({
              replyTo: event.replyTo,
              reply: { _tag: "state", state: context.state! },
            }),
          },
        },
      },
    },
    failed: { type: "final" },
    passivated: { type: "final" },
  },
})

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * How a shell answers `startAppend`: the append's outcome goes back to the actor as an event,
 * unless the actor stopped meanwhile (passivated or evicted while appending).
 */
export const answerAppend = (self: { send(e: BlobActorEvent): void; getSnapshot(): { status: string } }, outcome: Promise<Appended>): void => {
  const send = (e: BlobActorEvent) => {
    if (self.getSnapshot().status === "active") self.send(e)
  }
  outcome.then(
    (a) => send({ type: "appended", seq: a.seq }),
    (error: unknown) => send({ type: "appendRejected", error }),
  )
}

/**
 * The content an actor holds under `digest`: its state's, or that of the write it is
 * appending (a write's shadow is put as its append starts, so it comes back before or after
 * the append lands). Lets other holders of the same bytes share them.
 */
export const heldContent = (c: BlobActorContext, digest: string): BlobState | BlobEvent | undefined => {
  if (c.state?.digest === digest && c.state.content !== undefined) return c.state
  const d = c.decision
  if (d === undefined || E.isLeft(d) || d.right._tag !== "Append") return undefined
  const e = d.right.event
  return e.digest === digest && e.content !== undefined ? e : undefined
}

/** Ready with nothing queued: the actor owes no reply, so it may passivate or be reloaded. */
export const isIdle = (s: { readonly value: unknown; readonly context: BlobActorContext }): boolean =>
  s.value === "ready" && s.context.queue.length === 0

/**
 * The newest version this actor holds or is appending (the write in flight). A stream head
 * past it means another writer moved the blob on: its state is stale. A head equal to it is
 * taken for this actor's own append seen before its acknowledgement (with a second owner it
 * may be that owner's write of the same version: versions alone cannot tell them apart).
 */
export const versionInHand = (c: BlobActorContext): number => {
  const d = c.decision
  const inFlight = d !== undefined && E.isRight(d) && d.right._tag === "Append" ? d.right.event.version : 0
  return Math.max(c.state?.version ?? 0, inFlight)
}

/** Work still queued when an actor stops (failed hydration): the shell answers it. */
export const pendingWork = (c: BlobActorContext): ReadonlyArray<Work> => c.queue
