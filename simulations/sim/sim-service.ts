/**
 * The blob service inside the simulator: the REAL blob actor machine (`blobActorMachine`,
 * with the real `decide`/`evolve`) provided with memory-backed `hydrate`/`append` and run on
 * the scheduler's virtual clock, behind the same wire contract as the NATS service (status
 * headers, JSON bodies). Shadows follow the service's write path and the real read policy.
 * A crash drops every actor and every request in progress, as `kill -9` of the process does.
 */
import * as E from "fp-ts/lib/Either.js"
import { createActor, fromPromise, type Actor } from "xstate"
import { deleteBlob, patchBlob, writeBlob, type BlobCommand } from "../../domain/blob-command.ts"
import type { BlobEvent } from "../../domain/blob-event.ts"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { evolve, initialState, type BlobState } from "../../domain/blob-state.ts"
import { errorBody, errorStatus, invalidRequest, notFound, unavailable, type UmbraError } from "../../domain/errors.ts"
import { answerAppend, blobActorMachine, isIdle, type AppendInput, type Appended, type Hydrated, type Reply } from "../../domain/machines/blob-actor.ts"
import { decideRead } from "../../domain/read-policy.ts"
import { mayReplace, relabelConflict, type Shadow } from "../../domain/shadow.ts"
import { appendMsgId } from "../../services/blob-service/actor-registry.ts"
import { shadowOfEvent, WRITE_MODEL } from "../../services/blob-service/shadow-paths.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import type { TransportReply } from "../client.ts"
import type { EventStorePort } from "./event-store-port.ts"
import type { Scheduler } from "./scheduler.ts"

export interface SimServiceConfig {
  readonly idleMs: number
  readonly headRetries: number
  readonly appendDeadlineMs: number
  readonly appendAttemptTimeoutMs: number
  readonly inlineLimitBytes: number
  readonly defaultMinConfidence: number
  readonly conflictConfidence: number
  /** Delay before a shadow put is visible to reads (the KV write and the replica's watch). */
  readonly shadowDelayMs: number
  /** Added to virtual time for event times, so they look like epoch milliseconds. */
  readonly epochMs: number
}

type BlobActor = Actor<typeof blobActorMachine>
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const reply = (headers: Record<string, string>, body: Uint8Array): TransportReply => ({
  _tag: "Reply",
  header: (name) => headers[name],
  body,
})

const errorReply = (e: UmbraError): TransportReply =>
  reply({ "Nats-Service-Error-Code": String(errorStatus(e)) }, encoder.encode(JSON.stringify(errorBody(e))))

export class SimService {
  private actors = new Map<BlobId, BlobActor>()
  /** Virtual time of each live actor's last request. */
  private readonly lastUse = new Map<BlobId, number>()
  private waiting = new Map<number, (r: Reply) => void>()
  private readonly shadows = new Map<BlobId, Shadow>()
  private nextReplyTo = 1
  private shadowRevision = 0
  private incarnation = 0
  up = true
  private readonly machine

  constructor(
    private readonly store: EventStorePort,
    private readonly sched: Scheduler,
    private readonly cfg: SimServiceConfig,
  ) {
    this.machine = blobActorMachine.provide({
      actors: {
        hydrate: fromPromise<Hydrated, { id: BlobId }>(({ input }) => this.hydrate(input.id)),
      },
      actions: {
        startAppend: ({ self }, p: AppendInput) => answerAppend(self, this.append(p)),
        respond: (_, p: { replyTo: number; reply: Reply }) => this.resolve(p.replyTo, p.reply),
        appendStarted: (_, p: { event: BlobEvent }) => this.putShadow(shadowOfEvent(p.event, this.nowMs())),
        appendFailed: (_, p: { event: BlobEvent }) => {
          const s = shadowOfEvent(p.event, this.nowMs())
          if (s !== undefined) this.putShadow(relabelConflict(s, this.cfg.conflictConfidence))
        },
        commandRejected: (_, p: { command: BlobCommand; error: UmbraError; state: BlobState; nowMs: number }) =>
          this.conflictShadow(p.command, p.error, p.state, p.nowMs),
      },
    })
  }

