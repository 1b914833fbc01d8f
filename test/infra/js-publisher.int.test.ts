import { jetstreamManager } from "@nats-io/jetstream"
import { headers, type NatsConnection } from "@nats-io/nats-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { NatsServerProcess } from "../../infra/embedded-server.ts"
import { JS_HEADERS, JsApiError, JsNoResponders, JsPublishTimeout, jsPublisherFor } from "../../infra/js-publisher.ts"
import { connectTo, startTestServer } from "../support/nats-server.ts"

let server: NatsServerProcess
let nc: NatsConnection

beforeAll(async () => {
  server = await startTestServer()
  nc = await connectTo(server.url)
  await (await jetstreamManager(nc)).streams.add({ name: "PUBT", subjects: ["pubt.>"] })
})

afterAll(async () => {
  await nc.close()
  await server.stop(true)
})

const expectLast = (seq: number, msgId?: string) => {
  const h = headers()
  h.set(JS_HEADERS.expectedLastSubjectSequence, String(seq))
  if (msgId !== undefined) h.set(JS_HEADERS.msgId, msgId)
  return h
}

describe("JsPublisher", () => {
  it("resolves with the stream's ack, and marks a repeated message id as a duplicate", async () => {
    const p = jsPublisherFor(nc)
    expect(jsPublisherFor(nc)).toBe(p)
    const a = await p.publish("pubt.a", new Uint8Array([1]), { headers: expectLast(0, "m1"), timeoutMs: 2_000 })
    expect(a).toEqual({ stream: "PUBT", seq: 1, duplicate: false })
    const again = await p.publish("pubt.a", new Uint8Array([1]), { headers: expectLast(0, "m1"), timeoutMs: 2_000 })
    expect(again).toEqual({ stream: "PUBT", seq: 1, duplicate: true })
    expect(p.inFlight).toBe(0)
  })

  it("rejects a lost compare-and-set with JetStream's error code, and stores nothing", async () => {
    const p = jsPublisherFor(nc)
    const e = await p.publish("pubt.a", new Uint8Array([2]), { headers: expectLast(7), timeoutMs: 2_000 }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(JsApiError)
    expect((e as JsApiError).errCode).toBe(10071)
    expect((await (await jetstreamManager(nc)).streams.info("PUBT")).state.messages).toBe(1)
  })

  it("rejects at once when no stream takes the subject", async () => {
    const e = await jsPublisherFor(nc).publish("nowhere.x", new Uint8Array(0), { timeoutMs: 2_000 }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(JsNoResponders)
  })

  it("times out when nothing acknowledges, and a late ack is ignored", async () => {
    const sub = nc.subscribe("silent.x", { callback: () => undefined })
    const p = jsPublisherFor(nc)
    const e = await p.publish("silent.x", new Uint8Array(0), { timeoutMs: 100 }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(JsPublishTimeout)
    expect(p.inFlight).toBe(0)
    sub.unsubscribe()
  })
})
