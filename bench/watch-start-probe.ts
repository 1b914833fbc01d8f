// Ad-hoc: what one `nats consumer ls` (a consumer info/list request) does to a KV watch on
// nats-server 2.9.10, for the two ways a watch can start (docs/decisions.md, "A replica's watch
// starts by sequence"). Per start, on a fresh server: a memory bucket of N keys (one revision
// each), a watch that loads them, 500 puts one at a time, one consumer list, 500 more puts;
// nats-server's CPU per put before and after the list.
//   npx tsx bench/watch-start-probe.ts [keys=20000]
import { jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { cpuMs } from "./processes.ts"

const keys = Number(process.argv[2] ?? "20000")

const probe = async (label: string, start: { resumeFromRevision?: number }): Promise<void> => {
  const server = await startNatsServer({ port: -1 })
  const nc = await connectNats({ servers: server.url, name: "watch-start" })
  try {
    const kv = await new Kvm(nc).create("watch_start", { storage: "memory" as never, history: 1 })
    for (let k = 0; k < keys; k += 1000) await Promise.all(Array.from({ length: Math.min(1000, keys - k) }, (_, i) => kv.put(`k${k + i}`, "x")))
    const w = await kv.watch({ key: ">", ...start })
    let seen = 0
    void (async () => {
      for await (const _ of w) seen++
    })()
    while (seen < keys) await new Promise((r) => setTimeout(r, 20))
    const puts = async (): Promise<string> => {
      const s0 = cpuMs(server.pid())
      for (let i = 0; i < 500; i++) {
        await kv.put(`k${i}`, "y")
        await new Promise((r) => setImmediate(r))
      }
      return (((cpuMs(server.pid()) - s0) * 1000) / 500).toFixed(0)
    }
    const before = await puts()
    for await (const _ of (await jetstreamManager(nc)).consumers.list("KV_watch_start"));
    const after = await puts()
    console.log(`${label.padEnd(22)} nats-server CPU per put: ${before} µs, after one consumer list ${after} µs (${keys} keys)`)
    w.stop()
  } finally {
    await nc.close()
    await server.stop()
  }
}

await probe("last-per-subject watch", {})
await probe("watch by sequence", { resumeFromRevision: 1 })
