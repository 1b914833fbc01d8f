import { createHash } from "node:crypto"
import { setTimeout as sleep } from "node:timers/promises"
import type { NatsConnection } from "@nats-io/nats-core"
import { runCheckers, type CheckReport } from "../../simulations/checkers/index.ts"
import { makeHistoryRecorder, type FinalHistories, type HistoryRecorder, type Outcome } from "../../simulations/history.ts"
import { rawRequest } from "./raw.ts"

// A steady load of writes and primary reads whose every attempt is recorded, so a test can
// run the simulations' checkers afterwards: no acknowledged write lost, no duplicate
// version, the primary history linearizable. Writes retry under one idempotency key.

export interface CheckedLoad {
  readonly recorder: HistoryRecorder
  /** Longest time between two acknowledged writes, over the whole run (ms). */
  longestWriteGapMs(): number
  /** Non-ok outcomes by `<kind>:<outcome tag>`. */
  readonly errors: Map<string, number>
  stop(): Promise<void>
  check(nc: NatsConnection): Promise<CheckReport>
  acked(): number
}

const sha = (s: string) => "sha256:" + createHash("sha256").update(s).digest("hex")

const outcomeOf = (r: Awaited<ReturnType<typeof rawRequest>>): Outcome => {
  if (r.status === undefined) {
    const version = Number(r.header("Umbra-Version") ?? r.json().version)
    const digest = r.header("Umbra-Digest") ?? r.json().digest
    return { _tag: "Ok", version, digest, source: r.header("Umbra-Source") === "shadow" ? "shadow" : "primary" }
  }
  const body = r.json() as { error: { code: string; currentVersion?: number } }
  if (r.status === 404) return { _tag: "NotFound" }
  if (r.status === 409) return { _tag: "Conflict", currentVersion: body.error.currentVersion ?? -1 }
  // 503: unknown outcome (it may have been appended), or refused before any append.
  if (r.status === 503) return { _tag: "Indeterminate", reason: body.error.code }
  return { _tag: "Fail", code: body.error.code }
}

export const startCheckedLoad = (
  nc: NatsConnection,
  o: { blobs: ReadonlyArray<string>; clients: number; timeoutMs?: number; readRatio?: number },
): CheckedLoad => {
  const recorder = makeHistoryRecorder()
  const t0 = Date.now()
  let stopping = false
  let lastAck = Date.now()
  let longestGap = 0
  let ackedWrites = 0
  const errors = new Map<string, number>()
  const timeoutMs = o.timeoutMs ?? 3_000

  const attempt = async (client: number, blobId: string, kind: "write" | "read", key: string, body: string): Promise<Outcome> => {
    const now = Date.now() - t0
    const id = recorder.invoke({
      client,
      blobId,
      kind,
      intendedMs: now,
      atMs: now,
      ...(kind === "write" ? { idempotencyKey: key, writeDigest: sha(body) } : { consistency: "primary" as const }),
    })
    let outcome: Outcome
    try {
      const r = await rawRequest(
        nc,
        `blob.cmd.${kind}.${blobId}`,
        kind === "write" ? body : "",
        kind === "write" ? { "Umbra-Idempotency-Key": key } : { "Umbra-Consistency": "primary" },
        timeoutMs,
      )
      outcome = outcomeOf(r)
    } catch (e) {
      outcome = { _tag: "Indeterminate", reason: e instanceof Error ? e.message : String(e) }
    }
    recorder.complete(id, Date.now() - t0, outcome)
    if (outcome._tag !== "Ok") errors.set(`${kind}:${outcome._tag}`, (errors.get(`${kind}:${outcome._tag}`) ?? 0) + 1)
    return outcome
  }

  const client = async (c: number): Promise<void> => {
    for (let i = 0; !stopping; i++) {
      const blobId = o.blobs[(c * 7 + i) % o.blobs.length]!
      if (Math.random() < (o.readRatio ?? 0.3)) {
        await attempt(c, blobId, "read", "", "")
        continue
      }
      const key = `c${c}-${i}`
      const body = `${blobId} by ${c} #${i}`
      for (let tries = 0; tries < 100 && !stopping; tries++) {
        const r = await attempt(c, blobId, "write", key, body)
        if (r._tag === "Ok") {
          const now = Date.now()
          longestGap = Math.max(longestGap, now - lastAck)
          lastAck = now
          ackedWrites++
          break
        }
        if (r._tag !== "Indeterminate") break
        await sleep(100)
      }
    }
  }

  const running = Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)))
  return {
    recorder,
    errors,
    longestWriteGapMs: () => longestGap,
    acked: () => ackedWrites,
    stop: async () => {
      stopping = true
      await running
    },
    check: async (checkNc) => {
      const finals = new Map<string, Array<{ version: number; digest: string }>>()
      for (const id of o.blobs) {
        const versions: Array<{ version: number; digest: string }> = []
        let from: number | undefined = 1
        while (from !== undefined) {
          const r = await rawRequest(checkNc, `blob.cmd.history.${id}`, JSON.stringify({ from, limit: 1000 }), {}, 10_000)
          if (r.status === 404) break
          versions.push(...(r.json() as Array<{ version: number; digest: string }>).map((e) => ({ version: e.version, digest: e.digest })))
          const next = r.header("Umbra-Next-From")
          from = next === undefined ? undefined : Number(next)
        }
        finals.set(id, versions)
      }
      return runCheckers({
        operations: recorder.operations(Date.now() - t0),
        finalHistories: finals as FinalHistories,
        expect: [],
        endMs: Date.now() - t0,
      })
    },
  }
}
