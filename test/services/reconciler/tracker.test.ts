import { describe, expect, it } from "vitest"
import type { BlobEvent } from "../../../domain/blob-event.ts"
import { ShadowTracker } from "../../../services/reconciler/tracker.ts"

const event = (id: string, version: number): BlobEvent =>
  ({ id, version, op: "write", digest: `sha256:${version}`, size: 3, content: new Uint8Array([1, 2, 3]), timeMs: version }) as unknown as BlobEvent

const tracker = (maxRecentEvents: number) => new ShadowTracker({ maxPending: 10, maxPerBlob: 4, maxJudged: 10, maxHeads: 10, maxRecentEvents })

describe("what the reconciler remembers of heads", () => {
  it("keeps the newest version per blob, never an older one", () => {
    const t = tracker(4)
    t.noteHead(event("a", 2))
    t.noteHead(event("a", 1))
    expect(t.headVersion("a")).toBe(2)
    t.noteHead(event("a", 3))
    expect(t.headVersion("a")).toBe(3)
    expect(t.headVersion("b")).toBeUndefined()
  })

  it("keeps recent head events without their content, and only the most recent blobs'", () => {
    const t = tracker(2)
    const e = event("a", 1)
    t.noteHead(e)
    expect(t.recentEvent("a")).toMatchObject({ id: "a", version: 1, digest: "sha256:1", timeMs: 1, content: undefined })
    expect(e.content).toBeDefined()
    t.noteHead(event("b", 1))
    t.noteHead(event("c", 1))
    expect(t.recentEvent("a")).toBeUndefined()
    expect(t.headVersion("a")).toBe(1)
    expect(t.recentEvent("c")?.version).toBe(1)
  })
})
