// Label values that come from code or from the wire (model names, verdict reasons) are
// clamped to a fixed number of distinct values: a buggy or hostile producer can then add
// at most `limit` series, never one per blob or per request.

export class BoundedLabel {
  private readonly seen = new Set<string>()

  constructor(
    private readonly limit: number,
    private readonly overflow = "other",
  ) {}

  of(value: string): string {
    if (this.seen.has(value)) return value
    if (this.seen.size >= this.limit || !LABEL_VALUE.test(value)) return this.overflow
    this.seen.add(value)
    return value
  }
}

// Short, printable values only: anything else is probably an id or a message.
const LABEL_VALUE = /^[A-Za-z0-9_.:-]{1,64}$/

/** A value from a closed set, or `other` (events arrive as JSON from other processes). */
export const oneOf = <T extends string>(allowed: ReadonlyArray<T>, value: string | undefined, overflow = "other"): string =>
  value !== undefined && (allowed as ReadonlyArray<string>).includes(value) ? value : overflow
