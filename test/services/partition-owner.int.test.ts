import { afterEach, describe, expect, it, vi } from "vitest"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { desiredOwner } from "../../domain/partition.ts"
import { LeaseStore } from "../../infra/lease-store.ts"
import { PartitionOwner, type PartitionOptions } from "../../services/blob-service/partition-owner.ts"
import { eventually } from "../support/eventually.ts"
import { serverPerFile } from "../support/nats-server.ts"

// Partition owners on a real server (their lease and member buckets), with the event stream's
// last sequence as each instance's connection would see it given by the test: an owner serves
// a partition only once that view reaches the floor its lease carries, so an instance whose
// node answers from a stale copy of the stream (a healed, isolated 2.9.10 stream leader)
// answers UNAVAILABLE instead of versions long overwritten.

const t = serverPerFile()
const owners: PartitionOwner[] = []
let bucketSeq = 0

const id = (s: string): BlobId => {
  const r = parseBlobId(s)
  if (r._tag === "Left") throw new Error(s)
  return r.right
}

interface Probe {
  ackedSeq: number
  lastSeq: number
  nowMs: number
  readonly givenUp: number[]
}

const start = async (instance: string, suffix: string, probe: Probe, o: Partial<PartitionOptions> = {}): Promise<PartitionOwner> => {
  const owner = await PartitionOwner.start(t.nc(), {
    instance,
    partitions: 1,
    leaseMs: 60_000,
    marginMs: 1_000,
    replicas: 1,
    leaseBucket: `po_leases_${suffix}`,
    memberBucket: `po_members_${suffix}`,
    giveUp: async (p) => void probe.givenUp.push(p),
    ackedSeq: () => probe.ackedSeq,
    streamMarks: async () => [{ stream: STREAM, lastSeq: probe.lastSeq }],
    now: () => probe.nowMs,
    ...o,
  })
  owners.push(owner)
  return owner
}

const STREAM = "2026-11-25T00:00:00Z"
/** inst-a owns partition 0, has appends acknowledged up to `ackedSeq`, and stops: the lease is handed over with that floor. */
const handedOver = async (suffix: string, ackedSeq: number): Promise<void> => {
  const a = probe(0)
  const owner = await start("inst-a", suffix, a)
  expect(owner.owns(id("floor/any"))).toBe(true)
  a.ackedSeq = ackedSeq
  await owner.stop()
  owners.splice(owners.indexOf(owner), 1)
}

const probe = (lastSeq: number): Probe => ({ ackedSeq: 0, lastSeq, nowMs: Date.now(), givenUp: [] })

afterEach(async () => {
  for (const o of owners.splice(0)) await o.stop().catch(() => undefined)
})

