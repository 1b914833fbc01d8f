// A shadow is one key per blob, so a prediction stored now displaces the blob's current-state
// shadow until the prediction becomes valid: every read in between would miss. Time-triggered
// predictions are therefore held here and released `leadMs` before their valid-from, so the
// current state keeps serving reads until just before the predicted write. One entry per blob
// (a newer prediction replaces the held one), at most `max` entries (the earliest-due are kept).

interface Entry<T> {
  readonly dueMs: number
  readonly seq: number
  readonly id: string
  readonly item: T
}

export class JustInTime<T> {
  private readonly byId = new Map<string, Entry<T>>()
  // A binary min-heap on dueMs; entries replaced in byId are skipped when popped.
  private readonly heap: Entry<T>[] = []
  private seq = 0
  dropped = 0

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byId.size
  }

  hold(id: string, dueMs: number, item: T): void {
    if (this.byId.size >= this.max && !this.byId.has(id)) {
      this.dropped++
      return
    }
    const e = { dueMs, seq: ++this.seq, id, item }
    this.byId.set(id, e)
    this.push(e)
  }

  /** Everything due by `nowMs`, earliest first. */
  release(nowMs: number): T[] {
    const out: T[] = []
    while (this.heap.length > 0 && this.heap[0]!.dueMs <= nowMs) {
      const e = this.pop()!
      if (this.byId.get(e.id)?.seq !== e.seq) continue
      this.byId.delete(e.id)
      out.push(e.item)
    }
    return out
  }

  /** When the next entry falls due (undefined when none is held). */
  nextDueMs(): number | undefined {
    while (this.heap.length > 0 && this.byId.get(this.heap[0]!.id)?.seq !== this.heap[0]!.seq) this.pop()
    return this.heap[0]?.dueMs
  }

  private push(e: Entry<T>): void {
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (h[parent]!.dueMs <= h[i]!.dueMs) break
      ;[h[parent], h[i]] = [h[i]!, h[parent]!]
      i = parent
    }
  }

  private pop(): Entry<T> | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && h[l]!.dueMs < h[m]!.dueMs) m = l
        if (r < h.length && h[r]!.dueMs < h[m]!.dueMs) m = r
        if (m === i) break
        ;[h[m], h[i]] = [h[i]!, h[m]!]
        i = m
      }
    }
    return top
  }
}
