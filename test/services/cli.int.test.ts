import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Kvm } from "@nats-io/kv"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import { ShadowEvents } from "../../infra/shadow-events.ts"
import { READER, startSecuredStack, type SecuredStack } from "../infra/secured-stack.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// The `umbra` executable run as users run it: a subprocess, against a real server.

const ROOT = resolve(import.meta.dirname, "../..")
const BIN = join(ROOT, "bin/umbra.js")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stdoutBytes: Buffer
  readonly stderr: string
}

let s: TestStack
let secured: SecuredStack
let dir: string
beforeAll(async () => {
  ;[s, secured] = await Promise.all([startTestStack(), startSecuredStack()])
  dir = mkdtempSync(join(tmpdir(), "umbra-cli-"))
})
afterAll(async () => {
  await Promise.all([s?.stop(), secured?.stop()])
})

const umbra = (args: ReadonlyArray<string>, opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<Run> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", NATS_URL: s.server.url, UMBRA_WRITER: "cli-test", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => err.push(d))
    child.on("error", fail)
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(out)
      done({ code, stdout: stdoutBytes.toString("utf8"), stdoutBytes, stderr: Buffer.concat(err).toString("utf8") })
    })
    child.stdin.end(opts.input ?? "")
  })

const ok = (r: Run): Run => {
  expect(r.stderr, r.stderr).not.toMatch(/umbra: [A-Z_]+:/)
  expect(r.code).toBe(0)
  return r
}

