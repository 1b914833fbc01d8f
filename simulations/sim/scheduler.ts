/**
 * Virtual time for the deterministic simulator: one queue of timed callbacks, run in
 * (time, insertion) order. Nothing in a simulated run reads the wall clock or a real timer;
 * promises still resolve on the microtask queue, which is drained completely after every
 * callback, so the interleaving is a function of the seed alone.
 */
import { setImmediate as nextMacrotask } from "node:timers/promises"

interface Entry {
  readonly at: number
  readonly seq: number
  readonly run: () => void
}

export interface Scheduler {
  readonly now: () => number
  /** Runs `run` at now + delayMs; returns a handle for `cancel`. */
  readonly after: (delayMs: number, run: () => void) => number
  readonly cancel: (handle: number) => void
  readonly sleep: (ms: number) => Promise<void>
  /** XState's `clock` option: any delayed transition of an actor runs on virtual time. */
  readonly clock: { setTimeout: (fn: (...args: unknown[]) => void, ms: number) => number; clearTimeout: (id: unknown) => void }
  /** Runs callbacks until the queue is empty or the next one is after `untilMs`. */
  readonly runUntil: (untilMs: number) => Promise<void>
  readonly pending: () => number
}

const before = (a: Entry, b: Entry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** A binary min-heap: millions of timers per run must stay O(log n). */
const makeHeap = () => {
  const items: Entry[] = []
  const swap = (i: number, j: number): void => {
    const t = items[i] as Entry
    items[i] = items[j] as Entry
    items[j] = t
  }
  const push = (e: Entry): void => {
    items.push(e)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(items[i] as Entry, items[parent] as Entry)) break
      swap(i, parent)
      i = parent
    }
  }
  const pop = (): Entry | undefined => {
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    items[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < items.length && before(items[l] as Entry, items[m] as Entry)) m = l
      if (r < items.length && before(items[r] as Entry, items[m] as Entry)) m = r
      if (m === i) break
      swap(i, m)
      i = m
    }
    return top
  }
  return { push, pop, peek: (): Entry | undefined => items[0], size: (): number => items.length }
}

export const makeScheduler = (): Scheduler => {
  const heap = makeHeap()
  const cancelled = new Set<number>()
  let now = 0
  let seq = 0
  const after = (delayMs: number, run: () => void): number => {
    const handle = seq++
    heap.push({ at: now + Math.max(0, delayMs), seq: handle, run })
    return handle
  }
  const cancel = (handle: number): void => {
    cancelled.add(handle)
  }
  const runUntil = async (untilMs: number): Promise<void> => {
    for (let next = heap.peek(); next !== undefined && next.at <= untilMs; next = heap.peek()) {
      heap.pop()
      if (cancelled.delete(next.seq)) continue
      now = next.at
      next.run()
      // Every promise continuation triggered by this callback runs before the next one.
      await nextMacrotask()
    }
    now = Math.max(now, untilMs)
  }
  return {
    now: () => now,
    after,
    cancel,
    sleep: (ms) => new Promise<void>((resolve) => void after(ms, resolve)),
    clock: {
      setTimeout: (fn, ms) => after(ms, () => fn()),
      clearTimeout: (id) => cancel(id as number),
    },
    runUntil,
    pending: () => heap.size(),
  }
}
