/**
 * One logical client operation over the wire contract (DESIGN.md, raw NATS request/reply),
 * recorded in the history as it happens. The live runner sends it over NATS and the
 * deterministic simulator over its virtual network: the same code decides what a reply
 * means, so a simulated run and a live run are judged alike.
 *
 * What counts as "may have happened": a write that timed out, lost its connection or was
 * answered 5xx (the service answers 503 when an append's outcome is unknown) is
 * indeterminate and retried with the same idempotency key; "no responders" means no service
 * received it, so it definitely had no effect.
 */
import { nodeHasher } from "../infra/hasher.ts"
import type { Rng } from "./generators/rng.ts"
import type { HistoryOpKind, HistoryRecorder, Outcome, ReadSource } from "./history.ts"
import type { Scenario } from "./scenario.ts"
import type { ValueSource } from "./values.ts"
import type { Step } from "./workload.ts"

export type TransportReply =
  | { readonly _tag: "Reply"; readonly header: (name: string) => string | undefined; readonly body: Uint8Array }
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "NoResponders" }
  | { readonly _tag: "Broken"; readonly reason: string }

export interface Transport {
  /** `client` is the logical client sending it: a transport over several connections may pin each client to one. */
  readonly request: (
    subject: string, body: Uint8Array, headers: Readonly<Record<string, string>>, timeoutMs: number, client?: number,
  ) => Promise<TransportReply>
}

/** The run's clock: ms since the run started (wall clock live, virtual in the simulator). */
export interface RunClock {
  readonly now: () => number
  readonly sleep: (ms: number) => Promise<void>
  /** Let pending I/O run (live only); a virtual clock has none to let through. */
  readonly yieldToIo?: () => Promise<void>
}

export interface ClientContext {
  readonly scenario: Scenario
  readonly transport: Transport
  readonly clock: RunClock
  readonly history: HistoryRecorder
  readonly values: ValueSource
  /** The newest version this driver has seen per blob: what a conditional write expects. */
  readonly knowledge: Map<string, number>
  readonly rng: Rng
  /** Idempotency keys are `<idPrefix>-<n>`: unique per run, and the same on a replay. */
  readonly idPrefix: string
  readonly keyCounter: { value: number }
  readonly subjectPrefix: string
  /** Every attempt's verdict as it comes, for live progress and callers watching a run. */
  readonly onOutcome?: (outcome: Outcome, attempt: AttemptReport) => void
}

/** One attempt of an operation: who sent what, and what came back. */
export interface AttemptReport {
  readonly client: number
  readonly blobId: string
  readonly kind: HistoryOpKind
  /** A modification's key, the same on each of its retries. */
  readonly idempotencyKey: string | undefined
  readonly startMs: number
  readonly endMs: number
  readonly reply: TransportReply
}

export interface StepTiming {
  readonly startMs: number
  readonly endMs: number
}

const decoder = new TextDecoder()
const EMPTY = new Uint8Array(0)

const errorStatus = (r: Extract<TransportReply, { _tag: "Reply" }>): number | undefined => {
  const code = r.header("Nats-Service-Error-Code")
  return code === undefined || code === "" ? undefined : Number(code)
}

const errorDetails = (body: Uint8Array): { code: string; currentVersion: number | undefined } => {
  try {
    const parsed = JSON.parse(decoder.decode(body)) as { error?: { code?: unknown; currentVersion?: unknown } }
    const cv = parsed.error?.currentVersion
    return { code: String(parsed.error?.code ?? "UNKNOWN"), currentVersion: typeof cv === "number" ? cv : undefined }
  } catch {
    return { code: "UNKNOWN", currentVersion: undefined }
  }
}

/** A reply that is not an answer: for a modification it may still have taken effect. */
const undecided = (r: TransportReply, modifying: boolean): Outcome | undefined => {
  if (r._tag === "Timeout") return { _tag: "Indeterminate", reason: "timeout" }
  if (r._tag === "Broken") return { _tag: "Indeterminate", reason: r.reason }
  if (r._tag === "NoResponders") return { _tag: "Fail", code: "NO_RESPONDERS" }
  const status = errorStatus(r)
  if (status === undefined || status < 500) return undefined
  return modifying ? { _tag: "Indeterminate", reason: `service answered ${status}` } : { _tag: "Fail", code: String(status) }
}

const errorOutcome = (status: number, body: Uint8Array): Outcome => {
  const d = errorDetails(body)
  if (status === 409 && d.currentVersion !== undefined) return { _tag: "Conflict", currentVersion: d.currentVersion }
  if (status === 404) return { _tag: "NotFound" }
  return { _tag: "Fail", code: d.code }
}

