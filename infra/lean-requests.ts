import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core"

// Request/reply and header parsing for the history path, without nats.js's per-request costs.
//
// Every `nc.request` in nats.js builds two Error objects with stack traces up front (a
// RequestError for context and a TimeoutError), and every received message's headers are
// parsed into a validating, canonicalising MsgHdrs on first access. A page of 100 history
// entries paid for ~6 requests and 100 header parses that way: more CPU than the page's own
// work (bench numbers in docs/audit.md). Here: one wildcard inbox per connection with a
// token per request, one timer per request, and a plain header parse for the messages whose
// headers we know (events and JetStream replies).

const TD = new TextDecoder()

/** Header name → first value, and the status code of the `NATS/1.0 <code>` line (0 when none). */
export interface RawHeaders {
  readonly code: number
  readonly map: ReadonlyMap<string, string>
}

const EMPTY: RawHeaders = { code: 0, map: new Map() }

/** Parses a header block (`NATS/1.0[ code[ description]]\r\nName: value\r\n...`); keeps the first value of a name. */
export const parseHeaderBlock = (block: Uint8Array): RawHeaders => {
  const s = TD.decode(block)
  let eol = s.indexOf("\r\n")
  if (eol < 0) eol = s.length
  const status = s.slice(0, eol).trim().split(/\s+/)[1]
  const code = status !== undefined && /^\d+$/.test(status) ? Number(status) : 0
  const map = new Map<string, string>()
  for (let i = eol + 2; i < s.length; ) {
    let e = s.indexOf("\r\n", i)
    if (e < 0) e = s.length
    const colon = s.indexOf(":", i)
    if (colon > i && colon < e) {
      const k = s.slice(i, colon)
      if (!map.has(k)) map.set(k, s.slice(colon + 1, e).trim())
    }
    i = e + 2
  }
  return { code, map }
}

/**
 * A message's headers from its raw bytes (nats.js keeps them in `_rdata` up to `_msg.hdr`).
 * When that layout is not there (another nats.js version), falls back to the parsed headers.
 */
export const rawHeaders = (m: Msg): RawHeaders => {
  const impl = m as unknown as { _msg?: { hdr?: unknown }; _rdata?: unknown }
  const hdr = impl._msg?.hdr
  if (typeof hdr === "number" && impl._rdata instanceof Uint8Array) return hdr < 0 ? EMPTY : parseHeaderBlock(impl._rdata.subarray(0, hdr))
  const h = m.headers
  if (h === undefined) return EMPTY
  const map = new Map<string, string>()
  for (const k of h.keys()) map.set(k, h.get(k))
  return { code: h.code ?? 0, map }
}

class MapHeaders {
  constructor(private readonly map: ReadonlyMap<string, string>) {}
  get(k: string): string {
    return this.map.get(k) ?? ""
  }
  has(k: string): boolean {
    return this.map.has(k)
  }
}

/** A read-only `get`/`has` view over parsed headers: all that `decodeEvent` uses. */
export const headerView = (h: RawHeaders): MsgHdrs => new MapHeaders(h.map) as unknown as MsgHdrs

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
