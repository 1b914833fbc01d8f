import type { NatsConnection, Subscription } from "@nats-io/nats-core"

// The hottest blobs, from the access facts every blob service publishes (aggregated read
// counts per interval). Counts are kept per refresh frame in a short ring so the ranking
// follows the last few seconds, and each frame holds a bounded number of ids.

const MAX_IDS_PER_FRAME = 50_000

export interface HotBlob {
  readonly id: string
  readonly reads: number
  /** Reads the blob services answered from a shadow (same window). */
  readonly served: number
}

type Frame = { reads: Map<string, number>; served: Map<string, number> }

const add = (m: Map<string, number>, id: string, n: number): void => {
  if (m.size < MAX_IDS_PER_FRAME || m.has(id)) m.set(id, (m.get(id) ?? 0) + n)
}

const dec = new TextDecoder()

export class HotBlobs {
  private frames: Frame[] = [{ reads: new Map(), served: new Map() }]
  private readonly sub: Subscription
  facts = 0

  constructor(
    nc: NatsConnection,
    accessSubject: string,
    private readonly keepFrames: number,
  ) {
    this.sub = nc.subscribe(`${accessSubject}.>`, {
      callback: (err, msg) => {
        if (err === null) this.take(msg.data)
      },
    })
  }

  private take(data: Uint8Array): void {
    let facts: { reads?: unknown; served?: unknown }
    try {
      facts = JSON.parse(dec.decode(data)) as typeof facts
    } catch {
      return
    }
    const frame = this.frames[this.frames.length - 1]
    if (frame === undefined) return
    this.facts++
    for (const [id, n] of numericEntries(facts.reads)) add(frame.reads, id, n)
    // Served counts are keyed `<id>@<shadow version>`.
    for (const [key, n] of numericEntries(facts.served)) add(frame.served, key.slice(0, key.lastIndexOf("@")), n)
  }

  /** Closes the current frame; the oldest falls out of the window. */
  tick(): void {
    this.frames.push({ reads: new Map(), served: new Map() })
    if (this.frames.length > this.keepFrames) this.frames.shift()
  }

  top(k: number): ReadonlyArray<HotBlob> {
    const reads = new Map<string, number>()
    const served = new Map<string, number>()
    for (const f of this.frames) {
      for (const [id, n] of f.reads) reads.set(id, (reads.get(id) ?? 0) + n)
      for (const [id, n] of f.served) served.set(id, (served.get(id) ?? 0) + n)
    }
    return [...reads.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, k)
      .map(([id, n]) => ({ id, reads: n, served: served.get(id) ?? 0 }))
  }

  stop(): void {
    this.sub.unsubscribe()
  }
}

const numericEntries = (o: unknown): ReadonlyArray<[string, number]> =>
  typeof o === "object" && o !== null
    ? Object.entries(o as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === "number" && e[1] > 0)
    : []
