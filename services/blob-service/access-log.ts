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

  /** Reads of the blob in the last completed interval (0 when unknown). */
  heat(id: string): number {
    return this.heatMap.get(id) ?? 0
  }

  start(nc: NatsConnection, names: Names, intervalMs: number): void {
    this.timer = setInterval(() => this.flush(nc, names), intervalMs)
    this.timer.unref()
  }

  flush(nc: NatsConnection, names: Names): void {
    const toMs = Date.now()
    if (this.reads.size === 0 && this.writes.size === 0 && this.served.size === 0) {
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
    this.heatMap = this.reads
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
