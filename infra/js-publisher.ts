import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core"
import { ReplyClosed, ReplyTimeout, replyMuxFor, type ReplyMux } from "./reply-mux.ts"

// JetStream publishes of the write path (event appends, shadow compare-and-sets) without
// nats.js's request machinery. `js.publish` and `kv.update` each make a request: a reply
// subscription entry, a promise with its own timer, and on settling a cancelled-request error
// object; with the JSON ack parsed twice over, that was about a quarter of the blob service's
// CPU per write. Here the acks come back through the connection's reply mux (reply-mux.ts)
// and are parsed once. The wire is unchanged: a PUB with a reply subject, answered by the
// stream with a PubAck or an API error.

export interface PubAck {
  readonly stream: string
  readonly seq: number
  readonly duplicate: boolean
}

/** The stream refused the message (e.g. 10071 wrong last sequence, 10077 maximum bytes). */
export class JsApiError extends Error {
  readonly _tag = "JsApiError"
  constructor(
    /** JetStream's `err_code`, e.g. 10071. */
    readonly errCode: number,
    /** The HTTP-like status, e.g. 400 or 503. */
    readonly status: number,
    description: string,
  ) {
    super(`${description} (${errCode})`)
    this.name = "JsApiError"
  }
}

/** No ack within the timeout: the message may or may not be stored (unknown outcome). */
export class JsPublishTimeout extends Error {
  readonly _tag = "JsPublishTimeout"
  constructor(subject: string) {
    super(`timeout waiting for the ack of a publish to ${subject}`)
    this.name = "TimeoutError"
  }
}

/** Nothing listens on the subject: no stream takes it, or JetStream is not (yet) up. */
export class JsNoResponders extends Error {
  readonly _tag = "JsNoResponders"
  constructor(subject: string) {
    super(`503 no responders for a publish to ${subject}`)
    this.name = "NoRespondersError"
  }
}

export interface PublishOptions {
  readonly headers?: MsgHdrs
  readonly timeoutMs: number
}

interface AckJson {
  stream?: string
  seq?: number
  duplicate?: boolean
  error?: { code?: number; err_code?: number; description?: string }
}

/** The stream's answer to a publish: its ack, or the error it names. */
const ackOf = (m: Msg, subject: string): PubAck => {
  if (m.data.length === 0) {
    const code = m.headers?.code ?? 0
    throw code === 503 ? new JsNoResponders(subject) : new JsApiError(0, code, `empty reply (status ${code}) to a publish to ${subject}`)
  }
  let ack: AckJson
  try {
    ack = JSON.parse(m.string()) as AckJson
  } catch {
    throw new JsApiError(0, 0, `unreadable ack for a publish to ${subject}`)
  }
  if (ack.error !== undefined) throw new JsApiError(ack.error.err_code ?? 0, ack.error.code ?? 0, ack.error.description ?? "JetStream error")
  if (typeof ack.seq !== "number" || typeof ack.stream !== "string") throw new JsApiError(0, 0, `ack without stream and sequence for a publish to ${subject}`)
  return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true }
}

export class JsPublisher {
  constructor(private readonly mux: ReplyMux) {}

  publish(subject: string, data: Uint8Array, o: PublishOptions): Promise<PubAck> {
    return this.mux.request(subject, data, o).then(
      (m) => ackOf(m, subject),
      (e: unknown) => {
        if (e instanceof ReplyTimeout) throw new JsPublishTimeout(subject)
        if (e instanceof ReplyClosed) throw new Error(`connection closed before the ack of a publish to ${subject}`)
        throw e
      },
    )
  }

  /** Requests on this connection still waiting for their reply. */
  get inFlight(): number {
    return this.mux.inFlight
  }
}

const publishers = new WeakMap<NatsConnection, JsPublisher>()

/** One publisher (one ack subscription) per connection, shared by the stores that write. */
export const jsPublisherFor = (nc: NatsConnection): JsPublisher => {
  let p = publishers.get(nc)
  if (p === undefined) {
    p = new JsPublisher(replyMuxFor(nc))
    publishers.set(nc, p)
  }
  return p
}

/** Headers JetStream reads on a publish. */
export const JS_HEADERS = {
  msgId: "Nats-Msg-Id",
  expectedStream: "Nats-Expected-Stream",
  expectedLastSubjectSequence: "Nats-Expected-Last-Subject-Sequence",
} as const
