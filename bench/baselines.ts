import { randomBytes } from "node:crypto"
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream"
import { Kvm, type KV } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/nats-core"
import type { LoadCase } from "./harness.ts"
import { BENCH, blobName, ownedIndex } from "./names.ts"

// The substrate, measured with the same client library, payloads and concurrency as Umbra:
//   echo         core request/reply to a responder process answering with the request body
//   cas-publish  JetStream publish with an expected last subject sequence, from the driver
//   thin-write   request/reply to a responder process doing one CAS publish, then replying
//   leader-get   STREAM.MSG.GET of a subject's last message (through the stream leader)
//   kv-get       get from a KV bucket on memory storage

export const payload = (size: number): Uint8Array => new Uint8Array(randomBytes(size))

export const isServiceError = (m: { headers?: { has(k: string): boolean } | undefined }): boolean =>
  m.headers?.has("Nats-Service-Error-Code") === true

export interface Baselines {
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly kv: KV
}

export const setUpBaselines = async (nc: NatsConnection): Promise<Baselines> => {
  const jsm = await jetstreamManager(nc)
  // File storage, full per-subject history: like Umbra's event stream.
  for (const [name, subject] of [
    [BENCH.thinStream, `${BENCH.thinEvtPrefix}.>`],
    [BENCH.casStream, `${BENCH.casPrefix}.>`],
  ] as const)
    await jsm.streams.add({ name, subjects: [subject], storage: "file" as never, max_msgs_per_subject: -1 })
  const kv = await new Kvm(nc).create(BENCH.kvBucket, { storage: "memory" as never, history: 1 })
  return { js: jetstream(nc), jsm, kv }
}

export const echoCase = (nc: NatsConnection, concurrency: number, size: number, timeoutMs: number): LoadCase => {
  const body = payload(size)
  return {
    name: `echo@${concurrency}`,
    concurrency,
    op: async () => (await nc.request(BENCH.echoSubject, body, { timeout: timeoutMs })).data.length === size,
  }
}

/** Last stream sequence per CAS subject, shared by every cas-publish case (they write the same subjects). */
const casLast = new Map<string, number>()

/** CAS publishes from the driver; each worker owns its subjects, so no CAS ever conflicts. */
export const casPublishCase = (b: Baselines, concurrency: number, size: number, subjects: number): LoadCase => {
  const body = payload(size)
  const names = Array.from({ length: subjects }, (_, i) => `${BENCH.casPrefix}.s${size}.${blobName("b", i)}`)
  return {
    name: `cas-publish-${sizeLabel(size)}@${concurrency}`,
    concurrency,
    op: async (w, n) => {
      const subject = names[ownedIndex(w, n, concurrency, subjects)] as string
      const ack = await b.js.publish(subject, body, { expect: { lastSubjectSequence: casLast.get(subject) ?? 0 } })
      casLast.set(subject, ack.seq)
    },
  }
}

export const thinWriteCase = (nc: NatsConnection, concurrency: number, size: number, blobs: number, timeoutMs: number): LoadCase => {
  const body = payload(size)
  const subjects = Array.from({ length: blobs }, (_, i) => `${BENCH.thinCmdPrefix}.s${size}-${blobName("b", i)}`)
  return {
    name: `thin-write-${sizeLabel(size)}@${concurrency}`,
    concurrency,
    op: async (w, n) => {
      const m = await nc.request(subjects[ownedIndex(w, n, concurrency, blobs)] as string, body, { timeout: timeoutMs })
      return !isServiceError(m)
    },
  }
}

/** Leader gets of the last message of existing subjects (Umbra's event subjects: what a cold read fetches). */
export const leaderGetCase = (b: Baselines, stream: string, subjects: ReadonlyArray<string>, concurrency: number, size: number): LoadCase => ({
  name: `leader-get@${concurrency}`,
  concurrency,
  op: async (w, n) => {
    const m = await b.jsm.streams.getMessage(stream, { last_by_subj: subjects[ownedIndex(w, n, concurrency, subjects.length)] as string })
    return m !== null && m.data.length === size
  },
})

export const fillKv = async (b: Baselines, keys: number, size: number): Promise<ReadonlyArray<string>> => {
  const body = payload(size)
  const names = Array.from({ length: keys }, (_, i) => blobName("k", i))
  for (let i = 0; i < names.length; i += 64) await Promise.all(names.slice(i, i + 64).map((k) => b.kv.put(k, body)))
  return names
}

export const kvGetCase = (b: Baselines, keys: ReadonlyArray<string>, concurrency: number, size: number): LoadCase => ({
  name: `kv-get@${concurrency}`,
  concurrency,
  op: async (w, n) => {
    const e = await b.kv.get(keys[ownedIndex(w, n, concurrency, keys.length)] as string)
    return e !== null && e.value.length === size
  },
})

export const sizeLabel = (size: number): string =>
  size >= 1024 && size % 1024 === 0 ? `${size / 1024}KiB` : `${size}B`
