import { jetstream } from "@nats-io/jetstream"
import { headers, type MsgHdrs } from "@nats-io/nats-core"
import { connectNats } from "../infra/connection.ts"
import { BENCH } from "./names.ts"

// The baseline responders, each run as its own process (like the blob service):
//   echo        a plain NATS request/reply service answering with the request body;
//   thin-write  the floor for a write through any service: one compare-and-set JetStream
//               publish (expected last subject sequence) per request, then a JSON reply.
// Both subscribe in a queue group, as the blob service's endpoints do.

const mode = process.argv[2]
const url = process.env["NATS_URL"]
if (url === undefined || (mode !== "echo" && mode !== "thin-write")) {
  console.error("usage: NATS_URL=… baseline-service.ts echo|thin-write")
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
