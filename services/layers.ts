import { Context, Effect, Layer } from "effect"
import type { NatsConnection } from "@nats-io/nats-core"
import { existsSync, mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { connectNats, jetStreamAnswers } from "../infra/connection.ts"
import { startNatsServer, type NatsServerProcess } from "../infra/embedded-server.ts"
import { ensureTopology } from "../infra/topology.ts"
import { startBlobService, type BlobService, type BlobServiceHooks } from "./blob-service/blob-service.ts"
import { loadConfig, type UmbraConfig } from "./config.ts"

// Each runnable service is a small set of Layers: configuration, a NATS connection (scoped:
// drained on shutdown), the verified topology, and the service itself.

export class Settings extends Context.Service<Settings, UmbraConfig>()("umbra/Settings") {
  static readonly layer = Layer.effect(Settings, Effect.sync(() => loadConfig()))
  static readonly fixed = (c: UmbraConfig) => Layer.succeed(Settings, c)
}

export interface NatsHandle {
  readonly nc: NatsConnection
  readonly url: string
  /** Set when this process started its own nats-server (`npm start` with none reachable). */
  readonly embedded: NatsServerProcess | undefined
}

export class Nats extends Context.Service<Nats, NatsHandle>()("umbra/Nats") {
  static readonly layer = Layer.effect(
    Nats,
    Effect.gen(function* () {
      const config = yield* Settings
      const { url, embedded } = yield* Effect.acquireRelease(Effect.promise(() => resolveServer(config)), (r) =>
        Effect.promise(() => r.embedded?.stop() ?? Promise.resolve()),
      )
      const nc = yield* Effect.acquireRelease(
        Effect.promise(() =>
          connectNats({
            servers: url,
            name: config.instanceId,
            ...(config.natsUser === undefined ? {} : { user: config.natsUser }),
            ...(config.natsPass === undefined ? {} : { pass: config.natsPass }),
            ...(config.natsCa === undefined ? {} : { tls: { caFile: config.natsCa } }),
          }),
        ),
        (nc) => Effect.promise(() => nc.drain().catch(() => undefined)),
      )
      return { nc, url, embedded }
    }),
  )
}

const LOCAL_URL = "nats://127.0.0.1:4222"

/** NATS_URL when set; else a JetStream server on 127.0.0.1:4222; else one of our own. */
export const resolveServer = async (config: UmbraConfig): Promise<{ url: string; embedded: NatsServerProcess | undefined }> => {
  if (config.natsUrl !== "") return { url: config.natsUrl, embedded: undefined }
  if (await jetStreamAnswers(LOCAL_URL)) return { url: LOCAL_URL, embedded: undefined }
  const storeDir = resolve(".data/nats")
  mkdirSync(storeDir, { recursive: true })
  const conf = resolve("nats.conf")
  const embedded = await startNatsServer({
    port: 4222,
    storeDir,
    ...(existsSync(conf) ? { configFile: conf } : {}),
    logFile: resolve(".data/nats-server.log"),
  }).catch(() => startNatsServer({ storeDir, logFile: resolve(".data/nats-server.log") }))
  return { url: embedded.url, embedded }
}

export const TopologyLayer = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* Settings
    const { nc } = yield* Nats
    yield* Effect.promise(() =>
      ensureTopology(nc, {
        names: config.names,
        replicas: config.replicas,
        duplicateWindowNs: config.duplicateWindowMs * 1_000_000,
        shadowHistory: config.shadowHistory,
        shadowMaxBytes: config.shadowMaxBytes,
      }),
    )
  }),
)

export class Blob extends Context.Service<Blob, BlobService>()("umbra/BlobService") {
  static readonly layer = (hooks: BlobServiceHooks = {}) =>
    Layer.effect(
      Blob,
      Effect.gen(function* () {
        const config = yield* Settings
        const { nc } = yield* Nats
        return yield* Effect.acquireRelease(
          Effect.promise(() => startBlobService(nc, config, hooks)),
          (s) => Effect.promise(() => s.stop()),
        )
      }),
    )
}
