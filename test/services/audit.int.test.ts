import { spawn } from "node:child_process"
import { join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { headers as natsHeaders } from "@nats-io/nats-core"
import { Objm } from "@nats-io/obj"
import * as E from "fp-ts/lib/Either.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TimelineEntry, VersionEntry } from "../../domain/audit.ts"
import { chainPayload, type BlobEvent } from "../../domain/blob-event.ts"
import { parseBlobId, type BlobId } from "../../domain/blob-id.ts"
import { ContentStore } from "../../infra/content-store.ts"
import { encodeEventHeaders } from "../../infra/event-codec.ts"
import { EventStore } from "../../infra/event-store.ts"
import { nodeHasher } from "../../infra/hasher.ts"
import { ShadowEvents } from "../../infra/shadow-events.ts"
import { auditBlob, auditPredictions } from "../../services/audit/blob-audit.ts"
import { startAuditEndpoint, type AuditEndpoint } from "../../services/audit/audit-endpoint.ts"
import { auditStore } from "../../services/audit/store-audit.ts"
import { cmd, rawRequest } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// Audits against a real server: history paging, reads of the past, tamper evidence for
// events published around the service, restore, and the `umbra audit` executable.

const ROOT = resolve(import.meta.dirname, "../..")
const BIN = join(ROOT, "bin/umbra.js")
const INLINE_LIMIT = 1_024

let s: TestStack
let store: EventStore
const forgedBreaks: Array<{ id: string; version: number }> = []

beforeAll(async () => {
  s = await startTestStack({ inlineLimitBytes: INLINE_LIMIT })
  store = await EventStore.open(s.nc, s.config.names)
})
afterAll(async () => {
  await s?.stop()
})

const idOf = (raw: string): BlobId => {
  const r = parseBlobId(raw)
  if (E.isLeft(r)) throw new Error(raw)
  return r.right
}

const write = async (id: string, body: string, hdrs: Record<string, string> = {}): Promise<number> => {
  const r = await cmd(s.nc, "write", id, body, hdrs)
  expect(r.status, r.text).toBeUndefined()
  return r.json<{ version: number }>().version
}

const page = async (id: string, body: Record<string, unknown>) => {
  const r = await rawRequest(s.nc, `blob.cmd.history.${id}`, JSON.stringify(body))
  expect(r.status, r.text).toBeUndefined()
  const next = r.header("Umbra-Next-From")
  return { entries: r.json<Array<{ version: number; timeMs: number; op: string; digest: string }>>(), next: next === undefined ? undefined : Number(next), head: Number(r.header("Umbra-Head-Version")) }
}

const audit = async (id: string) => {
  const entries: TimelineEntry[] = []
  const r = await auditBlob(s.nc, s.config.names, idOf(id), { onEntry: (e) => void entries.push(e) })
  if (r._tag !== "Audited") throw new Error(`${id} not found`)
  return { verdict: r.verdict, entries, versions: entries.filter((e): e is VersionEntry => e.kind === "version") }
}

/** The next event after the head, well formed and self-signed, with whatever the forger chose. */
const forgeNext = async (id: string, change: (base: Omit<BlobEvent, "hash">) => Omit<BlobEvent, "hash">): Promise<BlobEvent> => {
  const head = await store.head(idOf(id))
  if (head === undefined) throw new Error("no head")
  const content = new TextEncoder().encode('{"forged":true}')
  const base: Omit<BlobEvent, "hash"> = {
    ...head.event,
    version: head.event.version + 1,
    op: "write",
    digest: nodeHasher.digest(content),
    size: content.length,
    contentRef: undefined,
    content,
    writer: "admin",
    timeMs: Date.now(),
    idempotencyKey: undefined,
    restoredFrom: undefined,
    prevHash: head.event.hash,
  }
  const unsigned = change(base)
  const { content: _c, ...fields } = unsigned
  return { ...unsigned, hash: nodeHasher.hashText(chainPayload(fields)) }
}

const publishForged = async (e: BlobEvent): Promise<void> => {
  await store.publishRaw(e.id, encodeEventHeaders(e), e.content ?? new Uint8Array(0))
  forgedBreaks.push({ id: e.id, version: e.version })
}

describe("history and reads of the past", () => {
  it("pages forwards and backwards over 1,000 versions return each version exactly once, in order", async () => {
    const id = "audit/paging"
    for (let v = 1; v <= 1_000; v++) await write(id, JSON.stringify({ v }))
    for (const limit of [100, 37]) {
      const forward: number[] = []
      for (let from: number | undefined = 1; from !== undefined; ) {
        const p = await page(id, { from, limit })
        expect(p.head).toBe(1_000)
        forward.push(...p.entries.map((e) => e.version))
        from = p.next
      }
      expect(forward).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1))
      const backward: number[] = []
      for (let from: number | undefined = undefined, first = true; first || from !== undefined; first = false) {
        const p = await page(id, { ...(from === undefined ? {} : { from }), limit, reverse: true })
        backward.push(...p.entries.map((e) => e.version))
        from = p.next
      }
      expect(backward).toEqual(Array.from({ length: 1_000 }, (_, i) => 1_000 - i))
    }
  })

  it("pages of a blob interleaved with others (sparse in the stream) are complete and in order too", async () => {
    const id = "audit/sparse"
    for (let v = 1; v <= 200; v++) {
      await write(id, JSON.stringify({ v }))
      await Promise.all([1, 2, 3, 4].map((k) => write(`audit/noise-${k}`, String(v))))
    }
    for (const limit of [37, 100]) {
      const forward: number[] = []
      for (let from: number | undefined = 1; from !== undefined; ) {
        const p = await page(id, { from, limit })
        forward.push(...p.entries.map((e) => e.version))
        from = p.next
      }
      expect(forward).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
      const backward: number[] = []
      for (let from: number | undefined = 200; from !== undefined; ) {
        const p = await page(id, { from, limit, reverse: true })
        backward.push(...p.entries.map((e) => e.version))
        from = p.next
      }
      expect(backward).toEqual(Array.from({ length: 200 }, (_, i) => 200 - i))
    }
  })

  it("as-of at, between and before versions (raw Umbra-As-Of), as epoch ms and ISO", async () => {
    const id = "audit/asof"
    for (const v of [1, 2, 3]) {
      await write(id, `content ${v}`)
      await sleep(15)
    }
    const times = (await page(id, {})).entries.map((e) => e.timeMs)
    const [t1, t2, t3] = times as [number, number, number]
    expect(t2).toBeGreaterThan(t1 + 1)
    expect(t3).toBeGreaterThan(t2 + 1)
    const asOf = (at: string) => cmd(s.nc, "read", id, undefined, { "Umbra-As-Of": at })
    const at2 = await asOf(String(t2))
    expect([at2.text, at2.header("Umbra-Version")]).toEqual(["content 2", "2"])
    const between = await asOf(new Date(t2 + 1).toISOString())
    expect([between.text, between.header("Umbra-Version"), between.header("Umbra-Source")]).toEqual(["content 2", "2", "primary"])
    expect((await asOf(String(t3 + 60_000))).text).toBe("content 3")
    const before = await asOf(String(t1 - 1))
    expect(before.status).toBe(404)
  })

  it("a deleted blob reads as not found at its head, but its past stays readable", async () => {
    const id = "audit/deleted"
    await write(id, "first")
    await sleep(5)
    await write(id, "second")
    await sleep(5)
    const del = await cmd(s.nc, "delete", id)
    expect(del.json<{ version: number }>().version).toBe(3)
    expect((await cmd(s.nc, "read", id, undefined, { "Umbra-Consistency": "primary" })).status).toBe(404)
    const v1 = await cmd(s.nc, "read", id, undefined, { "Umbra-Version": "1" })
    expect([v1.text, v1.header("Umbra-Version")]).toEqual(["first", "1"])
    expect((await cmd(s.nc, "read", id, undefined, { "Umbra-Version": "2" })).text).toBe("second")
    expect((await cmd(s.nc, "read", id, undefined, { "Umbra-Version": "3" })).status).toBe(404)
    const t2 = (await page(id, {})).entries[1]!.timeMs
    expect((await cmd(s.nc, "read", id, undefined, { "Umbra-As-Of": String(t2) })).text).toBe("second")
  })
})

