import { writeSync } from "node:fs"

/**
 * Fault injection for the fault suite (`UMBRA_FAILPOINT`), in the manner of etcd's failpoints:
 * a crash at an exact point that a signal from outside can only hit by chance.
 * - `crash-after-append:N`: the process SIGKILLs itself after its Nth acknowledged append,
 *   before the reply to that write leaves. The client sees a timeout and must retry with the
 *   same idempotency key; the version must exist exactly once.
 * It writes one line to stderr first (synchronously, so it is out before the kill), naming the
 * write, so the test can follow that very write.
 */
export interface Failpoint {
  /** Called once a write's append was acknowledged, before its reply is sent. */
  afterAppend(id: string, version: number, idempotencyKey: string | undefined): void
}

export class FailpointSpecError extends Error {
  readonly _tag = "FailpointSpecError"
}

export const parseFailpoint = (spec: string | undefined): Failpoint | undefined => {
  if (spec === undefined || spec === "") return undefined
  const m = /^crash-after-append:(\d+)$/.exec(spec)
  if (m === null || Number(m[1]) < 1) throw new FailpointSpecError(`UMBRA_FAILPOINT: unknown failpoint ${JSON.stringify(spec)} (known: crash-after-append:N)`)
  const nth = Number(m[1])
  let appends = 0
  return {
    afterAppend: (id, version, key) => {
      if (++appends < nth) return
      writeSync(2, `failpoint crash-after-append: ${JSON.stringify({ id, version, key: key ?? null })}\n`)
      process.kill(process.pid, "SIGKILL")
    },
  }
}
