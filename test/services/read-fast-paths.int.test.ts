import { headers, type Msg } from "@nats-io/nats-core"
import { Svcm } from "@nats-io/services"
import { beforeAll, describe, expect, it } from "vitest"
import { H } from "../../infra/headers.ts"
import { decodeId, decodeReadMsg, decodeReadRequest, idDecoder } from "../../services/blob-service/request-decoding.ts"
import { serverPerFile } from "../support/nats-server.ts"

// The read path decodes the blob id and the common `Umbra-Consistency: primary` header from
// the bytes nats.js received (request-decoding.ts). These tests pin that shortcut to the
// nats.js in use: it must give exactly what the public API gives, and it must be taken
// (a nats.js whose internals moved would silently fall back and lose the speed-up).

const t = serverPerFile()

interface Seen {
  readonly id: unknown
  readonly idPublic: unknown
  readonly req: unknown
  readonly headersDecodedBefore: boolean
  readonly reqPublic: unknown
}

const received = (msg: Msg): { _headers?: unknown } => ((msg as unknown as { msg?: object }).msg ?? msg) as { _headers?: unknown }

const inspect = (prefix: string) => (msg: Msg): Seen => {
  const id = idDecoder(prefix)(msg)
  const req = decodeReadMsg(msg)
  const headersDecodedBefore = received(msg)._headers !== undefined
  return { id, idPublic: decodeId(msg.subject, prefix), req, headersDecodedBefore, reqPublic: decodeReadRequest(msg.headers) }
}

const primaryOnly = () => {
  const h = headers()
  h.set(H.consistency, "primary")
  return h
}

const ask = async (subject: string, h?: ReturnType<typeof headers>): Promise<Seen> => {
  const r = await t.nc().request(subject, undefined, { timeout: 5_000, ...(h === undefined ? {} : { headers: h }) })
  return JSON.parse(new TextDecoder().decode(r.data)) as Seen
}

describe("through a @nats-io/services endpoint and a plain subscription", () => {
  beforeAll(async () => {
    const svc = await new Svcm(t.nc()).add({ name: "fast-paths", version: "0.0.1" })
    const viaService = inspect("svc.read")
    svc.addEndpoint("read", { subject: "svc.read.>", handler: (_e, m) => void m.respond(JSON.stringify(viaService(m as unknown as Msg))) })
    const viaSub = inspect("sub.read")
    t.nc().subscribe("sub.read.>", { callback: (_e, m) => void m.respond(JSON.stringify(viaSub(m))) })
    await t.nc().flush()
  })

  for (const via of ["svc", "sub"]) {
    it(`${via}: ids decoded from the subject's bytes equal decodeId's`, async () => {
      for (const id of ["a", "orders/42", "A-z_0=9/x", "x".repeat(200), "x".repeat(201), "ü", "a\u00e9b", "日本"]) {
        const s = await ask(`${via}.read.${id}`)
        expect(s.id).toEqual(s.idPublic)
      }
      expect((await ask(`${via}.read.orders/42`)).id).toEqual({ _tag: "Right", right: "orders/42" })
      expect((await ask(`${via}.read.ü`)).id).toMatchObject({ _tag: "Left" })
    })

    it(`${via}: a primary-only read is decoded from the raw header bytes`, async () => {
      const s = await ask(`${via}.read.a`, primaryOnly())
      expect(s.req).toEqual(s.reqPublic)
      expect(s.req).toMatchObject({ _tag: "Right", right: { consistency: "primary" } })
      expect(s.headersDecodedBefore).toBe(false)
    })

    it(`${via}: any other headers are decoded as before`, async () => {
      const h = primaryOnly()
      h.set(H.minConfidence, "0.5")
      const s = await ask(`${via}.read.a`, h)
      expect(s.headersDecodedBefore).toBe(true)
      expect(s.req).toEqual(s.reqPublic)
      const lower = headers()
      lower.set("umbra-consistency", "primary")
      const t = await ask(`${via}.read.a`, lower)
      expect(t.req).toEqual(t.reqPublic)
      const none = await ask(`${via}.read.a`)
      expect(none.req).toEqual(none.reqPublic)
    })
  }
})
