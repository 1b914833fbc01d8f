import * as E from "fp-ts/lib/Either.js"
import type { NatsConnection } from "@nats-io/nats-core"
import { parseBlobId, type BlobId } from "../domain/blob-id.ts"
import { defaultNames } from "../infra/names.ts"
import { auditBlob } from "../services/audit/blob-audit.ts"
import { seedBlob } from "../simulations/audit-bench.ts"
import { payload } from "./baselines.ts"
import { measureGroup, type CaseResult, type LoadCase, type Progress, type Timing } from "./harness.ts"
import { blobName, ownedIndex } from "./names.ts"
import { spawnTs } from "./processes.ts"

// Cases of other parts of Umbra, on the bench's server:
//   audit-replay-10k-versions@1  one full audit (replay + hash-chain verification) of a blob
//                                with 10,000 chained versions (services/audit/blob-audit.ts)
//   reconciler-verdict@N         a write, then the reconciler's verdict on its shadow on
//                                `shadow.evt.<id>`: write → verdict latency, N writes in flight

const blobId = (raw: string): BlobId => {
  const r = parseBlobId(raw)
  if (E.isLeft(r)) throw new Error(`bad id ${raw}`)
  return r.right
}

export const measureAuditReplay = async (nc: NatsConnection, versions: number, t: Timing, progress: Progress): Promise<Record<string, CaseResult>> => {
  const id = blobId("bench-audit/replay")
  progress(`[audit] seeding ${versions.toLocaleString("en-US")} chained versions`)
  await seedBlob(nc, defaultNames, id, versions)
  let intact = true
  const c: LoadCase = {
    name: "audit-replay-10k-versions@1",
    concurrency: 1,
    op: async () => {
      const r = await auditBlob(nc, defaultNames, id)
      const ok = r._tag === "Audited" && r.verdict.intact && r.verdict.versions === versions
      intact &&= ok
      return ok
    },
  }
  const r = await measureGroup("audit", [c], { ...t, runMs: Math.max(t.runMs * 2, 800) }, progress)
  const res = r[c.name] as CaseResult
  const versionsPerSec = res.p50Us > 0 ? Math.round(versions / (res.p50Us / 1e6)) : 0
  return { [c.name]: { ...res, note: `${versions} versions per replay; ${versionsPerSec.toLocaleString("en-US")} versions/s at the p50 replay; every replay verified intact: ${intact}` } }
}

const dec = new TextDecoder()

/** Needs a blob service running; starts (and stops) a reconciler process of its own. */
export const measureReconcilerVerdicts = async (nc: NatsConnection, url: string, t: Timing, timeoutMs: number, progress: Progress): Promise<Record<string, CaseResult>> => {
  const rec = await spawnTs({
    name: "bench-reconciler",
    script: "services/reconciler/main.ts",
    env: { NATS_URL: url, UMBRA_INSTANCE_ID: "bench-reconciler" },
    ready: /umbra reconciler .* ready/,
    readyTimeoutMs: 120_000,
  })
  // Verdicts (any lifecycle event but "created") by blob id, delivered to whoever waits for that blob.
  const waiting = new Map<string, () => void>()
  const prefix = `${defaultNames.shadowEventSubjectPrefix}.`
  const sub = nc.subscribe(`${prefix}>`, {
    callback: (err, m) => {
      if (err !== null) return
      const id = m.subject.slice(prefix.length)
      const w = waiting.get(id)
      if (w === undefined) return
      try {
        const e = JSON.parse(dec.decode(m.data)) as { kind?: string }
        if (e.kind !== undefined && e.kind !== "created") w()
      } catch {
        // not a lifecycle event
      }
    },
  })
  try {
    const ids = Array.from({ length: 1024 }, (_, i) => blobName("bench-rec", i))
    const body = payload(256)
    // Blobs exist first, so every measured write settles an existing blob's new version.
    for (let i = 0; i < ids.length; i += 64) await Promise.all(ids.slice(i, i + 64).map((id) => nc.request(`${defaultNames.commandSubjectPrefix}.write.${id}`, body, { timeout: timeoutMs })))
    const verdictCase = (concurrency: number): LoadCase => ({
      name: `reconciler-verdict@${concurrency}`,
      concurrency,
      op: async (w, n) => {
        const id = ids[ownedIndex(w, n, concurrency, ids.length)] as string
        const verdict = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            waiting.delete(id)
            resolve(false)
          }, timeoutMs)
          waiting.set(id, () => {
            clearTimeout(timer)
            waiting.delete(id)
            resolve(true)
          })
        })
        await nc.request(`${defaultNames.commandSubjectPrefix}.write.${id}`, body, { timeout: timeoutMs })
        return verdict
      },
    })
    progress("[reconciler] write → verdict latency (blob service and reconciler as processes)")
    return await measureGroup("reconciler", [verdictCase(1), verdictCase(64)], t, progress)
  } finally {
    sub.unsubscribe()
    await rec.stop()
  }
}
