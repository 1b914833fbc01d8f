import * as E from "fp-ts/lib/Either.js"
import fc from "fast-check"
import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { applyJsonPatch, parseJson } from "../../domain/json-patch.ts"
import { decodeHistoryRequest, decodeId, decodeReadRequest, decodeWriteRequest } from "../../services/blob-service/request-decoding.ts"
import { decodeAuditRequest, startAuditEndpoint, type AuditEndpoint } from "../../services/audit/audit-endpoint.ts"
import { cmd } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// Property-based bad input: 100,000 generated commands per run over the wire against a real
// service (64 in flight), and another 100,000 through the pure decoders in-process (the choke
// point every request passes, where fast-check can shrink a failure). Invariants: a typed error (never a throw, never a crash), the service
// alive, no blob changed by a refused command, no message outside the commanded blob's subjects.

const enc = new TextEncoder()
const dec = new TextDecoder()
const ID_RE = /^[A-Za-z0-9_\-=/]{1,200}$/
const MAX_BODY = 4096
let total = 0

// ---- generators -------------------------------------------------------------------------

const hostileChars = fc.constantFrom(
  ".", "*", ">", " ", "\t", "\r", "\n", "\u0000", "\u0007", "\u007f", "\u200b", "\u200e", "\ufeff", "\u00a0",
  "\ud800", "\udfff", "\u{1f600}", "ü", "/", "=", "-", "_", "..", "$", "%", ":", "\\",
)
const validId = fc.stringMatching(/^[A-Za-z0-9_\-=/]{1,40}$/)
const idArb = fc.oneof(
  validId,
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.array(fc.oneof(hostileChars, fc.constantFrom("a", "B", "7")), { maxLength: 30 }).map((xs) => xs.join("")),
  fc.integer({ min: 195, max: 210 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 1_000, max: 70_000 }).map((n) => "y".repeat(n)),
  fc.constant(""),
)

const headerValue = fc.oneof(
  fc.string({ unit: "binary-ascii", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("0", "1", "-1", "01", "1e3", "1.5", "999999999999999", "9999999999999999", "NaN", "Infinity", "", " 1 ", "primary", "shadow", "0.95", "1.01", ".5", "2026-11-25T14:00:00Z", "sha256:" + "a".repeat(64), "sha256:" + "A".repeat(64)),
  fc.integer({ min: 0, max: 300 }).map((n) => "k".repeat(n)),
)
const headerName = fc.constantFrom(
  "Umbra-Expected-Version", "Umbra-Idempotency-Key", "Content-Type", "Umbra-Content-Ref", "Umbra-Restore-Version", "Umbra-Writer",
  "Umbra-Consistency", "Umbra-Min-Confidence", "Umbra-Version", "Umbra-As-Of",
  "Nats-Msg-Id", "Nats-Expected-Last-Subject-Sequence", "Nats-Expected-Stream", "Nats-Expected-Last-Sequence", "Nats-Expected-Last-Msg-Id", "Nats-Rollup",
  "umbra-version", "UMBRA-EXPECTED-VERSION", "X-Other",
)
/** Header lists with repeats: a name twice is a duplicate header on the wire (append). */
const headerList = fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 })

const toHeaders = (list: ReadonlyArray<readonly [string, string]>): MsgHdrs | undefined => {
  if (list.length === 0) return undefined
  const h = natsHeaders()
  for (const [k, v] of list) {
    try {
      h.append(k, v)
    } catch {
      // nats.js refuses some bytes in headers: such a request cannot be sent at all.
    }
  }
  return h
}

