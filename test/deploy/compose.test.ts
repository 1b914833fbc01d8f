import { existsSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { CLUSTER_NAME, nodeConfig } from "../../infra/local-cluster.ts"
import { SERVICE_NODE_FLAGS } from "../../services/node-flags.ts"

// docker-compose.yml cannot run here (no Docker engine): check that it parses, that every
// file it mounts or runs exists, and that its NATS cluster has the topology the local
// cluster harness (infra/local-cluster.ts, used by the scale-out tests) starts.

const ROOT = resolve(import.meta.dirname, "../..")
const compose = parse(readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, { volumes?: string[]; command?: string[]; build?: string; environment?: Record<string, string>; image?: string }>
}

const clusterOf = (conf: string) => ({
  name: /server_name:\s*(\S+)/.exec(conf)?.[1],
  cluster: /cluster\s*\{[^}]*name:\s*(\S+)/s.exec(conf)?.[1],
  routes: [...conf.matchAll(/nats-route:\/\/([^:\s]+):(\d+)/g)].map((m) => m[1]),
  jetstream: /jetstream\s*\{/.test(conf),
})

describe("docker-compose.yml", () => {
  it("parses, and every mounted file and service entry point exists", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const host = v.split(":")[0]!
        if (host.startsWith(".")) expect(existsSync(resolve(ROOT, host)), `${name} mounts ${host}`).toBe(true)
      }
      if (svc.build !== undefined) {
        expect(existsSync(resolve(ROOT, svc.build, "Dockerfile"))).toBe(true)
        for (const arg of svc.command ?? []) if (arg.endsWith(".ts")) expect(existsSync(resolve(ROOT, arg)), `${name} runs ${arg}`).toBe(true)
      }
    }
  })

  it("runs a 3-node JetStream cluster with the local harness's topology, R3 streams, sharded blob services", () => {
    const nats = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith("nats:"))
    expect(nats.map(([n]) => n).sort()).toEqual(["nats1", "nats2", "nats3"])
    const local = clusterOf(nodeConfig("n1", 6222, [6222, 6223, 6224]))
    for (const [i, [service, svc]] of nats.entries()) {
      const file = svc.volumes!.find((v) => v.endsWith(":/etc/nats/nats.conf:ro"))!.split(":")[0]!
      const c = clusterOf(readFileSync(resolve(ROOT, file), "utf8"))
      expect(c.name).toBe(`n${i + 1}`)
      expect(c.cluster).toBe(CLUSTER_NAME)
      expect(c.cluster).toBe(local.cluster)
      expect(c.jetstream).toBe(local.jetstream)
      expect(c.routes.sort()).toEqual(["nats1", "nats2", "nats3"])
      expect(c.routes).toHaveLength(local.routes.length)
      expect(service).toBe(`nats${i + 1}`)
    }
    const blob = compose.services["blob"]!
    expect(blob.environment?.["UMBRA_REPLICAS"]).toBe("3")
    expect(Number(blob.environment?.["UMBRA_PARTITIONS"])).toBeGreaterThan(0)
    expect(blob.environment?.["NATS_URL"]?.split(",")).toHaveLength(3)
  })
})

describe("service node flags (services/node-flags.ts)", () => {
  it("are the ones npm start and the image start every service with", () => {
    const start = (JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts["start"] ?? ""
    const nodeOptions = /^ENV NODE_OPTIONS=(.*)$/m.exec(readFileSync(resolve(ROOT, "Dockerfile"), "utf8"))?.[1] ?? ""
    expect(SERVICE_NODE_FLAGS.length).toBeGreaterThan(0)
    for (const flag of SERVICE_NODE_FLAGS) {
      expect(start.split(" "), "package.json start").toContain(flag)
      expect(nodeOptions.split(" "), "Dockerfile NODE_OPTIONS").toContain(flag)
    }
  })
})
