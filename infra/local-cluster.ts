import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startNatsServer, type NatsServerProcess } from "./embedded-server.ts"

// A 3-node JetStream cluster on loopback (the topology of docker-compose.yml, with ports
// picked free): for `npm run cluster`, for users without Docker, and for tests.

export interface ClusterNode {
  readonly name: string
  readonly clientPort: number
  readonly routePort: number
  readonly server: NatsServerProcess
}

export interface LocalCluster {
  readonly nodes: ReadonlyArray<ClusterNode>
  /** All client URLs, comma-separated (for NATS_URL). */
  readonly urls: string
  stop(): Promise<void>
}

export const CLUSTER_NAME = "umbra"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error("no port"))))
    })
  })

/** The node's config: the same shape as deploy/nats/n<i>.conf, on loopback ports. */
export const nodeConfig = (name: string, routePort: number, routes: ReadonlyArray<number>): string => `
server_name: ${name}
max_payload: 1MB
jetstream {
  max_memory_store: 1GB
  max_file_store: 10GB
}
cluster {
  name: ${CLUSTER_NAME}
  listen: 127.0.0.1:${routePort}
  routes: [
${routes.map((p) => `    nats-route://127.0.0.1:${p}`).join("\n")}
  ]
}
`

export const startLocalCluster = async (size = 3): Promise<LocalCluster> => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-cluster-"))
  const routePorts = await Promise.all(Array.from({ length: size }, freePort))
  const clientPorts = await Promise.all(Array.from({ length: size }, freePort))
  const nodes = await Promise.all(
    routePorts.map(async (routePort, i) => {
      const name = `n${i + 1}`
      const conf = join(dir, `${name}.conf`)
      writeFileSync(conf, nodeConfig(name, routePort, routePorts))
      const server = await startNatsServer({ configFile: conf, port: clientPorts[i]!, storeDir: join(dir, name) })
      return { name, clientPort: server.port, routePort, server }
    }),
  )
  return {
    nodes,
    urls: nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`).join(","),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.server.stop()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Waits until JetStream has a meta leader (streams can be created). */
export const waitForJetStream = async (request: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await request().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error("JetStream cluster did not elect a meta leader in time")
}