describe("umbra CLI", () => {
  it("put from stdin and from a file, get, patch, history", async () => {
    expect(ok(await umbra(["put", "cli/doc", "--content-type", "application/json"], { input: '{"a":1,"list":[]}' })).stdout).toMatch(
      /^wrote cli\/doc version 1 sha256:[0-9a-f]{64}\n$/,
    )
    expect(ok(await umbra(["get", "cli/doc"])).stdout).toBe('{"a":1,"list":[]}')

    const file = join(dir, "doc.json")
    writeFileSync(file, '{"a":2,"list":[]}')
    const put2 = JSON.parse(ok(await umbra(["put", "cli/doc", file, "--expect-version", "1", "--json"])).stdout) as { id: string; version: number }
    expect(put2).toMatchObject({ id: "cli/doc", version: 2 })

    ok(await umbra(["patch", "cli/doc", "--op", '{"op":"replace","path":"/a","value":3}', "--op", '[{"op":"add","path":"/list/-","value":"x"}]']))
    const patchFile = join(dir, "patch.json")
    writeFileSync(patchFile, '[{"op":"add","path":"/b","value":true}]')
    ok(await umbra(["patch", "cli/doc", patchFile, "--expect-version", "3"]))
    ok(await umbra(["patch", "cli/doc", "-"], { input: '[{"op":"remove","path":"/b"}]' }))
    expect(JSON.parse(ok(await umbra(["get", "cli/doc", "--consistency", "primary"])).stdout)).toEqual({ a: 3, list: ["x"] })
    expect(ok(await umbra(["get", "cli/doc", "--version", "1"])).stdout).toBe('{"a":1,"list":[]}')

    const table = ok(await umbra(["history", "cli/doc"])).stdout.trim().split("\n")
    expect(table[0]).toMatch(/^VERSION\s+TIME\s+OP\s+SIZE\s+DIGEST\s+WRITER/)
    expect(table.slice(1).map((l) => l.split(/\s+/).slice(0, 3).filter((_, i) => i !== 1))).toEqual([
      ["1", "write"],
      ["2", "write"],
      ["3", "patch"],
      ["4", "patch"],
      ["5", "patch"],
    ])
    expect(table[1]).toContain("cli-test")
  })

  it("--json output parses: get, history, and binary content as base64", async () => {
    ok(await umbra(["put", "cli/json", "-"], { input: "hello" }))
    const got = JSON.parse(ok(await umbra(["get", "cli/json", "--json"])).stdout) as Record<string, unknown>
    expect(got).toMatchObject({ id: "cli/json", version: 1, encoding: "utf8", content: "hello", size: 5 })
    expect(["shadow", "primary"]).toContain(got["source"])
    const primary = JSON.parse(ok(await umbra(["get", "cli/json", "--json", "--consistency", "primary"])).stdout) as Record<string, unknown>
    expect(primary).toMatchObject({ source: "primary", content: "hello", digest: got["digest"] })
    expect(got["digest"]).toMatch(/^sha256:/)

    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80])
    ok(await umbra(["put", "cli/bin"], { input: binary }))
    const bin = JSON.parse(ok(await umbra(["get", "cli/bin", "--json"])).stdout) as { encoding: string; content: string }
    expect(bin.encoding).toBe("base64")
    expect(Buffer.from(bin.content, "base64").equals(binary)).toBe(true)
    expect(ok(await umbra(["get", "cli/bin"])).stdoutBytes.equals(binary)).toBe(true)

    for (let i = 0; i < 3; i++) ok(await umbra(["put", "cli/json"], { input: `v${i + 2}` }))
    const page = JSON.parse(ok(await umbra(["history", "cli/json", "--json", "--limit", "2", "--reverse"])).stdout) as {
      headVersion: number
      nextFrom: number
      entries: Array<{ version: number; op: string; writer: string }>
    }
    expect(page.headVersion).toBe(4)
    expect(page.entries.map((e) => e.version)).toEqual([4, 3])
    expect(page.nextFrom).toBe(2)
    expect(page.entries[0]?.writer).toBe("cli-test")
  })

  it("get --meta shows the source; -o writes a file; rm and restore", async () => {
    ok(await umbra(["put", "cli/meta"], { input: "first" }))
    const meta = ok(await umbra(["get", "cli/meta", "--meta", "--consistency", "primary"]))
    expect(meta.stdout).toBe("first")
    expect(meta.stderr).toMatch(/^source:\s+primary$/m)
    expect(meta.stderr).toMatch(/^version:\s+1$/m)

    const out = join(dir, "meta.out")
    ok(await umbra(["get", "cli/meta", "-o", out]))
    expect(readFileSync(out, "utf8")).toBe("first")

    expect(ok(await umbra(["rm", "cli/meta"])).stdout).toMatch(/^deleted cli\/meta version 2 /)
    const gone = await umbra(["get", "cli/meta"])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toMatch(/^umbra: NOT_FOUND: /)
    const restored = JSON.parse(ok(await umbra(["restore", "cli/meta", "--version", "1", "--json"])).stdout) as { version: number }
    expect(restored.version).toBe(3)
    expect(ok(await umbra(["get", "cli/meta"])).stdout).toBe("first")
  })

  it("shadow shows the current shadow and its history from the shadow tier", async () => {
    const id = "cli/shadow-only"
    const none = JSON.parse(ok(await umbra(["shadow", id, "--json"])).stdout) as { current: unknown; history: unknown[] }
    expect(none).toMatchObject({ id, bucket: "umbra_shadows", current: null, history: [] })
    expect(ok(await umbra(["shadow", id])).stdout).toMatch(/^no current shadow for cli\/shadow-only$/m)

    // Values put straight into the bucket, as a producer might: whatever their format, the
    // entry and its revisions are listed (decoded by the shadow store's codec when it knows them).
    const kv = await new Kvm(s.nc).open(s.config.names.shadowBucket)
    await kv.put(id, JSON.stringify({ basedOn: 1, predicted: 2, confidence: 0.7, origin: "prediction" }))
    await kv.put(id, JSON.stringify({ basedOn: 2, predicted: 3, confidence: 0.9, origin: "write" }))
    const r = JSON.parse(ok(await umbra(["shadow", id, "--json"])).stdout) as {
      current: { revision: number } | null
      history: Array<{ revision: number; operation: string }>
    }
    // The bucket keeps one revision per blob by default: the newest put is the history.
    expect(r.history.map((h) => h.operation)).toEqual(["PUT"])
    expect(r.current?.revision).toBe(r.history[0]?.revision)
    const human = ok(await umbra(["shadow", id])).stdout
    expect(human).toMatch(/^current shadow of cli\/shadow-only:/)
    expect(human).toMatch(/^REVISION\s+CREATED\s+OP\s+SHADOW$/m)
    expect(human).toMatch(/^no shadow versions of cli\/shadow-only recorded in the lifecycle stream$/m)
  })

  it("shadow lists the shadow versions the lifecycle stream recorded, each with its verdict", async () => {
    const id = "cli/shadow-versions" as BlobId
    const events = ShadowEvents.open(s.nc, s.config.names)
    const created = (shadowVersion: number, predicted: number, origin: "write" | "prediction") => ({
      kind: "created" as const,
      id,
      shadowVersion,
      basedOn: predicted - 1,
      predicted,
      digest: `sha256:${String(shadowVersion).padStart(64, "a")}`,
      confidence: origin === "write" ? 1 : 0.6,
      validFromMs: Date.now(),
      origin,
      model: origin === "write" ? "write-path" : "markov",
      timeMs: Date.now(),
    })
    // What the reconciler records: two creations, a verdict on the first.
    await events.record(created(11, 1, "write"))
    await events.record(created(12, 2, "prediction"))
    await events.record({ ...created(11, 1, "write"), kind: "confirmed", reason: "matches-head", headVersion: 1 })
    const r = JSON.parse(ok(await umbra(["shadow", id, "--json"])).stdout) as {
      versions: Array<{ shadowVersion: number; predicted: number; origin: string; verdict: { kind: string; reason: string } | null }>
    }
    expect(r.versions.map((v) => [v.shadowVersion, v.predicted, v.origin, v.verdict?.kind ?? null])).toEqual([
      [11, 1, "write", "confirmed"],
      [12, 2, "prediction", null],
    ])
    const human = ok(await umbra(["shadow", id])).stdout
    expect(human).toMatch(/^shadow versions of cli\/shadow-versions \(lifecycle stream\):$/m)
    expect(human).toMatch(/^11\s+\S+\s+v0→v1\s+1\s+write\s+confirmed \(matches-head\)$/m)
    expect(human).toMatch(/^12\s+\S+\s+v1→v2\s+0\.6\s+prediction\s+\(not settled yet\)$/m)
  })

  it("a blob written through the service shows its write shadow, and get shows the shadow fields", async () => {
    const id = "cli/shadow-written"
    ok(await umbra(["put", id], { input: "one" }))
    ok(await umbra(["put", id], { input: "two" }))
    // The write path's shadow is written without the reply waiting for it: poll briefly.
    const shadowOf = async () =>
      (JSON.parse(ok(await umbra(["shadow", id, "--json"])).stdout) as { current: { shadow?: Record<string, unknown> } | null }).current?.shadow
    let shadow = await shadowOf()
    for (let i = 0; i < 10 && shadow?.["predicted"] !== 2; i++) shadow = await shadowOf()
    expect(shadow).toMatchObject({ id, predicted: 2, basedOn: 1, origin: "write" })

    let meta = await umbra(["get", id, "--meta"])
    for (let i = 0; i < 10 && !/^source:\s+shadow$/m.test(meta.stderr); i++) meta = await umbra(["get", id, "--meta"])
    expect(ok(meta).stdout).toBe("two")
    expect(meta.stderr).toMatch(/^source:\s+shadow$/m)
    expect(meta.stderr).toMatch(/^confidence:\s+[0-9.]+$/m)
    expect(meta.stderr).toMatch(/^shadow-origin:\s+write$/m)
    expect(meta.stderr).toMatch(/^valid-from:\s+\d{4}-/m)
  })

  it("predictor eval delegates to the evaluation runner", async () => {
    const r = await umbra(["predictor", "eval", "--scenario", "structured", "--versions", "300", "--json"])
    if (!existsSync(join(ROOT, "simulations/predictor-eval-main.ts"))) {
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/not available yet/)
      return
    }
    ok(r)
    expect(JSON.parse(r.stdout)).toMatchObject({ versions: expect.any(Number) })
  })
})

