import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { connect as tcpConnect } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import type { Msg, NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectNats } from "../../infra/connection.ts"
import { startNatsServer, type NatsServerProcess } from "../../infra/embedded-server.ts"
import { Tracked, type ServiceProcess } from "../faults/support/processes.ts"
import { cmd, rawRequest } from "../support/raw.ts"

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
  // Slow consumers are cut after 2 s of blocked writes here (nats.conf: 10 s), so the test
  // can see the cut rather than only the service's health.
  const dir = mkdtempSync(join(tmpdir(), "umbra-abuse-"))
  writeFileSync(join(dir, "nats.conf"), 'write_deadline: "2s"\nmax_pending: 32MB\n')
  server = tracked.server(await startNatsServer({ configFile: join(dir, "nats.conf") }))
  service = await tracked.blobService({
    NATS_URL: server.url,
    UMBRA_MAX_IN_FLIGHT: "500",
    UMBRA_MAX_HISTORY_IN_FLIGHT: "32",
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
    // Outcome per kind of request: writes and primary reads go through the actors' bounded
    // queues, history pages through the bound on history reads.
    const statuses = new Map<string, number>()
    const messages = new Set<string>()
    const ops = ["write", "read", "history", "write"] as const
    await Promise.all(
      Array.from({ length: 10_000 }, async (_, i) => {
        const op = ops[i % ops.length]!
        const body = op === "history" ? '{"limit":100}' : `v${i}`
        let key: string
        try {
          const m: Msg = await nc.request(`blob.cmd.${op}.abuse/b${i % 5_000}`, new TextEncoder().encode(body), { timeout: 30_000 })
          key = m.headers?.get("Nats-Service-Error-Code") || "ok"
          if (key === "503") messages.add(JSON.parse(new TextDecoder().decode(m.data)).error.message as string)
        } catch (e) {
          key = (e as Error).name
        }
        statuses.set(`${op} ${key}`, (statuses.get(`${op} ${key}`) ?? 0) + 1)
      }),
    )
    const after = rssMiB(service.pid)
    console.log("flood:", Object.fromEntries(statuses), [...messages].slice(0, 3), `rss ${before.toFixed(0)} → ${after.toFixed(0)} MiB`)
    // ok, not found (reads of blobs not written yet) and shed load: nothing else.
    expect([...statuses.keys()].filter((k) => !/ (ok|404|503)$/.test(k))).toEqual([])
    const count = (re: RegExp) => [...statuses].filter(([k]) => re.test(k)).reduce((a, [, n]) => a + n, 0)
    expect(count(/ (ok|404)$/)).toBeGreaterThan(500)
    // The bounds were reached and shed load (500 commands in flight, 32 history reads),
    // with a message that says so.
    expect(count(/^(write|read) 503$/)).toBeGreaterThan(0)
    expect(count(/^history 503$/)).toBeGreaterThan(0)
    expect(count(/^history (ok|404)$/)).toBeGreaterThan(0)
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
    // The server buffers up to max_pending for the slow client and cuts it when a write has
    // been blocked for write_deadline; the service only ever hands its replies to the server.
    // A paused socket reports its close only once what it buffered is read: give the server
    // time to cut it (its replies come in well under a second, write_deadline is 2 s), then
    // read. A connection the server kept stays open once it is read; a cut one ends.
    await sleep(6_000)
    sock.resume()
    const cut = await Promise.race([closed.then(() => true), sleep(10_000).then(() => false)])
    await alive()
    console.log(`slow consumer cut by the server: ${cut}; service rss ${rssMiB(service.pid).toFixed(0)} MiB`)
    expect(cut, "the server never cut the consumer that read nothing").toBe(true)
    expect(rssMiB(service.pid)).toBeLessThan(1_000)
    sock.destroy()
  })

  it("a storm of 200 reconnects: the server is killed under 200 clients and the service, all come back at once", async () => {
    const before = rssMiB(service.pid)
    const conns = await Promise.all(
      Array.from({ length: 200 }, (_, i) => connectNats({ servers: server.url, name: `storm-${i}` })),
    )
    try {
      await Promise.all(conns.map((c, i) => cmd(c, "write", `abuse/storm${i}`, "before")))
      await server.restart()
      const back = Date.now()
      // Every client writes again once it is back, retrying until answered, within 15 s.
      const retried = await Promise.all(
        conns.map(async (c, i) => {
          for (let attempt = 1; ; attempt++) {
            // A request sent while its connection is down can be lost (core NATS is at most
            // once): short timeouts, and retries with the same idempotency key.
            const r = await rawRequest(c, `blob.cmd.write.abuse/storm${i}`, "after", { "Umbra-Idempotency-Key": `storm-${i}` }, 2_000).catch(() => undefined)
            if (r?.status === undefined && r !== undefined) return { attempt, ms: Date.now() - back }
            if (Date.now() - back > 15_000) throw new Error(`storm-${i} not served within 15 s of the restart`)
            await sleep(100)
          }
        }),
      )
      const ms = retried.map((r) => r.ms).sort((a, b) => a - b)
      console.log(`reconnect storm: 200 clients served again ${ms[100]} ms (median) / ${ms[199]} ms (last) after the restart; attempts at most ${Math.max(...retried.map((r) => r.attempt))}`)
      const h = await cmd(nc, "history", "abuse/storm7")
      expect(h.json<Array<{ version: number }>>().map((e) => e.version)).toEqual([1, 2])
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})))
    }
    await alive()
    expect(rssMiB(service.pid) - before).toBeLessThan(200)
  })
})
