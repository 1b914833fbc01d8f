import { spawn, type ChildProcess } from "node:child_process"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { jetstreamManager } from "@nats-io/jetstream"
import { connectNats } from "../../infra/connection.ts"
import { startLocalCluster, waitForJetStream } from "../../infra/local-cluster.ts"
import { ensureTopology } from "../../infra/topology.ts"
import { loadConfig, topologyOf } from "../config.ts"
import { SERVICE_NODE_FLAGS } from "../node-flags.ts"

// `npm run cluster`: what docker-compose.yml runs, as plain processes on loopback — a 3-node
// JetStream cluster, R3 streams, N sharded blob-service instances, a predictor and a
// reconciler. For users without Docker, and to try rebalancing by killing an instance.

const ROOT = resolve(import.meta.dirname, "../..")
const instances = Number(process.env["UMBRA_CLUSTER_INSTANCES"] ?? 3)
const partitions = process.env["UMBRA_PARTITIONS"] ?? "64"

const cluster = await startLocalCluster(3)
const children: ChildProcess[] = []
const stopAll = async (code: number) => {
  for (const c of children) c.kill("SIGTERM")
  await new Promise((r) => setTimeout(r, 1_500))
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
  await cluster.stop()
  process.exit(code)
}
process.on("SIGINT", () => void stopAll(0))
process.on("SIGTERM", () => void stopAll(0))

const nc = await connectNats({ servers: cluster.urls, name: "umbra-cluster" })
await waitForJetStream(async () => (await (await jetstreamManager(nc)).getAccountInfo()) !== undefined)
const config = loadConfig({ natsUrl: cluster.urls, replicas: 3 })
await ensureTopology(nc, { ...topologyOf(config), replicas: 3 })
await nc.close()

const run = (entry: string, instance: string) => {
  if (!existsSync(resolve(ROOT, entry))) return
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, "--import", "tsx", resolve(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: cluster.urls, UMBRA_REPLICAS: "3", UMBRA_PARTITIONS: partitions, UMBRA_INSTANCE_ID: instance },
    stdio: ["ignore", "pipe", "pipe"],
  })
  const prefix = (d: Buffer) => d.toString().split("\n").filter(Boolean).forEach((l) => console.log(`[${instance}] ${l}`))
  child.stdout?.on("data", prefix)
  child.stderr?.on("data", prefix)
  child.on("exit", (code, sig) => console.log(`[${instance}] exited (${code ?? sig}) — pid ${child.pid}`))
  children.push(child)
  console.log(`[${instance}] pid ${child.pid}`)
}

for (let i = 1; i <= instances; i++) run("services/blob-service/main.ts", `blob-${i}`)
run("services/predictor/main.ts", "predictor")
run("services/reconciler/main.ts", "reconciler")
console.log(
  `umbra cluster ready: NATS_URL=${cluster.urls} · nodes ${cluster.nodes.map((n) => `${n.name}:${n.clientPort}`).join(" ")} · ` +
    `${instances} blob instances over ${partitions} partitions (kill one to watch its partitions move)`,
)
