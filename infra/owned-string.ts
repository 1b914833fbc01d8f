// Strings kept for long (a live actor's state) must not be cut from a larger string: V8 keeps
// a substring of 13 or more characters as a slice that points into its parent, so a digest
// parsed out of a message's header block keeps the whole block alive (≈ 560 bytes per
// hydrated actor, for its digest and hash). Such strings are copied once, as they are kept.

/** Shorter strings are never slices in V8: nothing to copy. */
const MIN_SLICE_LENGTH = 13

/** The string itself in memory of its own (a JSON round trip yields a flat, unshared copy). */
export const ownedString = (s: string): string => (s.length < MIN_SLICE_LENGTH ? s : (JSON.parse(JSON.stringify(s)) as string))

export const ownedOptionalString = (s: string | undefined): string | undefined => (s === undefined ? undefined : ownedString(s))
