import { readFileSync } from "node:fs"
import { connect as tcpConnect } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import type { Msg, NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectNats } from "../../infra/connection.ts"
import { startNatsServer, type NatsServerProcess } from "../../infra/embedded-server.ts"
import { Tracked, type ServiceProcess } from "../faults/support/processes.ts"
import { cmd } from "../support/raw.ts"

// Abuse: a flood of concurrent requests, a consumer that never reads, a storm of reconnects.
// The blob service (its own process, so its memory is its own) must shed load with a clear
// UNAVAILABLE rather than fall over or grow without bound, and answer normally afterwards.

const tracked = new Tracked()
let server: NatsServerProcess
let service: ServiceProcess
let nc: NatsConnection

const rssMiB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

beforeAll(async () => {
  server = tracked.server(await startNatsServer())
  service = await tracked.blobService({
    NATS_URL: server.url,
    UMBRA_MAX_IN_FLIGHT: "500",
    UMBRA_MAX_LIVE_ACTORS: "1000",
    UMBRA_INSTANCE_ID: "abuse-svc",
  })
  nc = await connectNats({ servers: server.url, name: "abuse-client" })
  expect((await cmd(nc, "write", "abuse/big", new Uint8Array(200_000).fill(0x62))).status).toBeUndefined()
})

afterAll(async () => {
  await nc?.close().catch(() => {})
  await tracked.stopAll()
})

const alive = async () => {
  const r = await cmd(nc, "write", "abuse/alive", `t${Date.now()}`)
  expect(r.status, r.text).toBeUndefined()
}

describe("abuse", () => {
  it("10,000 concurrent requests over 5,000 blobs: answered or shed with UNAVAILABLE, memory bounded", async () => {
    const before = rssMiB(service.pid)
    const statuses = new Map<string, number>()
    const messages = new Set<string>()
    await Promise.all(
      Array.from({ length: 10_000 }, async (_, i) => {
        const op = i % 3 === 0 ? "read" : "write"
        let key: string
        try {
          const m: Msg = await nc.request(`blob.cmd.${op}.abuse/b${i % 5_000}`, new TextEncoder().encode(`v${i}`), { timeout: 30_000 })
          key = m.headers?.get("Nats-Service-Error-Code") || "ok"
          if (key === "503") messages.add(JSON.parse(new TextDecoder().decode(m.data)).error.message as string)
        } catch (e) {
          key = (e as Error).name
        }
        statuses.set(key, (statuses.get(key) ?? 0) + 1)
      }),
    )
    const after = rssMiB(service.pid)
    console.log("flood:", Object.fromEntries(statuses), [...messages].slice(0, 3), `rss ${before.toFixed(0)} → ${after.toFixed(0)} MiB`)
    // ok, not found (reads of blobs not written yet) and shed load: nothing else.
    expect([...statuses.keys()].filter((k) => !["ok", "404", "503"].includes(k))).toEqual([])
    expect((statuses.get("ok") ?? 0) + (statuses.get("404") ?? 0)).toBeGreaterThan(500)
    for (const m of messages) expect(m).toMatch(/in flight|busy|load|unavailable|try again/i)
    expect(after - before).toBeLessThan(400)
    await alive()
  })

  it("a consumer that never reads its replies does not stall the service or grow its memory", async () => {
    const sock = tcpConnect(server.port, "127.0.0.1")
    await new Promise<void>((r) => sock.once("connect", () => r()))
    sock.write('CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1}\r\nSUB _INBOX.slow.> 1\r\n')
    // Ask for the 200 kB blob 500 times and never read a byte of the 100 MB of answers: more
    // than the server buffers for one client (max_pending, 64 MB).
    sock.pause()
    for (let i = 0; i < 500; i++) sock.write(`PUB blob.cmd.read.abuse/big _INBOX.slow.${i} 0\r\n\r\n`)
    const closed = new Promise<void>((r) => sock.once("close", () => r()))
    sock.on("error", () => {})
    // The server buffers for the slow client (max_pending) and cuts it when its write_deadline
    // passes; whether it was cut in this window is reported, the service's health is asserted.
    const cut = await Promise.race([closed.then(() => true), sleep(8_000).then(() => false)])
    await alive()
    console.log(`slow consumer cut by the server within 8 s: ${cut}; service rss ${rssMiB(service.pid).toFixed(0)} MiB`)
    expect(rssMiB(service.pid)).toBeLessThan(1_000)
    sock.destroy()
  })

  it("a storm of 200 reconnects while requests flow", async () => {
    const before = rssMiB(service.pid)
    for (let round = 0; round < 4; round++) {
      const conns = await Promise.all(Array.from({ length: 50 }, (_, i) => connectNats({ servers: server.url, name: `storm-${round}-${i}` })))
      await Promise.all(conns.map((c, i) => cmd(c, "write", `abuse/storm${i}`, `r${round}`).catch(() => undefined)))
      await Promise.all(conns.map((c) => c.close()))
    }
    await alive()
    expect(rssMiB(service.pid) - before).toBeLessThan(200)
  })
})
