import { spawn } from "node:child_process"
import { resolve } from "node:path"
import { headers } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAuditEndpoint, type AuditEndpoint } from "../../services/audit/audit-endpoint.ts"
import { AUDITOR, WRITER, startSecuredStack, type SecuredStack } from "../infra/secured-stack.ts"

// The auditor role may not read the streams; `umbra audit` falls back to the service's audit
// endpoint and still gives the verdict (and the exit status) of the same checks.

const BIN = resolve(import.meta.dirname, "../../bin/umbra.js")
let s: SecuredStack
let audit: AuditEndpoint

const umbra = (args: ReadonlyArray<string>, input?: string): Promise<{ code: number; out: string; err: string }> =>
  new Promise((done) => {
    const child = spawn(process.execPath, [BIN, "-s", s.server.url, ...args], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    child.on("close", (code) => done({ code: code ?? -1, out, err }))
    child.stdin.end(input ?? "")
  })

const as = (c: { user: string; pass: string }) => ["--user", c.user, "--password", c.pass]

beforeAll(async () => {
  s = await startSecuredStack()
  audit = await startAuditEndpoint(s.serviceNc, s.config.names)
}, 60_000)
afterAll(async () => {
  await audit?.stop()
  await s?.stop()
})

describe("umbra audit as the auditor role", () => {
  it("gets an intact verdict through the service, exit 0", async () => {
    expect((await umbra(["put", "aud/ok", "-", ...as(WRITER)], '{"a":1}')).code).toBe(0)
    expect((await umbra(["put", "aud/ok", "-", ...as(WRITER)], '{"a":2}')).code).toBe(0)
    const r = await umbra(["audit", "aud/ok", ...as(AUDITOR)])
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/no stream access/)
    expect(r.out).toMatch(/verdict: intact — 2 versions/)
  }, 60_000)

  it("sees a forged event as a break, exit 1", async () => {
    expect((await umbra(["put", "aud/forged", "-", ...as(WRITER)], "x")).code).toBe(0)
    const h = headers()
    for (const [k, v] of Object.entries({ "Umbra-Id": "aud/forged", "Umbra-Version": "2", "Umbra-Op": "write", "Umbra-Digest": "sha256:" + "1".repeat(64), "Umbra-Size": "1", "Umbra-Writer": "mallory", "Umbra-Time": String(Date.now()), "Umbra-Prev-Hash": "sha256:" + "2".repeat(64), "Umbra-Hash": "sha256:" + "3".repeat(64) }))
      h.set(k, v)
    s.serviceNc.publish("blob.evt.aud/forged", new TextEncoder().encode("y"), { headers: h })
    await s.serviceNc.flush()
    const r = await umbra(["audit", "aud/forged", "--json", ...as(AUDITOR)])
    expect(r.code).toBe(1)
    const verdict = JSON.parse(r.out.trim().split("\n").at(-1)!)
    expect(verdict).toMatchObject({ intact: false, firstBrokenVersion: 2 })
  }, 60_000)
})
