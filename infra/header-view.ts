import type { Msg, MsgHdrs } from "@nats-io/nats-core"

// nats.js looks a header up by scanning all its keys (and building an array) on every get; an
// event has fifteen lookups over thirteen headers, which was a third of an audit replay and
// most of the client time of a history page. This view answers `get`/`has` — all that
// `decodeEvent` calls — straight from MsgHdrsImpl's own Map, with the same results.

class HeaderView {
  constructor(private readonly map: Map<string, string[]>) {}
  get(k: string): string {
    return this.map.get(k)?.[0] ?? ""
  }
  has(k: string): boolean {
    return this.map.has(k)
  }
}

/** A fast read-only view for `decodeEvent`; the headers themselves when their layout is unknown. */
export const fastHeaders = (h: MsgHdrs | undefined): MsgHdrs | undefined => {
  const index = (h as unknown as { headers?: unknown } | undefined)?.headers
  return index instanceof Map ? (new HeaderView(index as Map<string, string[]>) as unknown as MsgHdrs) : h
}

/**
 * One header's value read straight from the message's raw header block, without decoding
 * every header into a MsgHdrs (which the head feed paid on every write, in every process).
 * Falls back to `msg.headers` when nats.js's message layout is not the one known here.
 */
export const rawHeaderValue = (msg: Msg, name: string): string | undefined => {
  const m = msg as unknown as { _msg?: { hdr?: number }; _rdata?: Uint8Array }
  const hdr = m._msg?.hdr
  const raw = m._rdata
  if (typeof hdr !== "number" || !(raw instanceof Uint8Array)) return msg.headers?.get(name) || undefined
  if (hdr <= 0) return undefined
  const block = Buffer.from(raw.buffer, raw.byteOffset, hdr)
  const at = block.indexOf(`\r\n${name}:`, 0, "latin1")
  if (at < 0) return undefined
  const from = at + name.length + 3
  const end = block.indexOf("\r\n", from, "latin1")
  return block.toString("utf8", from, end < 0 ? hdr : end).trim()
}
