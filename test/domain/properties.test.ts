import fc from "fast-check"
import * as E from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import { deleteBlob, patchBlob, writeBlob, type BlobCommand } from "../../domain/blob-command.ts"
import type { BlobEvent, BlobOp } from "../../domain/blob-event.ts"
import { evolve, fold, initialState, type BlobState } from "../../domain/blob-state.ts"
import { decide } from "../../domain/decide.ts"
import { chainStart, isChainBreak, verifyLink, type ChainBreak, type ChainCursor } from "../../domain/hash-chain.ts"
import { HeadMoved } from "../../domain/machines/blob-actor.ts"
import {
  appended,
  appendFailed,
  BLOB,
  blobId,
  command,
  ctxAt,
  hydrated,
  send,
  startActor,
  T0_MS,
  type Responded,
} from "../support/given-when-then.ts"
import { digestOf, testHasher, utf8 } from "../support/hasher.ts"

// Properties of the decider and the actor over random command sequences. Commands are
// generated as functions of the current state so that a useful share of them is accepted
// (an expected version drawn blindly would almost always conflict).

type CommandAt = (state: BlobState) => BlobCommand
interface Timed {
  readonly at: CommandAt
  readonly nowMs: number
}

const KEYS = ["a", "b", "c"] as const
const key = fc.constantFrom(...KEYS)
const smallValue = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.string({ maxLength: 24 }))

/** JSON documents (patchable) and plain text (not), some above the 64-byte inline limit. */
const contentText = fc.oneof(
  fc.dictionary(key, smallValue, { maxKeys: 3 }).map((d) => JSON.stringify(d)),
  fc.string({ maxLength: 72 }),
)

const patchOp = fc.oneof(
  fc.tuple(key, smallValue).map(([k, value]) => ({ op: "add", path: `/${k}`, value })),
  fc.tuple(key, smallValue).map(([k, value]) => ({ op: "replace", path: `/${k}`, value })),
  key.map((k) => ({ op: "remove", path: `/${k}` })),
  fc.tuple(key, smallValue).map(([k, value]) => ({ op: "test", path: `/${k}`, value })),
  fc.constant({ op: "add", path: "/__proto__/polluted", value: true }),
  fc.constant({ op: "frobnicate", path: "/a" }),
)
const patchDoc = fc.oneof(
  { weight: 5, arbitrary: fc.array(patchOp, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>("not a patch", null, { op: "add", path: "/a" }, [1]) },
)

/** How a command states its expected version, resolved against the state it meets. */
const expectation = fc.oneof(
  { weight: 4, arbitrary: fc.constant<(s: BlobState) => number | undefined>(() => undefined) },
  { weight: 4, arbitrary: fc.constant((s: BlobState) => s.version) },
  { weight: 2, arbitrary: fc.constant(() => 0) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 8 }).map((n) => () => n) },
  { weight: 1, arbitrary: fc.constantFrom(1.5, -1, Number.NaN).map((n) => () => n) },
)

const base = fc.record({
  expect: expectation,
  idempotencyKey: fc.option(fc.constantFrom("k1", "k2", "k3"), { nil: undefined }),
  writer: fc.constantFrom("alice", "bob"),
})

const commandAt: fc.Arbitrary<CommandAt> = fc.oneof(
  fc
    .record({
      b: base,
      text: contentText,
      byRef: fc.boolean(),
      contentType: fc.option(fc.constantFrom("application/json", "text/plain"), { nil: undefined }),
      restoredFrom: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    })
    .map(({ b, text, byRef, contentType, restoredFrom }) => (s: BlobState) =>
      writeBlob(byRef ? { kind: "ref", digest: digestOf(text), size: 1_000_000 } : { kind: "inline", bytes: utf8(text) }, {
        expectedVersion: b.expect(s),
        idempotencyKey: b.idempotencyKey,
        writer: b.writer,
        ...(contentType === undefined ? {} : { contentType }),
        ...(restoredFrom === undefined ? {} : { restoredFrom }),
      }),
    ),
  fc.record({ b: base, patch: patchDoc }).map(({ b, patch }) => (s: BlobState) =>
    patchBlob(patch, { expectedVersion: b.expect(s), idempotencyKey: b.idempotencyKey, writer: b.writer }),
  ),
  base.map((b) => (s: BlobState) => deleteBlob({ expectedVersion: b.expect(s), idempotencyKey: b.idempotencyKey, writer: b.writer })),
)

/** Clocks that jitter and sometimes go backwards. */
const timed: fc.Arbitrary<Timed> = fc.record({ at: commandAt, nowMs: fc.integer({ min: T0_MS - 5_000, max: T0_MS + 60_000 }) })
const commands = fc.array(timed, { maxLength: 40, size: "medium" })