export const readOutcome = (r: TransportReply): Outcome => {
  const pending = undecided(r, false)
  if (pending !== undefined || r._tag !== "Reply") return pending ?? { _tag: "Fail", code: "UNKNOWN" }
  const status = errorStatus(r)
  if (status !== undefined) return errorOutcome(status, r.body)
  const source = r.header("Umbra-Source") === "shadow" ? "shadow" : "primary"
  return { _tag: "Ok", version: Number(r.header("Umbra-Version")), digest: r.header("Umbra-Digest") ?? "", source }
}

export const writeOutcome = (r: TransportReply): Outcome => {
  const pending = undecided(r, true)
  if (pending !== undefined || r._tag !== "Reply") return pending ?? { _tag: "Fail", code: "UNKNOWN" }
  const status = errorStatus(r)
  if (status !== undefined) return errorOutcome(status, r.body)
  const body = JSON.parse(decoder.decode(r.body)) as { version: number; digest: string }
  return { _tag: "Ok", version: body.version, digest: body.digest }
}

/** The head of the history listing (asked newest first, one entry). */
export const historyOutcome = (r: TransportReply): Outcome => {
  const pending = undecided(r, false)
  if (pending !== undefined || r._tag !== "Reply") return pending ?? { _tag: "Fail", code: "UNKNOWN" }
  const status = errorStatus(r)
  if (status !== undefined) return errorOutcome(status, r.body)
  const entries = JSON.parse(decoder.decode(r.body)) as Array<{ version: number; digest: string }>
  const head = entries[0]
  return head === undefined ? { _tag: "Fail", code: "EMPTY_HISTORY" } : { _tag: "Ok", version: head.version, digest: head.digest }
}

const learn = (ctx: ClientContext, blobId: string, o: Outcome): void => {
  const v = o._tag === "Ok" ? o.version : o._tag === "Conflict" ? o.currentVersion : undefined
  if (v !== undefined && v > (ctx.knowledge.get(blobId) ?? 0)) ctx.knowledge.set(blobId, v)
}

interface Attempt {
  readonly kind: HistoryOpKind
  readonly subject: string
  readonly body: Uint8Array
  readonly headers: Readonly<Record<string, string>>
  readonly decode: (r: TransportReply) => Outcome
  readonly extra: { expectedVersion?: number; writeDigest?: string; idempotencyKey?: string; consistency?: ReadSource }
}

const attempt = async (ctx: ClientContext, client: number, blobId: string, intendedMs: number, a: Attempt): Promise<Outcome> => {
  const startMs = ctx.clock.now()
  const id = ctx.history.invoke({ client, blobId, kind: a.kind, intendedMs, atMs: startMs, ...a.extra })
  const reply = await ctx.transport.request(a.subject, a.body, a.headers, ctx.scenario.client.timeoutMs, client)
  const outcome = a.decode(reply)
  const endMs = ctx.clock.now()
  ctx.history.complete(id, endMs, outcome)
  learn(ctx, blobId, outcome)
  ctx.onOutcome?.(outcome, { client, blobId, kind: a.kind, idempotencyKey: a.extra.idempotencyKey, startMs, endMs, reply })
  return outcome
}

/** An answer that leaves a modification worth retrying under its key: unknown, or no service got it. */
export const retryable = (o: Outcome): boolean => o._tag === "Indeterminate" || (o._tag === "Fail" && o.code === "NO_RESPONDERS")

/**
 * A modification with its retries: every attempt is one history entry under one idempotency
 * key. Retried `client.retries` times, or until `client.retryDeadlineMs` after the first attempt.
 */
const modify = async (ctx: ClientContext, client: number, blobId: string, intendedMs: number, a: Attempt): Promise<Outcome> => {
  const { retries, retryDeadlineMs } = ctx.scenario.client
  const firstMs = ctx.clock.now()
  const again = (i: number): boolean => (retryDeadlineMs === undefined ? i < retries : ctx.clock.now() - firstMs < retryDeadlineMs)
  for (let i = 0; ; i++) {
    if (i > 0) await ctx.clock.sleep(Math.min(25 * 2 ** i, 400))
    const outcome = await attempt(ctx, client, blobId, intendedMs, a)
    if (!retryable(outcome) || !again(i)) return outcome
  }
}

