import { jetstream } from "@nats-io/jetstream"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { chainPayload, GENESIS_HASH, type BlobEvent } from "../domain/blob-event.ts"
import type { BlobId } from "../domain/blob-id.ts"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { encodeEventHeaders } from "../infra/event-codec.ts"
import { nodeHasher } from "../infra/hasher.ts"
import { eventSubject } from "../infra/names.ts"
import { ensureTopology } from "../infra/topology.ts"
import { loadConfig } from "../services/config.ts"
import { startPredictorService } from "../services/predictor/predictor-service.ts"
import { trainFromHistory } from "../services/predictor/train.ts"
import { scenarioHistory } from "./generators/value-shapes.ts"

// Learning throughput of the predictor *service*: events already in UMBRA_EVENTS on a
// private nats-server, read through the durable pull consumer (decode, observe, ack) and
// emitted as shadows within the default limits; then the same stream through `umbra train`
// (an ordered consumer, no acks). Timings on a shared machine are not assertions.
//   npx tsx simulations/predictor-service-bench.ts [--versions 100000] [--batch 256]

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const encoder = new TextEncoder()

const eventsOf = (versions: number): BlobEvent[] => {
  const heads = new Map<string, { version: number; hash: string }>()
  return scenarioHistory("structured", 7, versions).map((r) => {
    const head = heads.get(r.id) ?? { version: 0, hash: GENESIS_HASH }
    const content = encoder.encode(JSON.stringify(r.json))
    const unsigned = {
      id: r.id as BlobId,
      version: head.version + 1,
      op: "write" as const,
      digest: nodeHasher.digest(content),
      size: content.length,
      contentType: "application/json",
      contentRef: undefined,
      writer: "bench",
      timeMs: r.time,
      idempotencyKey: undefined,
      restoredFrom: undefined,
      prevHash: head.hash,
    }
    const hash = nodeHasher.hashText(chainPayload(unsigned))
    heads.set(r.id, { version: unsigned.version, hash })
    return { ...unsigned, content, hash }
  })
}

const main = async (): Promise<void> => {
  const versions = arg("--versions", 100_000)
  const server = await startNatsServer()
  const config = loadConfig({ natsUrl: server.url })
  const tuned = { ...config, predictor: { ...config.predictor, fetchBatch: arg("--batch", config.predictor.fetchBatch) } }
  const nc = await connectNats({ servers: server.url, name: "predictor-service-bench" })
  try {
    await ensureTopology(nc, {
      names: config.names,
      replicas: 1,
      duplicateWindowNs: config.duplicateWindowMs * 1e6,
      shadowHistory: config.shadowHistory,
      shadowMaxBytes: config.shadowMaxBytes,
    })
    const events = eventsOf(versions)
    const js = jetstream(nc)
    const loadStarted = performance.now()
    for (let i = 0; i < events.length; i += 512) {
      await Promise.all(
        events.slice(i, i + 512).map((e) => js.publish(eventSubject(config.names, e.id), e.content, { headers: encodeEventHeaders(e) })),
      )
    }
    const loadMs = performance.now() - loadStarted

    const started = performance.now()
    const service = await startPredictorService(nc, tuned)
    while (service.stats().learner.observed < events.length) await sleep(5)
    const learnMs = performance.now() - started
    const st = service.stats()
    await service.stop({ checkpoint: false })

    const trained = await trainFromHistory(nc, tuned, { force: true })
    console.log(
      JSON.stringify(
        {
          versions: events.length,
          blobs: new Set(events.map((e) => e.id)).size,
          loadEventsPerSec: Math.round(events.length / (loadMs / 1000)),
          service: {
            eventsPerSec: Math.round(events.length / (learnMs / 1000)),
            elapsedMs: Math.round(learnMs),
            batch: tuned.predictor.fetchBatch,
            emitted: st.model.emitted,
            servedByModel: st.model.served,
            shadowsStored: st.emitter.stored,
            coalesced: st.emission.coalesced,
            stale: st.emitter.stale,
          },
          train: { eventsPerSec: Math.round(trained.eventsPerSec), elapsedMs: trained.elapsedMs, checkpointBytes: trained.checkpointBytes },
        },
        null,
        2,
      ),
    )
  } finally {
    await nc.close()
    await server.stop(true)
  }
}

await main()