const deepJson = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth)
const hostileJson = fc.oneof(
  fc.json(),
  fc.constantFrom(
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '[{"op":"add","path":"/__proto__/polluted","value":true}]',
    '[{"op":"add","path":"/constructor/prototype/polluted","value":true}]',
    '[{"op":"replace","path":"","value":{"__proto__":{"polluted":1}}}]',
    '{"from":1e308,"limit":1e309}',
    '{"from":-0,"limit":0}',
    '{"from":123456789012345678901234567890}',
    '{"from":1.5}',
    '{"reverse":"yes"}',
    "[]", "null", "true", '"str"', "{", "]", "\u0000", "\ud800", "NaN",
    '{"a":1,"a":2}',
  ),
  fc.integer({ min: 50, max: 5_000 }).map((d) => deepJson(d, "[", "]")),
  fc.integer({ min: 50, max: 2_000 }).map((d) => '{"a":'.repeat(d) + "1" + "}".repeat(d)),
  fc.string({ unit: "binary", maxLength: 200 }),
)
const bodyArb = fc.oneof(
  hostileJson.map((s) => enc.encode(s)),
  fc.uint8Array({ maxLength: 64 }),
  fc.constantFrom(MAX_BODY - 1, MAX_BODY, MAX_BODY + 1, 0, 1).map((n) => new Uint8Array(n).fill(0x61)),
)

const TAGS: Readonly<Record<string, string>> = { INVALID_ID: "InvalidId", INVALID_REQUEST: "InvalidRequest" }
/** The domain's tagged errors (each maps to exactly one wire code). */
const isTyped = (e: unknown, codes: ReadonlyArray<string>) =>
  typeof e === "object" && e !== null && codes.some((c) => TAGS[c] === (e as { _tag?: string })._tag)

// ---- in-process: the decoders -----------------------------------------------------------

describe("decoders (in-process)", () => {
  const runs = (n: number) => ({ numRuns: n, seed: Number(process.env["UMBRA_FUZZ_SEED"] ?? Date.now() % 2 ** 31) })

  it("ids: only the contract's alphabet becomes a subject token; everything else INVALID_ID", () => {
    fc.assert(
      fc.property(idArb, fc.constantFrom("write", "patch", "delete", "read", "history"), (id, op) => {
        total++
        const r = decodeId(`blob.cmd.${op}.${id}`, `blob.cmd.${op}`)
        if (E.isRight(r)) return ID_RE.test(r.right) && r.right === id
        return isTyped(r.left, ["INVALID_ID"]) && !ID_RE.test(id)
      }),
      runs(30_000),
    )
  })

  it("write headers: typed result, client Nats-* headers never reach the request", () => {
    fc.assert(
      fc.property(headerList, (list) => {
        total++
        const r = decodeWriteRequest(toHeaders(list))
        if (E.isLeft(r)) return isTyped(r.left, ["INVALID_REQUEST"])
        const w = r.right
        return (
          (w.expectedVersion === undefined || (Number.isSafeInteger(w.expectedVersion) && w.expectedVersion >= 0)) &&
          (w.idempotencyKey === undefined || /^[\x21-\x7e]{1,200}$/.test(w.idempotencyKey)) &&
          /^[\x21-\x7e]{1,100}$/.test(w.writer) &&
          !Object.keys(w).some((k) => k.toLowerCase().startsWith("nats"))
        )
      }),
      runs(20_000),
    )
  })

  it("read headers: typed result, numbers in range", () => {
    fc.assert(
      fc.property(headerList, (list) => {
        total++
        const r = decodeReadRequest(toHeaders(list))
        if (E.isLeft(r)) return isTyped(r.left, ["INVALID_REQUEST"])
        const q = r.right
        return (
          (q.minConfidence === undefined || (q.minConfidence >= 0 && q.minConfidence <= 1)) &&
          (q.version === undefined || (Number.isSafeInteger(q.version) && q.version >= 1)) &&
          (q.asOfMs === undefined || Number.isFinite(q.asOfMs))
        )
      }),
      runs(20_000),
    )
  })

  it("history bodies: hostile JSON is a typed error or a sane page request", () => {
    fc.assert(
      fc.property(bodyArb, (body) => {
        total++
        const r = decodeHistoryRequest(body)
        if (E.isLeft(r)) return isTyped(r.left, ["INVALID_REQUEST"])
        const q = r.right
        return [q.from, q.limit].every((x) => x === undefined || (Number.isSafeInteger(x) && x >= 1))
      }),
      runs(15_000),
    )
  })

  it("audit bodies: hostile JSON is a typed error or two booleans", () => {
    fc.assert(
      fc.property(bodyArb, (body) => {
        total++
        const r = decodeAuditRequest(body)
        if (E.isLeft(r)) return isTyped(r.left, ["INVALID_REQUEST"])
        return Object.keys(r.right).sort().join() === "predictions,verifyBytes" && Object.values(r.right).every((v) => typeof v === "boolean")
      }),
      runs(10_000),
    )
  })

  it("JSON patch: deep, huge and prototype-polluting documents never throw nor pollute", () => {
    fc.assert(
      fc.property(hostileJson, hostileJson, (doc, patch) => {
        total++
        const d = parseJson(enc.encode(doc), "content")
        const p = parseJson(enc.encode(patch), "patch")
        for (const x of [d, p]) if (E.isLeft(x) && !isTyped(x.left, ["INVALID_REQUEST"])) return false
        if (E.isRight(d) && E.isRight(p)) {
          const r = applyJsonPatch(d.right, p.right)
          if (E.isLeft(r) && !isTyped(r.left, ["INVALID_REQUEST"])) return false
        }
        return ({} as { polluted?: unknown }).polluted === undefined && Object.prototype.hasOwnProperty.call(Object.prototype, "polluted") === false
      }),
      runs(15_000),
    )
  })
})

