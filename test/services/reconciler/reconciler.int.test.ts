import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../../domain/blob-id.ts"
import { ShadowEvents } from "../../../infra/shadow-events.ts"
import { startReconciler, type Reconciler } from "../../../services/reconciler/reconciler.ts"
import { connectTo } from "../../support/nats-server.ts"
import { eventually } from "../../support/eventually.ts"
import { cmd } from "../../support/raw.ts"
import { startTestStack, type TestStack } from "../../support/umbra.ts"
import { fastReconciler, prediction } from "./support.ts"

// The reconciler against a real nats-server and blob service: each verdict of the issue,
// reached the way it happens in production (writes through the service, predictions put
// into the shadow tier as the predictor does).

let s: TestStack
let r: Reconciler
let lifecycle: ShadowEvents
const SWEEP_MS = 500
const GRACE_MS = 1_500

beforeAll(async () => {
  s = await startTestStack()
  const config = { ...s.config, instanceId: "rec-test", reconciler: fastReconciler({ sweepIntervalMs: SWEEP_MS, graceMs: GRACE_MS })(s.config) }
  r = await startReconciler(await connectTo(s.server.url, "reconciler"), config)
  lifecycle = ShadowEvents.open(s.nc, s.config.names)
})
afterAll(async () => {
  await r?.stop()
  await s?.stop()
})

const write = async (id: string, text: string, hdrs?: Record<string, string>) => cmd(s.nc, "write", id, text, hdrs)
const shadowIn = async (id: string) => s.blob.shadows.store.get(id as BlobId)
const verdicts = async (id: string) => (await lifecycle.forBlob(id as BlobId)).filter((e) => e.kind !== "created")
const putPrediction = async (id: string, basedOn: number, text: string, o = {}) => {
  const put = await s.blob.shadows.store.put(prediction(id, basedOn, text, o))
  if (put._tag !== "stored") throw new Error(`prediction not stored: ${put._tag}`)
  // At or past it: the reconciler may already have judged (and replaced) this revision.
  await eventually(() => (r.replica.get(id)?.shadowVersion ?? 0) >= put.revision)
  return put.revision
}

describe("event-driven verdicts", () => {
  it("a correct prediction is confirmed when its write arrives", async () => {
    const id = "rec/right"
    await write(id, "v1")
    const rev = await putPrediction(id, 1, "v2")
    await write(id, "v2")
    const v = await eventually(async () => {
      const found = (await verdicts(id)).find((e) => e.shadowVersion === rev)
      expect(found).toBeDefined()
      return found!
    })
    expect(v).toMatchObject({ kind: "confirmed", reason: "predicted-write-arrived", origin: "prediction", correct: true, confidence: 0.95, headVersion: 2 })
    expect(r.metrics.c.coveredWrites).toBeGreaterThanOrEqual(1)
    expect(r.metrics.c.predictionsConfirmed).toBeGreaterThanOrEqual(1)
  })

  it("a deliberately wrong prediction is discarded by the next event of its blob", async () => {
    const id = "rec/wrong"
    await write(id, "v1")
    const rev = await putPrediction(id, 1, "a guess")
    await write(id, "what really happened")
    const v = await eventually(async () => {
      const found = (await verdicts(id)).find((e) => e.shadowVersion === rev)
      expect(found).toBeDefined()
      return found!
    })
    expect(v).toMatchObject({ kind: "discarded", reason: "wrong-content", origin: "prediction", correct: false, headVersion: 2 })
    // What readers get now is the write's shadow, which the same event confirmed.
    const current = await shadowIn(id)
    expect(current).toMatchObject({ predicted: 2, origin: "write", status: "live" })
    await eventually(async () => expect((await verdicts(id)).some((e) => e.shadowVersion === current!.shadowVersion && e.kind === "confirmed")).toBe(true))
  })

  it("a wrong shadow that shows up after its version's event is discarded in the shadow tier at once", async () => {
    const id = "rec/late-wrong"
    await write(id, "v1")
    await eventually(() => expect(r.tracker.headVersion(id)).toBe(1))
    // The write's own shadow is put concurrently with its append: wait until it landed, or it
    // could land after (and replace) the wrong one this test puts.
    await eventually(async () => expect(await shadowIn(id)).toMatchObject({ predicted: 1, status: "live" }))
    const rev = await putPrediction(id, 0, "not v1", { origin: "write", confidence: 1 })
    await eventually(async () => expect(await shadowIn(id)).toMatchObject({ status: "discarded", reason: "wrong-content", predicted: 1 }))
    expect((await verdicts(id)).find((e) => e.shadowVersion === rev)).toMatchObject({ kind: "discarded", reason: "wrong-content" })
    const read = await cmd(s.nc, "read", id)
    expect(read.text).toBe("v1")
    expect(read.header("Umbra-Source")).toBe("primary")
  })

  it("a conflict shadow whose write never landed is discarded when the head moves past its base", async () => {
    const id = "rec/conflict"
    await write(id, "winner")
    const lost = await write(id, "loser", { "Umbra-Expected-Version": "0" })
    expect(lost.status).toBe(409)
    await eventually(() => expect(r.replica.get(id)?.origin).toBe("conflict"))
    const rev = r.replica.get(id)!.shadowVersion
    await write(id, "someone else")
    const v = await eventually(async () => {
      const found = (await verdicts(id)).find((e) => e.shadowVersion === rev)
      expect(found).toBeDefined()
      return found!
    })
    expect(v).toMatchObject({ kind: "discarded", reason: "conflict-never-landed", origin: "conflict", headVersion: 2 })
  })

  it("a conflict shadow with no write after it expires after its grace", async () => {
    const id = "rec/conflict-quiet"
    await write(id, "winner")
    expect((await write(id, "loser", { "Umbra-Expected-Version": "0" })).status).toBe(409)
    await eventually(() => expect(r.replica.get(id)?.origin).toBe("conflict"))
    await eventually(async () => expect(await shadowIn(id)).toMatchObject({ status: "discarded", reason: "conflict-never-landed" }), SWEEP_MS + GRACE_MS + 3_000)
  })
})

