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

nc.subscribe("blob.cmd.>", {
  queue: "umbra-echo",
  callback: (err, msg) => {
    if (err !== null) return
    const op = msg.subject.split(".")[2]
    if (op === "read") {
      const h = natsHeaders()
      h.set("Umbra-Version", "1")
      h.set("Umbra-Source", "primary")
      h.set("Umbra-Digest", DIGEST)
      msg.respond(msg.data, { headers: h })
    } else msg.respond(op === "history" ? listed : written)
  },
})
await nc.flush()
console.log("umbra echo service ready")
process.on("SIGTERM", () => void nc.drain().finally(() => process.exit(0)))