// ---- over the wire ----------------------------------------------------------------------

let s: TestStack
let audit: AuditEndpoint
const sentinels = ["fuzz/s1", "fuzz/s2", "fuzz/s3"]
const before = new Map<string, string>()
const seen: Msg[] = []
let wire = 0

const head = async (id: string) => {
  const r = await cmd(s.nc, "history", id, JSON.stringify({ reverse: true, limit: 1 }))
  return r.text
}

beforeAll(async () => {
  s = await startTestStack({ maxBodyBytes: MAX_BODY, inlineLimitBytes: MAX_BODY })
  audit = await startAuditEndpoint(s.serviceNc, s.config.names)
  for (const id of sentinels) {
    await cmd(s.nc, "write", id, `{"sentinel":"${id}"}`)
    before.set(id, await head(id))
  }
  for (const subj of ["blob.evt.>", "blob.head.>", "$KV.umbra_shadows.>", "shadow.evt.>"]) s.nc.subscribe(subj, { callback: (_e, m) => void seen.push(m) })
})
afterAll(async () => {
  await audit?.stop()
  await s?.stop()
  // The issue asks for 100,000 generated commands per run: over the wire alone, and as many
  // again through the decoders.
  expect(wire).toBeGreaterThanOrEqual(100_000)
  expect(total).toBeGreaterThanOrEqual(200_000)
})

const CONTRACT = ["VERSION_CONFLICT", "NOT_FOUND", "INVALID_ID", "INVALID_REQUEST", "TOO_LARGE", "INTERNAL", "UNAVAILABLE"]
const WIRE_COMMANDS = 100_000
const IN_FLIGHT = 64
const CHUNK = 1_000

