import { UmbraClient } from "../../infra/client/umbra-client.ts"
import { durationMs, str, type Values } from "./args.ts"
import type { Io } from "./io.ts"

// Connection settings from global flags, then the environment, then the local default.

export const DEFAULT_SERVER = "nats://127.0.0.1:4222"

export const connectFromFlags = (v: Values, io: Io): Promise<UmbraClient> => {
  const servers = str(v, "server") ?? io.env["NATS_URL"] ?? DEFAULT_SERVER
  const user = str(v, "user") ?? io.env["NATS_USER"]
  const pass = str(v, "password") ?? io.env["NATS_PASS"]
  const token = str(v, "token") ?? io.env["NATS_TOKEN"]
  const caFile = str(v, "tls-ca") ?? io.env["NATS_CA"]
  const certFile = str(v, "tls-cert") ?? io.env["NATS_CERT"]
  const keyFile = str(v, "tls-key") ?? io.env["NATS_KEY"]
  const timeoutMs = durationMs(v, "timeout")
  const tls =
    caFile === undefined && certFile === undefined && keyFile === undefined
      ? undefined
      : { ...(caFile === undefined ? {} : { caFile }), ...(certFile === undefined ? {} : { certFile }), ...(keyFile === undefined ? {} : { keyFile }) }
  return UmbraClient.connect({
    servers,
    name: "umbra-cli",
    // A one-shot command should fail at once when no server answers, not wait for one.
    failFast: true,
    ...(user === undefined || user === "" ? {} : { user }),
    ...(pass === undefined || pass === "" ? {} : { pass }),
    ...(token === undefined || token === "" ? {} : { token }),
    ...(tls === undefined ? {} : { tls }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    writer: writerName(io),
  })
}

/** The writer recorded in history; a name the header cannot carry falls back to a fixed one. */
const writerName = (io: Io): string => {
  const name = io.env["UMBRA_WRITER"] || io.env["USER"] || ""
  return /^[\x21-\x7e]{1,100}$/.test(name) ? name : "umbra-cli"
}
