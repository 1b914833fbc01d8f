import type { NatsConnection } from "@nats-io/nats-core"
import { LocalShadowReplica } from "../infra/client/local-replica.ts"
import { UmbraClient } from "../infra/client/umbra-client.ts"
import { measureSync, runOnce, summarise, type CaseResult, type Progress, type RunResult, type Timing } from "./harness.ts"

// The client-side replica (infra/client/local-replica.ts): an application's read of a
// valid shadow answered from its own memory, no request. Two views of the same thing:
//   client-replica-read@1    `await client.read(id)` through the typed client (what an app calls)
//   client-replica-lookup@1  `replica.lookup(id)`, the synchronous core of it
// Both are checked to be hits: a miss would fall back to a request and is counted an error.

export const measureClientReplica = async (
  nc: NatsConnection,
  ids: ReadonlyArray<string>,
  prefix: string,
  t: Timing,
  progress: Progress,
): Promise<Record<string, CaseResult>> => {
  const replica = await LocalShadowReplica.start(nc, { prefix })
  try {
    const deadline = Date.now() + 30_000
    while (ids.some((id) => replica.lookup(id, {}) === undefined)) {
      if (Date.now() > deadline) throw new Error("the local replica never held every shadow")
      await new Promise((r) => setTimeout(r, 50))
    }
    const client = new UmbraClient(nc, { localReplica: replica })
    const lookup = measureSync("client-replica-lookup@1", (n) => replica.lookup(ids[n % ids.length] as string, {}) !== undefined, t, progress)
    const hitsBefore = replica.hits
    const readCase = {
      name: "client-replica-read@1",
      concurrency: 1,
      op: async (_w: number, n: number) => (await client.read(ids[n % ids.length] as string)).source === "local",
    }
    await runOnce(readCase, t.warmupMs)
    const runs: RunResult[] = []
    for (let r = 1; r <= t.repeats; r++) {
      const res = await runOnce(readCase, t.runMs)
      runs.push(res)
      progress(`[local] client-replica-read@1 run ${r}/${t.repeats}: ${res.opsPerSec.toLocaleString("en-US")} ops/s p50 ${res.p50Us} µs`)
    }
    const read = summarise(readCase, runs, `${replica.hits - hitsBefore} local hits, ${replica.misses} misses; timed one by one with the monotonic clock`)
    return { "client-replica-read@1": read, "client-replica-lookup@1": lookup }
  } finally {
    await replica.stop()
  }
}
