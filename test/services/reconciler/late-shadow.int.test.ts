import { Kvm } from "@nats-io/kv"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../../domain/blob-id.ts"
import { encodeShadow } from "../../../infra/shadow-codec.ts"
import { ShadowEvents } from "../../../infra/shadow-events.ts"
import { startReconciler, type Reconciler } from "../../../services/reconciler/reconciler.ts"
import { eventually } from "../../support/eventually.ts"
import { connectTo } from "../../support/nats-server.ts"
import { cmd } from "../../support/raw.ts"
import { startTestStack, type TestStack } from "../../support/umbra.ts"
import { fastReconciler, prediction } from "./support.ts"

// A revision that reaches the reconciler after a later event of its blob: a write's shadow
// its blob service stored late, under load, or a watch that lagged behind the event consumer.
// It is judged as it arrives, against the event at its own version. The sweep is far away
// here, so only that path can record these verdicts.

let s: TestStack
let r: Reconciler
let lifecycle: ShadowEvents

beforeAll(async () => {
  s = await startTestStack()
  const config = { ...s.config, instanceId: "rec-late", reconciler: fastReconciler({ sweepIntervalMs: 600_000, graceMs: 600_000 })(s.config) }
  r = await startReconciler(await connectTo(s.server.url, "reconciler-late"), config)
  lifecycle = ShadowEvents.open(s.nc, s.config.names)
})
afterAll(async () => {
  await r?.stop()
  await s?.stop()
})

/** Puts a revision straight into the bucket, as a late put lands: not through the store, which keeps shadows monotonic. */
const putLate = async (id: string, predicted: number, text: string): Promise<number> => {
  const kv = await new Kvm(s.nc).open(s.config.names.shadowBucket)
  return kv.put(id, encodeShadow(prediction(id, predicted - 1, text)))
}

const verdictOf = (id: string, rev: number) =>
  eventually(async () => {
    const found = (await lifecycle.forBlob(id as BlobId)).find((e) => e.shadowVersion === rev && e.kind !== "created")
    expect(found).toBeDefined()
    return found!
  })

describe("a revision that arrives after a later event of its blob", () => {
  it("is judged at once against the event at its own version: right content confirmed, wrong discarded", async () => {
    for (const id of ["late/right", "late/wrong"]) {
      await cmd(s.nc, "write", id, "one")
      await cmd(s.nc, "write", id, "two")
      await eventually(() => expect(r.tracker.headVersion(id)).toBe(2))
    }
    const right = await putLate("late/right", 1, "one")
    const wrong = await putLate("late/wrong", 1, "not one")
    expect(await verdictOf("late/right", right)).toMatchObject({ kind: "confirmed", reason: "predicted-write-arrived", predicted: 1, headVersion: 1 })
    expect(await verdictOf("late/wrong", wrong)).toMatchObject({ kind: "discarded", reason: "wrong-content", predicted: 1, headVersion: 1 })
  })

  it("is judged against the head event it just saw when it predicts the head's version", async () => {
    // The tracker's recent event, kept without content: no fetch, and no content needed.
    const id = "late/at-head"
    await cmd(s.nc, "write", id, "one")
    await cmd(s.nc, "write", id, "two")
    await eventually(() => expect(r.tracker.recentEvent(id)?.version).toBe(2))
    const right = await putLate(id, 2, "two")
    expect(await verdictOf(id, right)).toMatchObject({ kind: "confirmed", reason: "predicted-write-arrived", predicted: 2, headVersion: 2 })
  })
})
