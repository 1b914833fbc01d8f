import { createActor, fromPromise, type Actor, type ActorLogic, type EventObject, type Snapshot } from "xstate"
import type { BlobCommand, ContentInput } from "../../domain/blob-command.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import type { BlobEvent } from "../../domain/blob-event.ts"
import { evolve, initialState, type BlobState } from "../../domain/blob-state.ts"
import type { Hasher } from "../../domain/digest.ts"
import { internal, unavailable, type UmbraError } from "../../domain/errors.ts"
import {
  answerAppend,
  blobActorMachine,
  heldContent,
  isIdle,
  versionInHand,
  type AppendInput,
  type Appended,
  type Hydrated,
  type Reply,
} from "../../domain/machines/blob-actor.ts"
import { sha256Hex } from "../../infra/hasher.ts"
import type { EventStore } from "../../infra/event-store.ts"
import { ownedBytes } from "../../infra/owned-bytes.ts"
import { ownedOptionalString, ownedString } from "../../infra/owned-string.ts"
import { sameContent, type HeldContent } from "../../infra/shadow-codec.ts"

// The shell around the blob machines: at most one live actor per blob in this process,
// created on demand, passivated when idle or when the cap on live actors is reached (least
// recently used first), and rehydrated from the stream head on the next command. Idleness is
// the registry's to judge: it sees every use, including reads answered from a live actor's
// state without a message to the machine, and one sweep serves every actor (no timer each).
//
// Memory (100,000 live actors must fit in 1 GiB, bench/README.md): a root XState actor owns
// an actor system (its scheduler, registries and ~15 closures, ~2 KB). Blob actors are
// therefore created as children of shared roots (`parent`): each root takes the next
// ACTORS_PER_SYSTEM actors created, instead of each actor being a root with a system of its
// own (a root whose children all stopped is garbage, like them). A root is told
// when one of its children stops (XState relays `xstate.done.actor.<id>` and
// `xstate.error.actor.<id>` to the parent), so no actor carries an observer of its own, and
// a root stops its children on request (a child cannot be stopped directly). Systems stay
// small because stopping an actor scans its system's scheduled events (blob actors schedule
// none today; they each had an idle timer once).

export interface RegistryOptions {
  readonly store: EventStore
  readonly hasher: Hasher
  readonly inlineLimitBytes: number
  readonly idleMs: number
  readonly maxLiveActors: number
  readonly maxInFlight: number
  readonly appendDeadlineMs: number
  readonly headRetries: number
  readonly appendAttemptTimeoutMs: number
  readonly now?: () => number
  /**
   * The newest head version this process has heard of (the stream's head feed). A live actor
   * behind it (another instance wrote the blob) is reloaded before it answers a read when idle;
   * when busy, it is refused if the head is past its write in flight too (`OVERTAKEN`).
   */
  readonly knownHead?: (id: BlobId) => number | undefined
  /** Checked before every append: false when this instance may no longer write the blob (fencing). */
  readonly fence?: (id: BlobId) => boolean
  /**
   * Bytes this process already holds for a digest (the blob's shadow in the local replica):
   * a hydrated state keeps those instead of a copy of the stream's.
   */
  readonly held?: (id: BlobId, digest: string) => HeldContent | undefined
  /** Told when a blob's actor comes to life and when it goes (single-activation checks). */
  readonly activation?: (id: BlobId, live: boolean) => void
  /** The write path's hooks (shadows of the resulting state, conflict shadows). */
  readonly hooks?: {
    readonly appendStarted?: (event: BlobEvent) => void
    readonly appendFailed?: (event: BlobEvent, reason: "head-moved" | "unknown") => void
    readonly commandRejected?: (command: BlobCommand, error: UmbraError, state: BlobState, nowMs: number) => void
  }
}

export interface RegistryStats {
  hydrations: number
  passivations: number
  appends: number
  shed: number
  /** Highest number of live actors ever held at once. */
  peakLive: number
}

type BlobActor = Actor<typeof blobActorMachine>

/** Blob actors created per shared actor system (a system's scheduler is scanned on every stop). */
const ACTORS_PER_SYSTEM = 32

type RootEvent =
  | { readonly type: "umbra.stopChild"; readonly child: BlobActor }
  | (EventObject & { readonly actorId?: string; readonly error?: unknown })

interface RootHandlers {
  readonly childDone: (id: BlobId) => void
  readonly childFailed: (id: BlobId, error: unknown) => void
}

