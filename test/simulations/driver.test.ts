import type { Msg, NatsConnection } from "@nats-io/nats-core"
import * as E from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import { runStep, type AttemptReport, type ClientContext, type RunClock, type Transport, type TransportReply } from "../../simulations/client.ts"
import { drive, newDriverStats } from "../../simulations/driver.ts"
import { makeRng } from "../../simulations/generators/rng.ts"
import { makeHistoryRecorder, type Outcome } from "../../simulations/history.ts"
import { makeLatencyRecorder } from "../../simulations/latency.ts"
import { natsTransports } from "../../simulations/live/transport.ts"
import { wallClock } from "../../simulations/live-runner.ts"
import { formatScenarioError, maxOperationMs, parseScenario, type Scenario } from "../../simulations/scenario.ts"
import { makeValueSource } from "../../simulations/values.ts"
import { makeWorkload } from "../../simulations/workload.ts"

// What the fault suite takes from the driver and the client beyond a scenario's fixed run:
// retries of a write until a deadline, a run stopped from outside, an answer per attempt, and
// logical clients pinned to their own connection.

const scenarioOf = (client: string, arrival = "{ mode: closed, clients: 3, thinkTimeMs: 1 }"): Scenario => {
  const text = `seed: 1\ndurationSec: 3600\narrival: ${arrival}\nmaxInFlight: 10\nkeys: { count: 2, prefix: "d/", distribution: uniform, preload: false }\noperations: { write: 1 }\nreads: { consistency: primary }\nclient: ${client}\n`
  const parsed = parseScenario(text, "driver.yaml")
  if (E.isLeft(parsed)) throw new Error(parsed.left.map(formatScenarioError).join("\n"))
  return parsed.right
}

/** Time moves only when someone sleeps or a request times out: a run of retries in no wall time. */
const jumpingClock = (): RunClock & { t: number } => {
  const c = { t: 0, now: () => c.t, sleep: async (ms: number) => void (c.t += ms) }
  return c
}

const ok = (version: number): TransportReply => ({
  _tag: "Reply",
  header: () => undefined,
  body: new TextEncoder().encode(JSON.stringify({ version, digest: "sha256:x" })),
})

const contextOf = (scenario: Scenario, transport: Transport, clock: RunClock, attempts: AttemptReport[]): ClientContext => ({
  scenario, transport, clock, history: makeHistoryRecorder(), values: makeValueSource(scenario.valueShape, 1),
  knowledge: new Map(), rng: makeRng(1), idPrefix: "t", keyCounter: { value: 0 }, subjectPrefix: "blob.cmd",
  onOutcome: (_: Outcome, a: AttemptReport) => void attempts.push(a),
})

describe("client retries until a deadline", () => {
  it("retries an unanswered write with its key until retryDeadlineMs, however many times", async () => {
    const scenario = scenarioOf("{ timeoutMs: 100, retryDeadlineMs: 2000 }")
    const clock = jumpingClock()
    const timeout: Transport = { request: async (_s, _b, _h, timeoutMs) => ((clock.t += timeoutMs), { _tag: "Timeout" }) }
    const attempts: AttemptReport[] = []
    const ctx = contextOf(scenario, timeout, clock, attempts)
    await runStep(ctx, { op: "write", keyIndex: 0, blobId: "d/0" }, 0, 0)
    expect(attempts.length).toBeGreaterThan(scenario.client.retries + 1)
    expect(new Set(attempts.map((a) => a.idempotencyKey))).toEqual(new Set(["t-1"]))
    expect(attempts.at(-2)!.endMs).toBeLessThan(2_000)
    expect(attempts.at(-1)!.endMs).toBeGreaterThanOrEqual(2_000)
    expect(maxOperationMs(scenario.client)).toBe(2_200)
  })

  it("stops retrying at the first answer, and reports every attempt's reply", async () => {
    const scenario = scenarioOf("{ timeoutMs: 100, retryDeadlineMs: 2000 }")
    const clock = jumpingClock()
    let n = 0
    const flaky: Transport = { request: async () => (++n < 4 ? { _tag: "NoResponders" } : ok(7)) }
    const attempts: AttemptReport[] = []
    await runStep(contextOf(scenario, flaky, clock, attempts), { op: "write", keyIndex: 1, blobId: "d/1" }, 2, 0)
    expect(attempts.map((a) => a.reply._tag)).toEqual(["NoResponders", "NoResponders", "NoResponders", "Reply"])
    expect(attempts.every((a) => a.client === 2 && a.blobId === "d/1" && a.kind === "write")).toBe(true)
  })

  it("keeps a number of retries when no deadline is given, and refuses both at once", () => {
    expect(scenarioOf("{ timeoutMs: 100, retries: 3 }").client).toEqual({ timeoutMs: 100, retries: 3, retryDeadlineMs: undefined })
    expect(maxOperationMs(scenarioOf("{ timeoutMs: 100, retries: 3 }").client)).toBe(500)
    expect(() => scenarioOf("{ timeoutMs: 100, retries: 3, retryDeadlineMs: 1000 }")).toThrow(
      "driver.yaml: client.retryDeadlineMs: retries a write until a deadline instead of a number of times: give retries or retryDeadlineMs, not both",
    )
  })
})

