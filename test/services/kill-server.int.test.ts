import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// kill -9 of nats-server under a steady write load, restart on the same store: every
// acknowledged write is there, in order, and nothing was written twice.

let s: TestStack
beforeAll(async () => {
  s = await startTestStack({ appendDeadlineMs: 3_000, appendAttemptTimeoutMs: 1_000 })
})
afterAll(async () => s?.stop())

interface Acked {
  readonly id: string
  readonly version: number
  readonly digest: string
}

const writer = async (id: string, until: () => boolean, acked: Acked[]): Promise<void> => {
  for (let i = 0; !until(); i++) {
    try {
      // Each logical write keeps its idempotency key across retries.
      const key = `${id}-${i}`
      for (let attempt = 0; attempt < 50 && !until(); attempt++) {
        try {
          const r = await cmd(s.nc, "write", id, `${id} #${i}`, { "Umbra-Idempotency-Key": key })
          if (r.status === undefined) {
            acked.push({ id, ...(r.json() as { version: number; digest: string }) })
            break
          }
        } catch {
          // timeout / no responders while the server is down: retry the same key
        }
        await sleep(100)
      }
    } catch {
      await sleep(50)
    }
  }
}

describe("kill -9 of nats-server under load", () => {
  it("keeps every acknowledged write, in order, once", async () => {
    const acked: Acked[] = []
    let stop = false
    const ids = ["k9/a", "k9/b", "k9/c", "k9/d"]
    const load = Promise.all(ids.map((id) => writer(id, () => stop, acked)))
    await sleep(1_000)
    const beforeKill = acked.length
    s.server.signal("SIGKILL")
    await sleep(500)
    await s.server.restart()
    // Writes resume after the service's connection reconnects.
    const deadline = Date.now() + 30_000
    while (acked.length < beforeKill + 20 && Date.now() < deadline) await sleep(100)
    stop = true
    await load
    expect(beforeKill).toBeGreaterThan(10)
    expect(acked.length).toBeGreaterThan(beforeKill + 10)

    for (const id of ids) {
      const history = (await cmd(s.nc, "history", id, JSON.stringify({ limit: 1000 }))).json() as Acked[]
      const versions = history.map((e) => e.version)
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1))
      const byVersion = new Map(history.map((e) => [e.version, e.digest]))
      for (const a of acked.filter((a) => a.id === id)) expect(byVersion.get(a.version)).toBe(a.digest)
      // Acknowledged versions of one writer are strictly increasing (no version reused).
      const mine = acked.filter((a) => a.id === id).map((a) => a.version)
      expect([...mine].sort((x, y) => x - y)).toEqual(mine)
      expect(new Set(mine).size).toBe(mine.length)
    }
  })
})