const DONE = "xstate.done.actor."
const ERROR = "xstate.error.actor."

/**
 * The logic of a root actor: no state of its own; it hears its children stop and stops them
 * on request. It never fails (a throwing handler would leave every later child unheard).
 */
const rootLogic = (h: RootHandlers): ActorLogic<Snapshot<undefined>, RootEvent> => ({
  getInitialSnapshot: () => ({ status: "active", output: undefined, error: undefined }),
  getPersistedSnapshot: (s) => s,
  transition: (s, e, scope) => {
    try {
      if (e.type === "umbra.stopChild" && "child" in e) scope.stopChild(e.child)
      else if ("actorId" in e && typeof e.actorId === "string") {
        if (e.type.startsWith(DONE)) h.childDone(e.actorId as BlobId)
        else if (e.type.startsWith(ERROR)) h.childFailed(e.actorId as BlobId, e.error)
      }
    } catch (err) {
      console.error(`blob actor registry: ${err instanceof Error ? err.message : String(err)}`)
    }
    return s
  },
})

type RootActor = Actor<ActorLogic<Snapshot<undefined>, RootEvent>>

/**
 * A busy actor whose blob another writer moved past (the head feed is ahead of its state and
 * of its write in flight) does not answer from its state: only a second instance acting as
 * the blob's owner (a lease taken twice, docs/reliability.md) or a writer bypassing the service
 * can do that, and that actor's next append fails (head moved) and reloads it.
 */
const OVERTAKEN: Reply = { _tag: "rejected", error: unavailable("another writer moved this blob past the write in flight here; retry") }

/** Nats-Msg-Id of an append: from the client's idempotency key when it gave one. */
export const appendMsgId = (id: BlobId, idempotencyKey: string | undefined, eventHash: string): string =>
  idempotencyKey === undefined ? `umbra:${eventHash.slice(7, 47)}` : `umbra:k:${sha256Hex(`${id}\n${idempotencyKey}`).slice(0, 40)}`

export class ActorRegistry {
  private readonly actors = new Map<BlobId, BlobActor>()
  /**
   * When each live actor was last used (ms on the monotonic clock since `epochMs`, small
   * enough to stay unboxed; a wall clock that steps would passivate every actor at once),
   * least recently used first: the idle sweep stops at the first one still in use.
   */
  private readonly lastUse = new Map<BlobId, number>()
  private readonly epochMs: number
  private readonly idleSweep: NodeJS.Timeout
  private readonly waiting = new Map<number, (r: Reply) => void>()
  private readonly hydrateErrors = new Map<BlobId, string>()
  private nextReplyTo = 1
  readonly stats: RegistryStats = { hydrations: 0, passivations: 0, appends: 0, shed: 0, peakLive: 0 }
  private readonly machine
  /** The root that new actors join, and how many it has taken. */
  private root: RootActor | undefined
  private rootTaken = 0
  private readonly rootHandlers: RootHandlers

  constructor(private readonly o: RegistryOptions) {
    this.machine = blobActorMachine.provide({
      actors: {
        hydrate: fromPromise<Hydrated, { id: BlobId }>(({ input }) => this.hydrate(input.id)),
      },
      actions: {
        startAppend: ({ self }, p: AppendInput) => answerAppend(self, this.append(p)),
        respond: (_, p: { replyTo: number; reply: Reply }) => this.resolve(p.replyTo, p.reply),
        appendStarted: (_, p: { event: BlobEvent }) => this.o.hooks?.appendStarted?.(p.event),
        appendFailed: (_, p: { event: BlobEvent; reason: "head-moved" | "unknown" }) =>
          this.o.hooks?.appendFailed?.(p.event, p.reason),
        commandRejected: (_, p: { command: BlobCommand; error: UmbraError; state: BlobState; nowMs: number }) =>
          this.o.hooks?.commandRejected?.(p.command, p.error, p.state, p.nowMs),
      },
    })
    this.rootHandlers = {
      childDone: (id) => this.onStopped(id),
      childFailed: (id, e) => this.onCrashed(id, e),
    }
    this.epochMs = this.elapsed()
    // An idle actor passivates about idleMs after its last use: up to a sixteenth earlier
    // (`used` moves the time in that grain), up to a quarter later (the sweep's period).
    this.idleSweep = setInterval(() => this.passivateIdle(), Math.max(5, Math.min(o.idleMs / 4, 5_000)))
    this.idleSweep.unref()
  }

