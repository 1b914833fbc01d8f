import { afterEach, describe, expect, it } from "vitest"
import { connectNats } from "../../infra/connection.ts"
import { LeaseStore } from "../../infra/lease-store.ts"
import { eventually } from "../support/eventually.ts"
import { serverPerFile } from "../support/nats-server.ts"

// Two instances' lease stores on one server: what one writes, the other sees through its
// watches (membership included), a lost compare-and-set is told apart from an unknown outcome.

const t = serverPerFile()
const stores: LeaseStore[] = []
let bucketSeq = 0

const open = async (suffix: string, connection = t.nc()): Promise<LeaseStore> => {
  const s = await LeaseStore.open(connection, { leaseBucket: `leases_${suffix}`, memberBucket: `members_${suffix}`, replicas: 1, memberTtlMs: 60_000, opTimeoutMs: 1_000 })
  stores.push(s)
  return s
}

afterEach(() => {
  for (const s of stores.splice(0)) s.stop()
})

describe("LeaseStore", () => {
  it("an instance's heartbeat reaches another's membership view; an old one does not count; leaving removes it", async () => {
    const suffix = `m${bucketSeq++}`
    const a = await open(suffix)
    const b = await open(suffix)
    const now = Date.now()
    await a.heartbeat("inst-a", now)
    expect(a.liveMembers(now - 1_000)).toEqual(["inst-a"])
    await eventually(() => expect(b.liveMembers(now - 1_000)).toEqual(["inst-a"]), 5_000, 20)
    await b.heartbeat("inst-b", now - 5_000)
    await eventually(() => expect(a.liveMembers(now - 10_000)).toEqual(["inst-a", "inst-b"]), 5_000, 20)
    // inst-b's last heartbeat is older than the window: not live.
    expect(a.liveMembers(now - 1_000)).toEqual(["inst-a"])
    await a.leave("inst-a")
    await eventually(() => expect(b.liveMembers(now - 10_000)).toEqual(["inst-b"]), 5_000, 20)
  })

  it("a store opened later sees the members and leases already there", async () => {
    const suffix = `m${bucketSeq++}`
    const a = await open(suffix)
    const now = Date.now()
    await a.heartbeat("inst-a", now)
    const rev = await a.set(3, { owner: "inst-a", term: 1, expiresAtMs: now + 5_000 }, 0)
    expect(rev).toBeGreaterThan(0)
    const late = await open(suffix)
    await eventually(() => {
      expect(late.liveMembers(now - 1_000)).toEqual(["inst-a"])
      expect(late.get(3)).toEqual({ lease: { owner: "inst-a", term: 1, expiresAtMs: now + 5_000 }, revision: rev })
    }, 5_000, 20)
  })

  it("a compare-and-set against a stale revision is lost (undefined); the winner's lease stands", async () => {
    const suffix = `m${bucketSeq++}`
    const a = await open(suffix)
    const b = await open(suffix)
    const first = await a.set(0, { owner: "inst-a", term: 1, expiresAtMs: Date.now() + 5_000 }, 0)
    expect(first).toBeDefined()
    expect(await b.set(0, { owner: "inst-b", term: 1, expiresAtMs: Date.now() + 5_000 }, 0)).toBeUndefined()
    await eventually(() => expect(b.get(0).lease?.owner).toBe("inst-a"), 5_000, 20)
  })

  it("a lost compare-and-set brings the key's view up to the leader's copy at once, without the watch", async () => {
    const suffix = `m${bucketSeq++}`
    const a = await open(suffix)
    const b = await open(suffix)
    b.stop() // b's watches stop: its view can only change by its own writes and reads
    const lease = { owner: "inst-a", term: 4, expiresAtMs: Date.now() + 5_000 }
    const rev = await a.set(2, lease, 0)
    expect(b.get(2)).toEqual({ lease: undefined, revision: 0 })
    expect(await b.set(2, { owner: "inst-b", term: 1, expiresAtMs: Date.now() + 5_000 }, 0)).toBeUndefined()
    expect(b.get(2)).toEqual({ lease, revision: rev })
  })

  it("a write whose outcome is unknown (server stalled) throws instead of reading as a lost race", async () => {
    const suffix = `m${bucketSeq++}`
    const nc = await connectNats({ servers: t.server().url, name: "lease-stalled", timeoutMs: 1_000 })
    try {
      const a = await open(suffix, nc)
      await t.server().pause()
      try {
        await expect(a.set(1, { owner: "inst-a", term: 1, expiresAtMs: Date.now() + 5_000 }, 0)).rejects.toThrow()
      } finally {
        t.server().signal("SIGCONT")
      }
    } finally {
      await nc.close()
    }
  })
})
