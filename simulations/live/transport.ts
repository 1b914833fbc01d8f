/**
 * The client side of the wire contract over a real NATS connection. Failures are classified
 * as the contract needs them: "no responders" means no service got the request; a timeout
 * or a dropped connection leaves the outcome unknown.
 */
import { headers as natsHeaders, NoRespondersError, RequestError, TimeoutError, type NatsConnection } from "@nats-io/nats-core"
import type { Transport, TransportReply } from "../client.ts"

const classify = (e: unknown): TransportReply => {
  if (e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError)) return { _tag: "Timeout" }
  if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) return { _tag: "NoResponders" }
  return { _tag: "Broken", reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }
}

export const natsTransport = (nc: NatsConnection): Transport => ({
  request: async (subject, body, headers, timeoutMs) => {
    const h = natsHeaders()
    for (const [k, v] of Object.entries(headers)) h.set(k, v)
    try {
      const m = await nc.request(subject, body, { timeout: timeoutMs, headers: h })
      return {
        _tag: "Reply",
        header: (name) => (m.headers?.has(name) ? m.headers.get(name) : undefined),
        body: m.data,
      }
    } catch (e) {
      return classify(e)
    }
  },
})