describe("driver stopped from outside", () => {
  it("sends nothing once stopped and waits for the operations outstanding", async () => {
    const scenario = scenarioOf("{ timeoutMs: 1000, retryDeadlineMs: 5000 }")
    const attempts: AttemptReport[] = []
    let outstanding = 0
    const slow: Transport = {
      request: async () => {
        outstanding++
        await new Promise((r) => setTimeout(r, 20))
        outstanding--
        return ok(1)
      },
    }
    const ctx = contextOf(scenario, slow, wallClock(), attempts)
    const stats = newDriverStats()
    const stop = new AbortController()
    const run = drive({ ctx, workload: makeWorkload(scenario, makeRng(2)), latency: makeLatencyRecorder(1), rng: makeRng(3), stats, drainMs: 5_000, stop: stop.signal })
    await new Promise((r) => setTimeout(r, 200))
    const started = performance.now()
    stop.abort()
    await run
    expect(performance.now() - started).toBeLessThan(500)
    expect(outstanding).toBe(0)
    expect(stats.inFlight).toBe(0)
    expect(stats.completed).toBe(stats.offered)
    expect(stats.completed).toBeGreaterThan(6)
    const sentAtStop = attempts.length
    await new Promise((r) => setTimeout(r, 100))
    expect(attempts.length).toBe(sentAtStop)
    expect(new Set(attempts.map((a) => a.client))).toEqual(new Set([0, 1, 2]))
  })
})

describe("a transport over several connections", () => {
  /** Enough of a NatsConnection for the transport: an echo of every request on its reply subject. */
  const fakeConnection = (name: string): NatsConnection => {
    const subs: Array<{ prefix: string; callback: (err: Error | null, m: Msg) => void }> = []
    return {
      subscribe: (subject: string, o: { callback: (err: Error | null, m: Msg) => void }) => {
        subs.push({ prefix: subject.slice(0, -1), callback: o.callback })
        return { unsubscribe: () => void subs.splice(0) }
      },
      publish: (_subject: string, _body: Uint8Array, o: { reply: string }) => {
        const data = new TextEncoder().encode(name)
        for (const s of subs) if (o.reply.startsWith(s.prefix)) queueMicrotask(() => s.callback(null, { subject: o.reply, data } as unknown as Msg))
      },
    } as unknown as NatsConnection
  }

  it("sends client i over connection i mod n", async () => {
    const t = natsTransports(["a", "b", "c"].map(fakeConnection))
    const via = async (client: number | undefined): Promise<string> => {
      const r = await t.request("blob.cmd.read.x", new Uint8Array(0), {}, 1_000, client)
      return r._tag === "Reply" ? new TextDecoder().decode(r.body) : r._tag
    }
    expect(await Promise.all([0, 1, 2, 3, 4, 5, undefined].map(via))).toEqual(["a", "b", "c", "a", "b", "c", "a"])
    t.close()
  })
})
