import { jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectNats } from "../../infra/connection.ts"
import { defaultNames } from "../../infra/names.ts"
import { waitForJetStream } from "../../infra/local-cluster.ts"
import { eventually } from "../support/eventually.ts"
import { prepareTopology, testConfig } from "../support/nats-server.ts"
import { DEFAULT_LOAD, longestWriteGapMs, recoveryMs, startLoad } from "./support/load.ts"
import { Tracked, type ServiceProcess } from "./support/processes.ts"
import { describeViolation } from "../../simulations/checkers/index.ts"
import { leaderChanges, longestWithLeaders, sampleTimeline, unanswered, watchLeaders, type LeaderSample, type LeaderWatch } from "./support/timeline.ts"
import { startProxiedCluster, type ProxiedCluster } from "./support/proxied-cluster.ts"

// A 3-node cluster on loopback with R3 streams (UMBRA_REPLICAS=3): the event stream's leader
// killed and restarted, then cut off from the other two for 15 s and healed. Same verdict as
// the single-node cases, plus the longest stretch without an acknowledged write.

const RECOVERY_BUDGET_MS = 15_000
/**
 * How long the majority must have had its leaders before its writes are required: a lease
 * (UMBRA_LEASE_MS, 5 s). Leaders that come at once leave the isolated side's leases to run out
 * (≤ 5 s) with ~10 s to spare for the take-over and the clients' retries; leaders that come
 * late find those leases long expired. (At 7.5 s of leaders, CI saw ~550 majority acks.)
 */
const MAJORITY_WRITES_WITHIN_MS = 5_000
const tracked = new Tracked()
let cluster: ProxiedCluster
let services: ServiceProcess[] = []
let clients: NatsConnection[] = []
let admin: NatsConnection
const findings: Record<string, unknown> = {}

// One service per node, each dialing its own node first (nats.js learns the others from the
// cluster and fails over): a partition then always leaves services on the majority side.
const serviceEnv = (url: string) => ({
  NATS_URL: url,
  UMBRA_REPLICAS: "3",
  UMBRA_PARTITIONS: "4",
  UMBRA_APPEND_DEADLINE_MS: "20000",
  UMBRA_INSTANCE_ID: `cluster-svc-${process.hrtime.bigint() % 1_000_000n}`,
})

const leaderOf = async (stream: string): Promise<string> => {
  const jsm = await jetstreamManager(admin)
  const info = await jsm.streams.info(stream)
  const leader = info.cluster?.leader
  if (leader === undefined) throw new Error(`${stream} has no leader`)
  return leader
}

beforeAll(async () => {
  // UMBRA_FAULTS_LOGS=<dir> keeps each node's log there (leader changes, catch-ups).
  cluster = await startProxiedCluster(3, process.env["UMBRA_FAULTS_LOGS"])
  for (const n of cluster.nodes) tracked.server(n.server)
  admin = await connectNats({ servers: cluster.urls, name: "cluster-admin" })
  await waitForJetStream(async () => {
    const r = await admin.request("$JS.API.INFO", undefined, { timeout: 2_000 })
    return !new TextDecoder().decode(r.data).includes('"error"')
  }, 60_000)
  await eventually(() => prepareTopology(admin, testConfig(cluster.urls, { replicas: 3 })), 60_000, 500)
  services = await Promise.all(cluster.nodes.map((n) => tracked.blobService(serviceEnv(n.url))))
  // Like the services, one client connection per node (each learns the others for failover):
  // a partition then leaves clients on both sides, and the majority's writes are measured.
  clients = await Promise.all(cluster.nodes.map((n, i) => connectNats({ servers: n.url, name: `cluster-client-${i}`, timeoutMs: 2_000 })))
})

afterAll(async () => {
  // What each service said last (its errors, or why it stopped), for a failed run's reader.
  findings["services"] = services.map((s) => ({ pid: s.pid, exited: s.exited(), unhandledRejections: s.unhandledRejections(), said: s.output().slice(-1_500) }))
  for (const nc of [...clients, admin]) await nc?.close().catch(() => {})
  cluster?.heal()
  await tracked.stopAll()
  await cluster?.stop()
  console.log("cluster faults:", JSON.stringify(findings, null, 1))
})

