import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core"

// JetStream publishes of the write path (event appends, shadow compare-and-sets) without
// nats.js's request machinery. `js.publish` and `kv.update` each make a request: a reply
// subscription entry, a promise with its own timer, and on settling a cancelled-request error
// object; with the JSON ack parsed twice over, that was about a quarter of the blob service's
// CPU per write. Here one wildcard subscription per connection receives every ack, a shared
// sweep times them out, and the ack is parsed once. The wire is unchanged: a PUB with a reply
// subject, answered by the stream with a PubAck or an API error.

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

interface Pending {
  readonly subject: string
  readonly deadline: number
  readonly resolve: (a: PubAck) => void
  readonly reject: (e: Error) => void
}

const SWEEP_MS = 20

interface AckJson {
  stream?: string
  seq?: number
  duplicate?: boolean
  error?: { code?: number; err_code?: number; description?: string }
}

export class JsPublisher {
  private readonly prefix: string
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private readonly sweeper: ReturnType<typeof setInterval>

  constructor(private readonly nc: NatsConnection) {
    // The connection's inbox prefix: under nats.conf's roles a user may only receive replies there.
    const inboxPrefix = (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix
    this.prefix = createInbox(inboxPrefix)
    nc.subscribe(`${this.prefix}.*`, { callback: (err, m) => (err === null ? this.onAck(m) : undefined) })
    this.sweeper = setInterval(() => this.expire(), SWEEP_MS)
    this.sweeper.unref()
    void nc.closed().then(() => this.close())
  }

  publish(subject: string, data: Uint8Array, o: PublishOptions): Promise<PubAck> {
    const id = ++this.nextId
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(id, { subject, deadline: Date.now() + o.timeoutMs, resolve, reject })
      try {
        this.nc.publish(subject, data, o.headers === undefined ? { reply: `${this.prefix}.${id}` } : { reply: `${this.prefix}.${id}`, headers: o.headers })
      } catch (e) {
        this.pending.delete(id)
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    })
  }

  get inFlight(): number {
    return this.pending.size
  }

  private onAck(m: Msg): void {
    const id = Number(m.subject.slice(this.prefix.length + 1))
    const p = this.pending.get(id)
    if (p === undefined) return // timed out already
    this.pending.delete(id)
    if (m.data.length === 0) {
      const code = m.headers?.code ?? 0
      return p.reject(code === 503 ? new JsNoResponders(p.subject) : new JsApiError(0, code, `empty reply (status ${code}) to a publish to ${p.subject}`))
    }
    let ack: AckJson
    try {
      ack = JSON.parse(m.string()) as AckJson
    } catch {
      return p.reject(new JsApiError(0, 0, `unreadable ack for a publish to ${p.subject}`))
    }
    if (ack.error !== undefined) return p.reject(new JsApiError(ack.error.err_code ?? 0, ack.error.code ?? 0, ack.error.description ?? "JetStream error"))
    if (typeof ack.seq !== "number" || typeof ack.stream !== "string")
      return p.reject(new JsApiError(0, 0, `ack without stream and sequence for a publish to ${p.subject}`))
    p.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true })
  }

  private expire(): void {
    if (this.pending.size === 0) return
    const now = Date.now()
    for (const [id, p] of this.pending)
      if (p.deadline <= now) {
        this.pending.delete(id)
        p.reject(new JsPublishTimeout(p.subject))
      }
  }

  private close(): void {
    clearInterval(this.sweeper)
    for (const p of this.pending.values()) p.reject(new Error(`connection closed before the ack of a publish to ${p.subject}`))
    this.pending.clear()
  }
}

const publishers = new WeakMap<NatsConnection, JsPublisher>()

/** One publisher (one ack subscription) per connection, shared by the stores that write. */
export const jsPublisherFor = (nc: NatsConnection): JsPublisher => {
  let p = publishers.get(nc)
  if (p === undefined) {
    p = new JsPublisher(nc)
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
