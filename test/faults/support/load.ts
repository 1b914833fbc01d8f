import type { NatsConnection } from "@nats-io/nats-core"
import * as E from "fp-ts/lib/Either.js"
import { runCheckers, type CheckReport } from "../../../simulations/checkers/index.ts"
import { retryable, type AttemptReport, type ClientContext, type TransportReply } from "../../../simulations/client.ts"
import { drive, newDriverStats } from "../../../simulations/driver.ts"
import { makeRng } from "../../../simulations/generators/rng.ts"
import { makeHistoryRecorder, type Outcome } from "../../../simulations/history.ts"
import { makeLatencyRecorder } from "../../../simulations/latency.ts"
import { fetchFinalHistories } from "../../../simulations/live/final-histories.ts"
import { natsTransport, natsTransports } from "../../../simulations/live/transport.ts"
import { wallClock } from "../../../simulations/live-runner.ts"
import { formatScenarioError, maxOperationMs, parseScenario, type Scenario } from "../../../simulations/scenario.ts"
import { makeValueSource } from "../../../simulations/values.ts"
import { makeWorkload } from "../../../simulations/workload.ts"

// The fault suite's steady load is the simulation driver's (simulations/driver.ts) in closed
// loop: a few clients, each sending its next operation after its answer and a think time,
// writes with idempotency keys and primary reads on a handful of blobs, over the wire contract
// as simulations/client.ts speaks it (an indeterminate write retried with its key until a
// deadline). The history it records is judged by simulations/checkers (lost acknowledged
// writes, duplicate versions, linearizability of the primary). What is kept here is what the
// fault cases read while the load runs: acknowledgement times, per connection too, and the
// keys of the writes that went unanswered and of those acknowledged.

const SUBJECTS = "blob.cmd"
/** The load runs until stopped; the scenario's own end is only a bound. */
const UNTIL_STOPPED_SEC = 6 * 3600

export interface LoadOptions {
  readonly clients: number
  /** The blobs are `<blobPrefix>0` … `<blobPrefix><blobCount - 1>`, chosen uniformly. */
  readonly blobPrefix: string
  readonly blobCount: number
  /** Per attempt; shorter than the faults, so clients see timeouts. */
  readonly requestTimeoutMs: number
  /** A write is retried with its key until this long after its first attempt. */
  readonly retryDeadlineMs: number
  /** Mean think time between a client's answer and its next operation (exponential). */
  readonly thinkMs: number
  readonly readRatio: number
  /** The workload's seed (which blob, read or write, think times); random unless given. */
  readonly seed?: number
}

export const DEFAULT_LOAD: LoadOptions = {
  clients: 6,
  blobPrefix: "f/",
  blobCount: 4,
  requestTimeoutMs: 2_000,
  retryDeadlineMs: 30_000,
  thinkMs: 15,
  readRatio: 0.3,
}