describe("audit", () => {
  it("an untouched history is intact: every version, writer, op and JSON diff", async () => {
    const id = "audit/clean"
    await write(id, JSON.stringify({ a: 1, b: { c: 1 } }), { "Content-Type": "application/json" })
    await cmd(s.nc, "patch", id, JSON.stringify([{ op: "replace", path: "/b/c", value: 2 }, { op: "add", path: "/d", value: [] }]))
    await cmd(s.nc, "delete", id)
    await write(id, "x".repeat(INLINE_LIMIT * 3)) // by reference, through the content store
    const { verdict, versions } = await audit(id)
    expect(verdict).toMatchObject({ verdict: "intact", intact: true, firstBrokenVersion: null, versions: 4, headVersion: 4 })
    expect(versions.map((v) => [v.version, v.op, v.digestCheck, v.chain])).toEqual([
      [1, "write", "ok", "ok"],
      [2, "patch", "ok", "ok"],
      [3, "delete", "tombstone", "ok"],
      [4, "write", "ok", "ok"],
    ])
    expect(versions[1]?.summary).toBe("+/d ~/b/c")
    expect(versions[3]?.contentRef).toMatch(/^sha256:/)
    const withBytes = await auditBlob(s.nc, s.config.names, idOf(id), { verifyBytes: true })
    expect(withBytes).toMatchObject({ _tag: "Audited", verdict: { intact: true } })
  })

  it("a forged event published straight to blob.evt.<id> is reported at its version", async () => {
    const id = "audit/forged"
    for (let v = 1; v <= 5; v++) await write(id, JSON.stringify({ v }))
    // Plausible headers, self-consistent hash, but linked to version 3 instead of 5.
    const v3 = (await store.seqOfVersion(idOf(id), 3))!.event
    const forged = await forgeNext(id, (e) => ({ ...e, prevHash: v3.hash }))
    await publishForged(forged)
    const { verdict, versions } = await audit(id)
    expect(verdict).toMatchObject({ intact: false, firstBrokenVersion: 6, cause: "PrevHashMismatch", breaks: 1, versions: 6 })
    expect(versions[5]).toMatchObject({ version: 6, writer: "admin", chain: "PrevHashMismatch" })
  })

  it("a forged event with an altered field but the old hash breaks its own hash", async () => {
    const id = "audit/altered"
    await write(id, "a")
    await write(id, "b")
    const good = await forgeNext(id, (e) => e)
    await publishForged({ ...good, writer: "someone-else" })
    expect((await audit(id)).verdict).toMatchObject({ firstBrokenVersion: 3, cause: "HashMismatch" })
  })

  it("a malformed message on a blob subject is a break at the next version's position", async () => {
    const id = "audit/malformed"
    await write(id, "a")
    await write(id, "b")
    const h = natsHeaders()
    h.set("Umbra-Version", "three")
    await store.publishRaw(idOf(id), h, new TextEncoder().encode("junk"))
    forgedBreaks.push({ id, version: 3 })
    const { verdict, entries } = await audit(id)
    expect(verdict).toMatchObject({ intact: false, firstBrokenVersion: 3, cause: "Malformed", versions: 2 })
    expect(entries.map((e) => e.kind)).toEqual(["version", "version", "malformed"])
  })

  it("a content reference swapped for other content is reported", async () => {
    const contentStore = await ContentStore.open(s.nc, s.config.names)
    const other = await contentStore.put(new TextEncoder().encode("y".repeat(INLINE_LIMIT * 2)))

    // 1. An event whose reference names another object than its digest (chain recomputed).
    const id = "audit/ref-swapped"
    await write(id, "x".repeat(INLINE_LIMIT * 2))
    const head = (await store.head(idOf(id)))!.event
    expect(head.contentRef).toBe(head.digest)
    const swapped = await forgeNext(id, (e) => ({ ...e, op: "write", digest: head.digest, size: head.size, content: undefined, contentRef: other }))
    await publishForged(swapped)
    expect((await audit(id)).verdict).toMatchObject({ firstBrokenVersion: 2, cause: "ContentRefMismatch" })

    // 2. The object under a version's reference replaced by other bytes.
    const id2 = "audit/ref-replaced"
    const text = "z".repeat(INLINE_LIMIT * 2)
    await write(id2, "small")
    await write(id2, text)
    await write(id2, "small again")
    const ref = (await store.seqOfVersion(idOf(id2), 2))!.event.contentRef!
    const os = await new Objm(s.nc).open(s.config.names.contentBucket)
    await os.putBlob({ name: ref }, new TextEncoder().encode("Z".repeat(INLINE_LIMIT * 2)))
    forgedBreaks.push({ id: id2, version: 2 })
    const r = await audit(id2)
    expect(r.verdict).toMatchObject({ intact: false, firstBrokenVersion: 2, cause: "DigestMismatch", breaks: 1 })
    expect(r.versions[1]).toMatchObject({ digestCheck: "mismatch" })
  })

  it("restore makes a past version the head as a new version equal in content; the chain stays intact", async () => {
    const id = "audit/restore"
    await write(id, JSON.stringify({ a: 1 }), { "Content-Type": "application/json" })
    await write(id, JSON.stringify({ a: 2, b: true }), { "Content-Type": "application/json" })
    const r = await cmd(s.nc, "write", id, undefined, { "Umbra-Restore-Version": "1" })
    expect(r.status, r.text).toBeUndefined()
    expect(r.json()).toMatchObject({ version: 3 })
    const v1 = await cmd(s.nc, "read", id, undefined, { "Umbra-Version": "1" })
    const head = await cmd(s.nc, "read", id, undefined, { "Umbra-Consistency": "primary" })
    expect([head.text, head.header("Umbra-Version"), head.header("Umbra-Digest")]).toEqual([v1.text, "3", v1.header("Umbra-Digest")])
    const { verdict, versions } = await audit(id)
    expect(verdict).toMatchObject({ intact: true, versions: 3 })
    expect(versions[2]).toMatchObject({ op: "restore", restoredFrom: 1, digest: versions[0]!.digest, summary: "restored v1; ~/a -/b" })
  })

  it("predictions are listed against the version that came", async () => {
    const id = "audit/predicted"
    await write(id, "v1")
    const shadows = ShadowEvents.open(s.nc, s.config.names)
    const base = { id, basedOn: 1, confidence: 0.7, validFromMs: Date.now(), origin: "prediction" as const, model: "test", timeMs: Date.now() }
    await shadows.record({ ...base, kind: "created", shadowVersion: 11, predicted: 2, digest: nodeHasher.digest(new TextEncoder().encode("v2")) })
    await shadows.record({ ...base, kind: "created", shadowVersion: 12, predicted: 3, digest: nodeHasher.digest(new TextEncoder().encode("nope")), confidence: 0.2 })
    await shadows.record({ ...base, kind: "created", shadowVersion: 13, predicted: 4, digest: nodeHasher.digest(new TextEncoder().encode("later")) })
    await write(id, "v2")
    await write(id, "v3")
    const rows = await auditPredictions(s.nc, s.config.names, idOf(id))
    expect(rows.map((r) => [r.predicted, r.confidence, r.outcome])).toEqual([
      [2, 0.7, "correct"],
      [3, 0.2, "wrong-content"],
      [4, 0.7, "pending"],
    ])
    const { entries } = await audit(id)
    expect(entries.filter((e) => e.kind === "shadow")).toHaveLength(3)
  })
})

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const umbra = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", NATS_URL: s.server.url, UMBRA_WRITER: "audit-test" },
      stdio: ["ignore", "pipe", "pipe"],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => err.push(d))
    child.on("error", fail)
    child.on("close", (code) => done({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }))
  })

