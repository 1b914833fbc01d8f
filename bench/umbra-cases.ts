import { headers, type Msg, type NatsConnection } from "@nats-io/nats-core"
import { H } from "../infra/headers.ts"
import { defaultNames } from "../infra/names.ts"
import { payload, sizeLabel } from "./baselines.ts"
import type { LoadCase } from "./harness.ts"
import { blobName, ownedIndex } from "./names.ts"

// Umbra's cases, spoken over the wire contract of DESIGN.md with plain nats.js requests
// (the same client library as the baselines; the typed client adds only local decoding).

const cmd = (op: string, id: string): string => `${defaultNames.commandSubjectPrefix}.${op}.${id}`
export const eventSubjectOf = (id: string): string => `${defaultNames.eventSubjectPrefix}.${id}`

const isError = (m: Msg): boolean => m.headers?.has(H.serviceErrorCode) === true
const decoder = new TextDecoder()

export interface BlobSet {
  readonly ids: ReadonlyArray<string>
  readonly size: number
}

export const blobSet = (prefix: string, count: number, size: number): BlobSet => ({
  ids: Array.from({ length: count }, (_, i) => blobName(prefix, i)),
  size,
})

/** Writes every blob of the set once, 64 at a time (hydrates their actors and leaves write shadows). */
export const writeAll = async (nc: NatsConnection, set: BlobSet, body: Uint8Array, timeoutMs: number): Promise<void> => {
  for (let i = 0; i < set.ids.length; i += 64) {
    const replies = await Promise.all(set.ids.slice(i, i + 64).map((id) => nc.request(cmd("write", id), body, { timeout: timeoutMs })))
    const bad = replies.find(isError)
    if (bad !== undefined) throw new Error(`setup write failed: ${bad.headers?.get(H.serviceError)}`)
  }
}

/** Waits until every blob of the set is served from a shadow (the replica is fed asynchronously). */
export const awaitShadows = async (nc: NatsConnection, set: BlobSet, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + 30_000
  let pending = [...set.ids]
  while (pending.length > 0) {
    // A service that just printed "ready" may not have its subscriptions on the server yet.
    const answers = await Promise.all(pending.map((id) => nc.request(cmd("read", id), undefined, { timeout: timeoutMs }).catch((e: unknown) => e as Error)))
    const fromShadow = (a: Msg | Error): boolean => !(a instanceof Error) && a.headers?.get(H.source) === "shadow"
    const described = (a: Msg | Error): string => (a instanceof Error ? String(a) : `source=${a.headers?.get(H.source)} v${a.headers?.get(H.version)}`)
    const missing = pending.flatMap((id, i) => (fromShadow(answers[i]!) ? [] : [{ id, answer: answers[i]! }]))
    if (missing.length > 0 && Date.now() > deadline)
      throw new Error(`${missing.length} blobs never served from a shadow: ${missing.slice(0, 5).map((m) => `${m.id}: ${described(m.answer)}`).join("; ")}`)
    pending = missing.map((m) => m.id)
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 100))
  }
}

/** Every read of the set says it came from `source`; throws otherwise (a case must measure what it names). */
export const expectSource = async (nc: NatsConnection, set: BlobSet, source: "shadow" | "primary", primary: boolean, timeoutMs: number): Promise<void> => {
  const h = () => {
    const x = headers()
    if (primary) x.set(H.consistency, "primary")
    return x
  }
  for (let i = 0; i < set.ids.length; i += 64) {
    const replies = await Promise.all(set.ids.slice(i, i + 64).map((id) => nc.request(cmd("read", id), undefined, { timeout: timeoutMs, headers: h() })))
    const wrong = replies.find((m) => m.headers?.get(H.source) !== source || m.data.length !== set.size)
    if (wrong !== undefined) throw new Error(`a read answered source=${wrong.headers?.get(H.source)} size=${wrong.data.length}, expected ${source}`)
  }
}

export const readCase = (nc: NatsConnection, name: string, set: BlobSet, concurrency: number, primary: boolean, timeoutMs: number): LoadCase => {
  const subjects = set.ids.map((id) => cmd("read", id))
  return {
    name: `${name}@${concurrency}`,
    concurrency,
    op: async (w, n) => {
      const subject = subjects[ownedIndex(w, n, concurrency, subjects.length)] as string
      let opts: { timeout: number; headers?: ReturnType<typeof headers> } = { timeout: timeoutMs }
      if (primary) {
        const h = headers()
        h.set(H.consistency, "primary")
        opts = { timeout: timeoutMs, headers: h }
      }
      // The content length tells a content reply from an error reply without parsing headers.
      return (await nc.request(subject, undefined, opts)).data.length === set.size
    },
  }
}