describe("the sweep", () => {
  it("discards a prediction whose valid-from passed with no write, within one interval plus grace", async () => {
    const id = "rec/expired"
    await write(id, "v1")
    const validFromMs = Date.now()
    const rev = await putPrediction(id, 1, "never written", { validFromMs })
    const discardedAt = await eventually(async () => {
      const sh = await shadowIn(id)
      expect(sh).toMatchObject({ status: "discarded", reason: "valid-from-expired", predicted: 2 })
      return Date.now()
    }, SWEEP_MS + GRACE_MS + 5_000, 20)
    // Within one sweep interval plus grace (and a little for the settlement itself).
    expect(discardedAt - validFromMs).toBeLessThanOrEqual(SWEEP_MS + GRACE_MS + 400)
    expect((await verdicts(id)).find((e) => e.shadowVersion === rev)).toMatchObject({ kind: "discarded", reason: "valid-from-expired", correct: false })
  })

  it("keeps a prediction whose valid-from is in the future", async () => {
    const id = "rec/future"
    await write(id, "v1")
    await putPrediction(id, 1, "later", { validFromMs: Date.now() + 60_000 })
    await r.sweepNow()
    await r.sweepNow()
    expect(await shadowIn(id)).toMatchObject({ status: "live", predicted: 2, origin: "prediction" })
  })
})

describe("records and metrics", () => {
  it("records `created` once per revision, before its verdict, and counts by reason in $SRV.STATS", async () => {
    const id = "rec/created"
    await write(id, "v1")
    const rev = await putPrediction(id, 1, "v2")
    await write(id, "v2")
    await eventually(async () => expect((await verdicts(id)).some((e) => e.shadowVersion === rev)).toBe(true))
    const all = await lifecycle.forBlob(id as BlobId)
    const created = all.filter((e) => e.kind === "created" && e.shadowVersion === rev)
    expect(created).toHaveLength(1)
    expect(all.findIndex((e) => e.kind === "created" && e.shadowVersion === rev)).toBeLessThan(all.findIndex((e) => e.kind !== "created" && e.shadowVersion === rev))
    const reply = await s.nc.request("$SRV.STATS.umbra-reconciler", undefined, { timeout: 5_000 })
    const stats = JSON.parse(new TextDecoder().decode(reply.data)) as { endpoints: Array<{ data: Record<string, unknown> }> }
    const data = stats.endpoints[0]?.data as { verdicts: Record<string, number>; headToVerdictMs: { count: number; p99: number }; predictionPrecision: number }
    expect(data.verdicts["confirmed:predicted-write-arrived"]).toBeGreaterThanOrEqual(1)
    expect(data.headToVerdictMs.count).toBeGreaterThan(0)
    expect(data.predictionPrecision).toBeGreaterThan(0)
  })

  it("stores every write shadow's `created` before its verdict under concurrent writes", async () => {
    // The verdict is published without waiting for its `created` record's ack (settler.ts):
    // only their order on one connection keeps the stream's order, which this checks.
    const ids = Array.from({ length: 16 }, (_, i) => `rec/order-${i}`)
    for (let round = 0; round < 8; round++) await Promise.all(ids.map((id) => write(id, `round ${round} of ${id}`)))
    for (const id of ids) {
      const all = await eventually(async () => {
        const events = await lifecycle.forBlob(id as BlobId)
        expect(events.filter((e) => e.kind !== "created" && e.origin === "write" && e.headVersion === e.predicted).map((e) => e.predicted)).toEqual(
          expect.arrayContaining([1, 2, 3, 4, 5, 6, 7, 8]),
        )
        return events
      })
      for (const v of all.filter((e) => e.kind !== "created")) {
        const createdAt = all.findIndex((e) => e.kind === "created" && e.shadowVersion === v.shadowVersion)
        expect(createdAt, `${id}: created of revision ${v.shadowVersion}`).toBeGreaterThanOrEqual(0)
        expect(createdAt).toBeLessThan(all.indexOf(v))
      }
    }
  })

  it("counts a wrong shadow that was served before its discard as served-but-wrong", async () => {
    const id = "rec/served-wrong"
    await write(id, "v1")
    await putPrediction(id, 1, "a guess served to readers", { confidence: 0.99, validFromMs: Date.now() - 1 })
    await eventually(() => expect(s.blob.shadows.replica.get(id)?.origin).toBe("prediction"))
    for (let i = 0; i < 3; i++) expect((await cmd(s.nc, "read", id)).header("Umbra-Source")).toBe("shadow")
    // The access facts are published once a second; the verdict knows only what has arrived.
    const facts = r.stats()["accessFacts"] as number
    s.blob.access.flush(s.serviceNc, s.config.names)
    await eventually(() => expect(r.stats()["accessFacts"]).toBeGreaterThan(facts))
    const before = r.metrics.c.servedButWrongReads
    await write(id, "v2 real")
    await eventually(() => expect(r.metrics.c.servedButWrongReads).toBe(before + 3))
    expect(r.metrics.c.servedButWrongShadows).toBeGreaterThanOrEqual(1)
  })
})