/** Runs the decider over the commands, appending what it accepts. */
const runDecider = (cmds: ReadonlyArray<Timed>) => {
  let state = initialState(BLOB)
  const events: BlobEvent[] = []
  const steps: Array<{ before: BlobState; after: BlobState; decision: ReturnType<typeof decide> }> = []
  for (const c of cmds) {
    const before = state
    const decision = decide(c.at(state), state, ctxAt(c.nowMs))
    if (E.isRight(decision) && decision.right._tag === "Append") {
      events.push(decision.right.event)
      state = evolve(state, decision.right.event)
    }
    steps.push({ before, after: state, decision })
  }
  return { state, events, steps }
}

const storedDigest = (e: BlobEvent): string | undefined =>
  e.content !== undefined ? testHasher.digest(e.content) : e.contentRef !== undefined ? e.digest : undefined

/** Verifies a whole history; the first break, or the cursor after the last event. */
const verifyAll = (events: ReadonlyArray<BlobEvent>): ChainBreak | ChainCursor => {
  let cursor: ChainCursor = chainStart
  for (const e of events) {
    const next = verifyLink(cursor, e, storedDigest(e), testHasher)
    if (isChainBreak(next)) return next
    cursor = next
  }
  return cursor
}

describe("decide: properties", () => {
  it("versions only grow, by exactly 1 per accepted command; a rejected command changes nothing", () => {
    fc.assert(
      fc.property(commands, (cmds) => {
        const { steps, events } = runDecider(cmds)
        for (const { before, after, decision } of steps) {
          if (E.isLeft(decision)) {
            expect(after).toBe(before)
          } else if (decision.right._tag === "AlreadyApplied") {
            expect(after).toBe(before)
            expect(decision.right.version).toBe(before.version)
          } else {
            expect(after.version).toBe(before.version + 1)
            expect(after.timeMs).toBeGreaterThanOrEqual(before.timeMs)
          }
        }
        expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1))
      }),
      { numRuns: 300 },
    )
  })

  it("decide never mutates the state it is given", () => {
    fc.assert(
      fc.property(commands, timed, (cmds, next) => {
        const { state } = runDecider(cmds)
        const copy = structuredClone(state)
        decide(next.at(state), state, ctxAt(next.nowMs))
        expect(state).toEqual(copy)
      }),
      { numRuns: 300 },
    )
  })

  it("verifyLink accepts every chain decide produces", () => {
    fc.assert(
      fc.property(commands, (cmds) => {
        const { events, state } = runDecider(cmds)
        expect(verifyAll(events)).toEqual({ expectedVersion: events.length + 1, prevHash: state.hash })
      }),
      { numRuns: 300 },
    )
  })

  type Field = keyof BlobEvent
  const OPS: ReadonlyArray<BlobOp> = ["write", "patch", "delete", "restore"]
  const differentFrom = <T>(arb: fc.Arbitrary<T>, original: T): fc.Arbitrary<T> =>
    arb.filter((v) => !Object.is(v, original) && JSON.stringify(v) !== JSON.stringify(original))
  const optionalText = fc.option(fc.string({ maxLength: 12 }), { nil: undefined })
  const tamperValue = (field: Field, e: BlobEvent): fc.Arbitrary<unknown> => {
    switch (field) {
      case "id":
        return differentFrom(fc.constantFrom("other", "docs/readme2", "a").map(blobId), e.id)
      case "version":
      case "size":
      case "timeMs":
        return differentFrom(fc.integer({ min: 0, max: 2 ** 40 }), e[field])
      case "restoredFrom":
        return differentFrom(fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }), e.restoredFrom)
      case "op":
        return differentFrom(fc.constantFrom(...OPS), e.op)
      case "digest":
      case "prevHash":
      case "hash":
        return differentFrom(fc.string({ minLength: 1, maxLength: 12 }).map(digestOf), e[field])
      case "writer":
        return differentFrom(fc.string({ maxLength: 12 }), e.writer)
      case "contentType":
      case "contentRef":
      case "idempotencyKey":
        return differentFrom(optionalText, e[field])
      case "content":
        return differentFrom(fc.string({ maxLength: 12 }).map(utf8), e.content)
    }
  }
  const FIELDS: ReadonlyArray<Field> = [
    "id", "version", "op", "digest", "size", "contentType", "contentRef", "writer",
    "timeMs", "idempotencyKey", "restoredFrom", "prevHash", "hash", "content",
  ]

  const accepted = commands
    .map((cmds) => runDecider(cmds).events)
    .filter((events) => events.length > 0)
  const tampered = accepted.chain((events) =>
    fc
      .record({ index: fc.nat({ max: events.length - 1 }), field: fc.constantFrom(...FIELDS) })
      // Content only exists (and so can only be swapped) on inline events.
      .filter(({ index, field }) => field !== "content" || events[index]?.content !== undefined)
      .chain(({ index, field }) =>
        tamperValue(field, events[index]!).map((value) => ({ events, index, field, value })),
      ),
  )

  it("verifyLink rejects any single-field tamper at exactly that version", () => {
    fc.assert(
      fc.property(tampered, ({ events, index, field, value }) => {
        const forged = events.map((e, i) => (i === index ? ({ ...e, [field]: value } as BlobEvent) : e))
        const result = verifyAll(forged)
        if (!isChainBreak(result)) throw new Error(`tampered ${field} of v${index + 1} verified`)
        // A gap reports the version it saw; the place it broke is the one it expected.
        expect(result._tag === "VersionGap" ? result.expected : result.version).toBe(index + 1)
      }),
      { numRuns: 1_000 },
    )
  })
})

