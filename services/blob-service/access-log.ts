import type { NatsConnection } from "@nats-io/nats-core"
import type { Names } from "../../infra/names.ts"

// Reads and writes are counted in memory and published as one aggregate per interval, so a
// read never costs a JetStream write. The predictor consumes these facts; the recent counts
// also tell the shadow tier which shadows are hot (eviction keeps the hot ones).

export interface AccessFacts {
  readonly instance: string
  readonly fromMs: number
  readonly toMs: number
  readonly reads: Record<string, number>
  readonly writes: Record<string, number>
  /** Shadow-served reads by `<id>@<shadow version>`: what readers actually got from shadows. */
  readonly served: Record<string, number>
}

/**
 * The reads one shadow object served in the current interval, kept by the read path beside
 * the shadow's reply: counting a hit is then an addition, with no lookup by blob id.
 * Belongs to one AccessLog.
 */
export class ServedCounter {
  /** The interval `hits` belongs to (-1: none yet). */
  interval = -1
  hits = 0
  constructor(
    readonly id: string,
    readonly shadowVersion: number,
  ) {}
}

export class AccessLog {
  // Reads answered by the primary and writes, per blob; each kind capped at maxKeys blobs.
  private reads = new Map<string, number>()
  private writes = new Map<string, number>()
  // Shadow counters with hits in this interval, and the interval's number.
  private counted: ServedCounter[] = []
  private interval = 0
  private heatMap = new Map<string, number>()
  private fromMs = Date.now()
  private timer: NodeJS.Timeout | undefined
  published = 0

  constructor(
    private readonly instance: string,
    private readonly maxKeys: number,
  ) {}

  read(id: string): void {
    countIn(this.reads, id, 1, this.maxKeys)
  }

  write(id: string): void {
    countIn(this.writes, id, 1, this.maxKeys)
  }

  /** A read answered from the shadow whose counter this is: counts the read and the hit. */
  servedBy(c: ServedCounter): void {
    if (c.interval === this.interval) {
      c.hits++
      return
    }
    c.interval = this.interval
    c.hits = 1
    this.counted.push(c)
  }

  /** Recent reads of the blob, halving every interval (0 when unknown or long cold). */
  heat(id: string): number {
    return this.heatMap.get(id) ?? 0
  }

  /** Heat decays by half per interval, so a blob read a while ago still counts for a bit. */
  private foldHeat(reads: ReadonlyMap<string, number>): void {
    const next = new Map<string, number>()
    for (const [id, h] of this.heatMap) if (h >= 1) next.set(id, h / 2)
    for (const [id, n] of reads) countIn(next, id, n, this.maxKeys)
    this.heatMap = next
  }

  start(nc: NatsConnection, names: Names, intervalMs: number): void {
    this.timer = setInterval(() => this.flush(nc, names), intervalMs)
    this.timer.unref()
  }

  flush(nc: NatsConnection, names: Names): void {
    const toMs = Date.now()
    const { reads: readCounts, writes: writeCounts, counted } = this
    this.reads = new Map()
    this.writes = new Map()
    this.counted = []
    this.interval++
    const fromMs = this.fromMs
    this.fromMs = toMs
    // Hits counted beside their shadows, under the same per-kind caps as the rest.
    const served = new Map<string, number>()
    for (const c of counted) {
      countIn(readCounts, c.id, c.hits, this.maxKeys)
      countIn(served, `${c.id}@${c.shadowVersion}`, c.hits, this.maxKeys)
    }
    this.foldHeat(readCounts)
    if (readCounts.size === 0 && writeCounts.size === 0) return
    const facts: AccessFacts = { instance: this.instance, fromMs, toMs, reads: record(readCounts), writes: record(writeCounts), served: record(served) }
    try {
      // Core publish into the access stream's subject: stored, but never awaited on a hot path.
      nc.publish(`${names.accessSubject}.${this.instance.replace(/[^A-Za-z0-9_-]/g, "_")}`, JSON.stringify(facts))
      this.published++
    } catch {
      // disconnected: these counts are lost, which only makes the predictor a little colder
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }
}

/** Adds `n` to `key`'s count, unless `key` is new and `counts` already holds `max` keys. */
const countIn = (counts: Map<string, number>, key: string, n: number, max: number): void => {
  const known = counts.get(key)
  if (known !== undefined) counts.set(key, known + n)
  else if (counts.size < max) counts.set(key, n)
}

/** Prototype-less: a blob named `__proto__` is an own key like any other (as with Object.fromEntries). */
const record = (counts: ReadonlyMap<string, number>): Record<string, number> => {
  const out: Record<string, number> = Object.create(null)
  for (const [k, n] of counts) out[k] = n
  return out
}
