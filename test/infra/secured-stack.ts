import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { NatsConnection } from "@nats-io/nats-core"
import { connectNats } from "../../infra/connection.ts"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import { startBlobService, type BlobService } from "../../services/blob-service/blob-service.ts"
import { prepareTopology, startTestServer, testConfig } from "../support/nats-server.ts"

// A server with users, for permission errors: `svc` may do anything (it runs the blob
// service); `reader` may only send read commands. Users live inside an account (2.9.10 and
// CVE-2023-47090: no top-level authorization block together with accounts).

export const READER = { user: "reader", pass: "reader-pw" } as const
const SERVICE = { user: "svc", pass: "svc-pw" } as const

const CONFIG = `
accounts {
  UMBRA {
    jetstream: enabled
    users: [
      { user: ${SERVICE.user}, password: ${SERVICE.pass} }
      {
        user: ${READER.user}, password: ${READER.pass},
        permissions: {
          publish: { allow: ["blob.cmd.read.>"] }
          subscribe: { allow: ["_INBOX.>"] }
        }
      }
    ]
  }
}
`

export interface SecuredStack {
  readonly server: NatsServerProcess
  stop(): Promise<void>
}

export const startSecuredStack = async (): Promise<SecuredStack> => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-auth-"))
  const configFile = join(dir, "nats.conf")
  writeFileSync(configFile, CONFIG)
  const server = await startTestServer({ configFile })
  const config = testConfig(server.url)
  let nc: NatsConnection | undefined
  let blob: BlobService | undefined
  try {
    nc = await connectNats({ servers: server.url, name: "umbra-svc", user: SERVICE.user, pass: SERVICE.pass })
    await prepareTopology(nc, config)
    blob = await startBlobService(nc, config)
  } catch (e) {
    await nc?.close().catch(() => {})
    await server.stop(true)
    throw e
  }
  return {
    server,
    stop: async () => {
      await blob?.stop().catch(() => {})
      await nc?.close().catch(() => {})
      await server.stop(true)
    },
  }
}
