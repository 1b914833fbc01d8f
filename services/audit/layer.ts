import { Effect, Layer } from "effect"
import { Nats, Settings } from "../layers.ts"
import { startAuditEndpoint } from "./audit-endpoint.ts"

// `blob.cmd.audit.<id>` runs beside the blob service: the auditor role verifies a blob
// through it, never by reading the streams itself.
export const AuditEndpointLayer = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* Settings
    const { nc } = yield* Nats
    yield* Effect.acquireRelease(
      Effect.promise(() => startAuditEndpoint(nc, config.names, config.maxAuditsInFlight)),
      (e) => Effect.promise(() => e.stop()),
    )
  }),
)
