import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/nats-core"

// Raw requests exactly as any NATS client in any language would send them: a subject,
// header strings and bytes. Tests of the contract use these rather than the TS client.

export interface RawReply {
  readonly msg: Msg
  readonly text: string
  readonly status: number | undefined
  header(name: string): string | undefined
  json<T = any>(): T
}

const enc = new TextEncoder()
const dec = new TextDecoder()

export const rawRequest = async (
  nc: NatsConnection,
  subject: string,
  body: Uint8Array | string = new Uint8Array(0),
  hdrs: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<RawReply> => {
  const h = natsHeaders()
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v)
  const msg = await nc.request(subject, typeof body === "string" ? enc.encode(body) : body, {
    timeout: timeoutMs,
    ...(Object.keys(hdrs).length > 0 ? { headers: h } : {}),
  })
  const code = msg.headers?.get("Nats-Service-Error-Code")
  return {
    msg,
    text: dec.decode(msg.data),
    status: code ? Number(code) : undefined,
    header: (name) => (msg.headers?.has(name) ? msg.headers.get(name) : undefined),
    json: () => JSON.parse(dec.decode(msg.data)),
  }
}

export const cmd = (nc: NatsConnection, op: string, id: string, body?: Uint8Array | string, hdrs?: Record<string, string>) =>
  rawRequest(nc, `blob.cmd.${op}.${id}`, body, hdrs)
