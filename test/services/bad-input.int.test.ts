import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cmd, rawRequest } from "../support/raw.ts"
import { startTestStack, type TestStack } from "../support/umbra.ts"

// Every bad input gets its documented error, changes nothing, and the service keeps serving.

let s: TestStack
beforeAll(async () => {
  s = await startTestStack({ maxBodyBytes: 4096, inlineLimitBytes: 4096 })
  await cmd(s.nc, "write", "bad/json", '{"a":1}')
  await cmd(s.nc, "write", "bad/binary", new Uint8Array([0xff, 0xfe, 0x00]))
})
afterAll(async () => s?.stop())

const head = async (id: string) => (await cmd(s.nc, "history", id, JSON.stringify({ reverse: true, limit: 1 }))).json()[0]?.version

const expectError = (r: { status: number | undefined; json(): any; header(n: string): string | undefined }, status: number, code: string) => {
  expect(r.status).toBe(status)
  expect(r.json().error.code).toBe(code)
  expect(r.header("Nats-Service-Error")).toBeTruthy()
}

describe("bad ids", () => {
  const bad = ["a.b", "*", ">", "a b", "x".repeat(201), "a\tb", "ü"]
  for (const id of bad) {
    it(`rejects ${JSON.stringify(id.length > 20 ? id.slice(0, 10) + "…(" + id.length + ")" : id)} with INVALID_ID`, async () => {
      // Subjects with `.`/`*`/`>` in the id part reach the `blob.cmd.write.>` endpoint with
      // extra tokens or wildcards; a space cannot be published at all by nats.js.
      let r
      try {
        r = await rawRequest(s.nc, `blob.cmd.write.${id}`, "x")
      } catch (e) {
        expect(String(e)).toMatch(/subject|invalid|no responders/i)
        return
      }
      expectError(r, 400, "INVALID_ID")
    })
  }
  it("an id of exactly 200 characters is fine", async () => {
    expect((await cmd(s.nc, "write", "y".repeat(200), "ok")).json().version).toBe(1)
  })
})

describe("bad requests change nothing", () => {
  it("malformed JSON Patch", async () => {
    for (const body of ["not json", '{"op":"add"}', '[{"op":"bogus","path":"/a"}]', '[{"op":"remove","path":"/missing"}]', '[{"op":"add","path":"/__proto__/x","value":1}]', '[{"op":"test","path":"/a","value":2}]']) {
      expectError(await cmd(s.nc, "patch", "bad/json", body), 400, "INVALID_REQUEST")
    }
    expect(await head("bad/json")).toBe(1)
  })
  it("a patch on a non-JSON blob", async () => {
    expectError(await cmd(s.nc, "patch", "bad/binary", '[{"op":"add","path":"/a","value":1}]'), 400, "INVALID_REQUEST")
    expect(await head("bad/binary")).toBe(1)
  })
  it("an oversize body", async () => {
    expectError(await cmd(s.nc, "write", "bad/json", new Uint8Array(4097)), 413, "TOO_LARGE")
    expect(await head("bad/json")).toBe(1)
  })
  it("a non-numeric expected version", async () => {
    for (const v of ["abc", "-1", "1.5", "", "1 2", "0x1", "99999999999999999999"]) {
      const r = await cmd(s.nc, "write", "bad/json", "x", { "Umbra-Expected-Version": v })
      expectError(r, 400, "INVALID_REQUEST")
      expect(r.json().error.field).toBe("Umbra-Expected-Version")
    }
    expect(await head("bad/json")).toBe(1)
  })
  it("reads and deletes of missing blobs are NOT_FOUND", async () => {
    expectError(await cmd(s.nc, "read", "bad/missing"), 404, "NOT_FOUND")
    expectError(await cmd(s.nc, "delete", "bad/missing"), 404, "NOT_FOUND")
    expectError(await cmd(s.nc, "history", "bad/missing"), 404, "NOT_FOUND")
    expectError(await cmd(s.nc, "read", "bad/json", undefined, { "Umbra-Version": "9" }), 404, "NOT_FOUND")
  })
  it("bad read and history options", async () => {
    expectError(await cmd(s.nc, "read", "bad/json", undefined, { "Umbra-Consistency": "eventual" }), 400, "INVALID_REQUEST")
    expectError(await cmd(s.nc, "read", "bad/json", undefined, { "Umbra-Min-Confidence": "1.5" }), 400, "INVALID_REQUEST")
    expectError(await cmd(s.nc, "read", "bad/json", undefined, { "Umbra-As-Of": "yesterday" }), 400, "INVALID_REQUEST")
    expectError(await cmd(s.nc, "history", "bad/json", '{"limit":-1}'), 400, "INVALID_REQUEST")
    expectError(await cmd(s.nc, "history", "bad/json", "{"), 400, "INVALID_REQUEST")
  })
  it("client-sent Nats-Msg-Id and Nats-Expected-* headers are ignored", async () => {
    const w = await cmd(s.nc, "write", "bad/json", "{}", { "Nats-Msg-Id": "evil", "Nats-Expected-Last-Subject-Sequence": "999" })
    expect(w.json().version).toBe(2)
    const again = await cmd(s.nc, "write", "bad/json", '{"a":1}', { "Nats-Msg-Id": "evil" })
    expect(again.json().version).toBe(3)
  })
  it("the service still serves", async () => {
    const r = await cmd(s.nc, "read", "bad/json", undefined, { "Umbra-Consistency": "primary" })
    expect(r.text).toBe('{"a":1}')
  })
})
