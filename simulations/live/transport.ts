/**
 * The client side of the wire contract over a real NATS connection, as request/reply on one
 * multiplexed inbox. `nc.request` builds two Error objects (stack traces included) per call
 * for its own diagnostics; at tens of thousands of requests a second that was the driver's
 * largest cost, so replies are matched here by token and deadlines kept in 10 ms buckets.
 *
 * Failures are classified as the contract needs them: a 503 status with no body from the
 * server itself means no service got the request ("no responders"); a timeout leaves the
 * outcome unknown.
 */
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core"
import type { Transport, TransportReply } from "../client.ts"

const BUCKET_MS = 10

type Pending = (r: TransportReply) => void

/**
 * Header sets the client reuses (a read's consistency) are built once: the record is the
 * key, so only a caller that passes the very same object shares the NATS headers.
 */
const headerCache = new WeakMap<Readonly<Record<string, string>>, MsgHdrs>()

const toNatsHeaders = (headers: Readonly<Record<string, string>>, shared: boolean): MsgHdrs => {
  const cached = shared ? headerCache.get(headers) : undefined
  if (cached !== undefined) return cached
  const h = natsHeaders()
  for (const k in headers) h.set(k, headers[k] as string)
  if (shared) headerCache.set(headers, h)
  return h
}

const asReply = (m: Msg): TransportReply => {
  const h = m.headers
  if (h !== undefined && h.code === 503 && m.data.length === 0 && !h.has("Nats-Service-Error-Code")) return { _tag: "NoResponders" }
  return { _tag: "Reply", header: (name) => (h?.has(name) ? h.get(name) : undefined), body: m.data }
}

export interface NatsTransport extends Transport {
  readonly close: () => void
}

export const natsTransport = (nc: NatsConnection): NatsTransport => {
  const inbox = createInbox()
  const pending = new Map<number, Pending>()
  const deadlines = new Map<number, number[]>()
  let next = 0
  const settle = (token: number, r: TransportReply): void => {
    const p = pending.get(token)
    if (p === undefined) return
    pending.delete(token)
    p(r)
  }
  const replies = nc.subscribe(`${inbox}.*`, {
    callback: (err, m) => {
      if (err !== null) return
      settle(Number(m.subject.slice(inbox.length + 1)), asReply(m))
    },
  })
  let swept = Math.floor(performance.now() / BUCKET_MS)
  const sweeper = setInterval(() => {
    const now = Math.floor(performance.now() / BUCKET_MS)
    for (; swept <= now; swept++) {
      for (const token of deadlines.get(swept) ?? []) settle(token, { _tag: "Timeout" })
      deadlines.delete(swept)
    }
  }, BUCKET_MS)
  sweeper.unref()
  const request: Transport["request"] = (subject, body, headers, timeoutMs) =>
    new Promise<TransportReply>((resolve) => {
      const token = next++
      pending.set(token, resolve)
      const bucket = Math.ceil((performance.now() + timeoutMs) / BUCKET_MS)
      const list = deadlines.get(bucket)
      if (list === undefined) deadlines.set(bucket, [token])
      else list.push(token)
      try {
        nc.publish(subject, body, { reply: `${inbox}.${token}`, headers: toNatsHeaders(headers, Object.isFrozen(headers)) })
      } catch (e) {
        settle(token, { _tag: "Broken", reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })
      }
    })
  return {
    request,
    close: () => {
      clearInterval(sweeper)
      replies.unsubscribe()
    },
  }
}

/**
 * Several connections, each logical client pinned to one (client `i` on connection `i` mod
 * n), so clients sit on different servers of a cluster or lose their connection separately.
 * Requests that name no client go over the first connection.
 */
export const natsTransports = (ncs: ReadonlyArray<NatsConnection>): NatsTransport => {
  if (ncs.length === 0) throw new Error("natsTransports needs at least one connection")
  const each = ncs.map(natsTransport)
  const n = each.length
  return {
    request: (subject, body, headers, timeoutMs, client = 0) =>
      (each[((client % n) + n) % n] as NatsTransport).request(subject, body, headers, timeoutMs, client),
    close: () => each.forEach((t) => t.close()),
  }
}