/** Unconditional writes spread over many blobs; each worker owns its blobs. */
export const writeCase = (nc: NatsConnection, set: BlobSet, concurrency: number, timeoutMs: number, maxOps?: number): LoadCase => {
  const body = payload(set.size)
  const subjects = set.ids.map((id) => cmd("write", id))
  return {
    name: `write-${sizeLabel(set.size)}@${concurrency}`,
    concurrency,
    ...(maxOps === undefined ? {} : { maxOps }),
    op: async (w, n) => !isError(await nc.request(subjects[ownedIndex(w, n, concurrency, subjects.length)] as string, body, { timeout: timeoutMs })),
  }
}

const encoder = new TextEncoder()

export const jsonDoc = (size: number): Uint8Array => {
  const base = JSON.stringify({ n: 0, status: "open", pad: "" })
  return encoder.encode(JSON.stringify({ n: 0, status: "open", pad: "x".repeat(Math.max(0, size - base.length)) }))
}

/** RFC 6902 patches of JSON blobs (one `replace` per request), spread over many blobs. */
export const patchCase = (nc: NatsConnection, set: BlobSet, concurrency: number, timeoutMs: number): LoadCase => {
  const subjects = set.ids.map((id) => cmd("patch", id))
  return {
    name: `patch@${concurrency}`,
    concurrency,
    op: async (w, n) => {
      const body = encoder.encode(`[{"op":"replace","path":"/n","value":${n}}]`)
      return !isError(await nc.request(subjects[ownedIndex(w, n, concurrency, subjects.length)] as string, body, { timeout: timeoutMs }))
    },
  }
}

export interface Contention {
  attempts: number
  commits: number
}

/**
 * Conditional writes (expected version) by `concurrency` writers on ONE blob. An operation is
 * one committed write: on a 409 the writer takes the current version from the error and tries
 * again, so its latency includes every lost round.
 */
export const contendedWriteCase = (nc: NatsConnection, id: string, concurrency: number, size: number, timeoutMs: number, counts: Contention): LoadCase => {
  const body = payload(size)
  const subject = cmd("write", id)
  let known = 0
  return {
    name: `conditional-write-1-blob@${concurrency}`,
    concurrency,
    op: async () => {
      for (let attempt = 0; attempt < 10_000; attempt++) {
        const h = headers()
        h.set(H.expectedVersion, String(known))
        counts.attempts++
        const m = await nc.request(subject, body, { timeout: timeoutMs, headers: h })
        if (!isError(m)) {
          const v = (JSON.parse(decoder.decode(m.data)) as { version: number }).version
          if (v > known) known = v
          counts.commits++
          return true
        }
        if (m.headers?.get(H.serviceErrorCode) !== "409") return false
        const current = (JSON.parse(decoder.decode(m.data)) as { error: { currentVersion?: number } }).error.currentVersion
        if (current !== undefined && current > known) known = current
      }
      return false
    },
  }
}

/** Initial version of a blob for a conditional-write case (creates it when missing). */
export const ensureBlob = async (nc: NatsConnection, id: string, body: Uint8Array, timeoutMs: number): Promise<void> => {
  const m = await nc.request(cmd("write", id), body, { timeout: timeoutMs })
  if (isError(m)) throw new Error(`cannot create ${id}: ${m.headers?.get(H.serviceError)}`)
}

/** Waits until a blob service answers requests (its subscriptions reached the server). */
export const awaitService = async (nc: NatsConnection, id: string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + 30_000
  for (;;) {
    const m = await nc.request(cmd("read", id), undefined, { timeout: timeoutMs }).catch(() => undefined)
    if (m !== undefined) return
    if (Date.now() > deadline) throw new Error("the blob service does not answer")
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** `$SRV.STATS` of the blob service (counters: hydrations, shadow hits and misses, …). */
export const serviceStats = async (nc: NatsConnection, timeoutMs: number): Promise<Record<string, unknown> | undefined> => {
  try {
    const m = await nc.request(`$SRV.STATS.${defaultNames.serviceName}`, undefined, { timeout: timeoutMs })
    const s = JSON.parse(decoder.decode(m.data)) as { endpoints?: Array<{ name: string; data?: Record<string, unknown> }> }
    return s.endpoints?.find((e) => e.name === "read")?.data
  } catch {
    return undefined
  }
}
