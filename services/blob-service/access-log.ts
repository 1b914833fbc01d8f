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

/** One blob's counts in the current interval: a read costs one map lookup, no key to build. */
interface Tally {
  reads: number
  writes: number
  /** The first shadow version served in the interval, and its hits (usually the only one). */
  servedVersion: number
  served: number
  /** Hits of further shadow versions in the same interval (a new shadow arrived). */
  servedMore: Map<number, number> | undefined
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
  private tallies = new Map<string, Tally>()
  // Shadow counters with hits in this interval, and the interval's number.
  private counted: ServedCounter[] = []
  private interval = 0
  // Distinct keys of each kind in this interval: each kind is capped at maxKeys on its own.
  private readKeys = 0
  private writeKeys = 0
  private servedKeys = 0
  private heatMap = new Map<string, number>()
  private fromMs = Date.now()
  private timer: NodeJS.Timeout | undefined
  published = 0

  constructor(
    private readonly instance: string,
    private readonly maxKeys: number,
  ) {}

  private tally(id: string): Tally {
    let t = this.tallies.get(id)
    if (t === undefined) {
      t = { reads: 0, writes: 0, servedVersion: 0, served: 0, servedMore: undefined }
      this.tallies.set(id, t)
    }
    return t
  }

  read(id: string): void {
    const t = this.tallies.get(id)
    if (t !== undefined && t.reads > 0) t.reads++
    else if (this.readKeys < this.maxKeys) {
      this.readKeys++
      ;(t ?? this.tally(id)).reads = 1
    }
  }

  write(id: string): void {
    const t = this.tallies.get(id)
    if (t !== undefined && t.writes > 0) t.writes++
    else if (this.writeKeys < this.maxKeys) {
      this.writeKeys++
      ;(t ?? this.tally(id)).writes = 1
    }
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

  /** A read answered from the blob's shadow of `shadowVersion`: counts the read and the hit. */
  servedRead(id: string, shadowVersion: number): void {
    const t = this.tallies.get(id)
    if (t !== undefined && t.reads > 0 && t.served > 0 && t.servedVersion === shadowVersion) {
      t.reads++
      t.served++
      return
    }
    this.read(id)
    this.servedShadow(id, shadowVersion)
  }

  /** A shadow-served read, by `<id>@<shadow version>`: what readers actually got from shadows. */
  servedShadow(id: string, shadowVersion: number): void {
    const known = this.tallies.get(id)
    if (known !== undefined && known.served > 0 && known.servedVersion === shadowVersion) {
      known.served++
      return
    }
    const more = known?.servedMore?.get(shadowVersion)
    if (more !== undefined) {
      known!.servedMore!.set(shadowVersion, more + 1)
      return
    }
    if (this.servedKeys >= this.maxKeys) return
    this.servedKeys++
    const t = known ?? this.tally(id)
    if (t.served === 0) {
      t.servedVersion = shadowVersion
      t.served = 1
    } else (t.servedMore ??= new Map()).set(shadowVersion, 1)
  }

  /** Recent reads of the blob, halving every interval (0 when unknown or long cold). */
  heat(id: string): number {
    return this.heatMap.get(id) ?? 0
  }

  /** Heat decays by half per interval, so a blob read a while ago still counts for a bit. */
  private foldHeat(reads: Record<string, number>): void {
    const next = new Map<string, number>()
    for (const [id, h] of this.heatMap) if (h >= 1) next.set(id, h / 2)
    for (const id in reads) if (next.size < this.maxKeys || next.has(id)) next.set(id, (next.get(id) ?? 0) + (reads[id] as number))
    this.heatMap = next
  }

  start(nc: NatsConnection, names: Names, intervalMs: number): void {
    this.timer = setInterval(() => this.flush(nc, names), intervalMs)
    this.timer.unref()
  }

  flush(nc: NatsConnection, names: Names): void {
    const toMs = Date.now()
    const { tallies, counted } = this
    let { readKeys, servedKeys } = this
    this.tallies = new Map()
    this.counted = []
    this.interval++
    this.readKeys = 0
    this.writeKeys = 0
    this.servedKeys = 0
    const fromMs = this.fromMs
    this.fromMs = toMs
    // Prototype-less: a blob named `__proto__` is an own key like any other (as with Object.fromEntries).
    const reads: Record<string, number> = Object.create(null)
    const writes: Record<string, number> = Object.create(null)
    const served: Record<string, number> = Object.create(null)
    for (const [id, t] of tallies) {
      if (t.reads > 0) reads[id] = t.reads
      if (t.writes > 0) writes[id] = t.writes
      if (t.served > 0) served[`${id}@${t.servedVersion}`] = t.served
      if (t.servedMore !== undefined) for (const [v, n] of t.servedMore) served[`${id}@${v}`] = n
    }
    // Hits counted beside their shadows, under the same per-kind caps as the rest.
    for (const c of counted) {
      const known = reads[c.id]
      if (known !== undefined) reads[c.id] = known + c.hits
      else if (readKeys < this.maxKeys) {
        readKeys++
        reads[c.id] = c.hits
      }
      const key = `${c.id}@${c.shadowVersion}`
      const hits = served[key]
      if (hits !== undefined) served[key] = hits + c.hits
      else if (servedKeys < this.maxKeys) {
        servedKeys++
        served[key] = c.hits
      }
    }
    this.foldHeat(reads)
    if (tallies.size === 0 && counted.length === 0) return
    const facts: AccessFacts = { instance: this.instance, fromMs, toMs, reads, writes, served }
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