describe("PartitionOwner", () => {
  it("hands a partition over with the floor of its acknowledged appends; the next owner serves it only once its view of the stream reaches that floor", async () => {
    const suffix = `h${bucketSeq++}`
    const blob = id("floor/a")
    await handedOver(suffix, 42)

    const b = probe(17)
    const ownerB = await start("inst-b", suffix, b)
    // b holds the lease but its stream is behind what a acknowledged: not served, not forwarded.
    expect(ownerB.owns(blob)).toBe(false)
    expect(ownerB.route(blob)).toEqual({ _tag: "unavailable", partition: 0 })
    expect(ownerB.stats).toMatchObject({ owned: 0, catchingUp: 1, acquired: 1 })
    await ownerB.tick()
    expect(ownerB.owns(blob)).toBe(false)
    b.lastSeq = 42
    await ownerB.tick()
    expect(ownerB.owns(blob)).toBe(true)
    expect(ownerB.route(blob)).toEqual({ _tag: "local" })
    expect(ownerB.stats).toMatchObject({ owned: 1, catchingUp: 0 })
  })

  it("a release moves the partition to its desired owner with a floor taken after the actors were given up", async () => {
    const suffix = `m${bucketSeq++}`
    const blob = id("floor/d")
    // Two names, the second the desired owner of partition 0 once both are members.
    const [first, second] = desiredOwner(0, ["inst-x", "inst-y"]) === "inst-y" ? ["inst-x", "inst-y"] : ["inst-y", "inst-x"]
    const x = probe(0)
    const ownerX = await start(first!, suffix, x, {
      // An append of the departing owner acknowledged while its actors are given up.
      giveUp: async (p) => {
        x.givenUp.push(p)
        x.ackedSeq = 60
      },
    })
    x.ackedSeq = 50
    const y = probe(55)
    const ownerY = await start(second!, suffix, y)
    expect(ownerY.owns(blob)).toBe(false)
    await eventually(async () => {
      await ownerX.tick()
      expect(ownerX.members).toEqual([first, second].sort())
    }, 5_000, 50)
    expect(x.givenUp).toEqual([0])
    expect(ownerX.owns(blob)).toBe(false)
    await eventually(async () => {
      await ownerY.tick()
      expect(ownerY.stats).toMatchObject({ acquired: 1, catchingUp: 1 })
    }, 5_000, 50)
    expect(ownerY.owns(blob)).toBe(false)
    y.lastSeq = 60
    await ownerY.tick()
    expect(ownerY.owns(blob)).toBe(true)
  })

  it("a partition left waiting for the stream for three leases is said once on stderr, and again when it is served", async () => {
    const suffix = `w${bucketSeq++}`
    const blob = id("floor/e")
    await handedOver(suffix, 500)
    const b = probe(10)
    const said = vi.spyOn(console, "error").mockImplementation(() => undefined)
    try {
      const ownerB = await start("inst-b", suffix, b)
      // Half a lease per round: every round renews, none serves.
      for (let round = 0; round < 7; round++) {
        b.nowMs += 30_000
        await ownerB.tick()
      }
      expect(ownerB.owns(blob)).toBe(false)
      const lines = (text: string) => said.mock.calls.map((c) => String(c[0])).filter((l) => l.includes(text))
      const waited = lines("has not served it")
      expect(waited).toHaveLength(1)
      expect(waited[0]).toContain("floor is sequence 500")
      b.lastSeq = 500
      await ownerB.tick()
      expect(ownerB.owns(blob)).toBe(true)
      expect(lines("serves partition 0 again")).toHaveLength(1)
    } finally {
      said.mockRestore()
    }
  })

  it("an owner that cannot tell how far the stream is does not serve", async () => {
    const suffix = `u${bucketSeq++}`
    const blob = id("floor/b")
    const a = probe(0)
    let reachable = false
    const owner = await start("inst-a", suffix, a, {
      streamMarks: async () => {
        if (!reachable) throw new Error("stream info timed out")
        return [{ stream: STREAM, lastSeq: a.lastSeq }]
      },
    })
    expect(owner.owns(blob)).toBe(false)
    reachable = true
    await owner.tick()
    expect(owner.owns(blob)).toBe(true)
  })

  it("renewals raise the floor to the appends acknowledged since", async () => {
    const suffix = `r${bucketSeq++}`
    const a = probe(0)
    const owner = await start("inst-a", suffix, a)
    a.ackedSeq = 99
    await owner.tick()
    const leases = await LeaseStore.open(t.nc(), { leaseBucket: `po_leases_${suffix}`, memberBucket: `po_members_${suffix}`, replicas: 1, memberTtlMs: 60_000 })
    try {
      await eventually(() => expect(leases.get(0).lease).toMatchObject({ owner: "inst-a", floorSeq: 99, floorStream: STREAM }), 5_000, 20)
    } finally {
      leases.stop()
    }
  })

  it("a lease that ran out gives the partition's actors up before a later term is taken", async () => {
    const suffix = `e${bucketSeq++}`
    const blob = id("floor/c")
    const a = probe(0)
    const owner = await start("inst-a", suffix, a)
    expect(owner.owns(blob)).toBe(true)
    expect(a.givenUp).toEqual([])
    // Renewals failed for longer than the lease (a paused process, NATS unreachable): nobody
    // else took the partition, yet the actors of the old term are not carried over.
    // An append attempt needs the lease to outlast it: 2 s left is enough for a margin of 1 s, not for 3 s.
    a.nowMs += 58_000
    expect(owner.owns(blob)).toBe(true)
    expect(owner.owns(blob, 3_000)).toBe(false)
    a.nowMs += 3_000
    expect(owner.owns(blob)).toBe(false)
    await owner.tick()
    expect(a.givenUp).toEqual([0])
    expect(owner.owns(blob)).toBe(true)
    expect(owner.stats).toMatchObject({ acquired: 2, lost: 1 })
  })
})
