import { Context, Effect, Layer } from "effect"
import type { NatsConnection } from "@nats-io/nats-core"
import { mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { renderWithSecrets, secretsFromEnv, writeSecretFile } from "../deploy/make-nats-conf.ts"
import { passwordEnvOf, ROLES, userOf } from "../deploy/nats-roles.ts"
import { connectNats, jetStreamAnswers } from "../infra/connection.ts"
import { startNatsServer, type NatsServerProcess } from "../infra/embedded-server.ts"
import { ensureTopology } from "../infra/topology.ts"
import { startBlobService, type BlobService, type BlobServiceHooks } from "./blob-service/blob-service.ts"
import { boundHeapGrowth } from "./blob-service/heap-policy.ts"
import { loadConfig, type UmbraConfig, topologyOf } from "./config.ts"

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
  /**
   * Another connection to the same server with the same credentials, for a part of a service
   * that needs connection-level options of its own (the reconciler's no-echo lifecycle
   * connection); the caller closes it.
   */
  readonly connectMore: (name: string, o?: { readonly noEcho?: boolean }) => Promise<NatsConnection>
}

/** Credentials of the `umbra-service` user of a server this process started with nats.conf's roles. */
interface ServiceAuth {
  readonly user: string
  readonly pass: string
}

export class Nats extends Context.Service<Nats, NatsHandle>()("umbra/Nats") {
  static readonly layer = Layer.effect(
    Nats,
    Effect.gen(function* () {
      const config = yield* Settings
      const { url, embedded, auth } = yield* Effect.acquireRelease(Effect.promise(() => resolveServer(config)), (r) =>
        Effect.promise(() => r.embedded?.stop() ?? Promise.resolve()),
      )
      const user = config.natsUser ?? auth?.user
      const pass = config.natsPass ?? auth?.pass
      const connectMore = (name: string, o: { readonly noEcho?: boolean } = {}): Promise<NatsConnection> =>
        connectNats({
          servers: url,
          name,
          pendingLimitBytes: config.natsPendingLimitBytes,
          ...(o.noEcho === true ? { noEcho: true } : {}),
          ...(user === undefined ? {} : { user }),
          ...(pass === undefined ? {} : { pass }),
          ...(config.natsCa === undefined ? {} : { tls: { caFile: config.natsCa } }),
        })
      const nc = yield* Effect.acquireRelease(Effect.promise(() => connectMore(config.instanceId)), (nc) =>
        Effect.promise(() => nc.drain().catch(() => undefined)),
      )
      return { nc, url, embedded, connectMore }
    }),
  )
}

const LOCAL_URL = "nats://127.0.0.1:4222"

/**
 * NATS_URL when set; else a JetStream server on 127.0.0.1:4222; else one of our own, run with
 * nats.conf's roles (deploy/nats-roles.ts): passwords from UMBRA_<ROLE>_PASSWORD, or random ones
 * for this run, hashed into .data/nats.conf; the services connect as `umbra-service`.
 */
export const resolveServer = async (
  config: UmbraConfig,
): Promise<{ url: string; embedded: NatsServerProcess | undefined; auth?: ServiceAuth }> => {
  if (config.natsUrl !== "") return { url: config.natsUrl, embedded: undefined }
  if (await jetStreamAnswers(LOCAL_URL)) return { url: LOCAL_URL, embedded: undefined }
  const storeDir = resolve(".data/nats")
  mkdirSync(storeDir, { recursive: true })
  const { secrets, generated } = secretsFromEnv(process.env, true)
  const configFile = resolve(".data/nats.conf")
  writeSecretFile(configFile, renderWithSecrets(secrets, { serverName: "umbra-local" }))
  // Generated client passwords are useful only to whoever runs this: a file only they can read.
  writeSecretFile(
    resolve(".data/credentials.env"),
    ROLES.filter((r) => r !== "service")
      .map((r) => `# user ${userOf(r)}\n${passwordEnvOf(r)}=${secrets[r]}\n`)
      .join(""),
  )
  if (generated.length > 0) console.log(`umbra: generated passwords for ${generated.join(", ")} (this run only): .data/credentials.env`)
  const logFile = resolve(".data/nats-server.log")
  const embedded = await startNatsServer({ port: 4222, storeDir, configFile, logFile }).catch(() =>
    startNatsServer({ storeDir, configFile, logFile }),
  )
  return { url: embedded.url, embedded, auth: { user: userOf("service"), pass: secrets.service } }
}

export const TopologyLayer = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* Settings
    const { nc } = yield* Nats
    yield* Effect.promise(() =>
      ensureTopology(nc, topologyOf(config)),
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
        // What V8 keeps of a growing heap is what the process keeps (heap-policy.ts).
        yield* Effect.acquireRelease(
          Effect.sync(() => boundHeapGrowth(config.heapGrowingPercent)),
          (stop) => Effect.sync(stop),
        )
        return yield* Effect.acquireRelease(
          Effect.promise(() => startBlobService(nc, config, hooks)),
          (s) => Effect.promise(() => s.stop()),
        )
      }),
    )
}
