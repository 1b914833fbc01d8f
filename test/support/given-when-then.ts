import * as E from "fp-ts/lib/Either.js"
import { expect } from "vitest"
import { initialTransition, transition, type SnapshotFrom } from "xstate"
import type { BlobCommand, ContentInput } from "../../domain/blob-command.ts"
import { chainPayload, GENESIS_HASH, type BlobEvent, type BlobOp } from "../../domain/blob-event.ts"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { evolve, fold, type BlobState } from "../../domain/blob-state.ts"
import { decide, type DecideContext, type Decision } from "../../domain/decide.ts"
import type { UmbraError } from "../../domain/errors.ts"
import {
  blobActorMachine,
  type AppendInput,
  type Appended,
  type BlobActorEvent,
  type BlobActorInput,
  type Hydrated,
  type Reply,
} from "../../domain/machines/blob-actor.ts"
import { EMPTY_DIGEST, digestOf, testHasher, utf8 } from "./hasher.ts"

// Emmett-style decider tests:
//   given([written("v1")]).when(writeBlob(inline("v2"), { expectedVersion: 1 })).then([{ version: 2 }])
//   given([]).when(patchBlob([])).thenRejects("NotFound")
// `given` takes facts (events without their position in the chain); it numbers, links and
// signs them itself, independently of `decide`, so the history is what a stream would hold.

export const blobId = (raw: string): BlobId => {
  const id = parseBlobId(raw)
  if (E.isLeft(id)) throw new Error(`test id ${raw} is invalid`)
  return id.right
}

export const BLOB = blobId("docs/readme")
export const INLINE_LIMIT_BYTES = 64
/** A fixed epoch for histories: time comes from the test, never from the clock. */
export const T0_MS = 1_700_000_000_000
export const STEP_MS = 1_000

export const ctxAt = (nowMs: number, inlineLimitBytes = INLINE_LIMIT_BYTES): DecideContext => ({
  nowMs,
  hasher: testHasher,
  inlineLimitBytes,
})

/** An event before it has a place in a chain. */
export type Fact = Omit<BlobEvent, "id" | "version" | "prevHash" | "hash" | "timeMs"> & { readonly timeMs?: number }

interface FactOptions {
  readonly contentType?: string
  readonly idempotencyKey?: string
  readonly writer?: string
  readonly timeMs?: number
  readonly restoredFrom?: number
}

const fact = (op: BlobOp, o: FactOptions, body: Pick<BlobEvent, "digest" | "size" | "contentRef" | "content">): Fact => ({
  op,
  ...body,
  contentType: o.contentType,
  writer: o.writer ?? "alice",
  idempotencyKey: o.idempotencyKey,
  restoredFrom: o.restoredFrom,
  ...(o.timeMs === undefined ? {} : { timeMs: o.timeMs }),
})

export const written = (content: string, o: FactOptions = {}): Fact =>
  fact(o.restoredFrom === undefined ? "write" : "restore", o, {
    digest: digestOf(content),
    size: utf8(content).length,
    contentRef: undefined,
    content: utf8(content),
  })

export const writtenRef = (digest: string, size: number, o: FactOptions = {}): Fact =>
  fact("write", o, { digest, size, contentRef: digest, content: undefined })

export const patchedTo = (json: unknown, o: FactOptions = {}): Fact => {
  const text = JSON.stringify(json)
  return fact("patch", { contentType: "application/json", ...o }, {
    digest: digestOf(text),
    size: utf8(text).length,
    contentRef: undefined,
    content: utf8(text),
  })
}

export const deleted = (o: FactOptions = {}): Fact =>
  fact("delete", o, { digest: EMPTY_DIGEST, size: 0, contentRef: undefined, content: undefined })

/** Numbers, links and signs facts into the events a stream would hold. */
export const history = (id: BlobId, facts: ReadonlyArray<Fact>): ReadonlyArray<BlobEvent> => {
  const events: BlobEvent[] = []
  let prevHash = GENESIS_HASH
  facts.forEach((f, i) => {
    const { content, ...rest } = f
    const unsigned = { ...rest, id, version: i + 1, prevHash, timeMs: f.timeMs ?? T0_MS + i * STEP_MS }
    const hash = testHasher.hashText(chainPayload(unsigned))
    events.push({ ...unsigned, content, hash })
    prevHash = hash
  })
  return events
}

export interface Then {
  readonly event: BlobEvent
  /** The state after the new event. */
  readonly state: BlobState
}

export interface When {
  readonly decision: E.Either<UmbraError, Decision>
  /** Exactly these events (decide emits at most one); `[]` means "nothing new": already applied. */
  then(expected: ReadonlyArray<Partial<BlobEvent>>): Then
  thenRejects(tag: UmbraError["_tag"], details?: Record<string, unknown>): UmbraError
  thenAlreadyApplied(version: number, digest?: string): void
}

export interface Given {
  readonly events: ReadonlyArray<BlobEvent>
  readonly state: BlobState
  when(command: BlobCommand, ctx?: Partial<DecideContext>): When
}

export const given = (facts: ReadonlyArray<Fact>, id: BlobId = BLOB): Given => {
  const events = history(id, facts)
  return givenState(fold(id, events), events)
}

/** Continues from a state reached some other way (e.g. a previous `then`). */
export const givenState = (state: BlobState, events: ReadonlyArray<BlobEvent> = []): Given => ({
  events,
  state,
  when: (command, ctx = {}) => {
    const nowMs = ctx.nowMs ?? (state.version === 0 ? T0_MS : state.timeMs + STEP_MS)
    const decision = decide(command, state, { ...ctxAt(nowMs), ...ctx })
    return whenFrom(state, decision)
  },
})

