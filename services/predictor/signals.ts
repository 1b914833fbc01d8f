import type { JsMsg } from "@nats-io/jetstream"
import type { Predictor } from "../../domain/predictor/predictor.ts"
import type { ShadowLifecycleEvent } from "../../domain/shadow-lifecycle.ts"
import type { AccessFacts } from "../blob-service/access-log.ts"
import { MODEL_PREFIX } from "./emitter.ts"
import { verdictOf, type Ledger } from "./ledger.ts"

// The two feeds besides the events: how often blobs are read (hotness), and what the
// reconciler decided about our shadows (outcomes for calibration and the quiet reflex).

const dec = new TextDecoder()

const parse = <T>(m: JsMsg): T | undefined => {
  try {
    return JSON.parse(dec.decode(m.data)) as T
  } catch {
    return undefined
  }
}

export interface AccessCounters {
  facts: number
  malformed: number
  reads: number
  /** Reads answered by one of this predictor's shadows (as the blob services report them). */
  readsServedByPredictions: number
}

/**
 * Only reads are recorded: every write is already learned, once, from the event stream, and
 * counting the access log's writes too would weigh writes twice.
 */
export const accessHandler = (predictor: Predictor, ledger: Ledger, c: AccessCounters) => (m: JsMsg): void => {
  const facts = parse<AccessFacts>(m)
  if (facts === undefined || typeof facts.reads !== "object" || facts.reads === null) {
    c.malformed++
    return
  }
  c.facts++
  for (const [id, n] of Object.entries(facts.reads)) {
    if (typeof n !== "number" || !(n > 0)) continue
    predictor.recordAccess(id, "read", n)
    c.reads += n
  }
  for (const [key, n] of Object.entries(facts.served ?? {})) {
    if (typeof n === "number" && ledger.findServed(key) !== undefined) c.readsServedByPredictions += n
  }
}

export interface VerdictCounters {
  lifecycleEvents: number
  malformed: number
  notOurs: number
  confirmed: number
  wrong: number
  noVerdict: number
  /** Outcomes the model took (false when it had already scored that prediction from the next write). */
  outcomesApplied: number
}

/** Ours: a `prediction` shadow with our model prefix. The key is `<id>@<basedOn>`, as observe() made it. */
export const verdictHandler = (predictor: Predictor, ledger: Ledger, c: VerdictCounters) => (m: JsMsg): void => {
  const e = parse<ShadowLifecycleEvent>(m)
  if (e === undefined || typeof e.id !== "string" || typeof e.basedOn !== "number") {
    c.malformed++
    return
  }
  c.lifecycleEvents++
  if (e.origin !== "prediction" || typeof e.model !== "string" || !e.model.startsWith(MODEL_PREFIX)) {
    c.notOurs++
    return
  }
  const verdict = verdictOf(e)
  if (verdict === "no-verdict") {
    c.noVerdict++
    return
  }
  if (verdict === "correct") c.confirmed++
  else c.wrong++
  const emitted = ledger.find(e)
  if (emitted !== undefined) emitted.settled = true
  if (predictor.outcome(`${e.id}@${e.basedOn}`, verdict === "correct")) c.outcomesApplied++
}
