import { createInbox, type Msg, type NatsConnection } from "@nats-io/nats-core"

// Request/reply and header parsing for the history path, without nats.js's per-request costs.
//
// Every `nc.request` in nats.js builds two Error objects with stack traces up front (a
// RequestError for context and a TimeoutError), and every received message's headers are
// parsed into a validating, canonicalising MsgHdrs on first access. A page of 100 history
// entries paid for ~6 requests and 100 header parses that way: more CPU than the page's own
// work (bench numbers in docs/audit.md). Here: one wildcard inbox per connection with a
// token per request, one timer per request, and a plain header parse for the messages whose
// headers we know (events and JetStream replies; the parse is in header-view.ts).

export class LeanTimeout extends Error {
  readonly _tag = "LeanTimeout"
}

/** Request/reply over one wildcard inbox subscription (under the connection's inbox prefix). */
export class LeanRequester {
  private readonly prefix: string
  private readonly waiting = new Map<string, (m: Msg) => void>()
  private next = 0

  constructor(private readonly nc: NatsConnection) {
    // The connection's own inbox prefix: users may subscribe only to theirs (deploy/nats-roles.ts).
    const inbox = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    this.prefix = `${inbox}.`
    nc.subscribe(`${inbox}.*`, {
      callback: (err, m) => {
        if (err !== null) return
        const w = this.waiting.get(m.subject.slice(this.prefix.length))
        if (w !== undefined) w(m)
      },
    })
  }

  /** Publishes now (in this tick: requests made together go out in one socket write) and waits for one reply. */
  request(subject: string, body: string, timeoutMs: number): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const token = String(this.next++)
      const timer = setTimeout(() => {
        this.waiting.delete(token)
        reject(new LeanTimeout(`request timeout: no reply to ${subject} in ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(token, (m) => {
        clearTimeout(timer)
        this.waiting.delete(token)
        resolve(m)
      })
      try {
        this.nc.publish(subject, body, { reply: this.prefix + token })
      } catch (e) {
        clearTimeout(timer)
        this.waiting.delete(token)
        reject(e)
      }
    })
  }
}
