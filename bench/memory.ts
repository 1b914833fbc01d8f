import type { NatsConnection } from "@nats-io/nats-core"
import { payload } from "./baselines.ts"
import type { Progress } from "./harness.ts"
import { startBlobServiceChild, runTsToCompletion } from "./processes.ts"
import { blobSet, serviceStats, writeAll } from "./umbra-cases.ts"

// Memory of a blob-service process holding many live actors: a fresh service (cap on live
// actors above the count, actors never idle out), `actors` distinct 256-byte blobs written
// through it, then its VmRSS. The process also holds its replica of the shadow tier (one
// write shadow per blob), as it does in production.

export const measureLiveActorRss = async (
  natsUrl: string,
  nc: NatsConnection,
  actors: number,
  timeoutMs: number,
  progress: Progress,
): Promise<Record<string, unknown>> => {
  const child = await startBlobServiceChild(natsUrl, "bench-rss", {
    UMBRA_MAX_LIVE_ACTORS: "200000",
    UMBRA_ACTOR_IDLE_MS: "3600000",
    UMBRA_SHADOW_MAX_COUNT: "400000",
  })
  try {
    await new Promise((r) => setTimeout(r, 1_000))
    const before = child.rssBytes()
    const set = blobSet("bench-rss", actors, 256)
    const body = payload(256)
    const started = Date.now()
    const chunk = 10_000
    for (let i = 0; i < actors; i += chunk) {
      await writeAll(nc, { ids: set.ids.slice(i, i + chunk), size: 256 }, body, timeoutMs)
      progress(`[memory] ${Math.min(actors, i + chunk).toLocaleString("en-US")} / ${actors.toLocaleString("en-US")} live actors, RSS ${mib(child.rssBytes())} MiB`)
    }
    const writeS = (Date.now() - started) / 1000
    await new Promise((r) => setTimeout(r, 2_000))
    const stats = await serviceStats(nc, timeoutMs)
    const live = typeof stats?.["live_actors"] === "number" ? (stats["live_actors"] as number) : undefined
    const rss = child.rssBytes()
    const perActor = (rss - before) / actors
    return {
      liveActors: live ?? null,
      blobsWritten: actors,
      blobBytes: 256,
      rssBytes: rss,
      rssMiB: mib(rss),
      rssBeforeBytes: before,
      bytesPerLiveActor: Math.round(perActor),
      projectedRssBytesAt100k: Math.round(before + perActor * 100_000),
      shadowReplicaSize: (stats?.["shadow"] as Record<string, unknown> | undefined)?.["replicaSize"] ?? null,
      writeThroughputOpsPerSec: Math.round(actors / writeS),
      note: "VmRSS of the blob-service process (includes its local replica of the shadow tier: one write shadow per blob)",
    }
  } finally {
    await child.stop()
  }
}

const mib = (b: number): number => Math.round((b / 1024 / 1024) * 10) / 10

/** The predictor's own bench (simulations/predictor-bench.ts): bytes per tracked blob, learning rate. */
export const measurePredictor = async (blobs: number, versions: number): Promise<Record<string, unknown>> => {
  const out = await runTsToCompletion("simulations/predictor-bench.ts", ["--blobs", String(blobs), "--versions", String(versions)], ["--expose-gc"])
  const r = JSON.parse(out) as {
    memoryStructured?: { bytesPerBlob?: number; tracked?: number; estimate?: number }
    memoryAppendLogs?: { bytesPerBlob?: number; tracked?: number }
    throughput?: { eventsPerSec?: number; versions?: number }
  }
  return {
    learningEventsPerSec: r.throughput?.eventsPerSec ?? null,
    learningVersions: r.throughput?.versions ?? null,
    bytesPerTrackedBlob: r.memoryStructured?.bytesPerBlob === undefined ? null : Math.round(r.memoryStructured.bytesPerBlob),
    trackedBlobs: r.memoryStructured?.tracked ?? null,
    bytesPerTrackedAppendLog: r.memoryAppendLogs?.bytesPerBlob === undefined ? null : Math.round(r.memoryAppendLogs.bytesPerBlob),
    source: "simulations/predictor-bench.ts (in-process predictor core, heap after GC)",
  }
}
