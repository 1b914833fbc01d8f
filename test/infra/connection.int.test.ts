import type { NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectNats } from "../../infra/connection.ts"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import { startTestServer } from "../support/nats-server.ts"

// `pendingLimitBytes` is an option nats.js reads but does not type (ProtocolHandler's
// `pendingLimit`). The services' reply throughput at 64 in flight rests on it (bench/README.md):
// if a nats.js upgrade stopped reading it, this fails instead of the benchmark quietly slowing.

let server: NatsServerProcess
const open: NatsConnection[] = []

beforeAll(async () => {
  server = await startTestServer()
})

afterAll(async () => {
  for (const nc of open) await nc.close()
  await server.stop(true)
})

/** Bytes nats.js still holds for the socket (written at the end of the current task). */
const buffered = (nc: NatsConnection): number =>
  (nc as unknown as { protocol: { outbound: { size(): number } } }).protocol.outbound.size()

const publishBurst = async (pendingLimitBytes: number | undefined): Promise<{ heldAfterBurst: number; received: number[] }> => {
  const nc = await connectNats({ servers: server.url, name: "pending-limit", ...(pendingLimitBytes === undefined ? {} : { pendingLimitBytes }) })
  open.push(nc)
  const received: number[] = []
  const sub = nc.subscribe("burst", { callback: (_, m) => void received.push(m.data[0] ?? -1) })
  await nc.flush()
  for (let i = 0; i < 8; i++) nc.publish("burst", new Uint8Array(600).fill(i))
  const heldAfterBurst = buffered(nc)
  await nc.flush()
  sub.unsubscribe()
  return { heldAfterBurst, received }
}

describe("connectNats pendingLimitBytes", () => {
  it("writes a burst out as soon as it passes the limit, instead of at the end of the task", async () => {
    const limited = await publishBurst(2_048)
    const unlimited = await publishBurst(undefined)
    // 8 publishes of ~620 B: nats.js's default (32 KiB) holds them all until the task ends.
    expect(unlimited.heldAfterBurst).toBeGreaterThan(8 * 600)
    expect(limited.heldAfterBurst).toBeLessThan(2_048)
    // Written early or late, every message arrives, in order.
    expect(limited.received).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(unlimited.received).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})
