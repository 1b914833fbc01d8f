import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core"
import { setTimeout as sleep } from "node:timers/promises"
import { createHash } from "node:crypto"
import { runCheckers, type CheckReport } from "../../../simulations/checkers/index.ts"
import { makeHistoryRecorder, type Outcome, type StreamVersion } from "../../../simulations/history.ts"

// A small steady load for fault injection: a few clients write and read a handful of blobs
// over raw NATS, recording every attempt in the simulation history format so the same checkers
// judge it (lost acknowledged writes, duplicate versions, linearizability of the primary).
// A write whose outcome is unknown is retried with the same idempotency key until a deadline,
// as the contract tells clients to; every attempt is an operation, merged by `mergeRetries`.

const enc = new TextEncoder()
const dec = new TextDecoder()

export const sha256 = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`

export interface LoadOptions {
  readonly clients: number
  readonly blobs: ReadonlyArray<string>
  /** Per attempt; shorter than the faults, so clients see timeouts. */
  readonly requestTimeoutMs: number
  /** A write is retried with its key until this long after its first attempt. */
  readonly retryDeadlineMs: number
  readonly thinkMs: number
  readonly readRatio: number
}

export const DEFAULT_LOAD: LoadOptions = {
  clients: 6,
  blobs: ["f/a", "f/b", "f/c", "f/d"],
  requestTimeoutMs: 2_000,
  retryDeadlineMs: 30_000,
  thinkMs: 15,
  readRatio: 0.3,
}

export interface Load {
  /** Stops issuing new operations and waits for those in flight. */
  stop(): Promise<void>
  readonly acks: ReadonlyArray<number>
  readonly counts: { writesAcked: number; writesRetried: number; readsOk: number; errors: Map<string, number> }
  /** Idempotency keys of writes that had an attempt without an answer (then retried or given up). */
  readonly unanswered: ReadonlySet<string>
  /** Idempotency key → the version its write was finally acknowledged with. */
  readonly ackedKeys: ReadonlyMap<string, number>
  /** The first error message seen per status, to tell the faults' causes apart in a report. */
  readonly errorSamples: Map<string, string>
  /** Acknowledgement times per connection (index into the connections given), ms on the run's clock. */
  readonly acksByConnection: ReadonlyArray<ReadonlyArray<number>>
  /** ms on the run's clock */
  now(): number
  check(nc: NatsConnection): Promise<LoadReport>
}

export interface LoadReport {
  readonly report: CheckReport
  readonly operations: number
  readonly writesAcked: number
}

const statusOf = (e: unknown): string => (e instanceof Error ? (e.name === "Error" ? e.message : e.name) : String(e))

const classify = (status: string | undefined, body: Uint8Array): Outcome | "retry" => {
  if (status === undefined) return "retry"
  const code = (() => {
    try {
      return (JSON.parse(dec.decode(body)) as { error?: { code?: string; currentVersion?: number } }).error
    } catch {
      return undefined
    }
  })()
  if (status === "409" && typeof code?.currentVersion === "number") return { _tag: "Conflict", currentVersion: code.currentVersion }
  if (status === "404") return { _tag: "NotFound" }
  // 503 and 500 may hide an append that happened: unknown, retried with the same key.
  if (status === "503" || status === "500") return "retry"
  return { _tag: "Fail", code: code?.code ?? status }
}

export const startLoad = (ncs: ReadonlyArray<NatsConnection>, o: LoadOptions = DEFAULT_LOAD): Load => {
  const t0 = performance.now()
  const now = () => performance.now() - t0
  const history = makeHistoryRecorder()
  const acks: number[] = []
  const counts = { writesAcked: 0, writesRetried: 0, readsOk: 0, errors: new Map<string, number>() }
  const bump = (k: string) => counts.errors.set(k, (counts.errors.get(k) ?? 0) + 1)
  const errorSamples = new Map<string, string>()
  const sample = (k: string, message: string) => {
    if (!errorSamples.has(k)) errorSamples.set(k, message.slice(0, 200))
  }
  const acksByConnection: number[][] = ncs.map(() => [])
  const unanswered = new Set<string>()
  const ackedKeys = new Map<string, number>()
  let running = true
  let seq = 0

  const write = async (client: number, nc: NatsConnection, blobId: string) => {
    const key = `c${client}-${seq++}`
    const body = enc.encode(JSON.stringify({ client, key, pad: "x".repeat(seq % 64) }))
    const digest = sha256(body)
    const first = now()
    for (let attempt = 0; ; attempt++) {
      const at = now()
      const id = history.invoke({ client, blobId, kind: "write", intendedMs: first, atMs: at, writeDigest: digest, idempotencyKey: key })
      let outcome: Outcome | "retry"
      try {
        const h = natsHeaders()
        h.set("Umbra-Idempotency-Key", key)
        h.set("Umbra-Writer", `fault-client-${client}`)
        const m = await nc.request(`blob.cmd.write.${blobId}`, body, { timeout: o.requestTimeoutMs, headers: h })
        const status = m.headers?.get("Nats-Service-Error-Code") || undefined
        if (status === undefined) {
          const r = JSON.parse(dec.decode(m.data)) as { version: number; digest: string }
          outcome = { _tag: "Ok", version: r.version, digest: r.digest }
        } else {
          bump(status)
          sample(status, m.headers?.get("Nats-Service-Error") ?? "")
          outcome = classify(status, m.data)
        }
      } catch (e) {
        bump(statusOf(e))
        sample(statusOf(e), e instanceof Error ? e.message : String(e))
        outcome = "retry"
      }
      if (outcome === "retry") {
        unanswered.add(key)
        history.complete(id, now(), { _tag: "Indeterminate", reason: "timeout or unavailable" })
        if (now() - first > o.retryDeadlineMs || !running) return
        counts.writesRetried++
        await sleep(Math.min(50 * 2 ** attempt, 500))
        continue
      }
      history.complete(id, now(), outcome)
      if (outcome._tag === "Ok") {
        ackedKeys.set(key, outcome.version)
        counts.writesAcked++
        acks.push(now())
        acksByConnection[client % ncs.length]?.push(now())
      }
      return
    }
  }

  const read = async (client: number, nc: NatsConnection, blobId: string) => {
    const at = now()
    const id = history.invoke({ client, blobId, kind: "read", intendedMs: at, atMs: at, consistency: "primary" })
    try {
      const h = natsHeaders()
      h.set("Umbra-Consistency", "primary")
      const m = await nc.request(`blob.cmd.read.${blobId}`, undefined, { timeout: o.requestTimeoutMs, headers: h })
      const status = m.headers?.get("Nats-Service-Error-Code") || undefined
      if (status === undefined) {
        counts.readsOk++
        history.complete(id, now(), {
          _tag: "Ok",
          version: Number(m.headers?.get("Umbra-Version")),
          digest: m.headers?.get("Umbra-Digest") ?? "",
          source: m.headers?.get("Umbra-Source") === "shadow" ? "shadow" : "primary",
        })
      } else {
        bump(status)
        const c = classify(status, m.data)
        history.complete(id, now(), c === "retry" ? { _tag: "Indeterminate", reason: status } : c)
      }
    } catch (e) {
      bump(statusOf(e))
      history.complete(id, now(), { _tag: "Indeterminate", reason: statusOf(e) })
    }
  }

  const loop = async (client: number) => {
    const nc = ncs[client % ncs.length]!
    let i = client
    while (running) {
      const blobId = o.blobs[(i * 7 + client) % o.blobs.length]!
      i++
      if (Math.random() < o.readRatio) await read(client, nc, blobId)
      else await write(client, nc, blobId)
      await sleep(o.thinkMs)
    }
  }
  const loops = Array.from({ length: o.clients }, (_, c) => loop(c))

  return {
    acks,
    counts,
    unanswered,
    ackedKeys,
    errorSamples,
    acksByConnection,
    now,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
    check: async (nc) => {
      const finalHistories = new Map<string, StreamVersion[]>()
      for (const b of o.blobs) finalHistories.set(b, await finalHistory(nc, b))
      const endMs = now()
      const operations = history.operations(endMs)
      const report = runCheckers({ operations, finalHistories, expect: [], endMs, linearizability: { maxStepsPerBlob: 2_000_000 } })
      return { report, operations: operations.length, writesAcked: counts.writesAcked }
    },
  }
}

/** Every version of a blob from the service's history pages, retried while the service recovers. */
export const finalHistory = async (nc: NatsConnection, blobId: string): Promise<StreamVersion[]> => {
  const out: StreamVersion[] = []
  let from: number | undefined = 1
  const until = Date.now() + 30_000
  while (from !== undefined) {
    try {
      const m = await nc.request(`blob.cmd.history.${blobId}`, enc.encode(JSON.stringify({ from, limit: 1000 })), { timeout: 5_000 })
      const status = m.headers?.get("Nats-Service-Error-Code")
      if (status === "404") return out
      if (status) throw new Error(`history ${blobId}: ${status} ${dec.decode(m.data)}`)
      const page = JSON.parse(dec.decode(m.data)) as Array<{ version: number; digest: string }>
      out.push(...page.map((e) => ({ version: e.version, digest: e.digest })))
      const next = m.headers?.get("Umbra-Next-From")
      from = next ? Number(next) : undefined
    } catch (e) {
      if (Date.now() > until) throw e
      await sleep(250)
    }
  }
  return out
}

/** The longest stretch without any acknowledged write inside [fromMs, toMs] (run clock). */
export const longestWriteGapMs = (acks: ReadonlyArray<number>, fromMs: number, toMs: number): number => {
  const inside = [fromMs, ...acks.filter((a) => a > fromMs && a < toMs), toMs].sort((a, b) => a - b)
  let gap = 0
  for (let i = 1; i < inside.length; i++) gap = Math.max(gap, inside[i]! - inside[i - 1]!)
  return gap
}

/** ms from `fromMs` to the first acknowledged write after it (how long until service again). */
export const recoveryMs = (acks: ReadonlyArray<number>, fromMs: number): number | undefined => {
  const first = acks.find((a) => a >= fromMs)
  return first === undefined ? undefined : first - fromMs
}
