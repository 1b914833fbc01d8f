import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream"
import { nanos } from "@nats-io/nats-core"
import { encodedHeaders } from "./encoded-headers.ts"
import { JS_HEADERS, type JsPublisher } from "./js-publisher.ts"

// A compare-and-set on a key's revision that holds on a replicated stream of nats-server 2.9.10.
//
// Before 2.9.21 (nats-server issue #4320) a clustered stream checks
// Nats-Expected-Last-Subject-Sequence only before it proposes the write, against what it has
// applied: concurrent writes expecting the same revision are all accepted. Measured here with
// `npx tsx test/faults/cas-race-repro.ts` (3 nodes, R3 KV): 152 of 200 rounds of two concurrent
// updates had two winners; 0 of 200 on R1. Two blob services taking one expired partition lease
// both "won" it, and one served a stale actor (a linearizability failure in the fault suite).
//
// Message-id deduplication, by contrast, also sees writes still in flight (0 of 300 rounds with
// three writers, 0 of 1,000 with five). So the write also carries the message id
// `<subject>@<expected revision>`: every write that passes the sequence check expects the
// revision last applied, hence they all carry the same id, and only the first is stored; the
// others are answered as duplicates, and a duplicate is a lost compare-and-set. Revisions only
// grow, so an id never comes back while the stream's duplicate window remembers it.
//
// How far it holds (docs/reliability.md): the leader notes an id when it proposes the write, so
// a new leader does not know the ids of writes its predecessor proposed (exclusive while the
// leader stays the same), and the id of a write dropped after its proposal would make every
// later write expecting that revision a "duplicate" until the window ends. (A write refused by
// the sequence check or by a full stream holds no id: measured on 2.9.10, R1 and R3.) So the
// streams written this way remember ids for a few seconds, not JetStream's 2 minutes.

/** A concurrent write expecting the same revision was stored first. Matches `isCasConflict`. */
export class CasLost extends Error {
  readonly _tag = "CasLost"
  constructor(subject: string, expectedRevision: number) {
    super(`wrong last sequence: ${subject} changed after revision ${expectedRevision} (a concurrent write was stored first)`)
    this.name = "CasLost"
  }
}

/**
 * How long a stream written with these ids remembers them: longer than a rival's write stays in
 * flight, short enough that a key stuck behind the id of a write never stored frees itself
 * within a lease. It also bounds the deduplication entries the server keeps.
 */
export const CAS_DUPLICATE_WINDOW_MS = 5_000

/**
 * Sets a stream's duplicate window to `CAS_DUPLICATE_WINDOW_MS` unless it is already (an update
 * only when needed). `current`: the stream's config when the caller has just read or written it
 * (saves asking for it again).
 */
export const ensureCasWindow = async (jsm: JetStreamManager, stream: string, current?: StreamConfig): Promise<void> => {
  const config = current ?? (await jsm.streams.info(stream)).config
  const want = nanos(CAS_DUPLICATE_WINDOW_MS)
  if (config.duplicate_window === want) return
  await jsm.streams.update(stream, { ...config, duplicate_window: want })
}

/** The message id that makes writes expecting one revision of one subject exclusive. */
export const casMsgId = (subject: string, expectedRevision: number): string => `${subject}@${expectedRevision}`

/**
 * Publishes `data` to `subject` only if the subject's last revision is `expectedRevision`
 * (0: no message yet); the new revision. `exclusive` adds the message id (a single-replica
 * stream checks the revision under its lock and needs none). Throws `CasLost` (or the stream's
 * 10071) when another write got there first, and a timeout when the outcome is unknown.
 */
export const compareAndSet = async (
  publisher: JsPublisher,
  subject: string,
  data: Uint8Array,
  expectedRevision: number,
  o: { readonly timeoutMs: number; readonly exclusive: boolean },
): Promise<number> => {
  const expect: [string, string] = [JS_HEADERS.expectedLastSubjectSequence, String(expectedRevision)]
  const headers = encodedHeaders(o.exclusive ? [expect, [JS_HEADERS.msgId, casMsgId(subject, expectedRevision)]] : [expect])
  const ack = await publisher.publish(subject, data, { headers, timeoutMs: o.timeoutMs })
  if (ack.duplicate) throw new CasLost(subject, expectedRevision)
  return ack.seq
}
