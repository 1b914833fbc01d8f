// Ad-hoc: a fresh deployment (new nats-server, empty shadow bucket) and one blob service of the
// given checkout, N new blobs written strictly one at a time (no burst ever makes a backlog);
// nats-server's and the service's CPU per write over each thousand. Shows whether the cost of a
// write grows with the number of blobs (docs/decisions.md, "A replica's watch never starts
// last-per-subject on an empty bucket").
//   npx tsx bench/fresh-writes-probe.ts [checkout=.] [writes=4000]
import { resolve } from "node:path"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { BLOB_SERVICE_READY, cpuMs, killAllChildren, spawnTs } from "./processes.ts"
import { awaitService } from "./umbra-cases.ts"

const dir = process.argv[2] ?? "."
const writes = Number(process.argv[3] ?? "4000")
const server = await startNatsServer({ port: -1 })
const nc = await connectNats({ servers: server.url, name: "fresh-writes" })
try {
  const svc = await spawnTs({
    name: "fresh-writes",
    script: resolve(dir, "services/blob-service/main.ts"),
    env: { NATS_URL: server.url, UMBRA_INSTANCE_ID: "fresh-writes", UMBRA_ACTOR_IDLE_MS: "600000" },
    ready: BLOB_SERVICE_READY,
  })
  await awaitService(nc, "fresh-probe", 10_000)
  const body = new Uint8Array(256)
  for (let k = 0; k < writes; k += 1000) {
    const s0 = cpuMs(server.pid()), v0 = cpuMs(svc.pid), t0 = performance.now()
    const end = Math.min(writes, k + 1000)
    for (let i = k; i < end; i++) await nc.request(`blob.cmd.write.fresh-${i}`, body, { timeout: 10_000 })
    const per = (x: number) => ((x * 1000) / (end - k)).toFixed(0)
    console.log(`writes ${k}–${end - 1}: ${per(performance.now() - t0)} µs each, nats-server ${per(cpuMs(server.pid()) - s0)} µs CPU, service ${per(cpuMs(svc.pid) - v0)} µs CPU`)
  }
} finally {
  await nc.close()
  killAllChildren()
  await server.stop()
}
