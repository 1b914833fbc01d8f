import type { MsgHdrs } from "@nats-io/nats-core"

// Headers of a publish built straight as the bytes nats.js would send. Its MsgHdrs validates
// every value and scans every key on each `set` (twice: `delete`, then `append`); for the one
// header of a lifecycle record, two records per event, that was about a twentieth of the
// reconciler's CPU. nats.js reads a publish's headers only through `encode()`; `get`/`has`
// answer as MsgHdrs would, and changing them throws rather than sending stale bytes.

const TE = new TextEncoder()
const BREAK = /[\r\n]/
/** What nats.js accepts as a header name: printable ASCII but the colon. */
const NAME = /^[!-9;-~]+$/

class EncodedHeaders {
  constructor(
    private readonly bytes: Uint8Array,
    private readonly pairs: ReadonlyArray<readonly [string, string]>,
  ) {}
  encode(): Uint8Array {
    return this.bytes
  }
  get(k: string): string {
    return this.pairs.find((p) => p[0] === k)?.[1] ?? ""
  }
  has(k: string): boolean {
    return this.pairs.some((p) => p[0] === k)
  }
  set(): never {
    throw new Error("encoded headers are read-only")
  }
  append(): never {
    throw new Error("encoded headers are read-only")
  }
  delete(): never {
    throw new Error("encoded headers are read-only")
  }
}

/** `NATS/1.0\r\nName: value\r\n...\r\n\r\n` for these names and values (each name once). */
export const encodedHeaders = (pairs: ReadonlyArray<readonly [string, string]>): MsgHdrs => {
  let s = "NATS/1.0"
  const kept: Array<readonly [string, string]> = []
  for (const [k, raw] of pairs) {
    if (!NAME.test(k) || BREAK.test(raw)) throw new Error(`invalid header ${JSON.stringify(k)}: ${JSON.stringify(raw)}`)
    const v = raw.trim()
    kept.push([k, v])
    s += `\r\n${k}: ${v}`
  }
  return new EncodedHeaders(TE.encode(`${s}\r\n\r\n`), kept) as unknown as MsgHdrs
}
