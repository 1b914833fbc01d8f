import { headers, type Msg, type NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import { rawHeaderValue } from "../../infra/header-view.ts"
import { connectTo, startTestServer } from "../support/nats-server.ts"

let server: NatsServerProcess
let nc: NatsConnection

beforeAll(async () => {
  server = await startTestServer()
  nc = await connectTo(server.url)
})

afterAll(async () => {
  await nc.close()
  await server.stop(true)
})

const roundTrip = async (h: ReturnType<typeof headers> | undefined): Promise<Msg> => {
  const sub = nc.subscribe("hv.x", { max: 1 })
  nc.publish("hv.x", new TextEncoder().encode("body"), h === undefined ? {} : { headers: h })
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