describe("umbra CLI errors: non-zero exit and one clear line", () => {
  const fails = async (r: Run, code: string, exit = 1): Promise<void> => {
    expect(r.code).toBe(exit)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toMatch(new RegExp(`^umbra: ${code}: \\S`))
  }

  it("version conflict names the current version", async () => {
    ok(await umbra(["put", "cli/conflict"], { input: "a" }))
    ok(await umbra(["put", "cli/conflict"], { input: "b" }))
    const r = await umbra(["put", "cli/conflict", "--expect-version", "1"], { input: "c" })
    await fails(r, "VERSION_CONFLICT")
    expect(r.stderr).toMatch(/current 2/)
    const j = await umbra(["put", "cli/conflict", "--expect-version", "1", "--json"], { input: "c" })
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: "VERSION_CONFLICT", currentVersion: 2 } })
  })

  it("not found, invalid id, malformed patch, bad flags", async () => {
    await fails(await umbra(["get", "cli/missing"]), "NOT_FOUND")
    await fails(await umbra(["get", "cli/bad.id"]), "INVALID_ID")
    ok(await umbra(["put", "cli/patchme"], { input: '{"a":1}' }))
    await fails(await umbra(["patch", "cli/patchme", "-"], { input: "not json" }), "INVALID_REQUEST")
    await fails(await umbra(["get", "cli/patchme", "--version", "x"]), "USAGE", 2)
    await fails(await umbra(["get"]), "USAGE", 2)
    await fails(await umbra(["frobnicate"]), "USAGE", 2)
    await fails(await umbra(["get", "cli/patchme", "--no-such-flag"]), "USAGE", 2)
    await fails(await umbra(["put", "cli/patchme", join(dir, "no-such-file")]), "USAGE", 2)
  })

  it("no server, and a permission the user does not have", async () => {
    await fails(await umbra(["get", "cli/any", "-s", "nats://127.0.0.1:1"]), "CONNECTION")
    const auth = { NATS_URL: secured.server.url, NATS_USER: READER.user, NATS_PASS: READER.pass }
    await fails(await umbra(["put", "cli/locked"], { input: "x", env: auth }), "PERMISSION_DENIED")
    await fails(await umbra(["get", "cli/locked"], { env: auth }), "NOT_FOUND")
    await fails(await umbra(["get", "cli/locked"], { env: { ...auth, NATS_PASS: "wrong" } }), "PERMISSION_DENIED")
  })

})
