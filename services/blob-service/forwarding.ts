import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core"
import { unavailable } from "../../domain/errors.ts"
import { respondError } from "./reply.ts"

// Moving a command to the instance that owns its blob's partition: the request goes to the
// owner's own subject with the same headers and body, and its reply comes back unchanged.

/** Instance ids become one subject token: anything outside [A-Za-z0-9_-] is replaced. */
export const instanceToken = (instanceId: string): string => instanceId.replace(/[^A-Za-z0-9_-]/g, "_") || "instance"

const copyHeaders = (from: MsgHdrs | undefined): MsgHdrs | undefined => {
  if (from === undefined) return undefined
  const h = natsHeaders()
  for (const k of from.keys()) for (const v of from.values(k)) h.append(k, v)
  return h
}

export const forward = async (nc: NatsConnection, msg: Msg, subject: string, timeoutMs: number): Promise<void> => {
  const h = copyHeaders(msg.headers)
  try {
    const r = await nc.request(subject, msg.data, { timeout: timeoutMs, ...(h === undefined ? {} : { headers: h }) })
    if (r.headers === undefined) msg.respond(r.data)
    else msg.respond(r.data, { headers: r.headers })
  } catch (e) {
    respondError(msg, unavailable(`the blob's owner did not answer (${e instanceof Error ? e.message : String(e)}); retry`))
  }
}

export const subscribeDirect = (
  nc: NatsConnection,
  instancePrefix: string,
  handlers: Record<"write" | "patch" | "delete" | "read", (err: Error | null, msg: Msg) => void>,
): Subscription => {
  const opAt = instancePrefix.split(".").length + 1
  return nc.subscribe(`${instancePrefix}.cmd.>`, {
    callback: (err, msg) => {
      const op = msg.subject.split(".")[opAt] as keyof typeof handlers
      const handler = handlers[op]
      if (handler !== undefined) handler(err, msg)
      else respondError(msg, unavailable(`unknown forwarded command ${String(op)}`))
    },
  })
}

/** Best-effort notices (activation events): a disconnected publish is simply dropped. */
export const publishQuietly = (nc: NatsConnection, subject: string, data: string): void => {
  try {
    nc.publish(subject, data)
  } catch {
    // nothing to do: these are observations, not state
  }
}
