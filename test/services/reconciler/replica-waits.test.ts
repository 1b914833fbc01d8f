import { describe, expect, it } from "vitest"
import type { Shadow } from "../../../domain/shadow.ts"
import { ReplicaWaits } from "../../../services/reconciler/replica-waits.ts"

const shadow = (predicted: number): Shadow => ({ id: "w/1", predicted, shadowVersion: predicted }) as unknown as Shadow

describe("waiting for the replica to bring an event's shadow", () => {
  it("resolves with the first shadow predicting the version or later, not an older one", async () => {
    const w = new ReplicaWaits({ waitMs: 5_000, maxWaiters: 10 })
    const p = w.until("w/1", 3)
    expect(w.changed("w/1", shadow(2))).toBe(false)
    expect(w.changed("w/2", shadow(3))).toBe(false)
    expect(w.changed("w/1", shadow(3))).toBe(true)
    expect((await p)?.predicted).toBe(3)
    expect(w.arrived).toBe(1)
    w.stop()
  })

  it("gives up after the wait (the caller asks the bucket)", async () => {
    const w = new ReplicaWaits({ waitMs: 20, maxWaiters: 10 })
    const started = Date.now()
    expect(await w.until("w/1", 3)).toBeUndefined()
    expect(Date.now() - started).toBeGreaterThanOrEqual(15)
    expect(w.expired).toBe(1)
  })

  it("past its bound, does not wait at all", async () => {
    const w = new ReplicaWaits({ waitMs: 5_000, maxWaiters: 1 })
    const first = w.until("w/1", 3)
    expect(await w.until("w/2", 3)).toBeUndefined()
    w.stop()
    expect(await first).toBeUndefined()
  })
})
