import type { Msg, NatsConnection } from "@nats-io/nats-core"
import { ReplyTimeout, replyMuxFor, type ReplyMux } from "./reply-mux.ts"

// Request/reply for the history path, without nats.js's per-request costs.
//
// Every `nc.request` in nats.js builds two Error objects with stack traces up front (a
// RequestError for context and a TimeoutError), and every received message's headers are
// parsed into a validating, canonicalising MsgHdrs on first access. A page of 100 history
// entries paid for ~6 requests and 100 header parses that way: more CPU than the page's own
// work (bench numbers in docs/audit.md). Here the requests go through the connection's reply
// mux (reply-mux.ts), and the headers we know (events and JetStream replies) get a plain
// parse (header-view.ts).

export class LeanTimeout extends Error {
  readonly _tag = "LeanTimeout"
}

export class LeanRequester {
  private readonly mux: ReplyMux

  constructor(nc: NatsConnection) {
    this.mux = replyMuxFor(nc)
  }

  /** Publishes now (in this tick: requests made together go out in one socket write) and waits for one reply. */
  request(subject: string, body: string, timeoutMs: number): Promise<Msg> {
    return this.mux.request(subject, body, { timeoutMs }).catch((e: unknown) => {
      throw e instanceof ReplyTimeout ? new LeanTimeout(`request timeout: no reply to ${subject} in ${timeoutMs} ms`) : e
    })
  }
}
