// Bytes kept for long (an actor's state, a replica's shadow) must not be a view into a larger
// buffer: nats.js hands out message payloads as views into the socket chunk they arrived in
// (tens of KiB), so a 256-byte blob kept as such a view pins the whole chunk. Such views are
// copied once, as they are kept; payloads that own (nearly all of) their buffer are not.

/** Bytes a view may leave unused in its buffer before it is copied out. */
const MAX_PINNED_BYTES = 512

/** The bytes themselves, copied out of their buffer when they are a small view of a large one. */
export const ownedBytes = (b: Uint8Array): Uint8Array =>
  // `new Uint8Array(view)` copies; `slice()` would not when the view is a Node Buffer.
  b.buffer.byteLength - b.byteLength > MAX_PINNED_BYTES ? new Uint8Array(b) : b
