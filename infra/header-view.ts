import type { JsMsg } from "@nats-io/jetstream"
import type { Msg, MsgHdrs } from "@nats-io/nats-core"

// Reading message headers without nats.js's MsgHdrs. nats.js decodes a header block by
// validating every value and canonicalising every key, and looks a header up by scanning all
// its keys on every get; an event has fifteen lookups over thirteen headers. That was a third
// of an audit replay, a tenth of the reconciler's CPU per event and most of the client time of
// a history page. Everything here answers `get`/`has` — all that `decodeEvent` calls — with
// nats.js's results: exact keys, the first value of a repeated name, "" when absent.

/** Header name → first value, and the status code of the `NATS/1.0 <code>` line (0 when none). */
export interface RawHeaders {
  readonly code: number
  readonly map: ReadonlyMap<string, string>
}

const EMPTY: RawHeaders = { code: 0, map: new Map() }

const TD = new TextDecoder()

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
 * The raw header block of a received message (nats.js keeps it in `_rdata` up to `_msg.hdr`):
 * null when the message has no headers, undefined when that layout is not there (another
 * nats.js version: callers fall back to `msg.headers`).
 */
export const rawHeaderBlock = (msg: Msg): Uint8Array | null | undefined => {
  const m = msg as unknown as { _msg?: { hdr?: unknown }; _rdata?: unknown }
  const hdr = m._msg?.hdr
  const raw = m._rdata
  if (typeof hdr !== "number" || !(raw instanceof Uint8Array)) return undefined
  return hdr <= 0 ? null : raw.subarray(0, hdr)
}

/** A message's headers parsed from its raw bytes (the parsed headers copied when the layout is unknown). */
export const rawHeaders = (m: Msg): RawHeaders => {
  const block = rawHeaderBlock(m)
  if (block !== undefined) return block === null ? EMPTY : parseHeaderBlock(block)
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

/**
 * An event's headers from a JetStream message, for `decodeEvent`: parsed from the raw block,
 * undefined when the message has none (as `m.headers` would be), `m.headers` itself when the
 * layout is unknown.
 */
export const jsMsgHeaders = (m: JsMsg): MsgHdrs | undefined => {
  const inner = (m as unknown as { msg?: Msg }).msg
  const block = inner === undefined ? undefined : rawHeaderBlock(inner)
  if (block === undefined) return m.headers
  return block === null ? undefined : headerView(parseHeaderBlock(block))
}

class HeaderView {
  constructor(private readonly map: Map<string, string[]>) {}
  get(k: string): string {
    return this.map.get(k)?.[0] ?? ""
  }
  has(k: string): boolean {
    return this.map.has(k)
  }
}

/** A fast read-only view of already decoded headers: MsgHdrsImpl's own Map; the headers themselves when their layout is unknown. */
export const fastHeaders = (h: MsgHdrs | undefined): MsgHdrs | undefined => {
  const index = (h as unknown as { headers?: unknown } | undefined)?.headers
  return index instanceof Map ? (new HeaderView(index as Map<string, string[]>) as unknown as MsgHdrs) : h
}

/**
 * One header's value read straight from the message's raw header block, without parsing the
 * others (the head feed pays this on every write, in every process).
 */
export const rawHeaderValue = (msg: Msg, name: string): string | undefined => {
  const block = rawHeaderBlock(msg)
  if (block === undefined) return msg.headers?.get(name) || undefined
  if (block === null) return undefined
  const b = Buffer.from(block.buffer, block.byteOffset, block.length)
  const at = b.indexOf(`\r\n${name}:`, 0, "latin1")
  if (at < 0) return undefined
  const from = at + name.length + 3
  const end = b.indexOf("\r\n", from, "latin1")
  return b.toString("utf8", from, end < 0 ? b.length : end).trim()
}
