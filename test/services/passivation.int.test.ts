import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

let s: TestStack
beforeAll(async () => {
  s = await startTestStack({ actorIdleMs: 300, maxLiveActors: 1_000 })
})
afterAll(async () => s?.stop())

describe("passivation", () => {
  it("an idle actor passivates and rehydrates with its state and version", async () => {
    await cmd(s.nc, "write", "pass/a", '{"n":1}')
    await cmd(s.nc, "patch", "pass/a", '[{"op":"replace","path":"/n","value":2}]')
    expect(s.blob.registry.isLive("pass/a" as never)).toBe(true)
    const before = s.blob.registry.stats.passivations
    await sleep(700)
    expect(s.blob.registry.isLive("pass/a" as never)).toBe(false)
    expect(s.blob.registry.stats.passivations).toBeGreaterThan(before)
    const r = await cmd(s.nc, "read", "pass/a", undefined, { "Umbra-Consistency": "primary" })
    expect(r.text).toBe('{"n":2}')
    expect(r.header("Umbra-Version")).toBe("2")
    // The next write continues the same history (expected version 2 is still right).
    const w = await cmd(s.nc, "write", "pass/a", "x", { "Umbra-Expected-Version": "2" })
    expect(w.json().version).toBe(3)
  })

  it("10,000 distinct blobs with a cap of 1,000 live actors never exceed the cap", async () => {
    let maxLive = 0
    const batch = 200
    for (let start = 0; start < 10_000; start += batch) {
      await Promise.all(
        Array.from({ length: batch }, (_, i) => cmd(s.nc, "write", `many/${start + i}`, `v${start + i}`)),
      )
      maxLive = Math.max(maxLive, s.blob.registry.liveCount)
    }
    expect(maxLive).toBeLessThanOrEqual(1_000)
    expect(s.blob.registry.stats.peakLive).toBeLessThanOrEqual(1_000)
    expect(s.blob.registry.stats.peakLive).toBeGreaterThan(500)
    expect(s.blob.registry.stats.passivations).toBeGreaterThanOrEqual(9_000)
    // Evicted blobs come back with their state.
    const r = await cmd(s.nc, "read", "many/17", undefined, { "Umbra-Consistency": "primary" })
    expect(r.text).toBe("v17")
    expect(r.header("Umbra-Version")).toBe("1")
  })
})
