import type { MsgHdrs } from "@nats-io/nats-core"

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