  get liveCount(): number {
    return this.actors.size
  }

  isLive(id: BlobId): boolean {
    return this.actors.has(id)
  }

  /** The version a live, hydrated actor holds (no I/O); undefined if not live. */
  liveVersion(id: BlobId): number | undefined {
    return this.actors.get(id)?.getSnapshot().context.state?.version
  }

  /** A live actor's bytes for `digest` (its state, or the write it is appending); no I/O. */
  heldContent(id: BlobId, digest: string): BlobState | BlobEvent | undefined {
    const a = this.actors.get(id)
    return a === undefined ? undefined : heldContent(a.getSnapshot().context, digest)
  }

  *liveStates(): IterableIterator<BlobState> {
    for (const a of this.actors.values()) {
      const s = a.getSnapshot().context.state
      if (s !== undefined) yield s
    }
  }

  command(id: BlobId, command: BlobCommand): Promise<Reply> {
    const kept = ownedCommand(command)
    return this.ask(id, (replyTo) => ({ type: "command", command: kept, nowMs: this.now(), replyTo }))
  }

  /** The primary's current state: straight from a hydrated actor, else through hydration. */
  read(id: BlobId): Promise<Reply> {
    const live = this.actors.get(id)
    if (live !== undefined) {
      const r = this.liveRead(id, live.getSnapshot())
      if (r === "overtaken") return Promise.resolve(OVERTAKEN)
      if (r === "reload") this.evict(id, live)
      else if (r !== "ask") {
        this.used(id, live)
        return Promise.resolve({ _tag: "state", state: r })
      }
    }
    return this.ask(id, (replyTo) => ({ type: "read", replyTo }))
  }

  /**
   * The state `read` would answer at once, without a promise. Undefined means "ask `read`"
   * (it hydrates, queues, reloads or refuses). The primary-read fast path of the blob service.
   */
  readNow(id: BlobId): BlobState | undefined {
    const live = this.actors.get(id)
    if (live === undefined) return undefined
    const r = this.liveRead(id, live.getSnapshot())
    if (typeof r === "string") return undefined
    this.used(id, live)
    return r
  }

  /**
   * What a live actor answers a primary read with, without a message to it: its state when it is
   * ready or appending and not behind the known head (a busy one may be behind by its own write
   * in flight); "reload" when it is idle and behind; "overtaken" when it is busy and another
   * writer moved the blob past its write in flight too; otherwise "ask" the actor.
   */
  private liveRead(id: BlobId, snap: ReturnType<BlobActor["getSnapshot"]>): BlobState | "reload" | "overtaken" | "ask" {
    const state = snap.context.state
    if (state === undefined) return "ask"
    const known = this.o.knownHead?.(id) ?? 0
    const behind = known > state.version
    // Only an idle actor is reloaded here; a busy one finds out at its append (head moved).
    if (behind && isIdle(snap)) return "reload"
    if (snap.value !== "ready" && snap.value !== "appending") return "ask"
    return behind && known > versionInHand(snap.context) ? "overtaken" : state
  }

  /** Passivates every idle actor (shutdown, tests). */
  passivateAll(): void {
    for (const a of this.actors.values()) a.send({ type: "passivate" })
  }

  /**
   * Stops every actor whose blob matches (a partition given up): idle ones passivate, busy
   * ones are stopped and their queued requests answered with a retryable error.
   */
  evictWhere(match: (id: BlobId) => boolean): number {
    let n = 0
    for (const [id, a] of [...this.actors]) {
      if (!match(id)) continue
      n++
      this.evict(id, a)
    }
    return n
  }

  /** One actor: passivated when idle; otherwise stopped, its queued requests answered retryably. */
  private evict(id: BlobId, a: BlobActor): void {
    const snap = a.getSnapshot()
    if (isIdle(snap)) {
      a.send({ type: "passivate" })
      return
    }
    this.forget(id)
    this.stopActor(a)
    this.o.activation?.(id, false)
    for (const w of snap.context.queue) this.resolve(w.replyTo, { _tag: "rejected", error: unavailable("the blob's partition moved; retry") })
  }

  /** Passivates every actor unused for `idleMs` and idle now (busy ones wait for the next sweep). */
  passivateIdle(): void {
    const cutoff = this.elapsed() - this.epochMs - this.o.idleMs
    for (const [id, used] of this.lastUse) {
      if (used > cutoff) return
      const a = this.actors.get(id)
      if (a === undefined) {
        this.lastUse.delete(id)
        continue
      }
      const snap = a.getSnapshot()
      // Its root hears it finish and unregisters it (onStopped).
      if (isIdle(snap)) a.send({ type: "passivate" })
    }
  }

