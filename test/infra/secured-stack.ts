import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { NatsConnection } from "@nats-io/nats-core"
import { connectNats } from "../../infra/connection.ts"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import { startBlobService, type BlobService } from "../../services/blob-service/blob-service.ts"
import type { UmbraConfig } from "../../services/config.ts"
import { renderWithSecrets, writeSecretFile } from "../../deploy/make-nats-conf.ts"
import { ROLES, userOf, type Role } from "../../deploy/nats-roles.ts"
import { prepareTopology, startTestServer, testConfig } from "../support/nats-server.ts"

// A server running the real role layout of nats.conf (deploy/nats-roles.ts) with test
// passwords, and the blob service connected as `umbra-service`. Each client connects with its
// own inbox prefix (connectNats derives `_INBOX_<user>` from the user).

export interface Credentials {
  readonly user: string
  readonly pass: string
}

const credentialsOf = (role: Role): Credentials => ({ user: userOf(role), pass: `${role}-test-pw` })

export const SERVICE: Credentials = credentialsOf("service")
export const WRITER: Credentials = credentialsOf("writer")
export const READER: Credentials = credentialsOf("reader")
export const AUDITOR: Credentials = credentialsOf("auditor")
export const CREDENTIALS: Readonly<Record<Role, Credentials>> = { service: SERVICE, writer: WRITER, reader: READER, auditor: AUDITOR }

export interface SecuredStackOptions {
  readonly tls?: { readonly certFile: string; readonly keyFile: string }
  /** The client options of the service's connection (e.g. the CA when TLS is on). */
  readonly serviceTls?: { readonly caFile: string }
  readonly config?: Partial<UmbraConfig>
}

export interface SecuredStack {
  readonly server: NatsServerProcess
  readonly config: UmbraConfig
  /** The blob service's own connection (user umbra-service). */
  readonly serviceNc: NatsConnection
  readonly configFile: string
  stop(): Promise<void>
}

export const startSecuredStack = async (o: SecuredStackOptions = {}): Promise<SecuredStack> => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-auth-"))
  const configFile = join(dir, "nats.conf")
  const secrets = Object.fromEntries(ROLES.map((r) => [r, CREDENTIALS[r].pass])) as Record<Role, string>
  // Cost 4 (the minimum): every test connection pays a bcrypt check on the server.
  writeSecretFile(configFile, renderWithSecrets(secrets, { cost: 4, ...(o.tls === undefined ? {} : { tls: o.tls }) }))
  const server = await startTestServer({ configFile })
  const config = testConfig(server.url, o.config ?? {})
  let nc: NatsConnection | undefined
  let blob: BlobService | undefined
  try {
    nc = await connectNats({
      servers: server.url,
      name: "umbra-svc",
      ...SERVICE,
      ...(o.serviceTls === undefined ? {} : { tls: o.serviceTls }),
    })
    await prepareTopology(nc, config)
    blob = await startBlobService(nc, config)
  } catch (e) {
    await nc?.close().catch(() => {})
    await server.stop(true)
    throw e
  }
  const serviceNc = nc
  return {
    server,
    config,
    serviceNc,
    configFile,
    stop: async () => {
      await blob?.stop().catch(() => {})
      await serviceNc.close().catch(() => {})
      await server.stop(true)
    },
  }
}
