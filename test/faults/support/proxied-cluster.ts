import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, connect, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { connectNats } from "../../../infra/connection.ts"
import { startNatsServer, type NatsServerProcess } from "../../../infra/embedded-server.ts"
import { CLUSTER_NAME, freePort } from "../../../infra/local-cluster.ts"

// A 3-node cluster on loopback whose route connections all pass through TCP proxies we
// control, so a node can be cut off from the others (a partition) and healed. Each node has an
// inbound proxy and advertises it, so even routes learnt by gossip go through a proxy. A route
// dialed *by* the isolated node is recognised by the server id in its CONNECT.

interface Link {
  readonly a: Socket
  readonly b: Socket
  dialerId: string | undefined
}

class RouteProxy {
  private readonly links = new Set<Link>()
  private server: Server | undefined
  /** Node ids cut off; `inboundCut` when the node behind this proxy is the isolated one. */
  isolatedId: string | undefined
  inboundCut = false

  constructor(
    readonly port: number,
    private readonly targetPort: () => number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((a) => this.accept(a))
    await new Promise<void>((r) => this.server!.listen(this.port, "127.0.0.1", () => r()))
  }

  private accept(a: Socket): void {
    if (this.inboundCut) return void a.destroy()
    const b = connect(this.targetPort(), "127.0.0.1")
    const link: Link = { a, b, dialerId: undefined }
    this.links.add(link)
    let head = ""
    a.on("data", (d: Buffer) => {
      if (link.dialerId === undefined && head.length < 8192) {
        head += d.toString("latin1")
        const m = /CONNECT (\{[^\r\n]*\})\r\n/.exec(head)
        if (m) link.dialerId = (JSON.parse(m[1]!) as { name?: string }).name
        if (link.dialerId !== undefined && link.dialerId === this.isolatedId) return this.close(link)
      }
      b.write(d)
    })
    b.on("data", (d: Buffer) => a.write(d))
    const end = () => this.close(link)
    for (const s of [a, b]) {
      s.on("error", end)
      s.on("close", end)
    }
  }

  private close(l: Link): void {
    this.links.delete(l)
    l.a.destroy()
    l.b.destroy()
  }

  cut(isolatedId: string, isolatedIsBehindMe: boolean): void {
    this.isolatedId = isolatedId
    this.inboundCut = isolatedIsBehindMe
    for (const l of [...this.links]) if (isolatedIsBehindMe || l.dialerId === isolatedId) this.close(l)
  }

  heal(): void {
    this.isolatedId = undefined
    this.inboundCut = false
  }

  async stop(): Promise<void> {
    for (const l of [...this.links]) this.close(l)
    await new Promise<void>((r) => (this.server === undefined ? r() : this.server.close(() => r())))
  }
}

export interface ProxiedNode {
  readonly name: string
  readonly server: NatsServerProcess
  readonly url: string
}

export interface ProxiedCluster {
  readonly nodes: ReadonlyArray<ProxiedNode>
  readonly urls: string
  node(name: string): ProxiedNode
  /** Cuts every route of `name` (both directions) until `heal`. */
  isolate(name: string): Promise<void>
  heal(): void
  stop(): Promise<void>
}

/** `logDir`: each node logs there (`n1.log`…, with -DV off: leader changes, catch-ups). */
export const startProxiedCluster = async (size = 3, logDir?: string): Promise<ProxiedCluster> => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-pcluster-"))
  // Distinct ports: two concurrent `freePort` calls can be handed the same one.
  const taken = new Set<number>()
  const distinctPorts = async (n: number): Promise<number[]> => {
    const out: number[] = []
    while (out.length < n) {
      const p = await freePort()
      if (!taken.has(p)) taken.add(p), out.push(p)
    }
    return out
  }
  const routePorts = await distinctPorts(size)
  const proxyPorts = await distinctPorts(size)
  const clientPorts = await distinctPorts(size)
  const proxies = proxyPorts.map((p, i) => new RouteProxy(p, () => routePorts[i]!))
  await Promise.all(proxies.map((p) => p.start()))
  const settled = await Promise.allSettled(
    routePorts.map(async (routePort, i) => {
      const name = `n${i + 1}`
      const conf = join(dir, `${name}.conf`)
      const others = proxyPorts.filter((_, j) => j !== i)
      writeFileSync(
        conf,
        `server_name: ${name}
max_payload: 1MB
jetstream { max_memory_store: 1GB, max_file_store: 10GB }
cluster {
  name: ${CLUSTER_NAME}
  listen: 127.0.0.1:${routePort}
  advertise: 127.0.0.1:${proxyPorts[i]}
  routes: [
${others.map((p) => `    nats-route://127.0.0.1:${p}`).join("\n")}
  ]
}
`,
      )
      const server = await startNatsServer({
        configFile: conf,
        port: clientPorts[i]!,
        storeDir: join(dir, name),
        ...(logDir === undefined ? {} : { logFile: join(logDir, `${name}.log`) }),
      })
      return { name, server, url: `nats://127.0.0.1:${clientPorts[i]}` }
    }),
  )
  const failed = settled.find((r) => r.status === "rejected")
  if (failed !== undefined) {
    // A node did not start: stop those that did, and the proxies.
    await Promise.allSettled(settled.map((r) => (r.status === "fulfilled" ? r.value.server.stop(true) : undefined)))
    await Promise.allSettled(proxies.map((p) => p.stop()))
    rmSync(dir, { recursive: true, force: true })
    throw failed.reason
  }
  const nodes = settled.map((r) => (r as PromiseFulfilledResult<ProxiedNode>).value)
  const serverId = async (n: ProxiedNode): Promise<string> => {
    const nc = await connectNats({ servers: n.url, name: "pcluster-id", probe: true, timeoutMs: 2_000 })
    try {
      return nc.info?.server_id ?? ""
    } finally {
      await nc.close()
    }
  }
  const node = (name: string) => {
    const n = nodes.find((x) => x.name === name)
    if (n === undefined) throw new Error(`no node ${name}`)
    return n
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    node,
    isolate: async (name) => {
      const id = await serverId(node(name))
      proxies.forEach((p, i) => p.cut(id, nodes[i]!.name === name))
    },
    heal: () => proxies.forEach((p) => p.heal()),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.server.stop(true).catch(() => {})))
      await Promise.all(proxies.map((p) => p.stop()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