  stop(): void {
    clearInterval(this.idleSweep)
    const live = [...this.actors]
    this.actors.clear()
    this.lastUse.clear()
    for (const [id, a] of live) {
      this.stopActor(a)
      this.o.activation?.(id, false)
    }
    for (const [replyTo, resolve] of this.waiting) {
      this.waiting.delete(replyTo)
      resolve({ _tag: "rejected", error: unavailable("service stopping") })
    }
  }

  private now(): number {
    return this.o.now?.() ?? Date.now()
  }

  /** Milliseconds on a clock that never steps (tests drive `now` instead). */
  private elapsed(): number {
    return this.o.now?.() ?? performance.now()
  }

  private ask(
    id: BlobId,
    event: (replyTo: number) => { type: "command"; command: BlobCommand; nowMs: number; replyTo: number } | { type: "read"; replyTo: number },
  ): Promise<Reply> {
    if (this.waiting.size >= this.o.maxInFlight) {
      this.stats.shed++
      return Promise.resolve({ _tag: "rejected", error: unavailable("too many requests in flight") })
    }
    const actor = this.actorFor(id)
    if (actor === undefined) {
      this.stats.shed++
      return Promise.resolve({ _tag: "rejected", error: unavailable("too many live blobs, all busy") })
    }
    const replyTo = this.nextReplyTo++
    const done = new Promise<Reply>((resolve) => this.waiting.set(replyTo, resolve))
    actor.send(event(replyTo))
    return done
  }

  private resolve(replyTo: number, reply: Reply): void {
    const resolve = this.waiting.get(replyTo)
    if (resolve === undefined) return
    this.waiting.delete(replyTo)
    resolve(reply)
  }

  /**
   * A live actor was used: it moves to the end of the least-recently-used order (eviction under
   * the cap is exact), while its last-use time moves at most once per sixteenth of the idle
   * time (passivation is that close to exact), which spares a hot blob's reads two map updates.
   */
  private used(id: BlobId, actor: BlobActor): void {
    // Map iteration order is insertion order: re-inserting keeps the oldest-used first.
    this.actors.delete(id)
    this.actors.set(id, actor)
    const t = this.elapsed() - this.epochMs
    const last = this.lastUse.get(id)
    if (last !== undefined && t - last < this.o.idleMs / 16) return
    this.lastUse.delete(id)
    this.lastUse.set(id, t)
  }

  /** The blob has no live actor any more. */
  private forget(id: BlobId): void {
    this.actors.delete(id)
    this.lastUse.delete(id)
  }

  private actorFor(id: BlobId): BlobActor | undefined {
    const existing = this.actors.get(id)
    if (existing !== undefined && existing.getSnapshot().status === "active") {
      this.used(id, existing)
      return existing
    }
    if (this.actors.size >= this.o.maxLiveActors && !this.evictOne()) return undefined
    // Its id is the blob's: the root hears `xstate.done.actor.<blob id>` when it stops.
    const actor = createActor(this.machine, {
      id,
      parent: this.nextRoot(),
      input: {
        id,
        hasher: this.o.hasher,
        inlineLimitBytes: this.o.inlineLimitBytes,
        maxRetries: this.o.headRetries,
      },
    })
    this.used(id, actor)
    this.o.activation?.(id, true)
    this.stats.peakLive = Math.max(this.stats.peakLive, this.actors.size)
    actor.start()
    return actor
  }

  /** Passivates the least recently used idle actor; false when every live actor is busy. */
  private evictOne(): boolean {
    let scanned = 0
    for (const [id, a] of this.actors) {
      if (scanned++ > 64) break
      const snap = a.getSnapshot()
      if (isIdle(snap)) {
        a.send({ type: "passivate" })
        // A final state completes synchronously; make sure the slot is free either way.
        if (this.actors.get(id) === a) this.forget(id)
        return true
      }
    }
    return false
  }

  private nextRoot(): RootActor {
    if (this.root === undefined || this.rootTaken >= ACTORS_PER_SYSTEM) {
      this.root = createActor(rootLogic(this.rootHandlers)).start()
      this.rootTaken = 0
    }
    this.rootTaken++
    return this.root
  }