const underLoad = async (
  name: string,
  fault: (now: () => number) => Promise<{ startMs: number; endMs: number }>,
  recoveryBudgetMs = RECOVERY_BUDGET_MS,
) => {
  const load = startLoad(clients, { ...DEFAULT_LOAD, blobPrefix: `${name}/`, retryDeadlineMs: 40_000 })
  await eventually(() => load.acks.length > 20, 20_000, 100)
  const timeline = sampleTimeline(admin, load.now)
  const { startMs, endMs } = await fault(load.now)
  await eventually(() => recoveryMs(load.acks, endMs) !== undefined, recoveryBudgetMs + 5_000, 100)
  await sleep(2_000)
  const samples = await timeline.stop()
  await load.stop()
  const { report, operations, writesAcked } = await load.check(admin)
  const recovery = recoveryMs(load.acks, endMs)
  const result = {
    operations,
    writesAcked,
    retried: load.counts.writesRetried,
    errors: Object.fromEntries(load.counts.errors),
    errorSamples: Object.fromEntries(load.errorSamples),
    // Per client connection: the node it was on, and its acks before, during and after the fault.
    connections: clients.map((nc, i) => {
      const acks = load.acksByConnection[i] ?? []
      return {
        node: nc.info?.server_name,
        before: acks.filter((a) => a < startMs).length,
        during: acks.filter((a) => a >= startMs && a < endMs).length,
        after: acks.filter((a) => a >= endMs).length,
        firstAfterMs: ((f) => (f === undefined ? undefined : Math.round(f - endMs)))(acks.find((a) => a >= endMs)),
      }
    }),
    longestWriteGapMs: Math.round(longestWriteGapMs(load.acks, startMs, endMs + (recovery ?? 0))),
    recoveryMs: recovery === undefined ? undefined : Math.round(recovery),
    checkers: report.results.map((r) => `${r.checker}: ${r.violations.length}/${r.checked}`),
    violations: report.results.flatMap((r) => r.violations.slice(0, 3).map(describeViolation)),
    faultMs: [Math.round(startMs), Math.round(endMs)],
    timeline: samples,
  }
  findings[name] = result
  expect(report.firstViolation, JSON.stringify(result)).toBeUndefined()
  // A service that crashed or hit a bug it survived (services/run-service.ts) says so on stderr.
  for (const s of services) expect({ exited: s.exited(), unhandledRejections: s.unhandledRejections() }, `service ${s.pid}: ${s.output()}`).toEqual({ exited: undefined, unhandledRejections: 0 })
  expect(recovery).toBeLessThanOrEqual(recoveryBudgetMs)
  return result
}

describe("3-node cluster, R3 streams", () => {
  it("kill -9 of the event stream's leader, restarted 3 s later", async () => {
    await underLoad("leader-kill", async (now) => {
      const leader = cluster.node(await leaderOf("UMBRA_EVENTS"))
      findings["leader-kill-node"] = leader.name
      const startMs = now()
      leader.server.signal("SIGKILL")
      await sleep(3_000)
      await leader.server.restart()
      return { startMs, endMs: now() }
    })
  })

  // Issue #9 (docs/reliability.md): the "3 lost acknowledged writes" once seen here were a
  // history read from the old leader's replica, which nats-server 2.9.10 leaves diverged after
  // the heal (test/faults/partition-repro.ts reproduces it without Umbra); history and version
  // reads go through the leader on replicated streams. A later leader change onto that replica
  // would still lose acknowledged writes: a server defect no client can prevent (documented).
  // UMBRA_FAULTS_PARTITION=0 skips the case.
  const WATCHED = ["UMBRA_EVENTS", `KV_${defaultNames.leaseBucket}`]
  it.skipIf(process.env["UMBRA_FAULTS_PARTITION"] === "0")("the leader cut off from the others for 15 s, then healed", async () => {
    let watch: LeaderWatch | undefined
    let nodesAtFault: ReadonlyArray<string | undefined> = []
    let leader = ""
    let r: Awaited<ReturnType<typeof underLoad>>
    let samples: ReadonlyArray<LeaderSample> = []
    try {
      r = await underLoad("leader-partition", async (now) => {
        leader = await leaderOf("UMBRA_EVENTS")
        findings["leader-partition-node"] = leader
        // The majority's own view of the leaders Umbra needs: the event stream and the leases.
        const majorityNode = cluster.nodes.find((n) => n.name !== leader)!
        watch = await watchLeaders(majorityNode.url, WATCHED, now)
        nodesAtFault = clients.map((nc) => nc.info?.server_name)
        const startMs = now()
        await cluster.isolate(leader)
        await sleep(15_000)
        cluster.heal()
        return { startMs, endMs: now() }
      })
    } finally {
      samples = (await watch?.stop()) ?? []
      findings["leader-partition-majority-view"] = leaderChanges(samples, WATCHED)
    }
    findings["leader-partition-gap-note"] = `longest write gap ${r.longestWriteGapMs} ms`
    // Umbra's part of the majority's progress: once nats-server has given that side leaders for
    // the event stream and the lease bucket for longer than a lease plus a margin, its blob
    // services own every partition (the isolated one's leases expired) and acknowledge writes.
    // Whether nats-server elects those leaders within the 15 s is its own affair: on a loaded
    // 2-core machine it once did not, and then no write could be expected of anyone.
    const [startMs, endMs] = r.faultMs as [number, number]
    const withLeaders = longestWithLeaders(samples, startMs, endMs)
    const during = samples.filter((x) => x.t >= startMs && x.t <= endMs)
    findings["leader-partition-majority-leaders"] = { longestMs: withLeaders, samples: during.length, unanswered: during.filter(unanswered).length }
    const majorityAcks = r.connections.filter((_, i) => nodesAtFault[i] !== leader).reduce((n, c) => n + c.during, 0)
    if (withLeaders >= MAJORITY_WRITES_WITHIN_MS) expect(majorityAcks, JSON.stringify({ nodesAtFault, connections: r.connections, withLeaders })).toBeGreaterThan(0)
    else findings["leader-partition-note"] = `the majority side had its leaders for ${withLeaders} ms of the partition only: no writes expected there`
    await eventually(async () => expect(await leaderOf("UMBRA_EVENTS")).toBeDefined(), 15_000, 500)
  })
})
