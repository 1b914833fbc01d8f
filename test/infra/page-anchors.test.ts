import { describe, expect, it } from "vitest"
import type { BlobEvent } from "../../domain/blob-event.ts"
import { pageMatches, type StoredEvent } from "../../infra/event-store.ts"

// A history page read from any replica is kept only if it is provably the leader's (issue #9):
// it starts and ends at leader-read events and each event chains to the one before.

const ev = (seq: number, version: number, hash: string, prevHash: string): StoredEvent => ({
  seq,
  msgId: undefined,
  event: { version, hash, prevHash } as unknown as BlobEvent,
})
const chain = [ev(10, 1, "h1", ""), ev(12, 2, "h2", "h1"), ev(15, 3, "h3", "h2")]

describe("pageMatches", () => {
  it("accepts the leader's page", () => {
    expect(pageMatches(chain, 3, { first: chain[0]!, last: chain[2]! })).toBe(true)
  })
  it("refuses a page that ends elsewhere than the leader's last event (a missing or shifted tail)", () => {
    expect(pageMatches(chain.slice(0, 2), 3, { first: chain[0]!, last: chain[2]! })).toBe(false)
    expect(pageMatches([chain[0]!, chain[1]!, ev(14, 3, "h3", "h2")], 3, { first: chain[0]!, last: chain[2]! })).toBe(false)
  })
  it("refuses a page with another event in the middle (a diverged replica)", () => {
    expect(pageMatches([chain[0]!, ev(12, 2, "x2", "h1"), chain[2]!], 3, { first: chain[0]!, last: chain[2]! })).toBe(false)
  })
  it("refuses a version gap or a different first event", () => {
    expect(pageMatches([chain[0]!, chain[2]!], 3, { first: chain[0]!, last: chain[2]! })).toBe(false)
    expect(pageMatches(chain, 3, { first: ev(10, 1, "other", ""), last: chain[2]! })).toBe(false)
  })
  it("without a last anchor, needs a full page", () => {
    expect(pageMatches(chain, 3, { first: chain[0]! })).toBe(true)
    expect(pageMatches(chain.slice(0, 2), 3, { first: chain[0]! })).toBe(false)
    expect(pageMatches([], 3, { first: chain[0]! })).toBe(false)
  })
})
