import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../support/eventually.ts"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// The shadow tier's limits: when it holds its maximum of live shadows, the least valuable
// (cold, low confidence) is discarded to make room — a write never fails for it.

let s: TestStack
beforeAll(async () => {
  s = await startTestStack({ shadowMaxCount: 5, accessFlushMs: 100 })
})
afterAll(async () => s?.stop())

const live = () => [...s.blob.shadows.replica.entries()].filter((x) => x.status === "live").map((x) => x.id)

describe("shadow tier limits", () => {
  it("keeps at most the configured number of live shadows, evicting cold ones first", async () => {
    for (const id of ["ev/hot1", "ev/hot2"]) await cmd(s.nc, "write", id, id)
    await eventually(() => expect(live()).toHaveLength(2))
    // Reads make these two hot (heat is taken from the access facts of the last interval).
    for (let i = 0; i < 20; i++) for (const id of ["ev/hot1", "ev/hot2"]) await cmd(s.nc, "read", id)
    await sleep(250)
    for (let i = 0; i < 8; i++) {
      const w = await cmd(s.nc, "write", `ev/cold${i}`, `cold ${i}`)
      expect(w.status).toBeUndefined()
      await eventually(() => expect(s.blob.shadows.replica.get(`ev/cold${i}`)?.status).toBe("live"))
    }
    await eventually(() => expect(live().length).toBeLessThanOrEqual(5))
    expect(live()).toEqual(expect.arrayContaining(["ev/hot1", "ev/hot2"]))
    expect(s.blob.shadows.store.stats.evicted).toBeGreaterThanOrEqual(5)
    const evicted = [...s.blob.shadows.replica.entries()].filter((x) => x.status === "discarded")
    for (const e of evicted) expect(e.reason).toBe("evicted")
    // An evicted blob is still served, by the primary.
    const gone = evicted[0]!.id
    const r = await cmd(s.nc, "read", gone)
    expect(r.header("Umbra-Source")).toBe("primary")
  })
})