const whenFrom = (state: BlobState, decision: E.Either<UmbraError, Decision>): When => ({
  decision,
  then: (expected) => {
    if (expected.length === 0) {
      expect(decision).toMatchObject({ _tag: "Right", right: { _tag: "AlreadyApplied" } })
      return { event: undefined as never, state }
    }
    expect(expected, "decide emits at most one event per command").toHaveLength(1)
    expect(decision).toMatchObject({ _tag: "Right", right: { _tag: "Append" } })
    const event = (decision as E.Right<Extract<Decision, { _tag: "Append" }>>).right.event
    expect(event).toMatchObject(expected[0] ?? {})
    // Invariants of every appended event: the next version, linked to the head, signed.
    expect(event.id).toBe(state.id)
    expect(event.version).toBe(state.version + 1)
    expect(event.prevHash).toBe(state.hash)
    const { content: _content, hash, ...unsigned } = event
    expect(hash).toBe(testHasher.hashText(chainPayload(unsigned)))
    expect(event.timeMs).toBeGreaterThanOrEqual(state.timeMs)
    return { event, state: evolve(state, event) }
  },
  thenRejects: (tag, details = {}) => {
    expect(decision).toMatchObject({ _tag: "Left", left: { _tag: tag, ...details } })
    return (decision as E.Left<UmbraError>).left
  },
  thenAlreadyApplied: (version, digest) => {
    expect(decision).toMatchObject({
      _tag: "Right",
      right: { _tag: "AlreadyApplied", version, ...(digest === undefined ? {} : { digest }) },
    })
  },
})

export const inline = (text: string): ContentInput => ({ kind: "inline", bytes: utf8(text) })
export const ref = (digest: string, size: number): ContentInput => ({ kind: "ref", digest, size })

// ---------------------------------------------------------------------------------------
// The blob actor, driven like a reducer with xstate's `transition()`: no NATS, no timers,
// no actions run. The invoked `hydrate` actor is answered by feeding the machine the events
// XState would send (`xstate.done.actor.<invokeId>` / `xstate.error.actor.<invokeId>`), the
// `startAppend` action by the events a shell sends back (`appended` / `appendRejected`).

type ActorSnapshot = SnapshotFrom<typeof blobActorMachine>

const invokeIdOf = (state: "hydrating" | "appending"): string => {
  const id = blobActorMachine.states[state]?.invoke[0]?.id
  if (id === undefined) throw new Error(`blob actor: no invoke in ${state}`)
  return id
}
export const HYDRATE_ID = invokeIdOf("hydrating")

// Internal XState events are not part of the machine's declared event union.
const internalEvent = (e: { type: string } & Record<string, unknown>): BlobActorEvent => e as unknown as BlobActorEvent

export const hydrated = (state: BlobState, headSeq = state.version): BlobActorEvent =>
  internalEvent({ type: `xstate.done.actor.${HYDRATE_ID}`, output: { state, headSeq } satisfies Hydrated })
export const hydrateFailed = (error: unknown = new Error("no responders")): BlobActorEvent =>
  internalEvent({ type: `xstate.error.actor.${HYDRATE_ID}`, error })
export const appended = (seq: number): BlobActorEvent => ({ type: "appended", seq: ({ seq } satisfies Appended).seq })
export const appendFailed = (error: unknown): BlobActorEvent => ({ type: "appendRejected", error })

export const command = (cmd: BlobCommand, replyTo: number, nowMs = T0_MS): BlobActorEvent => ({
  type: "command",
  command: cmd,
  nowMs,
  replyTo,
})
export const read = (replyTo: number): BlobActorEvent => ({ type: "read", replyTo })

export interface Responded {
  readonly replyTo: number
  readonly reply: Reply
}

export interface Step {
  readonly snapshot: ActorSnapshot
  /** Params of every `respond` action, in order. */
  readonly responds: ReadonlyArray<Responded>
  /** The input of an `append` invoked by this step, if any. */
  readonly appendInput: AppendInput | undefined
  /** True when this step (re)invoked `hydrate`. */
  readonly hydrates: boolean
}

const stepOf = (snapshot: ActorSnapshot, actions: ReadonlyArray<{ type: string; params?: unknown }>): Step => {
  const spawned = actions
    .filter((a) => a.type === "xstate.spawnChild")
    .map((a) => a.params as { src: string; input: unknown })
  return {
    snapshot,
    responds: actions.filter((a) => a.type === "respond").map((a) => a.params as Responded),
    appendInput: actions.find((a) => a.type === "startAppend")?.params as AppendInput | undefined,
    hydrates: spawned.some((p) => p.src === "hydrate"),
  }
}

export const actorInput = (o: Partial<BlobActorInput> = {}): BlobActorInput => ({
  id: BLOB,
  hasher: testHasher,
  inlineLimitBytes: INLINE_LIMIT_BYTES,
  maxRetries: 2,
  ...o,
})

export const startActor = (o: Partial<BlobActorInput> = {}): Step => {
  const [snapshot, actions] = initialTransition(blobActorMachine, actorInput(o))
  return stepOf(snapshot, actions)
}

export const send = (snapshot: ActorSnapshot, event: BlobActorEvent): Step => {
  const [next, actions] = transition(blobActorMachine, snapshot, event)
  return stepOf(next, actions)
}

/** Sends events one after another; returns every step. */
export const sendAll = (snapshot: ActorSnapshot, events: ReadonlyArray<BlobActorEvent>): ReadonlyArray<Step> => {
  const steps: Step[] = []
  let s = snapshot
  for (const e of events) {
    const step = send(s, e)
    steps.push(step)
    s = step.snapshot
  }
  return steps
}