  /** Stops an actor at once (not passivation): only its root may, so the root is asked to. */
  private stopActor(a: BlobActor): void {
    a.options.parent?.send({ type: "umbra.stopChild", child: a })
  }

  /**
   * The actor finished (passivated, or failed to hydrate). Told synchronously as it reaches
   * its final state, so the finished actor is still the one registered for the blob (evict
   * unregisters before it stops an actor, and a stopped actor is not reported).
   */
  private onStopped(id: BlobId): void {
    const actor = this.actors.get(id)
    this.o.activation?.(id, false)
    if (actor === undefined || actor.getSnapshot().status === "active") return
    this.forget(id)
    const snap = actor.getSnapshot()
    if (snap.value === "passivated") this.stats.passivations++
    if (snap.value === "failed") {
      const reason = this.hydrateErrors.get(id) ?? "could not load the blob"
      this.hydrateErrors.delete(id)
      for (const w of snap.context.queue) this.resolve(w.replyTo, { _tag: "rejected", error: failure(reason) })
    }
  }

  /** An actor that errors has stopped: answer its queue rather than leave callers hanging. */
  private onCrashed(id: BlobId, e: unknown): void {
    const actor = this.actors.get(id)
    this.o.activation?.(id, false)
    if (actor === undefined || actor.getSnapshot().status === "active") return
    this.forget(id)
    const reason = `blob actor failed: ${e instanceof Error ? e.message : String(e)}`
    for (const w of actor.getSnapshot().context.queue) this.resolve(w.replyTo, { _tag: "rejected", error: internal(reason) })
  }

  private async hydrate(id: BlobId): Promise<Hydrated> {
    this.stats.hydrations++
    try {
      const head = await this.o.store.head(id)
      if (head === undefined) return { state: initialState(id), headSeq: 0 }
      const e = head.event
      // What the state keeps of the event, owned: its strings were cut from the message's headers.
      const event: BlobEvent = {
        ...e,
        content: e.content === undefined ? undefined : this.keptContent(id, e.digest, e.content),
        digest: ownedString(e.digest),
        hash: ownedString(e.hash),
        contentType: ownedOptionalString(e.contentType),
        contentRef: ownedOptionalString(e.contentRef),
        idempotencyKey: ownedOptionalString(e.idempotencyKey),
      }
      return { state: evolve(initialState(id), event), headSeq: head.seq }
    } catch (e) {
      this.hydrateErrors.set(id, e instanceof Error ? e.message : String(e))
      throw e
    }
  }

  /** Content to keep in a state: bytes already held under its digest, else its own copy. */
  private keptContent(id: BlobId, digest: string, content: Uint8Array): Uint8Array {
    return sameContent(this.o.held?.(id, digest), digest, content.length)?.content ?? ownedBytes(content)
  }

  private async append(input: AppendInput): Promise<Appended> {
    const e = input.event
    const fence = this.o.fence
    if (fence !== undefined && !fence(e.id)) throw new NotOwner(`this instance no longer owns ${e.id}'s partition`)
    const r = await this.o.store.append(e, input.expectedHeadSeq, {
      msgId: appendMsgId(e.id, e.idempotencyKey, e.hash),
      deadlineMs: this.o.appendDeadlineMs,
      attemptTimeoutMs: this.o.appendAttemptTimeoutMs,
      // Every retry too: a lease lost while an attempt hung ends the retries.
      mayAppend: fence === undefined ? undefined : () => fence(e.id),
    })
    this.stats.appends++
    return r
  }
}

/** An append refused because this instance lost the blob's partition (fencing). */
export class NotOwner extends Error {
  readonly _tag = "NotOwner"
}

/**
 * What of a command becomes the actor's state, owned: inline content never as a view pinning a
 * socket chunk, strings from the request's headers never as slices pinning the header block.
 */
const ownedCommand = (c: BlobCommand): BlobCommand => {
  const idempotencyKey = ownedOptionalString(c.idempotencyKey)
  if (c._tag !== "WriteBlob") return { ...c, idempotencyKey }
  const content: ContentInput =
    c.content.kind === "inline" ? { kind: "inline", bytes: ownedBytes(c.content.bytes) } : { ...c.content, digest: ownedString(c.content.digest) }
  return { ...c, idempotencyKey, contentType: ownedOptionalString(c.contentType), content }
}

const failure = (reason: string) =>
  /malformed/i.test(reason) ? internal(reason) : unavailable(reason)
