import type { NatsConnection, Subscription } from "@nats-io/nats-core"
import type { Names } from "../../infra/names.ts"
import type { AccessFacts } from "../blob-service/access-log.ts"
import { Lru } from "./tracker.ts"

// The blob services' aggregated access facts (`umbra.access.<instance>`, one per second):
// recent reads tell whether a blob is hot (an obsolete shadow is refreshed rather than
// dropped), and `served` counts tell how many reads each shadow revision answered, so a
// discarded wrong shadow that was served shows up as served-but-wrong. Core subscription:
// every reconciler sees every fact (counts are per process, not shared work).

const HALF_LIFE_MS = 10_000

interface Heat {
  readonly reads: number
  readonly atMs: number
}

export class AccessFeed {
  private readonly heat: Lru<string, Heat>
  private readonly served: Lru<string, number>
  private sub: Subscription | undefined
  facts = 0
  malformed = 0

  constructor(max: number) {
    this.heat = new Lru(max)
    this.served = new Lru(max)
  }

  start(nc: NatsConnection, names: Names): void {
    const dec = new TextDecoder()
    this.sub = nc.subscribe(`${names.accessSubject}.>`, {
      callback: (err, msg) => {
        if (err !== null) return
        try {
          this.ingest(JSON.parse(dec.decode(msg.data)) as AccessFacts, Date.now())
        } catch {
          this.malformed++
        }
      },
    })
  }

  ingest(f: AccessFacts, nowMs: number): void {
    this.facts++
    for (const [id, n] of Object.entries(f.reads ?? {})) if (typeof n === "number") this.heat.set(id, { reads: this.readsOf(id, nowMs) + n, atMs: nowMs })
    for (const [key, n] of Object.entries(f.served ?? {})) if (typeof n === "number") this.served.set(key, (this.served.get(key) ?? 0) + n)
  }

  /** Recent reads of the blob, halving every 10 s. */
  readsOf(id: string, nowMs: number): number {
    const h = this.heat.get(id)
    return h === undefined ? 0 : h.reads * 0.5 ** ((nowMs - h.atMs) / HALF_LIFE_MS)
  }

  servedBy(id: string, shadowVersion: number): number | undefined {
    return this.served.get(`${id}@${shadowVersion}`)
  }

  stop(): void {
    this.sub?.unsubscribe()
  }
}
