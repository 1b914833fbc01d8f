import { headers } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestStack, type TestStack } from "../support/umbra.ts"

let s: TestStack
beforeAll(async () => {
  s = await startTestStack()
})
afterAll(async () => s?.stop())

const enc = new TextEncoder()
const dec = new TextDecoder()

describe("blob service smoke", () => {
  it("writes, reads and lists history", async () => {
    const w1 = await s.nc.request("blob.cmd.write.smoke/a", enc.encode('{"n":1}'))
    expect(JSON.parse(dec.decode(w1.data))).toMatchObject({ id: "smoke/a", version: 1 })
    const h = headers()
    h.set("Umbra-Expected-Version", "1")
    const w2 = await s.nc.request("blob.cmd.patch.smoke/a", enc.encode('[{"op":"replace","path":"/n","value":2}]'), { headers: h, timeout: 5000 })
    expect(JSON.parse(dec.decode(w2.data))).toMatchObject({ version: 2 })
    const r = await s.nc.request("blob.cmd.read.smoke/a", undefined)
    expect(dec.decode(r.data)).toBe('{"n":2}')
    expect(r.headers?.get("Umbra-Version")).toBe("2")
    const v1 = await s.nc.request("blob.cmd.read.smoke/a", undefined, { headers: (() => { const x = headers(); x.set("Umbra-Version", "1"); return x })(), timeout: 5000 })
    expect(dec.decode(v1.data)).toBe('{"n":1}')
    const hist = await s.nc.request("blob.cmd.history.smoke/a", undefined)
    const list = JSON.parse(dec.decode(hist.data)) as Array<{ version: number; op: string }>
    expect(list.map((e) => [e.version, e.op])).toEqual([[1, "write"], [2, "patch"]])
  })
})
