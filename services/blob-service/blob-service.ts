import * as E from "fp-ts/lib/Either.js"
import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/nats-core"
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services"
import type { BlobId } from "../../domain/blob-id.ts"
import { internal, unavailable, type UmbraError } from "../../domain/errors.ts"
import { ContentStore } from "../../infra/content-store.ts"
import { EventStore } from "../../infra/event-store.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import { H } from "../../infra/headers.ts"
import { commandWildcard, type CommandOp } from "../../infra/names.ts"
import type { UmbraConfig } from "../config.ts"
import type { BlobMetrics, ReadSource } from "../metrics/blob-metrics.ts"
import { AccessLog } from "./access-log.ts"
import { ActorRegistry } from "./actor-registry.ts"
import { ShadowPaths } from "./shadow-paths.ts"
import { PartitionOwner } from "./partition-owner.ts"
import { forward, instanceToken, publishQuietly, subscribeDirect } from "./forwarding.ts"
import { readHistory } from "./history.ts"
import { InFlightLimit } from "./in-flight-limit.ts"
import { parseFailpoint } from "./failpoint.ts"
import { readAsOf, readHead, readVersion, stateReply, type ContentReply } from "./primary-read.ts"
import { respondContent, respondError, respondJson } from "./reply.ts"
import { decodeHistoryRequest, decodeId, decodeReadMsg, decodeWriteRequest, idDecoder, type HistoryRequest } from "./request-decoding.ts"
import { handleDelete, handlePatch, handleWrite, type WriteDeps, type WriteResult } from "./write-handler.ts"

// The blob service: one NATS micro service (discoverable through $SRV.PING/INFO/STATS) with
// an endpoint per command, in a queue group so instances share the load. No input reaches
// the domain undecoded, and no handler failure escapes: every request gets an answer.

export interface BlobServiceHooks {
  /** Called after a write was acknowledged by the stream. */
  readonly afterWrite?: (id: BlobId, result: WriteResult) => void
  readonly statsData?: () => Record<string, unknown>
  /** Prometheus measuring points (services/metrics/); absent = nothing measured per request. */
  readonly metrics?: BlobMetrics
}

export interface BlobService {
  readonly registry: ActorRegistry
  readonly events: EventStore
  readonly content: ContentStore
  readonly shadows: ShadowPaths
  readonly access: AccessLog
  /** Set when blobs are sharded over partitions (UMBRA_PARTITIONS > 0). */
  readonly partitions: PartitionOwner | undefined
  readonly service: Service
  stop(): Promise<void>
}

