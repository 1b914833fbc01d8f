import { DeliverPolicy, jetstream, type JetStreamClient } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import type { BlobId } from "../domain/blob-id.ts"
import { lifecycleMsgId, type ShadowLifecycleEvent } from "../domain/shadow-lifecycle.ts"
import { encodedHeaders } from "./encoded-headers.ts"
import { shadowEventSubject, type Names } from "./names.ts"
import { JS_HEADERS, jsPublisherFor, type JsPublisher } from "./js-publisher.ts"

// The shadow lifecycle stream: JSON events on `shadow.evt.<id>`, one per creation or verdict,
// published with a deterministic Nats-Msg-Id (see domain/shadow-lifecycle.ts).

const enc = new TextEncoder()
const dec = new TextDecoder()

export class ShadowEvents {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly names: Names,
    private readonly publisher: JsPublisher,
  ) {}

  static open(nc: NatsConnection, names: Names): ShadowEvents {
    return new ShadowEvents(jetstream(nc), names, jsPublisherFor(nc))
  }

  /** Records one event; true if stored now, false if it was a duplicate of an earlier record. */
  async record(e: ShadowLifecycleEvent): Promise<boolean> {
    const headers = encodedHeaders([[JS_HEADERS.msgId, lifecycleMsgId(e)]])
    const ack = await this.publisher.publish(shadowEventSubject(this.names, e.id as BlobId), enc.encode(JSON.stringify(e)), { headers, timeoutMs: 5_000 })
    return !ack.duplicate
  }

  /** Every lifecycle event of one blob, in order. */
  async forBlob(id: BlobId): Promise<ShadowLifecycleEvent[]> {
    const c = await this.js.consumers.get(this.names.shadowEventStream, {
      filter_subjects: shadowEventSubject(this.names, id),
      deliver_policy: DeliverPolicy.All,
    })
    const out: ShadowLifecycleEvent[] = []
    try {
      const pending = (await c.info(true)).num_pending
      while (out.length < pending) {
        const batch = await c.fetch({ max_messages: Math.min(1_000, pending - out.length), expires: 5_000 })
        let got = 0
        for await (const m of batch) {
          got++
          try {
            out.push(JSON.parse(dec.decode(m.data)) as ShadowLifecycleEvent)
          } catch {
            // not ours: skipped
          }
        }
        if (got === 0) break
      }
    } finally {
      await c.delete().catch(() => {})
    }
    return out
  }
}
