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

export class AccessLog {
  private reads = new Map<string, number>()
  private writes = new Map<string, number>()
  private served = new Map<string, number>()
  private heatMap = new Map<string, number>()
  private fromMs = Date.now()
  private timer: NodeJS.Timeout | undefined
  published = 0

  constructor(
    private readonly instance: string,
    private readonly maxKeys: number,
  ) {}

  read(id: string): void {
    if (this.reads.size < this.maxKeys || this.reads.has(id)) this.reads.set(id, (this.reads.get(id) ?? 0) + 1)
  }

  write(id: string): void {
    if (this.writes.size < this.maxKeys || this.writes.has(id)) this.writes.set(id, (this.writes.get(id) ?? 0) + 1)
  }

  servedShadow(id: string, shadowVersion: number): void {
    const k = `${id}@${shadowVersion}`
    if (this.served.size < this.maxKeys || this.served.has(k)) this.served.set(k, (this.served.get(k) ?? 0) + 1)
  }

  /** Recent reads of the blob, halving every interval (0 when unknown or long cold). */
  heat(id: string): number {
    return this.heatMap.get(id) ?? 0
  }

  /** Heat decays by half per interval, so a blob read a while ago still counts for a bit. */
  private foldHeat(reads: ReadonlyMap<string, number>): void {
    const next = new Map<string, number>()
    for (const [id, h] of this.heatMap) if (h >= 1) next.set(id, h / 2)
    for (const [id, n] of reads) if (next.size < this.maxKeys || next.has(id)) next.set(id, (next.get(id) ?? 0) + n)
    this.heatMap = next
  }

  start(nc: NatsConnection, names: Names, intervalMs: number): void {
    this.timer = setInterval(() => this.flush(nc, names), intervalMs)
    this.timer.unref()
  }

  flush(nc: NatsConnection, names: Names): void {
    const toMs = Date.now()
    if (this.reads.size === 0 && this.writes.size === 0 && this.served.size === 0) {
      this.foldHeat(this.reads)
      this.fromMs = toMs
      return
    }
    const facts: AccessFacts = {
      instance: this.instance,
      fromMs: this.fromMs,
      toMs,
      reads: Object.fromEntries(this.reads),
      writes: Object.fromEntries(this.writes),
      served: Object.fromEntries(this.served),
    }
    this.foldHeat(this.reads)
    this.reads = new Map()
    this.writes = new Map()
    this.served = new Map()
    this.fromMs = toMs
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