// ---------------------------------------------------------------------------------------
// The actor against a simulated stream: each append may succeed, lose a race to another
// writer (HeadMoved), or time out having (or not having) been stored.

type Fault = "none" | "headMoved" | "timeoutStored" | "timeoutLost"
const fault = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Fault>("none") },
  { weight: 2, arbitrary: fc.constant<Fault>("headMoved") },
  { weight: 1, arbitrary: fc.constant<Fault>("timeoutStored") },
  { weight: 1, arbitrary: fc.constant<Fault>("timeoutLost") },
)

const runActor = (cmds: ReadonlyArray<Timed>, faults: ReadonlyArray<Fault>, maxRetries: number) => {
  const stream: BlobEvent[] = []
  const head = () => fold(BLOB, stream)
  const replies: Responded[] = []
  let faultIndex = 0
  let external = 0
  let step = startActor({ maxRetries })
  let pending: BlobEvent | undefined

  const settle = (): void => {
    for (let guard = 0; guard < 100; guard++) {
      replies.push(...step.responds)
      if (step.appendInput !== undefined) pending = step.appendInput.event
      if (step.snapshot.value === "hydrating") {
        step = send(step.snapshot, hydrated(head(), stream.length))
      } else if (step.snapshot.value === "appending") {
        const event = pending!
        expect(step.snapshot.context.headSeq).toBe(stream.length) // it appends against the real head
        const f = faults[faultIndex++ % Math.max(faults.length, 1)] ?? "none"
        if (f === "none" || f === "timeoutStored") stream.push(event)
        if (f === "none") step = send(step.snapshot, appended(stream.length))
        else if (f === "headMoved") {
          // Another writer got there first.
          const d = decide(writeBlob({ kind: "inline", bytes: utf8(`ext-${external++}`) }), head(), ctxAt(T0_MS))
          if (E.isLeft(d) || d.right._tag !== "Append") throw new Error("external write failed")
          stream.push(d.right.event)
          step = send(step.snapshot, appendFailed(new HeadMoved()))
        } else step = send(step.snapshot, appendFailed(new Error("TIMEOUT")))
      } else return
    }
    throw new Error("actor did not settle")
  }

  settle()
  cmds.forEach((c, i) => {
    const before = step.snapshot.context
    step = send(step.snapshot, command(c.at(head()), i, c.nowMs))
    const rejectedAtOnce = step.appendInput === undefined && step.responds.some((r) => r.reply._tag === "rejected")
    if (rejectedAtOnce) {
      // A rejected command changes nothing in the actor.
      expect(step.snapshot.context.state).toBe(before.state)
      expect(step.snapshot.context.headSeq).toBe(before.headSeq)
      expect(step.snapshot.value).toBe("ready")
    }
    settle()
  })
  return { stream, replies, snapshot: step.snapshot }
}

describe("blob actor: properties", () => {
  it("the fold of the accepted events equals the state the actor ends with", () => {
    fc.assert(
      fc.property(commands, fc.array(fault, { maxLength: 20 }), fc.integer({ min: 0, max: 3 }), (cmds, faults, maxRetries) => {
        const { stream, replies, snapshot } = runActor(cmds, faults, maxRetries)
        expect(snapshot.value).toBe("ready")
        expect(snapshot.context.state).toEqual(fold(BLOB, stream))
        expect(snapshot.context.headSeq).toBe(stream.length)
        // The stream is one unbroken chain, versions 1..n.
        expect(verifyAll(stream)).toMatchObject({ expectedVersion: stream.length + 1 })
        // Every command is answered exactly once, in order; a written reply names a stored version.
        expect(replies.map((r) => r.replyTo)).toEqual(cmds.map((_, i) => i))
        for (const r of replies)
          if (r.reply._tag === "written") expect(stream[r.reply.version - 1]?.digest).toBe(r.reply.digest)
      }),
      { numRuns: 300 },
    )
  })

  it("without faults, the actor accepts exactly what the decider accepts", () => {
    fc.assert(
      fc.property(commands, (cmds) => {
        const { stream } = runActor(cmds, ["none"], 0)
        expect(stream).toEqual(runDecider(cmds).events)
      }),
      { numRuns: 300 },
    )
  })
})
