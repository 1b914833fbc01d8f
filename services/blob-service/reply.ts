import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/nats-core"
import { errorBody, errorMessage, errorStatus, type UmbraError } from "../../domain/errors.ts"
import { H } from "../../infra/headers.ts"

// Replies follow the NATS service (micro) convention: errors carry Nats-Service-Error-Code
// and Nats-Service-Error headers plus the contract's JSON error body.

const encoder = new TextEncoder()

export const respondJson = (msg: Msg, value: unknown, h?: MsgHdrs): void => {
  const body = encoder.encode(JSON.stringify(value))
  if (h === undefined) msg.respond(body)
  else msg.respond(body, { headers: h })
}

export const respondError = (msg: Msg, e: UmbraError): void => {
  const h = natsHeaders()
  h.set(H.serviceErrorCode, String(errorStatus(e)))
  h.set(H.serviceError, errorMessage(e).replace(/[\r\n]+/g, " ").slice(0, 200))
  msg.respond(encoder.encode(JSON.stringify(errorBody(e))), { headers: h })
}

export const respondContent = (msg: Msg, body: Uint8Array, h: MsgHdrs): void => {
  msg.respond(body, { headers: h })
}
