import { connect } from "@nats-io/transport-node"
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core"

export interface ConnectOptions {
  readonly servers: string | ReadonlyArray<string>
  readonly name: string
  readonly user?: string
  readonly pass?: string
  readonly token?: string
  readonly inboxPrefix?: string
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string }
  readonly timeoutMs?: number
  /** Fail fast (one attempt, no reconnect) e.g. when probing whether a server answers. */
  readonly probe?: boolean
}

export const connectNats = (o: ConnectOptions): Promise<NatsConnection> => {
  const opts: ConnectionOptions = {
    servers: typeof o.servers === "string" ? o.servers.split(",") : [...o.servers],
    name: o.name,
    timeout: o.timeoutMs ?? 5_000,
    // A service outlives NATS outages: it keeps reconnecting rather than exiting.
    maxReconnectAttempts: o.probe ? 0 : -1,
    reconnectTimeWait: 250,
    reconnect: !o.probe,
    waitOnFirstConnect: false,
  }
  if (o.user !== undefined) opts.user = o.user
  if (o.pass !== undefined) opts.pass = o.pass
  if (o.token !== undefined) opts.token = o.token
  if (o.inboxPrefix !== undefined) opts.inboxPrefix = o.inboxPrefix
  if (o.tls !== undefined) {
    const tls: Record<string, string> = {}
    if (o.tls.caFile) tls["caFile"] = o.tls.caFile
    if (o.tls.certFile) tls["certFile"] = o.tls.certFile
    if (o.tls.keyFile) tls["keyFile"] = o.tls.keyFile
    opts.tls = tls
  }
  return connect(opts)
}

/** True when a JetStream-enabled server answers at `url` (used by `npm start`). */
export const jetStreamAnswers = async (url: string): Promise<boolean> => {
  let nc: NatsConnection | undefined
  try {
    nc = await connectNats({ servers: url, name: "umbra-probe", probe: true, timeoutMs: 1_500 })
    const r = await nc.request("$JS.API.INFO", undefined, { timeout: 1_500 })
    const info = JSON.parse(new TextDecoder().decode(r.data)) as { error?: unknown }
    return info.error === undefined
  } catch {
    return false
  } finally {
    await nc?.close().catch(() => {})
  }
}
