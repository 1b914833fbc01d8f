import type { NatsConnection, Subscription } from "@nats-io/nats-core"
import { Registry } from "prom-client"
import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"
import type { Names } from "../../infra/names.ts"
import { ShadowMetrics } from "./shadow-metrics.ts"

// A status page on a blob service should show exactness and precision, which only the
// reconciler can judge. This view follows the shadow lifecycle events (a plain subscription,
// nothing stored or acknowledged) into a private registry that the status page reads and
// /metrics does not expose: exporting it would count every verdict once per instance.

export interface LifecycleView {
  readonly registry: Registry
  stop(): void
}

const dec = new TextDecoder()

export const followLifecycle = (nc: NatsConnection, names: Names): LifecycleView => {
  const registry = new Registry()
  const metrics = new ShadowMetrics(registry)
  const sub: Subscription = nc.subscribe(`${names.shadowEventSubjectPrefix}.>`, {
    callback: (err, msg) => {
      if (err !== null) return
      const e = parse(msg.data)
      if (e !== undefined) metrics.lifecycle(e)
    },
  })
  return { registry, stop: () => sub.unsubscribe() }
}

const parse = (data: Uint8Array): ShadowLifecycleEvent | undefined => {
  try {
    const v = JSON.parse(dec.decode(data)) as Partial<ShadowLifecycleEvent>
    return typeof v.kind === "string" && typeof v.confidence === "number" && typeof v.model === "string" ? (v as ShadowLifecycleEvent) : undefined
  } catch {
    return undefined
  }
}