const jsonLines = (text: string): Array<Record<string, unknown>> =>
  text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe("umbra audit (subprocess)", () => {
  it("--json lines parse, carry every version, and end with the verdict; exit 0 when intact", async () => {
    const id = "audit/cli"
    for (let v = 1; v <= 25; v++) await write(id, JSON.stringify({ v, even: v % 2 === 0 }))
    const r = await umbra(["audit", id, "--json"])
    expect(r.code, r.stderr).toBe(0)
    const lines = jsonLines(r.stdout)
    expect(lines.filter((l) => l["kind"] === "version").map((l) => l["version"])).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
    expect(lines.at(-1)).toMatchObject({ verdict: "intact", intact: true, firstBrokenVersion: null, versions: 25 })
    const human = await umbra(["audit", id])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^v2 .* write +anonymous +\d+ B +digest ok, chain ok +~\/v ~\/even$/m)
    expect(human.stdout.trim().split("\n").at(-1)).toMatch(/^verdict: intact — 25 versions/)
  })

  it("a broken chain exits 1 and names the first broken version", async () => {
    const r = await umbra(["audit", "audit/forged", "--json"])
    expect(r.code).toBe(1)
    expect(jsonLines(r.stdout).at(-1)).toMatchObject({ verdict: "broken", intact: false, firstBrokenVersion: 6 })
    const human = await umbra(["audit", "audit/forged"])
    expect(human.stdout).toMatch(/verdict: BROKEN at version 6 — PrevHashMismatch/)
    expect((await umbra(["audit", "audit/nothing-here"])).stderr).toMatch(/NOT_FOUND/)
  })

  it("--predictions lists each prediction with confidence and outcome", async () => {
    const r = await umbra(["audit", "audit/predicted", "--predictions"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/#11 .*v1→v2 .*70% .*correct/)
    expect(r.stdout).toMatch(/3 predictions, 2 settled, 1 correct \(precision 50%\)/)
  })
})

describe("blob.cmd.audit.<id> (the audit run by a service)", () => {
  let endpoint: AuditEndpoint
  beforeAll(async () => {
    endpoint = await startAuditEndpoint(s.serviceNc, s.config.names)
  })
  afterAll(async () => {
    await endpoint?.stop()
  })

  it("answers the verdict with the first breaks, not found, and invalid ids", async () => {
    const clean = await cmd(s.nc, "audit", "audit/clean")
    expect(clean.status, clean.text).toBeUndefined()
    expect(clean.json()).toMatchObject({ verdict: "intact", intact: true, versions: 4, firstBreaks: [] })
    const forged = (await cmd(s.nc, "audit", "audit/forged", JSON.stringify({ verifyBytes: true }))).json()
    expect(forged).toMatchObject({ intact: false, firstBrokenVersion: 6, firstBreaks: [{ version: 6, cause: "PrevHashMismatch" }] })
    expect((await cmd(s.nc, "audit", "audit/none")).status).toBe(404)
    expect((await rawRequest(s.nc, "blob.cmd.audit.a*b")).status).toBe(400)
    expect((await cmd(s.nc, "audit", "audit/clean", "not json")).status).toBe(400)
    const predictions = (await cmd(s.nc, "audit", "audit/predicted", JSON.stringify({ predictions: true }))).json()
    expect(predictions).toMatchObject({ predictions: 3, rows: [{ outcome: "correct" }, { outcome: "wrong-content" }, { outcome: "pending" }] })
  })
})

describe("whole-store audit", () => {
  it("one pass finds exactly the forged versions, in every blob", async () => {
    const summary = await auditStore(s.nc, s.config.names)
    expect(summary.breaks).toBe(forgedBreaks.length)
    expect(summary.firstBreaks.map((b) => ({ id: b.id, version: b.version })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...forgedBreaks].sort((a, b) => a.id.localeCompare(b.id)),
    )
    expect(summary.blobs).toBeGreaterThanOrEqual(10)
    expect(summary.versions).toBeGreaterThan(1_000)

    const r = await umbra(["audit", "--all", "--json"])
    expect(r.code).toBe(1)
    expect(jsonLines(r.stdout).at(-1)).toMatchObject({ verdict: "broken", breaks: forgedBreaks.length, blobs: summary.blobs })
  })

  it("--from starts mid-history and links each blob's first event back to the version before", async () => {
    const id = "audit/late"
    await write(id, "before")
    await sleep(20)
    const from = Date.now()
    await sleep(5)
    await write(id, "after")
    const summary = await auditStore(s.nc, s.config.names, { fromMs: from })
    expect(summary).toMatchObject({ intact: true, blobs: 1, versions: 1, anchorsChecked: 1 })
    const r = await umbra(["audit", "--all", "--from", new Date(from).toISOString()])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/verdict: intact — 1 blobs, 1 versions/)
  })
})