describe("over the wire", () => {
  it("100,000 fuzzed commands, 64 in flight: typed answers, sentinels untouched, no stray subjects, service alive", async () => {
    const succeeded = new Set<string>()
    // A lost conditional write leaves a `conflict` shadow of its own blob (docs/decisions.md):
    // its blob's subject, so it counts as the blob's own.
    const targeted = new Set<string>()
    const statuses = new Map<string, number>()
    const unexpected: string[] = []
    let clientRefused = 0
    const op = fc.constantFrom("write", "patch", "delete", "read", "history", "audit")
    // Fuzzed commands aim at their own ids, never a sentinel: a refused command must leave
    // every blob as it was, and an accepted one may only touch its own id.
    // Ids stay under the server's 4 KiB control line: a longer subject is refused by nats-server
    // itself, which closes the connection (tested in-process above, up to 70,000 characters).
    const target = fc
      .oneof(validId.map((x) => `fuzz/t/${x}`.slice(0, 200)), idArb)
      .filter((id) => !sentinels.includes(id) && id.length < 3_500)
    const command = fc.tuple(op, target, headerList, bodyArb)
    const seed = Number(process.env["UMBRA_FUZZ_SEED"] ?? Date.now() % 2 ** 31)

    const send = async ([o, id, list, body]: [string, string, Array<[string, string]>, Uint8Array]): Promise<void> => {
      total++
      wire++
      targeted.add(id)
      let m: Msg
      try {
        const h = toHeaders(list)
        m = await s.nc.request(`blob.cmd.${o}.${id}`, body, { timeout: 30_000, ...(h === undefined ? {} : { headers: h }) })
      } catch (e) {
        // nats.js refuses subjects it cannot send (whitespace, empty tokens) or nobody
        // listens on such a subject: nothing reached the service.
        clientRefused++
        if (!/subject|no responders|503|invalid|header/i.test(String(e))) unexpected.push(`${o} ${JSON.stringify(id).slice(0, 80)}: ${String(e)}`)
        return
      }
      const status = m.headers?.get("Nats-Service-Error-Code") ?? ""
      statuses.set(`${o} ${status || "ok"}`, (statuses.get(`${o} ${status || "ok"}`) ?? 0) + 1)
      if (status === "") {
        succeeded.add(id)
        return
      }
      const code = (JSON.parse(dec.decode(m.data)) as { error: { code: string } }).error.code
      if (!CONTRACT.includes(code) || code === "INTERNAL") unexpected.push(`${o} ${JSON.stringify(id).slice(0, 80)}: ${code} ${dec.decode(m.data).slice(0, 200)}`)
    }

    // Generated a chunk at a time (the same seed gives the same commands), sent 64 at a time.
    for (let from = 0; from < WIRE_COMMANDS; from += CHUNK) {
      const batch = fc.sample(command, { numRuns: CHUNK, seed: (seed + from) % 2 ** 31 })
      let next = 0
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < batch.length) await send(batch[next++]!)
        }),
      )
    }
    await s.nc.flush()
    console.log("fuzz over the wire:", { seed, commands: wire, statuses: Object.fromEntries(statuses), clientRefused, accepted: succeeded.size })
    expect(unexpected.slice(0, 20)).toEqual([])
    // Every stored or republished message is on the subject of the blob its command named;
    // events and heads only for commands that were accepted.
    const idOf = (subject: string) => subject.replace(/^(blob\.evt|blob\.head|\$KV\.umbra_shadows|shadow\.evt)\./, "")
    expect(seen.map((m) => idOf(m.subject)).filter((id) => !targeted.has(id))).toEqual([])
    expect(seen.filter((m) => /^blob\.(evt|head)\./.test(m.subject)).map((m) => idOf(m.subject)).filter((id) => !succeeded.has(id))).toEqual([])
    for (const id of sentinels) expect(await head(id)).toBe(before.get(id))
    expect((await cmd(s.nc, "read", sentinels[0]!)).text).toBe(`{"sentinel":"${sentinels[0]}"}`)
  }, 600_000)

  it("client-sent Nats-Msg-Id and Nats-Expected-* are ignored", async () => {
    const h = { "Nats-Msg-Id": "fixed", "Nats-Expected-Last-Subject-Sequence": "999", "Nats-Expected-Stream": "OTHER" }
    const a = await cmd(s.nc, "write", "fuzz/msgid", "one", h)
    const b = await cmd(s.nc, "write", "fuzz/msgid", "two", h)
    expect([a.status, b.status]).toEqual([undefined, undefined])
    expect([a.json().version, b.json().version]).toEqual([1, 2])
  })
})