  private nowMs(): number {
    return this.cfg.epochMs + this.sched.now()
  }

  /** The process dies: actors and requests in progress are gone; appends already sent may still land. */
  crash(): void {
    this.up = false
    this.incarnation++
    for (const a of this.actors.values()) a.stop()
    this.actors = new Map()
    this.lastUse.clear()
    this.waiting = new Map()
  }

  restart(): void {
    this.up = true
  }

  /** The memory KV bucket does not survive a NATS restart (NATS-NOTES.md). */
  loseShadows(): void {
    this.shadows.clear()
  }

  async handle(subject: string, body: Uint8Array, headers: Readonly<Record<string, string>>): Promise<TransportReply | undefined> {
    const [, , op, ...rest] = subject.split(".")
    const id = parseBlobId(rest.join("."))
    if (E.isLeft(id)) return errorReply(id.left)
    const incarnation = this.incarnation
    const answer = await this.dispatch(op ?? "", id.right, body, headers)
    // A reply computed by a process that has since crashed is never sent.
    return incarnation === this.incarnation ? answer : undefined
  }

  private async dispatch(op: string, id: BlobId, body: Uint8Array, h: Readonly<Record<string, string>>): Promise<TransportReply> {
    const base = {
      expectedVersion: h["Umbra-Expected-Version"] === undefined ? undefined : Number(h["Umbra-Expected-Version"]),
      idempotencyKey: h["Umbra-Idempotency-Key"],
      writer: "sim",
    }
    switch (op) {
      case "write":
        return this.written(id, writeBlob({ kind: "inline", bytes: body }, { ...base, ...(h["Content-Type"] ? { contentType: h["Content-Type"] } : {}) }))
      case "patch":
        return this.written(id, patchBlob(JSON.parse(decoder.decode(body)) as unknown, base))
      case "delete":
        return this.written(id, deleteBlob(base))
      case "read":
        return this.read(id, h)
      case "history":
        return this.history(id)
      default:
        return errorReply(invalidRequest(`unknown operation ${op}`))
    }
  }

  private async written(id: BlobId, command: BlobCommand): Promise<TransportReply> {
    const r = await this.ask(id, (replyTo) => ({ type: "command", command, nowMs: this.nowMs(), replyTo }))
    if (r._tag === "written") return reply({}, encoder.encode(JSON.stringify({ id: r.id, version: r.version, digest: r.digest })))
    return errorReply(r._tag === "rejected" ? r.error : unavailable("unexpected reply"))
  }

  private async read(id: BlobId, h: Readonly<Record<string, string>>): Promise<TransportReply> {
    const d = decideRead({
      consistency: h["Umbra-Consistency"] === "primary" ? "primary" : "shadow",
      shadow: this.shadows.get(id),
      nowMs: this.nowMs(),
      minConfidence: h["Umbra-Min-Confidence"] === undefined ? this.cfg.defaultMinConfidence : Number(h["Umbra-Min-Confidence"]),
      knownHeadVersion: this.actors.get(id)?.getSnapshot().context.state?.version,
    })
    if (d._tag === "Shadow") {
      const s = d.shadow
      return reply({ "Umbra-Version": String(s.predicted), "Umbra-Source": "shadow", "Umbra-Digest": s.digest }, s.content ?? new Uint8Array(0))
    }
    const r = await this.ask(id, (replyTo) => ({ type: "read", replyTo }))
    if (r._tag === "rejected") return errorReply(r.error)
    const digest = r._tag === "state" && r.state.exists ? r.state.digest : undefined
    if (r._tag !== "state" || digest === undefined) return errorReply(notFound(id))
    const s = r.state
    return reply({ "Umbra-Version": String(s.version), "Umbra-Source": "primary", "Umbra-Digest": digest }, s.content ?? new Uint8Array(0))
  }

  private async history(id: BlobId): Promise<TransportReply> {
    const head = await this.store.head(id)
    if (head === undefined) return errorReply(notFound(id))
    const entry = { version: head.event.version, digest: head.event.digest, op: head.event.op, timeMs: head.event.timeMs }
    return reply({ "Umbra-Head-Version": String(head.event.version) }, encoder.encode(JSON.stringify([entry])))
  }

