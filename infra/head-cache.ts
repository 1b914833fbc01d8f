import type { NatsConnection, Subscription } from "@nats-io/nats-core"
import { rawHeaderValue } from "./header-view.ts"
import { ownedString } from "./owned-string.ts"
import { EH } from "./headers.ts"
import type { Names } from "./names.ts"

// The newest head version this process has seen per blob, from the event stream's
// headers-only republish. Bounded: the least recently updated blobs are forgotten first
// (forgetting only means an obsolete shadow may be served a little longer, never a write).

export class HeadCache {
  private readonly heads = new Map<string, number>()
  private sub: Subscription | undefined

  constructor(private readonly maxEntries: number) {}

  start(nc: NatsConnection, names: Names): void {
    const prefixLength = names.headSubjectPrefix.length + 1
    this.sub = nc.subscribe(`${names.headSubjectPrefix}.>`, {
      callback: (err, msg) => {
        if (err !== null) return
        const v = Number(rawHeaderValue(msg, EH.version))
        if (Number.isSafeInteger(v)) this.observe(msg.subject.slice(prefixLength), v)
      },
    })
  }

  observe(id: string, version: number): void {
    const known = this.heads.get(id)
    if (known !== undefined && known >= version) return
    this.heads.delete(id)
    // Ids come sliced from message subjects: a kept key must not pin its subject string.
    this.heads.set(ownedString(id), version)
    if (this.heads.size > this.maxEntries) {
      const oldest = this.heads.keys().next().value
      if (oldest !== undefined) this.heads.delete(oldest)
    }
  }

  get(id: string): number | undefined {
    return this.heads.get(id)
  }

  get size(): number {
    return this.heads.size
  }

  stop(): void {
    this.sub?.unsubscribe()
  }
}
