// Ad-hoc: server CPU per KV compare-and-set on a memory bucket as the stream grows.
import { Kvm } from "@nats-io/kv"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { cpuMs } from "./processes.ts"

const history = Number(process.argv[2] ?? "16")
const coldKeys = Number(process.argv[3] ?? "1024")
const hotKeys = Number(process.argv[4] ?? "1024")
const storage = (process.argv[5] ?? "memory") as "memory" | "file"
const server = await startNatsServer({ port: -1 })
const nc = await connectNats({ servers: server.url, name: "kvx" })
try {
  const kv = await new Kvm(nc).create("x", { history, storage })
  if (process.env.MIRROR) {
    const { jetstreamManager } = await import("@nats-io/jetstream")
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: "XHIST", storage: "file" as never, mirror: { name: "KV_x" }, max_msgs_per_subject: 16 } as never)
  }
  const val = new Uint8Array(300)
  for (let i = 0; i < coldKeys; i += 64) await Promise.all(Array.from({ length: Math.min(64, coldKeys - i) }, (_, j) => kv.put(`cold.${i + j}`, val)))
  const rev = new Map<string, number>()
  for (let i = 0; i < hotKeys; i++) rev.set(`hot.${i}`, await kv.put(`hot.${i}`, val))
  let n = 0
  for (let round = 0; round < 8; round++) {
    const c0 = cpuMs(server.pid())
    const t0 = Date.now()
    const N = 8000
    for (let i = 0; i < N; i += 64) {
      await Promise.all(Array.from({ length: 64 }, async (_, j) => {
        const k = `hot.${(n + i + j) % hotKeys}`
        rev.set(k, await kv.update(k, val, rev.get(k) ?? 0))
      }))
    }
    n += N
    const si = await (await import("@nats-io/jetstream")).jetstreamManager(nc).then((m) => m.streams.info("KV_x"))
    console.log(`after ${n} updates: server ${(((cpuMs(server.pid()) - c0) * 1000) / N).toFixed(0)} µs/update, ${((N * 1000) / (Date.now() - t0)).toFixed(0)}/s, span ${si.state.last_seq - si.state.first_seq} msgs ${si.state.messages}`)
  }
} finally {
  await nc.close()
  await server.stop(true)
}
