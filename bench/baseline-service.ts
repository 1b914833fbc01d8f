import { jetstream } from "@nats-io/jetstream"
import { headers, type MsgHdrs } from "@nats-io/nats-core"
import { Kvm } from "@nats-io/kv"
import { connectNats } from "../infra/connection.ts"
import type { BlobEvent } from "../domain/blob-event.ts"
import type { BlobId } from "../domain/blob-id.ts"
import { eventHeaderPairs } from "../infra/event-codec.ts"
import { EH } from "../infra/headers.ts"
import { JS_HEADERS, jsPublisherFor } from "../infra/js-publisher.ts"
import { BENCH, wireParts } from "./names.ts"

// The baseline responders, each run as its own process (like the blob service):
//   echo        a plain NATS request/reply service answering with the request body;
//   thin-write  the floor for a write through any service: one compare-and-set JetStream
//               publish (expected last subject sequence) per request, then a JSON reply.
//   wire-write  the messages of DESIGN.md's write and nothing else (bench/write-floor.ts): per
//               request an event with Umbra's headers compare-and-set on a stream that
//               republishes its headers, and a compare-and-set put of the content in a memory
//               KV bucket, sent together; the reply after the event's ack. Like a blob service
//               it hears the republished heads and watches the bucket. No decision, hashing
//               or actor: what the wire alone costs a write.
// Both subscribe in a queue group, as the blob service's endpoints do.

const mode = process.argv[2]
const url = process.env["NATS_URL"]
if (url === undefined || (mode !== "echo" && mode !== "thin-write" && mode !== "wire-write")) {
  console.error("usage: NATS_URL=… baseline-service.ts echo|thin-write|wire-write")
  process.exit(2)
}

// BENCH_BASELINE_PENDING_LIMIT: nats.js's outbound flush threshold for this responder (bytes;
// default nats.js's own), to compare a service's flush policy against the same policy here.
const pendingLimit = process.env["BENCH_BASELINE_PENDING_LIMIT"]
const nc = await connectNats({ servers: url, name: `bench-${mode}`, ...(pendingLimit === undefined ? {} : { pendingLimitBytes: Number(pendingLimit) }) })
const encoder = new TextEncoder()

if (mode === "echo") {
  nc.subscribe(BENCH.echoSubject, { queue: "bench", callback: (err, msg) => {
      if (err === null) msg.respond(msg.data)
    },
  })
} else if (mode === "wire-write") {
  await wireWrite()
} else {
  const js = jetstream(nc)
  // The last stream sequence of every subject this process wrote: what the next CAS expects.
  const last = new Map<string, number>()
  const prefixLength = BENCH.thinCmdPrefix.length + 1
  nc.subscribe(`${BENCH.thinCmdPrefix}.>`, {
    queue: "bench",
    callback: (err, msg) => {
      if (err !== null) return
      const subject = `${BENCH.thinEvtPrefix}.${msg.subject.slice(prefixLength)}`
      js.publish(subject, msg.data, { expect: { lastSubjectSequence: last.get(subject) ?? 0 } }).then(
        (ack) => {
          last.set(subject, ack.seq)
          msg.respond(encoder.encode(`{"seq":${ack.seq}}`))
        },
        (e: unknown) => msg.respond(encoder.encode(JSON.stringify({ error: String(e) })), { headers: errorHeaders() }),
      )
    },
  })
}

async function wireWrite(): Promise<void> {
  const parts = wireParts()
  // WIRE_LEAN=1: publish through Umbra's own publisher (infra/js-publisher.ts: no per-request
  // promise, timer or error objects of nats.js's request) instead of `js.publish`.
  const lean = process.env["WIRE_LEAN"] === "1"
  const js = jetstream(nc)
  const publisher = jsPublisherFor(nc)
  const casPublish = (subject: string, data: Uint8Array, last: number, h: MsgHdrs = headers()): Promise<{ seq: number }> => {
    if (!lean) return js.publish(subject, data, { headers: h, expect: { lastSubjectSequence: last } })
    h.set(JS_HEADERS.expectedLastSubjectSequence, String(last))
    return publisher.publish(subject, data, { headers: h, timeoutMs: 5_000 })
  }
  const kv = await new Kvm(nc).open(BENCH.wireBucket)
  const lastEvent = new Map<string, number>()
  const lastKey = new Map<string, number>()
  const versions = new Map<string, number>()
  // Like a blob service: every republished head is heard, every put of the bucket watched.
  let heard = 0
  if (parts.has("heads"))
    nc.subscribe(`${BENCH.wireHeadPrefix}.>`, { callback: (err, m) => {
        if (err === null && m.headers?.get(EH.version) !== "") heard++
      },
    })
  if (parts.has("watch")) {
    // By sequence, as Umbra's replicas start (infra/shadow-replica.ts, `startOf`): on 2.9.10 a
    // last-per-subject watch on an empty bucket makes the server recount every key per delivery.
    const watch = await kv.watch({ key: ">", resumeFromRevision: 1 })
    void (async () => {
      for await (const e of watch) heard += e.value.length > 0 ? 1 : 0
    })()
  }
  const hex = "0123456789abcdef".repeat(4)
  const prefixLength = BENCH.wireCmdPrefix.length + 1
  nc.subscribe(`${BENCH.wireCmdPrefix}.>`, {
    queue: "bench",
    callback: (err, msg) => {
      if (err !== null) return
      const id = msg.subject.slice(prefixLength)
      const version = (versions.get(id) ?? 0) + 1
      const h = headers()
      // The event's headers as Umbra's write carries them (the same codec), with fixed hashes.
      const event: BlobEvent = {
        id: id as BlobId,
        version,
        op: "write",
        digest: `sha256:${hex}`,
        size: msg.data.length,
        contentType: undefined,
        contentRef: undefined,
        content: msg.data,
        writer: "bench",
        timeMs: Date.now(),
        idempotencyKey: undefined,
        restoredFrom: undefined,
        prevHash: hex,
        hash: hex,
      }
      for (const [k, v] of eventHeaderPairs(event)) h.set(k, v)
      h.set(JS_HEADERS.msgId, `${id}:${version}`)
      h.set(JS_HEADERS.expectedStream, BENCH.wireStream)
      const subject = `${BENCH.wireEvtPrefix}.${id}`
      // Sent together, the reply waiting only for the event: DESIGN.md's "at the same time, without waiting".
      if (parts.has("shadow"))
        casPublish(`$KV.${BENCH.wireBucket}.${id}`, msg.data, lastKey.get(id) ?? 0).then(
          (a) => lastKey.set(id, a.seq),
          // A lost compare-and-set names the key's sequence: the next put expects that one.
          (e: unknown) => {
            const seq = /wrong last sequence: (\d+)/.exec(String(e))?.[1]
            if (seq !== undefined) lastKey.set(id, Number(seq))
          },
        )
      casPublish(subject, msg.data, lastEvent.get(subject) ?? 0, h).then(
        (ack) => {
          lastEvent.set(subject, ack.seq)
          versions.set(id, version)
          msg.respond(encoder.encode(`{"id":"${id}","version":${version},"digest":"sha256:${hex}"}`))
        },
        (e: unknown) => msg.respond(encoder.encode(JSON.stringify({ error: String(e) })), { headers: errorHeaders() }),
      )
    },
  })
}

function errorHeaders(): MsgHdrs {
  const h = headers()
  h.set("Nats-Service-Error-Code", "500")
  return h
}

await nc.flush()
console.log(`baseline ${mode} ready`)
const stop = () => void nc.drain().finally(() => process.exit(0))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
