import type { NatsConnection } from "@nats-io/nats-core"
import { Svcm, type ServiceStats } from "@nats-io/services"
import { fromThrown } from "../../infra/client/errors.ts"
import { defaultNames } from "../../infra/names.ts"

// Every running instance answers $SRV.STATS.<name>; we collect all replies that arrive within
// a short window (there is no way to know how many instances exist, so we wait, bounded).
// The figures are the ones the metrics endpoint exports, computed the same way (DESIGN.md).

export const BLOB_SERVICE = defaultNames.serviceName
export const RECONCILER_SERVICE = "umbra-reconciler"
/** Replies kept per service: more instances than this is a deployment we cannot show anyway. */
const MAX_INSTANCES = 1_000

export interface EndpointFigures {
  readonly requests: number
  readonly errors: number
  readonly avgMs: number
}

export interface InstanceStats {
  readonly service: string
  readonly instance: string
  readonly id: string
  readonly version: string
  readonly started: string
  readonly endpoints: Readonly<Record<string, EndpointFigures>>
  readonly figures: Readonly<Record<string, number | null>>
  /** What the instance's stats handler returned, as is. */
  readonly data: unknown
}

export interface StatsReport {
  readonly at: string
  readonly windowMs: number
  readonly instances: ReadonlyArray<InstanceStats>
}

const numberAt = (o: unknown, ...path: string[]): number => {
  let v: unknown = o
  for (const k of path) v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined
  return typeof v === "number" && Number.isFinite(v) ? v : 0
}

const sumValues = (o: unknown, skip: ReadonlyArray<string> = []): number =>
  typeof o === "object" && o !== null
    ? Object.entries(o as Record<string, unknown>).reduce((n, [k, v]) => (skip.includes(k) || typeof v !== "number" ? n : n + v), 0)
    : 0

/** The blob service's stats data as the figures the dashboard shows. */
export const blobFigures = (data: unknown): Record<string, number | null> => {
  const shadow = typeof data === "object" && data !== null ? (data as Record<string, unknown>)["shadow"] : undefined
  const hits = numberAt(shadow, "hits")
  const allowed = hits + sumValues(numberAtObj(shadow, "misses"), ["consistency"])
  return {
    liveActors: numberAt(data, "live_actors"),
    hydrations: numberAt(data, "hydrations"),
    passivations: numberAt(data, "passivations"),
    appends: numberAt(data, "appends"),
    shed: numberAt(data, "shed"),
    shadowHits: hits,
    shadowAllowedReads: allowed,
    primaryReads: numberAt(shadow, "primaryReads"),
    hitRate: allowed === 0 ? null : hits / allowed,
    shadowWrites: sumValues(numberAtObj(shadow, "shadowWrites")),
    shadowWriteFailures: numberAt(shadow, "shadowWriteFailures"),
    evictions: numberAt(shadow, "evictions"),
    replicaSize: numberAt(shadow, "replicaSize"),
    replicaBytes: numberAt(shadow, "replicaBytes"),
  }
}

const numberAtObj = (o: unknown, k: string): unknown => (typeof o === "object" && o !== null ? (o as Record<string, unknown>)[k] : undefined)

/** Any other service (the reconciler): its numeric stats fields, flattened one level. */
export const genericFigures = (data: unknown): Record<string, number | null> => {
  const out: Record<string, number | null> = {}
  if (typeof data !== "object" || data === null) return out
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (typeof v === "number") out[k] = v
    else if (typeof v === "object" && v !== null)
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) if (typeof v2 === "number") out[`${k}.${k2}`] = v2
  }
  return out
}

const toInstance = (s: ServiceStats): InstanceStats => {
  const endpoints: Record<string, EndpointFigures> = {}
  let data: unknown
  for (const e of s.endpoints ?? []) {
    endpoints[e.name] = { requests: e.num_requests, errors: e.num_errors, avgMs: e.average_processing_time / 1e6 }
    // The stats handler answers the same data for every endpoint: keep one copy.
    data ??= e.data
  }
  return {
    service: s.name,
    instance: s.metadata?.["instance"] ?? s.id,
    id: s.id,
    version: s.version,
    started: s.started,
    endpoints,
    figures: s.name === BLOB_SERVICE ? blobFigures(data) : genericFigures(data),
    data: data ?? null,
  }
}

export const gatherStats = async (nc: NatsConnection, services: ReadonlyArray<string>, windowMs: number): Promise<StatsReport> => {
  const client = new Svcm(nc).client({ strategy: "timer", maxWait: windowMs })
  const perService = await Promise.all(
    services.map(async (name) => {
      const found: InstanceStats[] = []
      try {
        for await (const s of await client.stats(name)) if (found.length < MAX_INSTANCES) found.push(toInstance(s))
      } catch (e) {
        // A refusal is the caller's to report; no responders means no instance of this
        // service is running, which is an answer too.
        const err = fromThrown(e, `service statistics of ${name}`)
        if (err.code === "PERMISSION_DENIED") throw err
      }
      return found
    }),
  )
  const instances = perService.flat().sort((a, b) => a.service.localeCompare(b.service) || a.instance.localeCompare(b.instance))
  return { at: new Date().toISOString(), windowMs, instances }
}
