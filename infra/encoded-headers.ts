import type { MsgHdrs } from "@nats-io/nats-core"
import { parseHeaderBlock } from "./header-view.ts"

// Headers held as the bytes nats.js sends. nats.js reads a publish's headers only through
// `encode()`, so headers that never change can be kept (or built) as bytes:
// - `encodedHeaders`: a publish's headers built straight as bytes. nats.js's MsgHdrs validates
//   every value and scans every key on each `set` (twice: `delete`, then `append`); for the one
//   header of a lifecycle record, two records per event, that was about a twentieth of the
//   reconciler's CPU.
// - `encodedOnce`: reply headers shared by every read of one immutable state or shadow, encoded
//   once instead of on every reply (building and encoding ~9 headers was most of a hit's CPU,
//   bench/README.md). Only the bytes are kept: they live as long as their state or shadow, and
//   the MsgHdrs they came from (a map of arrays, plus per-object closures) held ≈ 2 KB per live
//   actor that had been read.
// `get`/`has` answer as MsgHdrs would (parsed from the bytes: rarely asked); changing them
// throws rather than sending stale bytes.

const TE = new TextEncoder()
const BREAK = /[\r\n]/
/** What nats.js accepts as a header name: printable ASCII but the colon. */
const NAME = /^[!-9;-~]+$/

class EncodedHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array {
    return this.bytes
  }
  get(k: string): string {
    return parseHeaderBlock(this.bytes).map.get(k) ?? ""
  }
  has(k: string): boolean {
    return parseHeaderBlock(this.bytes).map.has(k)
  }
  set(): never {
    return readOnly()
  }
  append(): never {
    return readOnly()
  }
  delete(): never {
    return readOnly()
  }
}

const readOnly = (): never => {
  throw new Error("encoded headers are read-only: copy them to change them")
}

/** `NATS/1.0\r\nName: value\r\n...\r\n\r\n` for these names and values (each name once). */
export const encodedHeaders = (pairs: ReadonlyArray<readonly [string, string]>): MsgHdrs => {
  let s = "NATS/1.0"
  for (const [k, raw] of pairs) {
    if (!NAME.test(k) || BREAK.test(raw)) throw new Error(`invalid header ${JSON.stringify(k)}: ${JSON.stringify(raw)}`)
    s += `\r\n${k}: ${raw.trim()}`
  }
  return new EncodedHeaders(TE.encode(`${s}\r\n\r\n`)) as unknown as MsgHdrs
}

/** Headers already built, kept as the bytes they encode to. */
export const encodedOnce = (h: MsgHdrs): MsgHdrs => new EncodedHeaders((h as MsgHdrs & { encode(): Uint8Array }).encode()) as unknown as MsgHdrs
