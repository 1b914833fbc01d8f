import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import type { Shadow } from "../../domain/shadow.ts"
import { connectNats } from "../../infra/connection.ts"
import { CAS_DUPLICATE_WINDOW_MS } from "../../infra/exclusive-cas.ts"
import { LeaseStore } from "../../infra/lease-store.ts"
import { startLocalCluster, waitForJetStream, type LocalCluster } from "../../infra/local-cluster.ts"
import { ShadowStore } from "../../infra/shadow-store.ts"

// Compare-and-sets racing from the three nodes of a cluster on one R3 key. nats-server 2.9.10
// accepts concurrent writes that expect the same revision of a replicated stream (its issue
// #4320; test/faults/cas-race-repro.ts: two winners in 152 of 200 rounds), so without the
// message id of infra/exclusive-cas.ts two blob services took one lease, and a shadow could
// move backwards. Each round here starts the writers together from one revision.

let cluster: LocalCluster
let ncs: NatsConnection[] = []

beforeAll(async () => {
  cluster = await startLocalCluster(3)
  ncs = await Promise.all(cluster.nodes.map((n, i) => connectNats({ servers: `nats://127.0.0.1:${n.clientPort}`, name: `cas-${i}` })))
  await waitForJetStream(async () => (await (await jetstreamManager(ncs[0]!)).getAccountInfo()) !== undefined, 60_000)
})

afterAll(async () => {
  for (const nc of ncs) await nc.close().catch(() => undefined)
  await cluster?.stop()
})

const ROUNDS = 40

describe("compare-and-set on a replicated (R3) stream of nats-server 2.9.10", () => {
  it("three instances taking one lease at once: at most one wins each round, and the bucket holds the winner's lease", async () => {
    const stores = await Promise.all(
      ncs.map((nc) => LeaseStore.open(nc, { leaseBucket: "race_leases", memberBucket: "race_members", replicas: 3, memberTtlMs: 60_000, opTimeoutMs: 5_000 })),
    )
    const jsm = await jetstreamManager(ncs[0]!)
    // Ids are kept for seconds: one whose write was never stored frees its key within a lease.
    expect((await jsm.streams.info("KV_race_leases")).config.duplicate_window).toBe(CAS_DUPLICATE_WINDOW_MS * 1_000_000)
    const lastRevision = async () => (await jsm.streams.getMessage("KV_race_leases", { last_by_subj: "$KV.race_leases.p0" }))?.seq ?? 0
    try {
      let revision = 0
      let wins = 0
      for (let round = 0; round < ROUNDS; round++) {
        const results = await Promise.allSettled(
          stores.map((s, i) => s.set(0, { owner: `inst-${i}`, term: round + 1, expiresAtMs: Date.now() + 5_000 }, revision)),
        )
        const won = results.flatMap((r, i) => (r.status === "fulfilled" && r.value !== undefined ? [{ i, revision: r.value }] : []))
        expect(won.length, `round ${round}: ${JSON.stringify(results.map((r) => r.status === "fulfilled" ? r.value : String(r.reason)))}`).toBeLessThanOrEqual(1)
        revision = await lastRevision()
        if (won[0] !== undefined) {
          wins++
          // The winner's write is the key's last one: no other write of the round landed after it.
          expect(revision).toBe(won[0].revision)
          const stored = await jsm.streams.getMessage("KV_race_leases", { last_by_subj: "$KV.race_leases.p0" })
          expect(stored?.json<{ owner: string }>().owner).toBe(`inst-${won[0].i}`)
        }
      }
      // Exclusive, and not by refusing everyone: nearly every round has its winner.
      expect(wins).toBeGreaterThanOrEqual(ROUNDS - 4)
    } finally {
      for (const s of stores) s.stop()
    }
  })

  it("shadows written at once from three nodes never move backwards in predicted version (KV history)", async () => {
    await new Kvm(jetstream(ncs[0]!)).create("race_shadows", { history: 64, replicas: 3, storage: "memory" as never })
    const stores = await Promise.all(ncs.map((nc) => ShadowStore.open(nc, { bucket: "race_shadows", maxShadows: 1_000, maxValueBytes: 1_024 })))
    const id = "race/blob" as BlobId
    const shadow = (predicted: number, writer: number): Shadow => ({
      id,
      basedOn: predicted - 1,
      predicted,
      digest: `sha256:${String(predicted).padStart(4, "0")}-${writer}`,
      size: 1,
      contentType: undefined,
      contentRef: undefined,
      content: new Uint8Array([writer]),
      confidence: 0.9,
      validFromMs: 0,
      createdAtMs: Date.now(),
      origin: "write",
      model: "test",
      status: "live",
      reason: undefined,
      shadowVersion: 0,
    })
    // Each round the three writers start from the same stored shadow and race with versions
    // above it, in an order that changes from round to round.
    for (let round = 0; round < 20; round++) {
      const base = round * 3
      const results = await Promise.all(stores.map((s, i) => s.put(shadow(base + 1 + ((i + round) % 3), i))))
      // Stored, or skipped as no longer newer: a lost compare-and-set is retried, never a failure.
      expect(results.filter((r) => r._tag === "failed"), `round ${round}`).toEqual([])
    }
    const history = (await stores[0]!.history(id)).map((s) => s.predicted)
    expect(history.length).toBeGreaterThan(20)
    for (let i = 1; i < history.length; i++) expect(history[i], `history ${history.join(",")}`).toBeGreaterThanOrEqual(history[i - 1]!)
  })
})
