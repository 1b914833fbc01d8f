import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import type { BlobId } from "../../../domain/blob-id.ts"
import type { Shadow } from "../../../domain/shadow.ts"
import type { ShadowLifecycleEvent } from "../../../domain/shadow-lifecycle.ts"
import { nodeHasher } from "../../../infra/hasher.ts"
import type { Names } from "../../../infra/names.ts"
import type { ReconcilerSettings, UmbraConfig } from "../../../services/config.ts"

// Helpers shared by the reconciler's integration tests.

const enc = new TextEncoder()

export const fastReconciler = (o: Partial<ReconcilerSettings> = {}) => (c: UmbraConfig): ReconcilerSettings => ({
  ...c.reconciler,
  sweepIntervalMs: 500,
  graceMs: 1_500,
  ackWaitMs: 2_000,
  ...o,
})

export const prediction = (id: string, basedOn: number, content: string, o: Partial<Shadow> = {}): Shadow => {
  const bytes = enc.encode(content)
  return {
    id: id as BlobId,
    basedOn,
    predicted: basedOn + 1,
    digest: nodeHasher.digest(bytes),
    size: bytes.length,
    contentType: undefined,
    contentRef: undefined,
    content: bytes,
    confidence: 0.95,
    validFromMs: Date.now(),
    createdAtMs: Date.now(),
    origin: "prediction",
    model: "test-model",
    status: "live",
    reason: undefined,
    shadowVersion: 0,
    ...o,
  }
}

/** Every lifecycle event in the stream (all blobs), in order. */
export const allLifecycle = async (nc: NatsConnection, names: Names): Promise<ShadowLifecycleEvent[]> => {
  const jsm = await jetstreamManager(nc)
  const total = (await jsm.streams.info(names.shadowEventStream)).state.messages
  const out: ShadowLifecycleEvent[] = []
  if (total === 0) return out
  const c = await jetstream(nc).consumers.get(names.shadowEventStream, { deliver_policy: DeliverPolicy.All })
  const dec = new TextDecoder()
  while (out.length < total) {
    const batch = await c.fetch({ max_messages: Math.min(5_000, total - out.length), expires: 5_000 })
    let got = 0
    for await (const m of batch) {
      got++
      out.push(JSON.parse(dec.decode(m.data)) as ShadowLifecycleEvent)
    }
    if (got === 0) break
  }
  return out
}

export const verdictsOf = (events: ReadonlyArray<ShadowLifecycleEvent>, id: string) => events.filter((e) => e.id === id && e.kind !== "created")
