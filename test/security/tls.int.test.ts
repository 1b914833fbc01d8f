import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UmbraClient } from "../../infra/client/umbra-client.ts"
import { READER, startSecuredStack, WRITER, type SecuredStack } from "../infra/secured-stack.ts"

// TLS as docs/reliability.md describes it: the server presents a certificate signed by a CA the
// clients are given; a client that does not trust that CA is refused before any credential is
// sent. The certificates are made here, for this run only (openssl, EC P-256: fast).

let dir: string
let s: SecuredStack

const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] })

const makeCa = (name: string) =>
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "1", "-subj", `/CN=${name}`])

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "umbra-tls-"))
  makeCa("ca")
  makeCa("other-ca")
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"])
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf"])
  s = await startSecuredStack({
    tls: { certFile: join(dir, "server.pem"), keyFile: join(dir, "server.key") },
    serviceTls: { caFile: join(dir, "ca.pem") },
  })
})

afterAll(async () => {
  await s?.stop()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  )

describe("TLS", () => {
  it("a client given the CA connects, writes and reads", async () => {
    const caFile = join(dir, "ca.pem")
    const writer = await UmbraClient.connect({ servers: s.server.url, ...WRITER, tls: { caFile }, failFast: true, timeoutMs: 10_000 })
    const reader = await UmbraClient.connect({ servers: s.server.url, ...READER, tls: { caFile }, failFast: true, timeoutMs: 10_000 })
    try {
      expect((await writer.write("tls/one", "over tls")).version).toBe(1)
      expect(new TextDecoder().decode((await reader.read("tls/one", { consistency: "primary" })).content)).toBe("over tls")
    } finally {
      await writer.close()
      await reader.close()
    }
  })

  it("a client without the CA, or trusting another CA, is refused", async () => {
    const noCa = await failure(UmbraClient.connect({ servers: s.server.url, ...WRITER, failFast: true, timeoutMs: 5_000 }))
    expect(noCa).toBeDefined()
    expect(noCa?.code).toMatch(/CONNECTION|INTERNAL|PERMISSION_DENIED/)
    expect(noCa?.message).toMatch(/certificate|self.signed|verify|TLS/i)
    const otherCa = await failure(
      UmbraClient.connect({ servers: s.server.url, ...WRITER, tls: { caFile: join(dir, "other-ca.pem") }, failFast: true, timeoutMs: 5_000 }),
    )
    expect(otherCa?.message).toMatch(/certificate|verify|TLS/i)
  })

  it("the right CA with a wrong password is still refused", async () => {
    const e = await failure(
      UmbraClient.connect({ servers: s.server.url, user: WRITER.user, pass: "wrong", tls: { caFile: join(dir, "ca.pem") }, failFast: true, timeoutMs: 5_000 }),
    )
    expect(e?.code).toBe("PERMISSION_DENIED")
  })
})