  private ask(id: BlobId, event: (replyTo: number) => Parameters<BlobActor["send"]>[0]): Promise<Reply> {
    const replyTo = this.nextReplyTo++
    const done = new Promise<Reply>((resolve) => this.waiting.set(replyTo, resolve))
    const actor = this.actorFor(id)
    this.lastUse.set(id, this.sched.now())
    this.sched.after(this.cfg.idleMs, () => this.passivateIfIdle(id, actor))
    actor.send(event(replyTo))
    return done
  }

  /** As the service's registry does: an actor unused for idleMs passivates once it is idle. */
  private passivateIfIdle(id: BlobId, actor: BlobActor): void {
    if (this.actors.get(id) !== actor || actor.getSnapshot().status !== "active") return
    if (this.sched.now() - (this.lastUse.get(id) ?? 0) < this.cfg.idleMs) return // a later use has its own check
    const snap = actor.getSnapshot()
    if (isIdle(snap)) actor.send({ type: "passivate" })
    else this.sched.after(this.cfg.idleMs, () => this.passivateIfIdle(id, actor))
  }

  private resolve(replyTo: number, r: Reply): void {
    const resolve = this.waiting.get(replyTo)
    if (resolve === undefined) return
    this.waiting.delete(replyTo)
    resolve(r)
  }

  private actorFor(id: BlobId): BlobActor {
    const existing = this.actors.get(id)
    if (existing !== undefined && existing.getSnapshot().status === "active") return existing
    const actor = createActor(this.machine, {
      input: { id, hasher: nodeHasher, inlineLimitBytes: this.cfg.inlineLimitBytes, maxRetries: this.cfg.headRetries },
      clock: this.sched.clock,
    })
    const stopped = (): void => {
      if (this.actors.get(id) === actor) {
        this.actors.delete(id)
        this.lastUse.delete(id)
      }
      for (const w of actor.getSnapshot().context.queue) this.resolve(w.replyTo, { _tag: "rejected", error: unavailable("actor stopped") })
    }
    actor.subscribe({ complete: stopped, error: stopped })
    this.actors.set(id, actor)
    actor.start()
    return actor
  }

  private async hydrate(id: BlobId): Promise<Hydrated> {
    const head = await this.store.head(id)
    return head === undefined ? { state: initialState(id), headSeq: 0 } : { state: evolve(initialState(id), head.event), headSeq: head.seq }
  }

  private append(input: AppendInput): Promise<Appended> {
    const e = input.event
    return this.store.append(e, input.expectedHeadSeq, {
      msgId: appendMsgId(e.id, e.idempotencyKey, e.hash),
      deadlineMs: this.cfg.appendDeadlineMs,
      attemptTimeoutMs: this.cfg.appendAttemptTimeoutMs,
    })
  }

  private conflictShadow(command: BlobCommand, error: UmbraError, state: BlobState, nowMs: number): void {
    if (error._tag !== "VersionConflict" || command._tag !== "WriteBlob" || command.content.kind !== "inline") return
    const bytes = command.content.bytes
    this.putShadow({
      id: state.id, basedOn: state.version, predicted: state.version + 1, digest: nodeHasher.digest(bytes), size: bytes.length,
      contentType: command.contentType, contentRef: undefined, content: bytes, confidence: this.cfg.conflictConfidence,
      validFromMs: nowMs, createdAtMs: nowMs, origin: "conflict", model: WRITE_MODEL, status: "live", reason: undefined, shadowVersion: 0,
    })
  }

  /** The KV put is not awaited by the request, and reads see it once the replica has it. */
  private putShadow(shadow: Shadow | undefined): void {
    if (shadow === undefined) return
    this.sched.after(this.cfg.shadowDelayMs, () => {
      if (!mayReplace(this.shadows.get(shadow.id), shadow)) return
      this.shadows.set(shadow.id, { ...shadow, shadowVersion: ++this.shadowRevision })
    })
  }
}
