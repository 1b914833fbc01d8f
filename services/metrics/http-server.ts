import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { Registry } from "prom-client"
import { statusPageHtml } from "./status-page.ts"
import { StatusSampler } from "./status-sampler.ts"

// One small HTTP server per process: /metrics for Prometheus, / and /api/status for people.
// Only GET, no request body is read, and nothing but these three paths is served.

export interface MetricsServerOptions {
  readonly host: string
  /** 0 = an ephemeral port (tests); deciding whether to start at all is the caller's job. */
  readonly port: number
  readonly registry: Registry
  /** Extra registries the status page reads but /metrics does not expose (see lifecycle-view.ts). */
  readonly statusRegistries?: ReadonlyArray<Registry>
  readonly title?: string
  readonly sampleIntervalMs?: number
}

export interface MetricsServer {
  readonly port: number
  readonly url: string
  readonly sampler: StatusSampler
  stop(): Promise<void>
}

export const startMetricsServer = async (o: MetricsServerOptions): Promise<MetricsServer> => {
  const sampler = new StatusSampler({
    registries: [o.registry, ...(o.statusRegistries ?? [])],
    ...(o.sampleIntervalMs === undefined ? {} : { intervalMs: o.sampleIntervalMs }),
  })
  const title = o.title ?? "Umbra status"
  const server = createServer((req, res) => {
    route(req, res, o.registry, sampler, title).catch((e: unknown) => send(res, 500, "text/plain", `error: ${e instanceof Error ? e.message : String(e)}\n`))
  })
  // A keep-alive scraper must not hold the process open on shutdown.
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(o.port, o.host, () => resolve())
  })
  sampler.start()
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${port}`,
    sampler,
    stop: () =>
      new Promise<void>((resolve) => {
        sampler.stop()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

const route = async (req: IncomingMessage, res: ServerResponse, registry: Registry, sampler: StatusSampler, title: string): Promise<void> => {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed\n")
  const path = (req.url ?? "/").split("?")[0]
  if (path === "/metrics") return send(res, 200, registry.contentType, await registry.metrics())
  if (path === "/api/status") return send(res, 200, "application/json", JSON.stringify(sampler.snapshot()))
  if (path === "/" || path === "/index.html") return send(res, 200, "text/html; charset=utf-8", statusPageHtml(title, sampler.snapshot()))
  send(res, 404, "text/plain", "not found: try /metrics or /\n")
}

const send = (res: ServerResponse, status: number, type: string, body: string): void => {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    // The page is self-contained: forbid anything else, so a mistake cannot load from the network.
    "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
  })
  res.end(body)
}
