import { jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/nats-core"
import { connect } from "@nats-io/transport-node"
import { defaultNames } from "../../../infra/names.ts"

// What the cluster looked like while a fault played out, sampled every half second: the
// leaders of the event stream and of the partition-lease buckets, and each blob service's
// share of the partitions with the members it sees. It explains a write gap in a report.

const dec = new TextDecoder()

const leader = async (nc: NatsConnection, stream: string, timeoutMs = 400): Promise<string> => {
  try {
    const info = await (await jetstreamManager(nc, { timeout: timeoutMs })).streams.info(stream)
    return info.cluster?.leader ?? "-"
  } catch {
    return "?"
  }
}

const services = async (nc: NatsConnection): Promise<string[]> => {
  const out: string[] = []
  try {
    const replies = await nc.requestMany(`$SRV.STATS.${defaultNames.serviceName}`, undefined, { maxWait: 400 })
    for await (const m of replies) {
      const s = JSON.parse(dec.decode(m.data)) as {
        metadata?: { instance?: string }
        endpoints?: Array<{ name: string; data?: { partitions?: { owned: number; acquired: number; lost: number; members: string[] } } }>
      }
      const p = s.endpoints?.find((e) => e.name === "read")?.data?.partitions
      out.push(`${(s.metadata?.instance ?? "?").slice(-6)}:${p?.owned ?? "?"}/${p?.members.length ?? "?"}+${p?.acquired ?? "?"}-${p?.lost ?? "?"}`)
    }
  } catch {
    out.push("stats failed")
  }
  return out.sort()
}

export interface Timeline {
  stop(): Promise<string[]>
}

/** Samples until stopped; each line: ms on `now`'s clock, leaders (events, leases, members), services (owned/members seen+acquired-lost). */
export const sampleTimeline = (nc: NatsConnection, now: () => number): Timeline => {
  const lines: string[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const t = Math.round(now())
      const [ev, ls, mb, svc] = await Promise.all([
        leader(nc, defaultNames.eventStream),
        leader(nc, `KV_${defaultNames.leaseBucket}`),
        leader(nc, `KV_${defaultNames.memberBucket}`),
        services(nc),
      ])
      lines.push(`${t} ev=${ev} leases=${ls} members=${mb} ${svc.join(" ")}`)
      await new Promise((r) => setTimeout(r, 500))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return lines
    },
  }
}

export interface LeaderSample {
  readonly t: number
  /** Each stream's leader as that node answered ("?": no answer, "-": none). */
  readonly leaders: ReadonlyArray<string>
}

/** Every watched stream answered with a leader. */
const allLed = (s: LeaderSample): boolean => s.leaders.every((l) => l !== "?" && l !== "-")

/** Some stream did not answer in time (no leader, or a slow one: it counts as none). */
export const unanswered = (s: LeaderSample): boolean => s.leaders.includes("?")

/** Only the samples where some stream's leader changed: "t stream=leader …", for the findings. */
export const leaderChanges = (samples: ReadonlyArray<LeaderSample>, streams: ReadonlyArray<string>): string[] => {
  const out: string[] = []
  let last = ""
  for (const s of samples) {
    const now = s.leaders.map((l, i) => `${streams[i]}=${l}`).join(" ")
    if (now !== last) out.push(`${Math.round(s.t)} ${now}`)
    last = now
  }
  return out
}

export interface LeaderWatch {
  stop(): Promise<ReadonlyArray<LeaderSample>>
}

/**
 * The leaders of `streams` as one node sees them, every 250 ms: a connection pinned to that
 * node (no failover, no cluster updates), so during a partition it reports that side's view.
 * Tells whether nats-server gave the majority what Umbra needs to write, and for how long.
 */
export const watchLeaders = async (url: string, streams: ReadonlyArray<string>, now: () => number): Promise<LeaderWatch> => {
  const nc = await connect({ servers: url, name: "leader-watch", ignoreClusterUpdates: true, noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  const samples: LeaderSample[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const t = now()
      const leaders = await Promise.all(streams.map((s) => leader(nc, s, 1_000)))
      samples.push({ t, leaders })
      await new Promise((r) => setTimeout(r, 250))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      await nc.close().catch(() => undefined)
      return samples
    },
  }
}

/** The longest stretch in [fromMs, toMs] in which every sample had all its leaders (open at the end: up to toMs). */
export const longestWithLeaders = (samples: ReadonlyArray<LeaderSample>, fromMs: number, toMs: number): number => {
  let longest = 0
  let since: number | undefined
  for (const s of samples) {
    if (s.t < fromMs || s.t > toMs) continue
    if (!allLed(s)) since = undefined
    else {
      since ??= s.t
      longest = Math.max(longest, s.t - since)
    }
  }
  if (since !== undefined) longest = Math.max(longest, toMs - since)
  return Math.round(longest)
}
