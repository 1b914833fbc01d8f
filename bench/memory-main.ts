import { connectNats } from "../infra/connection.ts"
import { startNatsServer } from "../infra/embedded-server.ts"
import { measureLiveActorRss } from "./memory.ts"
import { killAllChildren } from "./processes.ts"

// The memory figure alone (bench/memory.ts), on a fresh nats-server of its own:
// `npx tsx bench/memory-main.ts [--actors 100000]`. Prints the result as JSON on stdout.

const argv = process.argv.slice(2)
const at = argv.indexOf("--actors")
const actors = at >= 0 ? Number(argv[at + 1]) : 100_000

const main = async (): Promise<void> => {
  const server = await startNatsServer({ port: -1 })
  try {
    const nc = await connectNats({ servers: server.url, name: "bench-memory" })
    try {
      const r = await measureLiveActorRss(server.url, nc, actors, 10_000, (line) => process.stderr.write(`${line}\n`))
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
    } finally {
      await nc.close()
    }
  } finally {
    killAllChildren()
    await server.stop(true)
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`)
  process.exitCode = 1
})