export const startBlobService = async (
  nc: NatsConnection,
  config: UmbraConfig,
  hooks: BlobServiceHooks = {},
): Promise<BlobService> => {
  const failpoint = parseFailpoint(config.failpoint)
  const events = await EventStore.open(nc, config.names)
  const content = await ContentStore.open(nc, config.names)
  const access = new AccessLog(config.instanceId, 100_000)
  access.start(nc, config.names, config.accessFlushMs)
  const shadows = await ShadowPaths.start(nc, config, access)
  const self = instanceToken(config.instanceId)
  const instancePrefix = `${config.names.instanceSubjectPrefix}.${self}`
  let partitions: PartitionOwner | undefined
  // An append attempt needs the lease to outlast it (its ack must not come after the lease ran
  // out, when the next owner may already have hydrated without it). At most half the lease:
  // renewals come every third of it, so more would refuse appends between two renewals.
  const appendLeaseMs = Math.min(config.appendAttemptTimeoutMs, Math.floor(config.leaseMs / 2))
  const registry = new ActorRegistry({
    // A deposed owner never appends: checked right before every append attempt.
    fence: (id) => partitions === undefined || partitions.owns(id, appendLeaseMs),
    knownHead: (id) => shadows.heads.get(id),
    // A blob hydrated while its shadow is in the replica shares the shadow's bytes.
    held: (id) => shadows.replica.get(id),
    activation: (id, live) => {
      if (partitions !== undefined) publishQuietly(nc, `${instancePrefix}.activation`, JSON.stringify({ instance: self, id, live, atMs: Date.now() }))
    },
    store: events,
    hasher: nodeHasher,
    inlineLimitBytes: config.inlineLimitBytes,
    idleMs: config.actorIdleMs,
    maxLiveActors: config.maxLiveActors,
    maxInFlight: config.maxInFlight,
    appendDeadlineMs: config.appendDeadlineMs,
    headRetries: config.headRetries,
    appendAttemptTimeoutMs: config.appendAttemptTimeoutMs,
    hooks: {
      appendStarted: (e) => shadows.appendStarted(e),
      appendFailed: (e) => shadows.appendFailed(e),
      commandRejected: (c, err, state, nowMs) => shadows.commandRejected(c, err, state, nowMs),
    },
  })
  shadows.attach(registry)
  /** A start that fails half way leaves no timer or watch running (the registry's sweep holds every actor). */
  const orUndo = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p
    } catch (e) {
      registry.stop()
      await partitions?.stop().catch(() => undefined)
      access.stop()
      await shadows.stop().catch(() => undefined)
      throw e
    }
  }
  if (config.partitions > 0)
    partitions = await orUndo(PartitionOwner.start(nc, {
      instance: self,
      partitions: config.partitions,
      leaseMs: config.leaseMs,
      marginMs: config.leaseMarginMs,
      replicas: config.replicas,
      leaseBucket: config.names.leaseBucket,
      memberBucket: config.names.memberBucket,
      giveUp: async (p) => {
        registry.evictWhere((id) => partitions!.partitionOf(id) === p)
      },
      ackedSeq: () => events.highestAckedSeq,
      // Awaited inside a partition's lease step: bounded well inside a tick (a third of the lease).
      streamMarks: () => events.streamMarks({ stallMs: 100, maxWaitMs: Math.max(250, Math.floor(config.leaseMs / 6)) }),
    }))
  const metrics = hooks.metrics
  const detachMetrics = metrics?.attach({ registry, shadows, access, partitions })
  const deps: WriteDeps = {
    registry,
    content,
    events,
    inlineLimitBytes: config.inlineLimitBytes,
    maxBodyBytes: config.maxBodyBytes,
  }
  const prefix = (op: CommandOp) => `${config.names.commandSubjectPrefix}.${op}`

  const service = await orUndo(new Svcm(nc).add({
    name: config.names.serviceName,
    version: "0.1.0",
    description: "Umbra blob commands: write, patch, delete, read, history",
    metadata: { instance: config.instanceId },
    statsHandler: async () => ({
      live_actors: registry.liveCount,
      ...registry.stats,
      ...shadows.stats(),
      ...(partitions === undefined ? {} : { partitions: { ...partitions.stats, members: partitions.members } }),
      ...(hooks.statsData?.() ?? {}),
    }),
  }))

  const subjectPrefix = (op: CommandOp, forwarded: boolean) => (forwarded ? `${instancePrefix}.cmd.${op}` : prefix(op))
  const failed = (msg: Msg) => (e: unknown) => respondError(msg, internal(e instanceof Error ? e.message : String(e)))

  const guarded = (op: CommandOp, run: (msg: Msg, id: BlobId, forwarded: boolean) => Promise<void>, forwarded = false) => {
    const idPrefix = subjectPrefix(op, forwarded)
    return (err: Error | null, msg: Msg) => {
      if (err !== null) return
      const id = decodeId(msg.subject, idPrefix)
      if (E.isLeft(id)) return respondError(msg, id.left)
      run(msg, id.right, forwarded).catch(failed(msg))
    }
  }

  /**
   * With partitions, commands that need the blob's actor run on its owner: a request that
   * reached another instance is forwarded, and while a partition moves the answer is a
   * retryable UNAVAILABLE — never an answer from a stale actor. True when handled here.
   */
  const routedAway = async (msg: Msg, op: CommandOp, id: BlobId, forwarded: boolean): Promise<boolean> => {
    if (partitions === undefined) return false
    const route = partitions.route(id)
    if (route._tag === "local") return false
    if (route._tag === "forward" && !forwarded) {
      await forward(nc, msg, `${config.names.instanceSubjectPrefix}.${route.owner}.cmd.${op}.${id}`, config.appendDeadlineMs + 2_000)
      return true
    }
    const p = partitions.partitionOf(id)
    respondError(msg, unavailable(`partition ${p} of ${id} is moving between instances; retry`))
    return true
  }

  const writeLike = (op: "write" | "patch" | "delete", forwarded = false) =>
    guarded(op, async (msg, id, fwd) => {
      if (await routedAway(msg, op, id, fwd)) return
      const startMs = performance.now()
      const req = decodeWriteRequest(msg.headers)
      if (E.isLeft(req)) {
        metrics?.writeDone(op, req.left, startMs)
        return respondError(msg, req.left)
      }
      const result =
        op === "write"
          ? await handleWrite(deps, id, req.right, msg.data)
          : op === "patch"
            ? await handlePatch(deps, id, req.right, msg.data)
            : await handleDelete(deps, id, req.right)
      metrics?.writeDone(op, E.isLeft(result) ? result.left : undefined, startMs)
      if (E.isLeft(result)) return respondError(msg, result.left)
      failpoint?.afterAppend(id, result.right.version, req.right.idempotencyKey)
      respondJson(msg, { id: result.right.id, version: result.right.version, digest: result.right.digest })
      hooks.afterWrite?.(id, result)
    }, forwarded)

  const answer = (msg: Msg, r: E.Either<UmbraError, ContentReply>) =>
    E.isLeft(r) ? respondError(msg, r.left) : respondContent(msg, r.right.body, r.right.headers)

  type Served = ReadSource | undefined
  const answered = (msg: Msg, source: ReadSource) => (r: E.Either<UmbraError, ContentReply>): Served => {
    answer(msg, r)
    return source
  }

  /**
   * Answers a read; returns the source that answered, for the latency histogram (undefined:
   * rejected input). What needs no I/O — a valid shadow, or the state of a live actor — is
   * answered synchronously, inside the message callback: no promise, no microtask. Only
   * history reads, hydrations and forwarded reads return a promise.
   */
  const serveRead = (msg: Msg, id: BlobId, forwarded: boolean): Served | Promise<Served> => {
    const req = decodeReadMsg(msg)
    if (E.isLeft(req)) {
      respondError(msg, req.left)
      return undefined
    }
    const r = req.right
    const { version, asOfMs } = r
    if (version !== undefined) return pastRead(msg, () => readVersion(events, id, version))
    if (asOfMs !== undefined) return pastRead(msg, () => readAsOf(events, id, asOfMs))
    const shadow = shadows.read(id, r)
    if (shadow !== undefined) {
      respondContent(msg, shadow.body, shadow.headers)
      return "shadow"
    }
    if (partitions !== undefined) return readRouted(msg, id, forwarded)
    // Without partitions there is nothing to route: a live actor answers at once.
    const state = registry.readNow(id)
    if (state !== undefined) return answered(msg, "primary")(stateReply(state))
    return readHead(registry, id).then(answered(msg, "primary"))
  }

  const historyLimit = new InFlightLimit(config.maxHistoryInFlight)
  const historyFull = (msg: Msg): undefined => {
    respondError(msg, unavailable(`${historyLimit.max} history reads already in flight on this instance`))
    return undefined
  }
  const pastRead = (msg: Msg, read: () => Promise<E.Either<UmbraError, ContentReply>>): Served | Promise<Served> =>
    historyLimit.run(() => read().then(answered(msg, "history")), () => historyFull(msg))

  const readRouted = async (msg: Msg, id: BlobId, forwarded: boolean): Promise<Served> => {
    if (await routedAway(msg, "read", id, forwarded)) return "primary"
    answer(msg, await readHead(registry, id))
    return "primary"
  }

  const readHandler = (forwarded: boolean) => {
    const idOf = idDecoder(subjectPrefix("read", forwarded))
    return (err: Error | null, msg: Msg): void => {
      if (err !== null) return
      try {
        const id = idOf(msg)
        if (E.isLeft(id)) return respondError(msg, id.left)
        const startMs = performance.now()
        const served = serveRead(msg, id.right, forwarded)
        if (served instanceof Promise)
          served.then((source) => {
            if (source !== undefined) metrics?.readDone(source, startMs)
          }).catch(failed(msg))
        else if (served !== undefined) metrics?.readDone(served, startMs)
      } catch (e) {
        failed(msg)(e)
      }
    }
  }
  const read = readHandler(false)

  const answerPage = async (msg: Msg, id: BlobId, req: HistoryRequest): Promise<void> => {
    const page = await readHistory(events, id, req, config.historyPageMax)
    if (E.isLeft(page)) return respondError(msg, page.left)
    const h = natsHeaders()
    h.set(H.headVersion, String(page.right.headVersion))
    if (page.right.nextFrom !== undefined) h.set(H.nextFrom, String(page.right.nextFrom))
    respondJson(msg, page.right.entries, h)
  }

  const history = guarded("history", async (msg, id) => {
    const req = decodeHistoryRequest(msg.data)
    if (E.isLeft(req)) return respondError(msg, req.left)
    await historyLimit.run(() => answerPage(msg, id, req.right), () => void historyFull(msg))
  })

  service.addEndpoint("write", { subject: commandWildcard(config.names, "write"), handler: writeLike("write") })
  service.addEndpoint("patch", { subject: commandWildcard(config.names, "patch"), handler: writeLike("patch") })
  service.addEndpoint("delete", { subject: commandWildcard(config.names, "delete"), handler: writeLike("delete") })
  service.addEndpoint("read", { subject: commandWildcard(config.names, "read"), handler: read })
  service.addEndpoint("history", { subject: commandWildcard(config.names, "history"), handler: history })

  // Commands forwarded to this instance as the owner of their partition.
  const direct = partitions === undefined ? undefined : subscribeDirect(nc, instancePrefix, {
    write: writeLike("write", true),
    patch: writeLike("patch", true),
    delete: writeLike("delete", true),
    read: readHandler(true),
  })

  // Ready means the server has our subscriptions: the first request finds a responder.
  await nc.flush()
  return {
    registry,
    events,
    content,
    shadows,
    access,
    partitions,
    service,
    stop: async () => {
      await service.stop().catch(() => {})
      direct?.unsubscribe()
      await partitions?.stop().catch(() => undefined)
      detachMetrics?.()
      access.stop()
      await shadows.stop()
      registry.stop()
    },
  }
}

