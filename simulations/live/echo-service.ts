/**
 * A stand-in service that answers every Umbra command at once with a well-formed reply and
 * does nothing else, to measure the load driver itself (`--echo`): if the runner cannot
 * offer a rate against this, it cannot against Umbra either.
 *   NATS_URL=nats://127.0.0.1:4222 npx tsx simulations/live/echo-service.ts
 */
import { headers as natsHeaders } from "@nats-io/nats-core"
import { connectNats } from "../../infra/connection.ts"

const DIGEST = "sha256:" + "0".repeat(64)
const encoder = new TextEncoder()

const url = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222"
const nc = await connectNats({ servers: url, name: "umbra-echo" })
const written = encoder.encode(JSON.stringify({ id: "echo", version: 1, digest: DIGEST }))
const listed = encoder.encode(JSON.stringify([{ version: 1, digest: DIGEST }]))

// One header set for every read: the echo must cost less than the driver it measures.
const readHeaders = natsHeaders()
readHeaders.set("Umbra-Version", "1")
readHeaders.set("Umbra-Source", "primary")
readHeaders.set("Umbra-Digest", DIGEST)

const OP_AT = "blob.cmd.".length

nc.subscribe("blob.cmd.>", {
  queue: "umbra-echo",
  callback: (err, msg) => {
    if (err !== null) return
    const s = msg.subject
    if (s.startsWith("read.", OP_AT)) msg.respond(msg.data, { headers: readHeaders })
    else msg.respond(s.startsWith("history.", OP_AT) ? listed : written)
  },
})
await nc.flush()
console.log("umbra echo service ready")
process.on("SIGTERM", () => void nc.drain().finally(() => process.exit(0)))
