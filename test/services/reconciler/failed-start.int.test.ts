import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { NatsConnection } from "@nats-io/nats-core"
import type { NatsServerProcess } from "../../../infra/embedded-server.ts"
import { freePort } from "../../../infra/local-cluster.ts"
import { startReconciler } from "../../../services/reconciler/reconciler.ts"
import { eventually } from "../../support/eventually.ts"
import { connectTo, prepareTopology, startTestServer, testConfig } from "../../support/nats-server.ts"

// A reconciler whose start fails part-way leaves nothing running on its caller's connection:
// by then it had subscribed to the access feed, watched the shadow bucket and followed other
// reconcilers' verdicts. Seen from the server (its monitoring endpoint), not from nats.js.

let server: NatsServerProcess
let monitorPort: number
let nc: NatsConnection

interface Connz {
  readonly connections: ReadonlyArray<{ readonly name?: string; readonly subscriptions_list?: ReadonlyArray<string> }>
}

/**
 * The subjects the server holds subscriptions on for `conn` (named `name`), once it has processed
 * everything `conn` sent (a flush is a round trip: its unsubscribes are in).
 */
const subjectsOf = async (conn: NatsConnection, name: string): Promise<string[]> => {
  await conn.flush()
  const r = await fetch(`http://127.0.0.1:${monitorPort}/connz?subs=1`)
  const c = ((await r.json()) as Connz).connections.find((x) => x.name === name)
  if (c === undefined) throw new Error(`no connection named ${name}`)
  return [...(c.subscriptions_list ?? [])].sort()
}

beforeAll(async () => {
  monitorPort = await freePort()
  server = await startTestServer({ extraArgs: ["-m", String(monitorPort)] })
  nc = await connectTo(server.url, "setup")
  await prepareTopology(nc, testConfig(server.url))
})
afterAll(async () => {
  await nc?.close()
  await server?.stop(true)
})

describe("a reconciler start that fails", () => {
  it("stops what it had started before the failure", async () => {
    const base = testConfig(server.url)
    // A durable name that cannot be (it holds a '.'): creating the event consumer fails, after
    // the access feed, the replica's watch and the verdict follower have started.
    const config = { ...base, instanceId: "failing", reconciler: { ...base.reconciler, durable: "not.a.durable" } }
    const rnc = await connectTo(server.url, "failing-reconciler")
    try {
      const before = await subjectsOf(rnc, "failing-reconciler")
      await expect(startReconciler(rnc, config)).rejects.toThrow()
      // The connection's own request inbox (nats.js's mux, `_INBOX.<prefix>.*`) may stay: it
      // belongs to the connection, not to the reconciler. Some unsubscribes leave nats.js a few
      // promise turns after the start's rejection: polled until they reached the server.
      await eventually(async () => {
        const left = (await subjectsOf(rnc, "failing-reconciler")).filter((s) => !before.includes(s) && !/^_INBOX\.[^.]+\.\*$/.test(s))
        expect(left).toEqual([])
      }, 5_000)
      // And a reconciler started correctly on the same connection afterwards works.
      const r = await startReconciler(rnc, { ...base, instanceId: "after" })
      expect((await subjectsOf(rnc, "failing-reconciler")).some((s) => s.startsWith(`${base.names.shadowEventSubjectPrefix}.`))).toBe(true)
      await r.stop()
    } finally {
      await rnc.close()
    }
  })
})