const writeAttempt = (ctx: ClientContext, step: Step, op: "write" | "patch" | "delete", expectedVersion: number | undefined): Attempt => {
  const idempotencyKey = `${ctx.idPrefix}-${++ctx.keyCounter.value}`
  const headers: Record<string, string> = { "Umbra-Idempotency-Key": idempotencyKey }
  if (expectedVersion !== undefined) headers["Umbra-Expected-Version"] = String(expectedVersion)
  const subject = `${ctx.subjectPrefix}.${op}.${step.blobId}`
  const base = { kind: op, subject, headers, decode: writeOutcome }
  const expected = expectedVersion === undefined ? {} : { expectedVersion }
  if (op === "delete") return { ...base, body: EMPTY, extra: { idempotencyKey, ...expected } }
  if (op === "patch") {
    const body = new TextEncoder().encode(JSON.stringify(ctx.values.patch(step.blobId)))
    return { ...base, body, extra: { idempotencyKey, ...expected } }
  }
  const value = ctx.values.next(step.blobId, ctx.clock.now())
  if (value.contentType !== undefined) headers["Content-Type"] = value.contentType
  return { ...base, body: value.bytes, extra: { idempotencyKey, writeDigest: nodeHasher.digest(value.bytes), ...expected } }
}

/**
 * A read's headers depend only on the scenario and the consistency drawn, so they are
 * built once and frozen: a frozen record tells the transport it may reuse its encoding.
 */
const readHeaderCache = new WeakMap<Scenario, Readonly<Record<ReadSource, Readonly<Record<string, string>>>>>()

const readHeaders = (scenario: Scenario, consistency: ReadSource): Readonly<Record<string, string>> => {
  let both = readHeaderCache.get(scenario)
  if (both === undefined) {
    // A scenario is immutable, so its read headers are too.
    const confidence = scenario.reads.minConfidence
    const shadow: Record<string, string> = confidence === undefined ? {} : { "Umbra-Min-Confidence": String(confidence) }
    both = {
      primary: Object.freeze({ "Umbra-Consistency": "primary" }),
      shadow: Object.freeze({ "Umbra-Consistency": "shadow", ...shadow }),
    }
    readHeaderCache.set(scenario, both)
  }
  return both[consistency]
}

const readAttempt = (ctx: ClientContext, step: Step): Attempt => {
  const reads = ctx.scenario.reads
  const consistency: ReadSource =
    reads.consistency === "primary" || ctx.rng.nextFloat() < reads.primaryFraction ? "primary" : "shadow"
  const headers = readHeaders(ctx.scenario, consistency)
  return { kind: "read", subject: `${ctx.subjectPrefix}.read.${step.blobId}`, body: EMPTY, headers, decode: readOutcome, extra: { consistency } }
}

const historyAttempt = (ctx: ClientContext, step: Step): Attempt => ({
  kind: "history",
  subject: `${ctx.subjectPrefix}.history.${step.blobId}`,
  body: new TextEncoder().encode(JSON.stringify({ reverse: true, limit: 1 })),
  headers: {},
  decode: historyOutcome,
  extra: {},
})

/** Runs one step of the workload to its end (a read-modify-write is a read then a conditional write). */
export const runStep = async (ctx: ClientContext, step: Step, client: number, intendedMs: number): Promise<StepTiming> => {
  const startMs = ctx.clock.now()
  const known = (): number => ctx.knowledge.get(step.blobId) ?? 0
  switch (step.op) {
    case "read":
      await attempt(ctx, client, step.blobId, intendedMs, readAttempt(ctx, step))
      break
    case "history":
      await attempt(ctx, client, step.blobId, intendedMs, historyAttempt(ctx, step))
      break
    case "write":
      await modify(ctx, client, step.blobId, intendedMs, writeAttempt(ctx, step, "write", undefined))
      break
    case "insert":
      await modify(ctx, client, step.blobId, intendedMs, writeAttempt(ctx, step, "write", 0))
      break
    case "conditionalWrite":
      await modify(ctx, client, step.blobId, intendedMs, writeAttempt(ctx, step, "write", known()))
      break
    case "patch":
      await modify(ctx, client, step.blobId, intendedMs, writeAttempt(ctx, step, "patch", undefined))
      break
    case "delete":
      await modify(ctx, client, step.blobId, intendedMs, writeAttempt(ctx, step, "delete", undefined))
      break
    case "readModifyWrite": {
      const read = await attempt(ctx, client, step.blobId, intendedMs, readAttempt(ctx, step))
      const expected = read._tag === "Ok" ? read.version : read._tag === "NotFound" ? 0 : known()
      await modify(ctx, client, step.blobId, intendedMs, writeAttempt(ctx, step, "write", expected))
      break
    }
  }
  return { startMs, endMs: ctx.clock.now() }
}

/** YCSB's load phase: every key written once, unconditionally. */
export const preloadStep = (step: Step): Step => ({ ...step, op: "write" })