export interface Load {
  /** Stops issuing new operations and waits for those in flight (their retries included). */
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

/** The load as a scenario, through the scenario decoder so it is a valid one. */
export const faultScenario = (o: LoadOptions): Scenario => {
  const spec = {
    name: "faults",
    description: "the fault suite's steady load",
    seed: o.seed ?? Math.floor(Math.random() * 2 ** 31),
    durationSec: UNTIL_STOPPED_SEC,
    arrival: { mode: "closed", clients: o.clients, thinkTimeMs: o.thinkMs },
    maxInFlight: o.clients,
    keys: { count: o.blobCount, prefix: o.blobPrefix, distribution: "uniform", preload: false },
    valueShape: { kind: "ycsb", fields: 2, fieldBytes: 24 },
    operations: { read: o.readRatio, write: 1 - o.readRatio },
    reads: { consistency: "primary" },
    client: { timeoutMs: o.requestTimeoutMs, retryDeadlineMs: o.retryDeadlineMs },
  }
  const parsed = parseScenario(JSON.stringify(spec), "fault-load.json")
  if (E.isLeft(parsed)) throw new Error(parsed.left.map(formatScenarioError).join("\n"))
  return parsed.right
}

/** What an attempt's answer was, when it was not a success: a status, or why there was none. */
const failureOf = (r: TransportReply): { status: string; message: string } | undefined => {
  switch (r._tag) {
    case "Reply": {
      const status = r.header("Nats-Service-Error-Code")
      return status === undefined || status === "" ? undefined : { status, message: r.header("Nats-Service-Error") ?? "" }
    }
    case "Timeout":
      return { status: "timeout", message: "no answer within the request timeout" }
    case "NoResponders":
      return { status: "no responders", message: "no service subscribed to the subject" }
    case "Broken":
      return { status: "broken", message: r.reason }
  }
}

export const startLoad = (ncs: ReadonlyArray<NatsConnection>, o: LoadOptions = DEFAULT_LOAD): Load => {
  const scenario = faultScenario(o)
  const clock = wallClock()
  const history = makeHistoryRecorder()
  const transport = natsTransports(ncs)
  const acks: number[] = []
  const counts = { writesAcked: 0, writesRetried: 0, readsOk: 0, errors: new Map<string, number>() }
  const errorSamples = new Map<string, string>()
  const acksByConnection: number[][] = ncs.map(() => [])
  const unanswered = new Set<string>()
  const ackedKeys = new Map<string, number>()
  const sent = new Set<string>()

  const onOutcome = (outcome: Outcome, a: AttemptReport): void => {
    const failure = failureOf(a.reply)
    if (failure !== undefined) {
      counts.errors.set(failure.status, (counts.errors.get(failure.status) ?? 0) + 1)
      if (!errorSamples.has(failure.status)) errorSamples.set(failure.status, failure.message.slice(0, 200))
    }
    if (a.kind === "read") {
      if (outcome._tag === "Ok") counts.readsOk++
      return
    }
    const key = a.idempotencyKey
    if (key === undefined) return
    if (sent.has(key)) counts.writesRetried++
    else sent.add(key)
    if (retryable(outcome)) unanswered.add(key)
    if (outcome._tag !== "Ok") return
    ackedKeys.set(key, outcome.version)
    counts.writesAcked++
    acks.push(a.endMs)
    acksByConnection[a.client % ncs.length]?.push(a.endMs)
  }

  const rng = makeRng(scenario.seed)
  const ctx: ClientContext = {
    scenario, transport, clock, history, values: makeValueSource(scenario.valueShape, scenario.seed),
    knowledge: new Map(), rng: rng.fork(), idPrefix: `fault${Date.now().toString(36)}`, keyCounter: { value: 0 },
    subjectPrefix: SUBJECTS, onOutcome,
  }
  const workload = makeWorkload(scenario, rng.fork())
  const stop = new AbortController()
  const driving = drive({
    ctx, workload, latency: makeLatencyRecorder(1), rng: rng.fork(), stats: newDriverStats(),
    drainMs: maxOperationMs(scenario.client), stop: stop.signal,
  }).finally(() => transport.close())

  return {
    acks,
    counts,
    unanswered,
    ackedKeys,
    errorSamples,
    acksByConnection,
    now: clock.now,
    stop: async () => {
      stop.abort()
      await driving
    },
    check: async (nc) => {
      const reader = natsTransport(nc)
      const blobIds = workload.initialKeys().map((s) => s.blobId)
      const finalHistories = await fetchFinalHistories(reader, SUBJECTS, blobIds).finally(() => reader.close())
      const endMs = clock.now()
      const operations = history.operations(endMs)
      const report = runCheckers({ operations, finalHistories, expect: [], endMs, linearizability: { maxStepsPerBlob: 2_000_000 } })
      return { report, operations: operations.length, writesAcked: counts.writesAcked }
    },
  }
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
