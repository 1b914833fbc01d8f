import * as E from "fp-ts/lib/Either.js"
import type { Msg, NatsConnection } from "@nats-io/nats-core"
import { Svcm, type Service } from "@nats-io/services"
import type { AuditBreak, PredictionRow } from "../../domain/audit.ts"
import type { BlobId } from "../../domain/blob-id.ts"
import { internal, invalidRequest, notFound, unavailable } from "../../domain/errors.ts"
import type { Names } from "../../infra/names.ts"
import { respondError, respondJson } from "../blob-service/reply.ts"
import { InFlightLimit } from "../blob-service/in-flight-limit.ts"
import { decodeId } from "../blob-service/request-decoding.ts"
import { auditBlob, auditPredictions } from "./blob-audit.ts"

// `blob.cmd.audit.<id>`: the audit run by a service, for users who may not read the streams
// themselves (the `auditor` role in deploy/nats-roles.ts). The reply is the verdict with the
// first breaks (a timeline does not fit one message; `umbra audit` streams it when allowed
// to read the stream). Body (optional JSON): `{ "verifyBytes": bool, "predictions": bool }`.

export const MAX_REPORTED_BREAKS = 100
export const MAX_PREDICTION_ROWS = 1_000
/** Audits at once per instance: each replays a whole history through its own consumer. */
export const DEFAULT_MAX_AUDITS_IN_FLIGHT = 16

interface AuditRequest {
  readonly verifyBytes: boolean
  readonly predictions: boolean
}

/** The optional JSON body of an audit request (exported for the fuzz tests). */
export const decodeAuditRequest = (data: Uint8Array): E.Either<ReturnType<typeof invalidRequest>, AuditRequest> => {
  if (data.length === 0) return E.right({ verifyBytes: false, predictions: false })
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>
    if (v === null || typeof v !== "object" || Array.isArray(v)) return E.left(invalidRequest("body must be a JSON object"))
    return E.right({ verifyBytes: v["verifyBytes"] === true, predictions: v["predictions"] === true })
  } catch {
    return E.left(invalidRequest("body must be JSON"))
  }
}

const serve = async (nc: NatsConnection, names: Names, msg: Msg, id: BlobId, req: AuditRequest): Promise<void> => {
  if (req.predictions) {
    const rows: ReadonlyArray<PredictionRow> = await auditPredictions(nc, names, id)
    return respondJson(msg, { id, predictions: rows.length, rows: rows.slice(0, MAX_PREDICTION_ROWS), truncated: rows.length > MAX_PREDICTION_ROWS })
  }
  const breaks: AuditBreak[] = []
  const r = await auditBlob(nc, names, id, {
    verifyBytes: req.verifyBytes,
    onEntry: (e) => {
      if (e.kind !== "shadow" && e.break !== undefined && breaks.length < MAX_REPORTED_BREAKS) breaks.push(e.break)
    },
  })
  if (r._tag === "NotFound") return respondError(msg, notFound(id))
  respondJson(msg, { ...r.verdict, firstBreaks: breaks })
}

export interface AuditEndpoint {
  readonly service: Service
  stop(): Promise<void>
}

export const startAuditEndpoint = async (nc: NatsConnection, names: Names, maxInFlight = DEFAULT_MAX_AUDITS_IN_FLIGHT): Promise<AuditEndpoint> => {
  const limit = new InFlightLimit(maxInFlight)
  const service = await new Svcm(nc).add({
    name: `${names.serviceName}-audit`,
    version: "0.1.0",
    description: "Umbra audits: replay a blob, verify digests and the hash chain",
  })
  const prefix = `${names.commandSubjectPrefix}.audit`
  service.addEndpoint("audit", {
    subject: `${prefix}.>`,
    handler: (err, msg) => {
      if (err !== null) return
      const id = decodeId(msg.subject, prefix)
      if (E.isLeft(id)) return respondError(msg, id.left)
      const req = decodeAuditRequest(msg.data)
      if (E.isLeft(req)) return respondError(msg, req.left)
      // A rejected handler sends no reply (NATS-NOTES): every failure is answered here.
      void limit.run(
        () => serve(nc, names, msg, id.right, req.right).catch((e: unknown) => respondError(msg, internal(e instanceof Error ? e.message : String(e)))),
        () => respondError(msg, unavailable(`${limit.max} audits already in flight on this instance`)),
      )
    },
  })
  // The subscription is live on the server once this resolves: no "no responders" race.
  await nc.flush()
  return { service, stop: () => service.stop().then(() => undefined) }
}
