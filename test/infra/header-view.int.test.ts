import { headers, type Msg } from "@nats-io/nats-core"
import { describe, expect, it } from "vitest"
import { rawHeaderValue } from "../../infra/header-view.ts"
import { serverPerFile } from "../support/nats-server.ts"

const t = serverPerFile()

const roundTrip = async (h: ReturnType<typeof headers> | undefined): Promise<Msg> => {
  const sub = t.nc().subscribe("hv.x", { max: 1 })
  t.nc().publish("hv.x", new TextEncoder().encode("body"), h === undefined ? {} : { headers: h })
  for await (const m of sub) return m
  throw new Error("no message")
}

describe("rawHeaderValue", () => {
  it("reads what MsgHdrs reads, for the first, middle and last header", async () => {
    const h = headers()
    h.set("Umbra-Version", "42")
    h.set("X-Umbra-Version", "7")
    h.set("Umbra-Digest", "sha256:ab")
    h.set("Umbra-Writer", "wé")
    const m = await roundTrip(h)
    for (const name of ["Umbra-Version", "X-Umbra-Version", "Umbra-Digest", "Umbra-Writer"]) expect(rawHeaderValue(m, name)).toBe(m.headers?.get(name))
    expect(rawHeaderValue(m, "Umbra-Absent")).toBeUndefined()
    expect(new TextDecoder().decode(m.data)).toBe("body")
  })

  it("is undefined for a message without headers", async () => {
    expect(rawHeaderValue(await roundTrip(undefined), "Umbra-Version")).toBeUndefined()
  })
})
