import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core"

// Request/reply without nats.js's per-request machinery, shared by the write path's
// publishes (js-publisher.ts) and the history path's requests (lean-requests.ts). Every
// `nc.request` builds a request object, a timer and, unless `noAsyncTraces`, two Error objects
// with stack traces; here one wildcard subscription per connection receives every reply, a
// token names the request, and one sweep times requests out.

/** No reply within the timeout. */
export class ReplyTimeout extends Error {
  readonly _tag = "ReplyTimeout"
}

/** The connection closed while the request waited. */
export class ReplyClosed extends Error {
  readonly _tag = "ReplyClosed"
}

interface Pending {
  readonly deadline: number
  readonly resolve: (m: Msg) => void
  readonly reject: (e: Error) => void
}

const SWEEP_MS = 20

export class ReplyMux {
  private readonly prefix: string
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private readonly sweeper: ReturnType<typeof setInterval>

  constructor(private readonly nc: NatsConnection) {
    // The connection's inbox prefix: under nats.conf's roles a user may only receive replies there.
    const inbox = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    this.prefix = `${inbox}.`
    nc.subscribe(`${inbox}.*`, { callback: (err, m) => (err === null ? this.onReply(m) : undefined) })
    this.sweeper = setInterval(() => this.expire(), SWEEP_MS)
    this.sweeper.unref()
    void nc.closed().then(() => this.close())
  }

  /** Publishes now (requests made together go out in one socket write) and waits for one reply. */
  request(subject: string, data: Uint8Array | string, o: { readonly headers?: MsgHdrs; readonly timeoutMs: number }): Promise<Msg> {
    const id = ++this.nextId
    return new Promise<Msg>((resolve, reject) => {
      this.pending.set(id, { deadline: Date.now() + o.timeoutMs, resolve, reject })
      try {
        this.nc.publish(subject, data, o.headers === undefined ? { reply: this.prefix + id } : { reply: this.prefix + id, headers: o.headers })
      } catch (e) {
        this.pending.delete(id)
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    })
  }

  get inFlight(): number {
    return this.pending.size
  }

  private onReply(m: Msg): void {
    const id = Number(m.subject.slice(this.prefix.length))
    const p = this.pending.get(id)
    if (p === undefined) return // timed out already
    this.pending.delete(id)
    p.resolve(m)
  }

  private expire(): void {
    if (this.pending.size === 0) return
    const now = Date.now()
    for (const [id, p] of this.pending)
      if (p.deadline <= now) {
        this.pending.delete(id)
        p.reject(new ReplyTimeout("no reply in time"))
      }
  }

  private close(): void {
    clearInterval(this.sweeper)
    for (const p of this.pending.values()) p.reject(new ReplyClosed("connection closed before the reply"))
    this.pending.clear()
  }
}

const muxes = new WeakMap<NatsConnection, ReplyMux>()

/** One mux (one reply subscription) per connection. */
export const replyMuxFor = (nc: NatsConnection): ReplyMux => {
  let m = muxes.get(nc)
  if (m === undefined) {
    m = new ReplyMux(nc)
    muxes.set(nc, m)
  }
  return m
}
