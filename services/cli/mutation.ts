import type { MutationOptions, WriteResult } from "../../infra/client/umbra-client.ts"
import { int, str, type OptionSpec, type Values } from "./args.ts"
import { outJson, outLine, type Io } from "./io.ts"

// Flags and output shared by the commands that make a version (put, patch, rm, restore).

export const MUTATION_OPTIONS = {
  "expect-version": { type: "string" },
  "idempotency-key": { type: "string" },
  retries: { type: "string" },
} as const satisfies OptionSpec

export const MUTATION_USAGE = "[--expect-version n] [--idempotency-key k] [--retries n]"

export const mutationOptions = (v: Values): MutationOptions => {
  const expectedVersion = int(v, "expect-version")
  const idempotencyKey = str(v, "idempotency-key")
  const retries = int(v, "retries")
  return {
    ...(expectedVersion === undefined ? {} : { expectedVersion }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(retries === undefined ? {} : { retries }),
  }
}

export const printWrite = (io: Io, json: boolean, verb: string, r: WriteResult, extra: Record<string, unknown> = {}): Promise<void> =>
  json ? outJson(io, { ...r, ...extra }) : outLine(io, `${verb} ${r.id} version ${r.version} ${r.digest}`)
