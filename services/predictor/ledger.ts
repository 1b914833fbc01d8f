import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"

// The shadows this predictor stored, so the reconciler's verdicts on them (lifecycle events
// on `shadow.evt.<id>`) can be turned back into `outcome(predictionKey, correct)`, and the
// reads they served (access facts `<id>@<shadow version>`) counted. Bounded: the oldest
// entries are forgotten first, which only means a very late verdict teaches nothing. A settled
// entry is kept (reads it served are still reported for a while after its verdict).

export interface Emitted {
  readonly predictionKey: string
  readonly id: string
  readonly predicted: number
  readonly digest: string
  readonly shadowVersion: number
  /** Set by the first verdict: one verdict per prediction, however often it is redelivered. */
  settled: boolean
}

/** What a verdict says about a prediction: right, wrong, or nothing (e.g. evicted, obsolete). */
export type Verdict = "correct" | "wrong" | "no-verdict"

export const verdictOf = (e: Pick<ShadowLifecycleEvent, "kind" | "reason">): Verdict => {
  if (e.kind === "confirmed") return "correct"
  if (e.kind !== "discarded") return "no-verdict"
  return e.reason === "wrong-content" || e.reason === "valid-from-expired" ? "wrong" : "no-verdict"
}

const byRevision = (id: string, shadowVersion: number): string => `${id}@${shadowVersion}`
const byContent = (id: string, predicted: number, digest: string): string => `${id}|${predicted}|${digest}`

export class Ledger {
  private readonly byRev = new Map<string, Emitted>()
  private readonly byDigest = new Map<string, Emitted>()

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byRev.size
  }

  add(e: Emitted): void {
    this.byRev.set(byRevision(e.id, e.shadowVersion), e)
    this.byDigest.set(byContent(e.id, e.predicted, e.digest), e)
    while (this.byRev.size > this.max) {
      const oldest = this.byRev.values().next()
      if (oldest.done === true) break
      this.forget(oldest.value)
    }
  }

  /** The prediction a lifecycle event is about, if it is one of ours. */
  find(e: Pick<ShadowLifecycleEvent, "id" | "shadowVersion" | "predicted" | "digest">): Emitted | undefined {
    return this.byRev.get(byRevision(e.id, e.shadowVersion)) ?? this.byDigest.get(byContent(e.id, e.predicted, e.digest))
  }

  /** A served-read key `<id>@<shadow version>` from the access facts. */
  findServed(key: string): Emitted | undefined {
    return this.byRev.get(key)
  }

  private forget(e: Emitted): void {
    this.byRev.delete(byRevision(e.id, e.shadowVersion))
    this.byDigest.delete(byContent(e.id, e.predicted, e.digest))
  }
}
