import { connect } from "@nats-io/transport-node"
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core"

export interface ConnectOptions {
  readonly servers: string | ReadonlyArray<string>
  readonly name: string
  readonly user?: string
  readonly pass?: string
  readonly token?: string
  /** Default with a user: `inboxPrefixFor(user)` (see nats.conf); pass `_INBOX` for the shared one. */
  readonly inboxPrefix?: string
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string }
  readonly timeoutMs?: number
  /** Fail fast (one attempt, no reconnect) e.g. when probing whether a server answers. */
  readonly probe?: boolean
  /**
   * Outgoing bytes buffered before nats.js writes them at once instead of at the end of the
   * current task (its default: 32 KiB). The services use 16 KiB (`UMBRA_NATS_PENDING_LIMIT`):
   * the replies to a burst of requests leave in a few writes, so nats-server starts routing the
   * first while the rest are answered (see bench/README.md).
   */
  readonly pendingLimitBytes?: number
  /** The server does not deliver this connection's own publishes to its own subscriptions. */
  readonly noEcho?: boolean
}

/**
 * Each user's replies arrive under its own prefix (`_INBOX_<user>`), which the server's
 * permissions let only that user subscribe to: users of one account would otherwise share
 * `_INBOX.>` and could read each other's replies. Characters a subject token cannot hold become `_`.
 */
export const inboxPrefixFor = (user: string): string => `_INBOX_${user.replace(/[^A-Za-z0-9_-]/g, "_")}`

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
    // nats.js otherwise builds two Error objects (stack traces) per request so that a timeout
    // can say where it was made: a fifth of the blob service's CPU per write. Errors still
    // carry their message and cause.
    noAsyncTraces: true,
  }
  // A documented-in-code but untyped nats.js option (ProtocolHandler reads options.pendingLimit).
  if (o.pendingLimitBytes !== undefined) Object.assign(opts, { pendingLimit: o.pendingLimitBytes })
  if (o.noEcho === true) opts.noEcho = true
  if (o.user !== undefined) opts.user = o.user
  if (o.pass !== undefined) opts.pass = o.pass
  if (o.token !== undefined) opts.token = o.token
  const inboxPrefix = o.inboxPrefix ?? (o.user === undefined ? undefined : inboxPrefixFor(o.user))
  if (inboxPrefix !== undefined) opts.inboxPrefix = inboxPrefix
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
